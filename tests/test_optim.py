"""lamina.optim: every optimizer against torch.optim over several steps (float32 and
float64, with the lr changing between steps), the Caffe semantics against lamina.Solver bit
for bit, param groups, clipping, L1, the schedulers against the Solver's learning_rate and
torch's schedulers, state_dict round trips that resume bit-identically, and bad input."""

import math

import numpy as np
import pytest

import lamina
from lamina import optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,)]
STEPS = 6
# torch (single-tensor path) and lamina compute the same formulas in another order (torch
# fuses multiply-adds, uses lerp for Adam's first moment): a few ulps per step.
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}


def start(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def gradient(w, k):
    """A gradient that depends on the weights (so the paths must stay together) and the step."""
    rng = np.random.default_rng(100 + k)
    return (np.sin(3 * w) + 0.5 * rng.standard_normal(w.shape)).astype(w.dtype)


# (lamina class, torch class, kwargs both take, lamina-only kwargs)
CASES = [
    ("SGD", "SGD", dict(lr=0.1), {}),
    ("SGD momentum", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), {}),
    ("SGD nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), {}),
    ("Adagrad", "Adagrad", dict(lr=0.1, weight_decay=0.01, eps=1e-10), {}),
    ("RMSprop", "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.01), {}),
    ("Adadelta", "Adadelta", dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.01), {}),
    ("Adam", "Adam", dict(lr=0.01, betas=(0.9, 0.99), eps=1e-3, weight_decay=0.01), {}),
    ("AdamW", "AdamW", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.1), {}),
]


def lr_at(base, k):
    """The lr of step k: changing, so SGD's torch form (lr outside the velocity) is tested."""
    return base * 0.8**k


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("label, torch_name, kw, extra", CASES, ids=[c[0] for c in CASES])
def test_every_optimizer_matches_torch_optim(label, torch_name, kw, extra, dtype):
    w0 = start(dtype)
    mine = [lamina.tensor(w) for w in w0]
    theirs = [torch.tensor(w, requires_grad=True) for w in w0]
    lamina_cls = getattr(optim, label.split()[0])
    opt = lamina_cls(mine, **kw, **extra)
    topt = getattr(torch.optim, torch_name)(theirs, **kw)
    for k in range(STEPS):
        for group in opt.param_groups + topt.param_groups:
            group["lr"] = lr_at(kw["lr"], k)
        opt.zero_grad()
        topt.zero_grad()
        for p, t in zip(mine, theirs):
            g = gradient(t.detach().numpy(), k)
            p.grad = lamina.tensor(g)
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, t in zip(mine, theirs):
            np.testing.assert_allclose(p.numpy(), t.detach().numpy(), **TOL[dtype], err_msg=f"step {k}")
            assert p.numpy().dtype == dtype


def test_param_groups_with_their_own_lr_and_decay_match_torch():
    w0 = start(np.float64)
    mine = [lamina.tensor(w) for w in w0]
    theirs = [torch.tensor(w, requires_grad=True) for w in w0]
    opt = optim.Adam([{"params": [mine[0]], "lr": 0.05, "weight_decay": 0.1}, {"params": mine[1]}], lr=0.01)
    topt = torch.optim.Adam([{"params": [theirs[0]], "lr": 0.05, "weight_decay": 0.1}, {"params": [theirs[1]]}], lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.01]
    for k in range(STEPS):
        for p, t in zip(mine, theirs):
            g = gradient(t.detach().numpy(), k)
            p.grad, t.grad = lamina.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
    for p, t in zip(mine, theirs):
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), **TOL[np.float64])


def test_caffe_lr_mult_and_decay_mult_scale_the_group():
    w0 = start(np.float64)
    a, b = lamina.tensor(w0[0]), lamina.tensor(w0[0])
    opt = optim.SGD([{"params": [a], "lr_mult": 2, "decay_mult": 3}], lr=0.1, weight_decay=0.01)
    ref = optim.SGD([b], lr=0.2, weight_decay=0.03)
    g = gradient(w0[0], 0)
    a.grad, b.grad = lamina.tensor(g), lamina.tensor(g)
    opt.step()
    ref.step()
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_l1_regularization_adds_the_sign_of_the_weights():
    w0 = start(np.float64)[0]
    w = lamina.tensor(w0)
    opt = optim.SGD([w], lr=0.1, weight_decay=0.05, regularization="L1")
    g = gradient(w0, 0)
    w.grad = lamina.tensor(g)
    opt.step()
    np.testing.assert_allclose(w.numpy(), w0 - 0.1 * (g + 0.05 * np.sign(w0)), rtol=1e-14)


def test_clip_gradients_scales_every_gradient_by_the_global_norm():
    w0 = start(np.float64)
    ws = [lamina.tensor(w) for w in w0]
    gs = [gradient(w, 0) for w in w0]
    norm = math.sqrt(sum((g**2).sum() for g in gs))
    assert norm > 0.5
    opt = optim.SGD(ws, lr=0.1, clip_gradients=0.5)
    for w, g in zip(ws, gs):
        w.grad = lamina.tensor(g)
    opt.step()
    for w, w_0, g in zip(ws, w0, gs):
        np.testing.assert_allclose(w.numpy(), w_0 - 0.1 * (0.5 / norm) * g, rtol=1e-13)
    # iter_size divides after clipping, as Caffe does.
    ws2 = [lamina.tensor(w) for w in w0]
    opt2 = optim.SGD(ws2, lr=0.1, clip_gradients=0.5)
    for w, g in zip(ws2, gs):
        w.grad = lamina.tensor(g)
    opt2.step(iter_size=4)
    for w, w_0, g in zip(ws2, w0, gs):
        np.testing.assert_allclose(w.numpy(), w_0 - 0.1 * (0.5 / norm) / 4 * g, rtol=1e-13)


def test_parameters_without_a_gradient_are_skipped_and_zero_grad_clears():
    a, b = lamina.tensor(np.ones(3)), lamina.tensor(np.ones(3))
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.5)
    a.grad = lamina.tensor(np.ones(3))
    opt.step()
    assert (a.numpy() < 1).all()
    np.testing.assert_array_equal(b.numpy(), np.ones(3))  # as torch: no decay without a gradient
    assert opt.state_dict()["state"][1]["step"] == 0
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert a.grad is None


def test_closure_is_called_and_its_loss_returned():
    w = lamina.tensor(np.array([1.0, -2.0]))
    w.requires_grad = True
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_array_equal(w.numpy(), [0.5, -1.0])


# ---- the Caffe semantics are the Solver's, bit for bit ----

NET = """
layer { name: "data" type: "Input" top: "x" top: "y" input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "h" param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "t" type: "TanH" bottom: "h" top: "h" }
layer { name: "ip2" type: "InnerProduct" bottom: "h" top: "p" param { lr_mult: 0.5 decay_mult: 3 } param { lr_mult: 1 }
        inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
"""
RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 3)).astype(np.float32)
Y = RNG.standard_normal((4, 2)).astype(np.float32)

# Solver type and fields -> the lamina.optim class and its arguments (torch's names).
SOLVERS = [
    ('type: "SGD" momentum: 0.9', lambda p: optim.SGD(p, lr=0.05, momentum=0.9, **CAFFE)),
    ('type: "Nesterov" momentum: 0.9', lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, **CAFFE)),
    ('type: "AdaGrad" delta: 1e-6', lambda p: optim.AdaGrad(p, lr=0.05, eps=1e-6, **CAFFE)),
    ('type: "RMSProp" rms_decay: 0.9', lambda p: optim.RMSProp(p, lr=0.05, alpha=0.9, **CAFFE)),
    ('type: "AdaDelta" momentum: 0.95 delta: 1e-6', lambda p: optim.AdaDelta(p, lr=0.05, rho=0.95, eps=1e-6, **CAFFE)),
    ('type: "Adam" momentum: 0.9 momentum2: 0.99', lambda p: optim.Adam(p, lr=0.05, betas=(0.9, 0.99), **CAFFE)),
    ('type: "AdamW" momentum: 0.9 momentum2: 0.99', lambda p: optim.AdamW(p, lr=0.05, betas=(0.9, 0.99), **CAFFE)),
]
CAFFE = dict(semantics="caffe", weight_decay=0.02, regularization="L1", clip_gradients=0.8)
POLICY = 'lr_policy: "multistep" gamma: 0.5 stepvalue: 2 stepvalue: 4'


@pytest.mark.parametrize("settings, make", SOLVERS, ids=[s[0].split('"')[1] for s in SOLVERS])
def test_caffe_semantics_are_the_solvers_update_bit_for_bit(settings, make):
    solver = lamina.Solver(f'base_lr: 0.05 {settings} {POLICY} weight_decay: 0.02 regularization_type: "L1" '
                           'clip_gradients: 0.8 iter_size: 2 max_iter: 10', net=NET, quiet=True)
    solver.feed = lambda net, phase: {"x": X, "y": Y}
    net = lamina.Net(NET, phase="train")
    params = net.learnable_params()
    for (_, mine, _, _), (_, theirs, _, _) in zip(params, solver.net.learnable_params()):
        np.asarray(mine)[...] = np.asarray(theirs)
    opt = make([{"params": [t], "lr_mult": lr_mult, "decay_mult": decay_mult} for _, t, lr_mult, decay_mult in params])
    sched = optim.lr_scheduler.MultiStep(opt, stepvalue=[2, 4], gamma=0.5)
    for it in range(6):
        assert opt.param_groups[0]["lr"] == solver.learning_rate
        solver.step(1)
        opt.zero_grad()
        for _ in range(2):
            net.forward(x=X, y=Y)
            net.backward()
        opt.step(iter_size=2)
        sched.step()
        for (_, mine, _, _), (_, theirs, _, _) in zip(params, solver.net.learnable_params()):
            np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs), err_msg=f"iteration {it}")


def test_solver_adamw_type_is_the_optimizers_adamw():
    solver = lamina.Solver('type: "AdamW" base_lr: 0.05 lr_policy: "fixed" weight_decay: 0.1 max_iter: 5',
                           net=NET, quiet=True)
    assert solver.type == "AdamW"


# ---- schedulers ----

POLICIES = [
    ('lr_policy: "fixed"', lambda o: optim.lr_scheduler.Fixed(o)),
    ('lr_policy: "step" gamma: 0.5 stepsize: 3', lambda o: optim.lr_scheduler.Step(o, stepsize=3, gamma=0.5)),
    ('lr_policy: "exp" gamma: 0.9', lambda o: optim.lr_scheduler.Exp(o, gamma=0.9)),
    ('lr_policy: "inv" gamma: 0.1 power: 0.75', lambda o: optim.lr_scheduler.Inv(o, gamma=0.1, power=0.75)),
    ('lr_policy: "multistep" gamma: 0.1 stepvalue: 2 stepvalue: 5',
     lambda o: optim.lr_scheduler.MultiStep(o, stepvalue=[2, 5], gamma=0.1)),
    ('lr_policy: "poly" power: 2', lambda o: optim.lr_scheduler.Poly(o, max_iter=10, power=2)),
    ('lr_policy: "sigmoid" gamma: -0.5 stepsize: 4', lambda o: optim.lr_scheduler.Sigmoid(o, gamma=-0.5, stepsize=4)),
    ('lr_policy: "cosine" warmup_iter: 3', lambda o: optim.lr_scheduler.Cosine(o, max_iter=10, warmup_iter=3)),
]


@pytest.mark.parametrize("policy, make", POLICIES, ids=[p[0].split('"')[1] for p in POLICIES])
def test_schedulers_give_the_solvers_learning_rate_exactly(policy, make):
    solver = lamina.Solver(f'type: "SGD" base_lr: 0.1 {policy} max_iter: 10', net=NET, quiet=True)
    solver.feed = lambda net, phase: {"x": X, "y": Y}
    w = lamina.tensor(np.zeros(2))
    opt = optim.SGD([{"params": [w]}, {"params": [lamina.tensor(np.zeros(1))], "lr": 0.3}], lr=0.1)
    sched = make(opt)
    for _ in range(9):
        assert sched.get_last_lr()[0] == solver.learning_rate == opt.param_groups[0]["lr"]
        assert sched.get_last_lr()[1] == pytest.approx(3 * solver.learning_rate, rel=1e-15)  # its own base
        solver.step(1)
        sched.step()


TORCH_SCHEDULERS = [
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    (lambda o: optim.lr_scheduler.ExponentialLR(o, gamma=0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
    (lambda o: optim.lr_scheduler.MultiStepLR(o, milestones=[5, 2], gamma=0.1),
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 2], 0.1)),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=10), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)),
    (lambda o: optim.lr_scheduler.PolynomialLR(o, total_iters=8, power=2),
     lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=8, power=2)),
]


@pytest.mark.parametrize("mine, theirs", TORCH_SCHEDULERS, ids=["StepLR", "ExponentialLR", "MultiStepLR", "CosineAnnealingLR",
                                                                 "PolynomialLR"])
def test_torch_named_schedulers_match_torch(mine, theirs):
    opt = optim.SGD([lamina.tensor(np.zeros(2))], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    sched, tsched = mine(opt), theirs(topt)
    for _ in range(9):  # up to PolynomialLR's total_iters, where torch clamps and Caffe's poly does not
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12, atol=1e-15)
        topt.step()
        sched.step()
        tsched.step()


def test_a_scheduler_resumes_from_its_state_dict_and_from_last_epoch():
    opt = optim.SGD([lamina.tensor(np.zeros(2))], lr=0.1)
    sched = optim.lr_scheduler.MultiStep(opt, stepvalue=[2, 4, 6], gamma=0.5)
    for _ in range(5):
        sched.step()
    saved = sched.state_dict()
    opt2 = optim.SGD([lamina.tensor(np.zeros(2))], lr=0.1)
    again = optim.lr_scheduler.MultiStep(opt2, stepvalue=[2, 4, 6], gamma=0.5)
    again.load_state_dict(saved)
    replayed = optim.lr_scheduler.MultiStep(opt2, stepvalue=[2, 4, 6], gamma=0.5, last_epoch=4)
    for _ in range(4):
        sched.step()
        again.step()
        assert again.get_last_lr() == sched.get_last_lr()
    assert replayed.last_epoch == 5
    with pytest.raises(lamina.InvalidValueError, match="policy"):
        optim.lr_scheduler.Exp(opt, gamma=0.9).load_state_dict(saved)


# ---- state_dict ----

@pytest.mark.parametrize("cls, kw", [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.AdaDelta, dict(lr=0.5)),
                                     (optim.AdamW, dict(lr=0.01, weight_decay=0.1))], ids=["SGD", "AdaDelta", "AdamW"])
def test_state_dict_resumes_bit_identically(cls, kw):
    w0 = start(np.float32)

    def train(opt, params, steps, first):
        for k in range(first, first + steps):
            for p in params:
                p.grad = lamina.tensor(gradient(p.numpy(), k))
            opt.step()

    whole = [lamina.tensor(w) for w in w0]
    train(cls(whole, **kw), whole, 8, 0)
    part = [lamina.tensor(w) for w in w0]
    opt = cls(part, **kw)
    train(opt, part, 4, 0)
    saved = opt.state_dict()
    weights = [p.numpy().copy() for p in part]
    train(opt, part, 1, 4)  # the saved state is a copy: later steps do not change it
    resumed = [lamina.tensor(w) for w in weights]
    opt2 = cls(resumed, lr=123.0)  # the options come back from the state dict too
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    train(opt2, resumed, 4, 4)
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_state_dict_uses_torchs_names():
    opt = optim.Adam([lamina.tensor(np.zeros(3))])
    state = opt.state_dict()
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert state["param_groups"][0]["params"] == [0]
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(optim.SGD([lamina.tensor(np.zeros(1))], lr=0.1).state_dict()["state"][0]) == {"step", "momentum_buffer"}


# ---- bad input ----

def test_bad_options_name_the_option():
    w = lamina.tensor(np.zeros(3))
    with pytest.raises(lamina.InvalidValueError, match="lr"):
        optim.SGD([w], lr=-0.1)
    with pytest.raises(lamina.InvalidValueError, match=r"betas\[1\]"):
        optim.Adam([w], betas=(0.9, 1.5))
    with pytest.raises(lamina.InvalidValueError, match="betas must be 2 numbers"):
        optim.Adam([w], betas=0.9)
    with pytest.raises(lamina.InvalidValueError, match="rho"):
        optim.AdaDelta([w], rho=1.5)
    with pytest.raises(lamina.InvalidValueError, match="dampening"):
        optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.1)
    with pytest.raises(lamina.InvalidValueError, match="lr_decay"):
        optim.Adagrad([w], lr_decay=0.1)
    with pytest.raises(lamina.InvalidValueError, match="centered"):
        optim.RMSprop([w], centered=True)
    with pytest.raises(lamina.InvalidValueError, match="amsgrad"):
        optim.AdamW([w], amsgrad=True)
    with pytest.raises(lamina.InvalidValueError, match="regularization"):
        optim.SGD([w], lr=0.1, regularization="L3")
    with pytest.raises(lamina.InvalidValueError, match="semantics"):
        optim.SGD([w], lr=0.1, semantics="theano")
    with pytest.raises(lamina.InvalidValueError, match="clip_gradients"):
        optim.SGD([w], lr=0.1, clip_gradients=-1)
    with pytest.raises(lamina.InvalidValueError, match="'betas'"):
        optim.SGD([{"params": [w], "betas": (0.9, 0.9)}], lr=0.1)
    with pytest.raises(lamina.InvalidValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    opt.param_groups[0]["lr"] = -1  # checked when step() reads it
    with pytest.raises(lamina.InvalidValueError, match="lr"):
        opt.step()


def test_bad_parameters_raise():
    with pytest.raises(lamina.DTypeError, match=r"params\[1\] is a ndarray"):
        optim.SGD([lamina.tensor(np.zeros(2)), np.zeros(2)], lr=0.1)
    with pytest.raises(lamina.DTypeError, match="one Tensor"):
        optim.SGD(lamina.tensor(np.zeros(2)), lr=0.1)
    w = lamina.tensor(np.zeros(2))
    with pytest.raises(lamina.InvalidValueError, match="once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(lamina.InvalidValueError, match="once"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    frozen = lamina.tensor(np.ones(2))  # does not require grad, never gets one: skipped
    optim.SGD([frozen], lr=0.1).step()
    np.testing.assert_array_equal(frozen.numpy(), np.ones(2))


def test_bad_state_dicts_name_the_key():
    w = lamina.tensor(np.zeros(3))
    opt = optim.Adam([w])
    good = opt.state_dict()
    with pytest.raises(lamina.InvalidValueError, match="'state'"):
        opt.load_state_dict({"param_groups": good["param_groups"]})
    with pytest.raises(lamina.InvalidValueError, match="'rule'"):
        optim.Adam([w]).load_state_dict({**good, "rule": "SGD"})
    with pytest.raises(lamina.InvalidValueError, match="'rule'"):
        optim.SGD([w], lr=0.1).load_state_dict(good)
    bad = {**good, "state": {0: {"step": 3, "exp_avg": good["state"][0]["exp_avg"]}}}
    with pytest.raises(lamina.InvalidValueError, match="'exp_avg_sq'"):
        opt.load_state_dict(bad)
    bad = {**good, "state": {0: {**good["state"][0], "exp_avg": lamina.tensor(np.zeros(4))}}}
    with pytest.raises(lamina.ShapeError, match="exp_avg"):
        opt.load_state_dict(bad)
    with pytest.raises(lamina.InvalidValueError, match="param groups"):
        opt.load_state_dict({**good, "param_groups": good["param_groups"] * 2})
    with pytest.raises(lamina.InvalidValueError, match="'nesterov'"):
        opt.load_state_dict({**good, "param_groups": [{**good["param_groups"][0], "nesterov": True}]})
    with pytest.raises(lamina.InvalidValueError, match="stepvalue must increase"):
        optim.lr_scheduler.MultiStep(opt, stepvalue=[3, 2])
    with pytest.raises(lamina.InvalidValueError, match="stepsize"):
        optim.lr_scheduler.Step(opt, stepsize=0)
    with pytest.raises(lamina.InvalidValueError, match="eta_min"):
        optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)


@pytest.mark.parametrize("settings", [s[0] for s in SOLVERS], ids=[s[0].split('"')[1] for s in SOLVERS])
def test_from_solver_gives_the_solvers_update_for_any_tensors(settings):
    text = (f'base_lr: 0.05 {settings} {POLICY} weight_decay: 0.02 regularization_type: "L1" clip_gradients: 0.8 '
            'max_iter: 10')
    solver = lamina.Solver(text, net=NET, quiet=True)
    solver.feed = lambda net, phase: {"x": X, "y": Y}
    net = lamina.Net(NET, phase="train")
    params = net.learnable_params()
    for (_, mine, _, _), (_, theirs, _, _) in zip(params, solver.net.learnable_params()):
        np.asarray(mine)[...] = np.asarray(theirs)
    opt, sched = optim.from_solver(
        [{"params": [t], "lr_mult": lr_mult, "decay_mult": decay_mult} for _, t, lr_mult, decay_mult in params], text)
    for it in range(6):
        assert opt.param_groups[0]["lr"] == solver.learning_rate
        solver.step(1)
        opt.zero_grad()
        net.forward(x=X, y=Y)
        net.backward()
        opt.step()
        sched.step()
        for (_, mine, _, _), (_, theirs, _, _) in zip(params, solver.net.learnable_params()):
            np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs), err_msg=f"iteration {it}")


def test_from_solver_reads_files_and_rejects_bad_settings(tmp_path):
    path = tmp_path / "solver.prototxt"
    path.write_text('type: "Adam" base_lr: 0.001 momentum: 0.9 momentum2: 0.999 lr_policy: "fixed"\n')
    w = lamina.zeros(3).requires_grad_()
    opt, _ = optim.from_solver([w], path)
    assert isinstance(opt, optim.Adam) and opt.param_groups[0]["betas"] == (0.9, 0.999)
    with pytest.raises(lamina.PrototxtError, match="no_such_field"):
        optim.from_solver([w], 'base_lr: 0.1 no_such_field: 3')
