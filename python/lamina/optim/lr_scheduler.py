"""Learning-rate schedulers: Caffe's lr policies (the C++ functions lamina.Solver uses), with
torch.optim.lr_scheduler's interface.

    opt = lamina.optim.SGD(params, lr=0.1, momentum=0.9)
    sched = lamina.optim.lr_scheduler.Step(opt, stepsize=100, gamma=0.5)
    for it in range(1000):
        ...; opt.step(); sched.step()

A scheduler sets each param group's lr to the policy's rate with base_lr = the group's lr when
the scheduler was made (its "initial_lr"), so groups keep their ratios. It starts at
iteration 0 (its constructor sets the rate of iteration 0) and step() advances one
iteration: after k steps lr is the rate lamina.Solver uses at iteration k, bit for bit.

Caffe's names: Fixed, Step, Exp, Inv, MultiStep, Poly, Sigmoid, Cosine (with a linear
warm-up, lamina's). PyTorch's names where the formula is the same: StepLR, ExponentialLR,
MultiStepLR (distinct milestones), CosineAnnealingLR (eta_min=0, iterations up to T_max),
PolynomialLR (iterations up to total_iters). torch computes most of these recursively
(lr *= gamma), lamina in closed form, so rates agree to rounding, not to the bit.
"""

from __future__ import annotations

from .. import _lamina

__all__ = ["LRScheduler", "Fixed", "Step", "Exp", "Inv", "MultiStep", "Poly", "Sigmoid", "Cosine", "StepLR",
           "ExponentialLR", "MultiStepLR", "CosineAnnealingLR", "PolynomialLR"]


class LRScheduler:
    """Sets the optimizer's lr by a Caffe lr policy (see lamina/optim.hpp's LrPolicy)."""

    def __init__(self, optimizer, policy: str, last_epoch: int = -1, **fields):
        name = type(self).__name__
        if not hasattr(optimizer, "param_groups"):
            raise _lamina.DTypeError(f"{name}: expected a lamina.optim optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self._policy = {"policy": policy, **fields}
        problem, field = _lamina._lr_policy_problem({**self._policy, "base_lr": 1.0})
        if problem:
            raise _lamina.InvalidValueError(f"{name}: {problem} ({field})")
        if last_epoch != -1 and any("initial_lr" not in g for g in optimizer.param_groups):
            raise _lamina.InvalidValueError(f"{name}: last_epoch={last_epoch} needs 'initial_lr' in every param group")
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._position = 0  # multistep's position (Caffe advances it one stepvalue per iteration)
        self._last_lr: list[float] = []
        for _ in range(last_epoch + 1):  # replays the policy up to last_epoch, as training would have
            self._advance()
        self.step()

    def _advance(self) -> list[float]:
        self.last_epoch += 1
        rates, position = [], self._position
        for base in self.base_lrs:
            rate, position = _lamina._lr_rate({**self._policy, "base_lr": float(base)}, self.last_epoch, self._position)
            rates.append(rate)
        self._position = position
        return rates

    def step(self) -> None:
        """Advances one iteration and sets every group's lr to its rate."""
        self._last_lr = self._advance()
        for group, rate in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = rate

    def get_last_lr(self) -> list[float]:
        """The rates step() set last, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs), "position": self._position,
                "last_lr": list(self._last_lr), "policy": dict(self._policy)}

    def load_state_dict(self, state_dict: dict) -> None:
        name = type(self).__name__
        for key in ("last_epoch", "base_lrs", "position", "last_lr"):
            if key not in state_dict:
                raise _lamina.InvalidValueError(f"{name}.load_state_dict: the state dict has no '{key}'")
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise _lamina.InvalidValueError(f"{name}.load_state_dict: {len(state_dict['base_lrs'])} base_lrs for "
                                            f"{len(self.optimizer.param_groups)} param groups")
        if state_dict.get("policy", self._policy) != self._policy:
            raise _lamina.InvalidValueError(f"{name}.load_state_dict: policy {state_dict['policy']} is not this "
                                            f"scheduler's {self._policy}")
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._position = int(state_dict["position"])
        self._last_lr = list(state_dict["last_lr"])


class Fixed(LRScheduler):
    """lr = base_lr."""

    def __init__(self, optimizer, last_epoch: int = -1):
        super().__init__(optimizer, "fixed", last_epoch)


class Step(LRScheduler):
    """lr = base_lr gamma^floor(iter / stepsize)."""

    def __init__(self, optimizer, stepsize: int, gamma: float = 0.1, last_epoch: int = -1):
        super().__init__(optimizer, "step", last_epoch, stepsize=int(stepsize), gamma=float(gamma))


class Exp(LRScheduler):
    """lr = base_lr gamma^iter."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        super().__init__(optimizer, "exp", last_epoch, gamma=float(gamma))


class Inv(LRScheduler):
    """lr = base_lr (1 + gamma iter)^-power."""

    def __init__(self, optimizer, gamma: float, power: float, last_epoch: int = -1):
        super().__init__(optimizer, "inv", last_epoch, gamma=float(gamma), power=float(power))


class MultiStep(LRScheduler):
    """lr = base_lr gamma^k, k the stepvalues reached (increasing iterations)."""

    def __init__(self, optimizer, stepvalue, gamma: float = 0.1, last_epoch: int = -1):
        values = [int(v) for v in stepvalue]
        if any(b <= a for a, b in zip(values, values[1:])):
            raise _lamina.InvalidValueError(f"{type(self).__name__}: stepvalue must increase, got {values}")
        super().__init__(optimizer, "multistep", last_epoch, stepvalue=values, gamma=float(gamma))


class Poly(LRScheduler):
    """lr = base_lr (1 - iter / max_iter)^power."""

    def __init__(self, optimizer, max_iter: int, power: float = 1.0, last_epoch: int = -1):
        super().__init__(optimizer, "poly", last_epoch, max_iter=int(max_iter), power=float(power))


class Sigmoid(LRScheduler):
    """lr = base_lr / (1 + exp(-gamma (iter - stepsize)))."""

    def __init__(self, optimizer, gamma: float, stepsize: int, last_epoch: int = -1):
        super().__init__(optimizer, "sigmoid", last_epoch, gamma=float(gamma), stepsize=int(stepsize))


class Cosine(LRScheduler):
    """lr = base_lr (iter + 1) / warmup_iter during the warm-up, then half a cosine from
    base_lr at iteration warmup_iter to 0 at max_iter."""

    def __init__(self, optimizer, max_iter: int, warmup_iter: int = 0, last_epoch: int = -1):
        super().__init__(optimizer, "cosine", last_epoch, max_iter=int(max_iter), warmup_iter=int(warmup_iter))


class StepLR(Step):
    """torch.optim.lr_scheduler.StepLR: lr = base_lr gamma^floor(epoch / step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        super().__init__(optimizer, step_size, gamma, last_epoch)


class ExponentialLR(Exp):
    """torch.optim.lr_scheduler.ExponentialLR: lr = base_lr gamma^epoch."""


class MultiStepLR(MultiStep):
    """torch.optim.lr_scheduler.MultiStepLR for distinct milestones (in any order)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        values = sorted(int(m) for m in milestones)
        if len(set(values)) != len(values):
            raise _lamina.InvalidValueError(f"{type(self).__name__}: milestones must be distinct, got {values}")
        super().__init__(optimizer, values, gamma, last_epoch)


class CosineAnnealingLR(Cosine):
    """torch.optim.lr_scheduler.CosineAnnealingLR with eta_min=0: lr = base_lr (1 +
    cos(pi epoch / T_max)) / 2 (the same for epochs up to T_max; torch's recursion and this
    closed form part ways beyond it)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):  # noqa: N803 torch's name
        if eta_min != 0:
            raise _lamina.InvalidValueError(f"{type(self).__name__}: eta_min={eta_min} is not supported (only 0)")
        super().__init__(optimizer, T_max, 0, last_epoch)


class PolynomialLR(Poly):
    """torch.optim.lr_scheduler.PolynomialLR: lr = base_lr (1 - epoch / total_iters)^power, for
    epochs up to total_iters (torch then holds 0; Caffe's poly has no such clamp)."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        super().__init__(optimizer, total_iters, power, last_epoch)
