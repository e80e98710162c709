"""Solvers with Caffe's semantics: each update rule against torch.optim and a NumPy hand
computation over several steps, the learning-rate policies, gradient clipping, iter_size,
L1 decay, training that learns, test nets, and snapshots that resume bit-identically."""

import math

import numpy as np
import pytest

import lamina

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the test extra
    torch = None

# A linear regression: p = x @ W^T + b, loss = |p - y|^2 / (2 N).
REGRESSION = """
layer { name: "data" type: "Input" top: "x" top: "y" input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "p"
        inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
"""
RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 3)).astype(np.float32)
Y = RNG.standard_normal((4, 2)).astype(np.float32)


def regression_solver(settings, **kw):
    solver = lamina.Solver(settings, net=REGRESSION, quiet=True, **kw)
    solver.feed = lambda net, phase: {"x": X, "y": Y}
    return solver


def start(solver):
    return [p.data.astype(np.float64).copy() for p in solver.net.params["ip"]]


def grads(w, b):
    """d loss / d W, d loss / d b of the regression at (w, b), in float64."""
    r = (X @ w.T + b - Y) / X.shape[0]
    return r.T @ X, r.sum(0)


TORCH_RULES = [
    ("SGD", "momentum: 0.9", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("Nesterov", "momentum: 0.9", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("AdaGrad", "delta: 1e-8", lambda p: torch.optim.Adagrad(p, lr=0.05, eps=1e-8, weight_decay=0.01)),
    ("RMSProp", "rms_decay: 0.9 delta: 1e-8", lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=1e-8, weight_decay=0.01)),
    ("AdaDelta", "momentum: 0.95 delta: 1e-6", lambda p: torch.optim.Adadelta(p, lr=0.05, rho=0.95, eps=1e-6, weight_decay=0.01)),
    ("Adam", "momentum: 0.9 momentum2: 0.999 delta: 1e-8", lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
]


@pytest.mark.parametrize("kind, extra, make", TORCH_RULES, ids=[r[0] for r in TORCH_RULES])
def test_update_rules_match_torch_optim(kind, extra, make):
    if torch is None:  # pragma: no cover
        pytest.skip("torch is a test extra")
    solver = regression_solver(f'type: "{kind}" base_lr: 0.05 lr_policy: "fixed" weight_decay: 0.01 {extra} max_iter: 10')
    w0, b0 = start(solver)
    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    opt = make([w, b])
    x, y = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    for _ in range(6):
        opt.zero_grad()
        (((x @ w.T + b - y) ** 2).sum() / (2 * 4)).backward()
        opt.step()
    solver.step(6)
    got_w, got_b = start(solver)
    np.testing.assert_allclose(got_w, w.detach().numpy(), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(got_b, b.detach().numpy(), rtol=2e-5, atol=2e-6)


def caffe_rule(kind, g, w, h, h2, rate, t, m=0.9, m2=0.999, delta=1e-8, rms=0.95):
    """Caffe's ComputeUpdateValue of each type, written out in NumPy (float64)."""
    if kind == "SGD":
        h[...] = m * h + rate * g
        return h.copy()
    if kind == "Nesterov":
        previous = h.copy()
        h[...] = m * h + rate * g
        return (1 + m) * h - m * previous
    if kind == "AdaGrad":
        h += g * g
        return rate * g / (np.sqrt(h) + delta)
    if kind == "RMSProp":
        h[...] = rms * h + (1 - rms) * g * g
        return rate * g / (np.sqrt(h) + delta)
    if kind == "AdaDelta":
        h[...] = m * h + (1 - m) * g * g
        u = g * np.sqrt((h2 + delta) / (h + delta))
        h2[...] = m * h2 + (1 - m) * u * u
        return rate * u
    h[...] = m * h + (1 - m) * g  # Adam
    h2[...] = m2 * h2 + (1 - m2) * g * g
    return rate * np.sqrt(1 - m2**t) / (1 - m**t) * h / (np.sqrt(h2) + delta)


@pytest.mark.parametrize("kind", ["SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"])
def test_every_update_rule_by_hand_over_several_steps(kind):
    momentum = 0 if kind in ("AdaGrad", "RMSProp") else 0.9
    solver = regression_solver(f'type: "{kind}" base_lr: 0.05 lr_policy: "exp" gamma: 0.9 momentum: {momentum} '
                               'momentum2: 0.999 delta: 1e-8 rms_decay: 0.95 weight_decay: 0.02 max_iter: 9')
    w, b = start(solver)
    hw, hb, hw2, hb2 = (np.zeros_like(w), np.zeros_like(b), np.zeros_like(w), np.zeros_like(b))
    for it in range(5):
        rate = 0.05 * 0.9**it
        gw, gb = grads(w, b)
        gw, gb = gw + 0.02 * w, gb + 0.02 * b  # L2 decay before the rule, as Caffe
        w = w - caffe_rule(kind, gw, w, hw, hw2, rate, it + 1, m=momentum)
        b = b - caffe_rule(kind, gb, b, hb, hb2, rate, it + 1, m=momentum)
    solver.step(5)
    got_w, got_b = start(solver)
    np.testing.assert_allclose(got_w, w, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(got_b, b, rtol=2e-5, atol=2e-6)


def test_sgd_by_hand_with_l1_lr_mult_and_a_step_policy():
    net = REGRESSION.replace('top: "p"', 'top: "p" param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }')
    solver = lamina.Solver('type: "SGD" base_lr: 0.1 lr_policy: "step" gamma: 0.5 stepsize: 2 momentum: 0.8 '
                           'weight_decay: 0.03 regularization_type: "L1" max_iter: 9', net=net, quiet=True)
    solver.feed = lambda n, phase: {"x": X, "y": Y}
    w, b = start(solver)
    hw, hb = np.zeros_like(w), np.zeros_like(b)
    for it in range(5):
        rate = 0.1 * 0.5 ** (it // 2)
        gw, gb = grads(w, b)
        gw = gw + 0.03 * np.sign(w)          # L1 decay, decay_mult 1
        hw = 0.8 * hw + rate * gw
        hb = 0.8 * hb + 2 * rate * gb        # lr_mult 2, decay_mult 0
        w, b = w - hw, b - hb
    solver.step(5)
    got_w, got_b = start(solver)
    np.testing.assert_allclose(got_w, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b, b, rtol=1e-5, atol=1e-6)


def test_clip_gradients_scales_by_the_global_norm_and_iter_size_averages():
    solver = regression_solver('type: "SGD" base_lr: 0.1 lr_policy: "fixed" clip_gradients: 0.05 iter_size: 3 max_iter: 5')
    w, b = start(solver)
    gw, gb = grads(w, b)
    gw, gb = 3 * gw, 3 * gb                    # three accumulated passes...
    norm = math.sqrt((gw**2).sum() + (gb**2).sum())
    assert norm > 0.05
    scale = 0.05 / norm / 3                    # ...clipped, then divided by iter_size
    solver.step(1)
    got_w, got_b = start(solver)
    np.testing.assert_allclose(got_w, w - 0.1 * scale * gw, rtol=1e-5)
    np.testing.assert_allclose(got_b, b - 0.1 * scale * gb, rtol=1e-5)


@pytest.mark.parametrize(
    "policy, rate",
    [
        ('lr_policy: "fixed"', lambda i: 0.1),
        ('lr_policy: "step" gamma: 0.5 stepsize: 3', lambda i: 0.1 * 0.5 ** (i // 3)),
        ('lr_policy: "exp" gamma: 0.9', lambda i: 0.1 * 0.9**i),
        ('lr_policy: "inv" gamma: 0.1 power: 0.75', lambda i: 0.1 * (1 + 0.1 * i) ** -0.75),
        ('lr_policy: "multistep" gamma: 0.1 stepvalue: 2 stepvalue: 5', lambda i: 0.1 * 0.1 ** ((i >= 2) + (i >= 5))),
        ('lr_policy: "poly" power: 2', lambda i: 0.1 * (1 - i / 10) ** 2),
        ('lr_policy: "sigmoid" gamma: -0.5 stepsize: 4', lambda i: 0.1 / (1 + math.exp(0.5 * (i - 4)))),
        ('lr_policy: "cosine" warmup_iter: 3', lambda i: 0.1 * (i + 1) / 3 if i < 3 else 0.1 * 0.5 * (1 + math.cos(math.pi * (i - 3) / 7))),
    ],
)
def test_learning_rate_policies(policy, rate):
    solver = regression_solver(f'type: "SGD" base_lr: 0.1 {policy} max_iter: 10')
    seen = []
    for _ in range(8):
        seen.append(solver.learning_rate)
        solver.step(1)
    np.testing.assert_allclose(seen, [rate(i) for i in range(8)], rtol=1e-9)


def test_clip_weights_extension_clamps_after_each_update():
    solver = regression_solver('type: "SGD" base_lr: 5 lr_policy: "fixed" clip_weights: 0.01 max_iter: 3')
    solver.step(2)
    for p in solver.net.params["ip"]:
        assert np.abs(p.data).max() <= 0.01 + 1e-7


def make_blobs(n, rng):
    """Two Gaussian classes in 2-d, separable with a margin."""
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) * 0.7 + np.where(y[:, None] == 1, 1.5, -1.5)
    return x.astype(np.float32), y.astype(np.float32)


LOGREG = """
layer { name: "data" type: "Input" top: "data" top: "label" input_param { shape { dim: 50 dim: 2 } shape { dim: 50 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "accuracy" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
"""


def test_logistic_regression_learns_and_tests_like_caffe():
    rng = np.random.default_rng(0)
    train = make_blobs(50 * 20, rng)
    test = make_blobs(50 * 4, rng)
    solver = lamina.Solver('base_lr: 0.1 lr_policy: "fixed" momentum: 0.9 max_iter: 200 test_iter: 4 '
                           'test_interval: 100 random_seed: 1', net=LOGREG, quiet=True)
    counter = {"train": 0, "test": 0}

    def feed(net, phase):
        data = train if phase == "train" else test
        k = counter[phase] % (len(data[0]) // 50)
        counter[phase] += 1
        return {"data": data[0][k * 50:(k + 1) * 50], "label": data[1][k * 50:(k + 1) * 50]}

    solver.feed = feed
    first = solver.step(1)
    solver.step(199)
    assert solver.smoothed_loss < first / 5
    scores = solver.test(0)
    assert scores["accuracy"] >= 0.97
    assert solver.test_nets[0].params["ip"][0].data is not None
    np.testing.assert_array_equal(solver.test_nets[0].params["ip"][0].data, solver.net.params["ip"][0].data)


MLP = """
layer { name: "data" type: "Input" top: "data" top: "label" input_param { shape { dim: 64 dim: 2 } shape { dim: 64 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1" inner_product_param { num_output: 32 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2" inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""


def test_mlp_learns_xor_where_a_linear_model_cannot():
    rng = np.random.default_rng(1)
    solver = lamina.Solver('type: "Adam" base_lr: 0.01 lr_policy: "fixed" momentum: 0.9 momentum2: 0.999 '
                           'max_iter: 400 random_seed: 2', net=MLP, quiet=True)

    def batch(net, phase):
        x = rng.uniform(-1, 1, (64, 2)).astype(np.float32)
        return {"data": x, "label": ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.float32)}

    solver.feed = batch
    first = solver.step(10)
    solver.step(390)
    assert solver.smoothed_loss < first / 4
    x = rng.uniform(-1, 1, (64, 2)).astype(np.float32)
    out = solver.net.forward(data=x, label=np.zeros(64))
    pred = solver.net.blobs["ip2"].data.argmax(1)
    assert np.mean(pred == ((x[:, 0] > 0) ^ (x[:, 1] > 0))) >= 0.9
    assert out["loss"] >= 0


DROPOUT_NET = MLP.replace('layer { name: "ip2"', 'layer { name: "drop" type: "Dropout" bottom: "ip1" top: "ip1" }\nlayer { name: "ip2"')


def run(solver_text, tmp_path, iterations, restore=None):
    rng_inputs = np.random.default_rng(5)
    data = rng_inputs.uniform(-1, 1, (20, 64, 2)).astype(np.float32)
    solver = lamina.Solver(solver_text + f' snapshot_prefix: "{tmp_path}/run"', net=DROPOUT_NET, quiet=True)
    solver.feed = lambda net, phase: {"data": data[solver.iter % 20], "label": (data[solver.iter % 20][:, 0] > 0).astype(np.float32)}
    if restore:
        solver.restore(restore)
    solver.step(iterations - solver.iter)
    return solver


@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdaDelta"])
def test_snapshot_and_restore_continue_bit_identically(tmp_path, kind):
    text = f'type: "{kind}" base_lr: 0.05 lr_policy: "multistep" gamma: 0.5 stepvalue: 3 stepvalue: 7 momentum: 0.9 ' \
           'weight_decay: 0.001 max_iter: 10 snapshot: 5 random_seed: 7 average_loss: 4'
    lamina.manual_seed(123)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = run(text, tmp_path / "a", 10)
    first = run(text, tmp_path / "b", 5)
    state = tmp_path / "b" / "run_iter_5.solverstate"
    assert state.exists() and (tmp_path / "b" / "run_iter_5.safetensors").exists()
    del first
    lamina.manual_seed(999)  # the restored state, not this, decides the dropout masks
    resumed = run(text, tmp_path / "b", 10, restore=state)
    assert resumed.iter == 10
    for name in ("ip1", "ip2"):
        for a, b in zip(whole.net.params[name], resumed.net.params[name]):
            np.testing.assert_array_equal(a.data, b.data)
    assert whole.smoothed_loss == resumed.smoothed_loss


def test_a_torn_snapshot_is_rejected_and_the_previous_one_still_loads(tmp_path):
    text = 'type: "SGD" base_lr: 0.05 lr_policy: "fixed" momentum: 0.9 max_iter: 10 snapshot: 5 random_seed: 7'
    run(text, tmp_path, 10)
    good, torn = tmp_path / "run_iter_5.solverstate", tmp_path / "run_iter_10.solverstate"
    torn.write_bytes(torn.read_bytes()[:-10])  # a crash mid-write would leave at most a .tmp; simulate worse
    solver = lamina.Solver(text, net=DROPOUT_NET, quiet=True)
    before = solver.net.params["ip1"][0].data.copy()
    with pytest.raises(lamina.FileFormatError, match="claims bytes"):
        solver.restore(torn)
    np.testing.assert_array_equal(solver.net.params["ip1"][0].data, before)
    assert solver.iter == 0
    solver.restore(good)
    assert solver.iter == 5
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "text, words",
    [
        ('base_lr: 0.1 lr_policy: "stepp"', ["did you mean 'step'"]),
        ('base_lr: 0.1', ["needs an lr_policy"]),
        ('base_lr: 0.1 lr_policy: "step"', ["stepsize > 0"]),
        ('base_lr: 0.1 lr_policy: "fixed" type: "AdaGrad" momentum: 0.9', ["momentum cannot be used with AdaGrad"]),
        ('base_lr: 0.1 lr_policy: "fixed" solver_mode: GPU', ["CUDA backend"]),
        ('base_lr: 0.1 lr_policy: "fixed" test_iter: 5 test_state { stage: "a" } test_state { stage: "b" }',
         ["test_state has 2 entries for 1 test nets"]),
    ],
)
def test_bad_solvers_raise_prototxt_errors(text, words):
    with pytest.raises(lamina.PrototxtError) as e:
        lamina.Solver(text, net=REGRESSION, quiet=True)
    for w in words:
        assert w in str(e.value)


def test_deprecated_solver_type_enum_and_shared_solver_files_load():
    solver = regression_solver('solver_type: NESTEROV base_lr: 0.1 lr_policy: "fixed" momentum: 0.5')
    assert solver.type == "Nesterov"
