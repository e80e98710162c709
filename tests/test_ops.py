"""Every op is a table row: forward against NumPy (float64 and float32), a float64
central-difference gradient check through the tape, and parity with PyTorch (forward
and every input gradient, float32, rtol 1e-5) when torch is installed."""

import numpy as np
import pytest

import lamina
from lamina import ops

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the test extra
    torch = None

L = ops


def pos(shape, rng):  # inputs of ops defined for positive numbers only
    return rng.uniform(0.5, 2.0, shape)


def std(shape, rng):
    return rng.standard_normal(shape)


def away_from_zero(shape, rng):  # keeps kinks (relu, abs at 0; clip at +-0.5) outside eps
    x = rng.uniform(0.1, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return x


def np_softplus(x):
    return np.logaddexp(0, x)


# name, lamina fn, NumPy reference, torch fn, [(input shape, generator), ...]
ROWS = [
    ("relu", L.relu, lambda x: np.maximum(x, 0), lambda t, x: t.relu(x), [((4, 5), away_from_zero)]),
    ("sigmoid", L.sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda t, x: t.sigmoid(x), [((3, 7), std)]),
    ("tanh", L.tanh, np.tanh, lambda t, x: t.tanh(x), [((1, 9), std)]),
    ("exp", L.exp, np.exp, lambda t, x: t.exp(x), [((5,), std)]),
    ("log", L.log, np.log, lambda t, x: t.log(x), [((2, 3, 4), pos)]),
    ("abs", L.abs, np.abs, lambda t, x: t.abs(x), [((6,), away_from_zero)]),
    ("neg", L.neg, np.negative, lambda t, x: -x, [((3, 3), std)]),
    ("sqrt", L.sqrt, np.sqrt, lambda t, x: t.sqrt(x), [((7,), pos)]),
    ("square", L.square, np.square, lambda t, x: x * x, [((2, 5), std)]),
    ("softplus", L.softplus, np_softplus, lambda t, x: t.nn.functional.softplus(x), [((3, 5), std)]),
    ("softplus_large", L.softplus, np_softplus, lambda t, x: t.nn.functional.softplus(x),
     [((4,), lambda s, r: np.array([-40.0, -3.0, 3.0, 40.0]))]),
    ("leaky_relu", lambda x: L.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
     lambda t, x: t.nn.functional.leaky_relu(x, 0.1), [((4, 3), away_from_zero)]),
    ("elu", lambda x: L.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
     lambda t, x: t.nn.functional.elu(x, 0.7), [((11,), away_from_zero)]),
    ("pow", lambda x: L.pow(x, 3.0), lambda x: x**3, lambda t, x: x**3, [((2, 4), std)]),
    ("power", lambda x: L.power(x, 2.5, 0.5, 1.0), lambda x: (1.0 + 0.5 * x) ** 2.5,
     lambda t, x: (1.0 + 0.5 * x) ** 2.5, [((3, 2), pos)]),
    ("clip", lambda x: L.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
     lambda t, x: t.clamp(x, -0.5, 0.5), [((5, 4), away_from_zero)]),
    ("affine", lambda x: L.affine(x, -2.0, 0.25), lambda x: -2.0 * x + 0.25, lambda t, x: -2.0 * x + 0.25,
     [((3,), std)]),
    ("add", L.add, np.add, lambda t, a, b: a + b, [((3, 1, 5), std), ((4, 5), std)]),
    ("add_scalar", L.add, np.add, lambda t, a, b: a + b, [((2, 3), std), ((), std)]),
    ("sub", L.sub, np.subtract, lambda t, a, b: a - b, [((2, 3), std), ((3,), std)]),
    ("mul", L.mul, np.multiply, lambda t, a, b: a * b, [((4, 1), std), ((1, 6), std)]),
    ("div", L.div, np.divide, lambda t, a, b: a / b, [((2, 5), std), ((2, 1), pos)]),
    ("sum_all", lambda x: L.sum(x), np.sum, lambda t, x: x.sum(), [((3, 4), std)]),
    ("sum_axis", lambda x: L.sum(x, 1), lambda x: x.sum(1), lambda t, x: x.sum(1), [((3, 4, 2), std)]),
    ("sum_keepdim", lambda x: L.sum(x, [0, 2], True), lambda x: x.sum((0, 2), keepdims=True),
     lambda t, x: x.sum((0, 2), keepdim=True), [((3, 4, 2), std)]),
    ("mean", lambda x: L.mean(x, -1), lambda x: x.mean(-1), lambda t, x: x.mean(-1), [((5, 3), std)]),
    ("mean_all", lambda x: L.mean(x), np.mean, lambda t, x: x.mean(), [((1, 7), std)]),
    ("matmul", L.matmul, np.matmul, lambda t, a, b: a @ b, [((5, 7), std), ((7, 3), std)]),
    ("matmul_batch1", L.matmul, np.matmul, lambda t, a, b: a @ b, [((1, 13), std), ((13, 1), std)]),
    ("linear", L.linear, lambda x, w, b: x @ w.T + b, lambda t, x, w, b: t.nn.functional.linear(x, w, b),
     [((4, 6), std), ((3, 6), std), ((3,), std)]),
    ("linear_nobias", L.linear, lambda x, w: x @ w.T, lambda t, x, w: t.nn.functional.linear(x, w),
     [((1, 5), std), ((2, 5), std)]),
    ("reshape", lambda x: L.reshape(x, (3, -1)), lambda x: x.reshape(3, -1), lambda t, x: x.reshape(3, -1),
     [((2, 3, 2), std)]),
    ("transpose", lambda x: L.transpose(x, [2, 0, 1]), lambda x: x.transpose(2, 0, 1),
     lambda t, x: x.permute(2, 0, 1), [((2, 3, 4), std)]),
    ("transpose_2d", lambda x: x.T, lambda x: x.T, lambda t, x: x.T, [((2, 5), std)]),
    ("slice", lambda x: x[1:4:2], lambda x: x[1:4:2], lambda t, x: x[1:4:2], [((5, 2), std)]),
    ("select", lambda x: x[-2], lambda x: x[-2], lambda t, x: x[-2], [((4, 3), std)]),
    ("composite_mlp", lambda x, w1, w2: L.sigmoid(L.relu(x @ w1) @ w2).mean(),
     lambda x, w1, w2: np.mean(1 / (1 + np.exp(-(np.maximum(x @ w1, 0) @ w2)))),
     lambda t, x, w1, w2: t.sigmoid(t.relu(x @ w1) @ w2).mean(),
     [((6, 4), std), ((4, 5), std), ((5, 2), std)]),
]
IDS = [r[0] for r in ROWS]


def make_inputs(specs, seed):
    rng = np.random.default_rng(seed)
    return [np.asarray(gen(shape, rng), dtype=np.float64) for shape, gen in specs]


@pytest.mark.parametrize("name,fn,ref,tfn,specs", ROWS, ids=IDS)
def test_forward_matches_numpy(name, fn, ref, tfn, specs):
    arrays = make_inputs(specs, 0)
    expected = ref(*arrays)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        out = fn(*[lamina.tensor(a, dtype=dtype) for a in arrays])
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name,fn,ref,tfn,specs", ROWS, ids=IDS)
def test_gradcheck_float64(name, fn, ref, tfn, specs):
    inputs = [lamina.tensor(a) for a in make_inputs(specs, 1)]
    assert lamina.gradcheck(fn, inputs)


@pytest.mark.skipif(torch is None, reason="torch is not installed (test extra)")
@pytest.mark.parametrize("name,fn,ref,tfn,specs", ROWS, ids=IDS)
def test_parity_with_torch_float32(name, fn, ref, tfn, specs):
    arrays = [a.astype(np.float32) for a in make_inputs(specs, 2)]
    ours = [lamina.tensor(a).requires_grad_() for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn(*ours), tfn(torch, *theirs)
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    seed = np.random.default_rng(3).standard_normal(ty.shape).astype(np.float32)
    (y * lamina.tensor(seed)).sum().backward()
    (ty * torch.tensor(seed)).sum().backward()
    for a, ta in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a.grad), ta.grad.numpy(), rtol=1e-5, atol=1e-6)


BAD = [
    (lambda: L.add(lamina.zeros(2, 3), lamina.zeros(4)), lamina.ShapeError, "add: shapes [2, 3] and [4] do not broadcast"),
    (lambda: L.mul(lamina.zeros(2), lamina.zeros(2, dtype="float64")), lamina.DTypeError, "mul: dtypes differ"),
    (lambda: L.sum(lamina.zeros(2, 3), 2), lamina.OutOfRangeError, "sum: axis 2 is out of range for 2-d input"),
    (lambda: L.sum(lamina.zeros(2, 3), [1, 1]), lamina.InvalidValueError, "sum: axis 1 given twice"),
    (lambda: L.linear(lamina.zeros(2, 3), lamina.zeros(4, 2)), lamina.ShapeError, "linear: expected x [N, K] and weight [O, K]"),
    (lambda: L.linear(lamina.zeros(2, 3), lamina.zeros(4, 3), lamina.zeros(3)), lamina.ShapeError, "linear: bias must be [4]"),
    (lambda: L.transpose(lamina.zeros(2, 3), [0, 0]), lamina.InvalidValueError, "transpose: axis 0 repeated"),
    (lambda: L.transpose(lamina.zeros(2, 3, 4)), lamina.ShapeError, "without a permutation the input must be 2-d"),
    (lambda: L.clip(lamina.zeros(2), 1.0, 0.0), lamina.InvalidValueError, "clip: lower bound 1 is above upper bound 0"),
    (lambda: L.mean(lamina.zeros(0, 3), 0), lamina.ShapeError, "mean: cannot average over an empty extent"),
    (lambda: lamina.zeros(2) + "a", lamina.DTypeError, "expected a lamina.Tensor or a number"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m[:30] for _, _, m in BAD])
def test_bad_input(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_operators_and_masks():
    a = lamina.tensor([[1.0, -2.0], [3.0, 0.5]])
    np.testing.assert_allclose(np.asarray(2 - a * 3 / 2 + 1), 3 - np.asarray(a) * 1.5)
    np.testing.assert_array_equal(np.asarray(a > 0.75), [[1, 0], [1, 0]])
    np.testing.assert_array_equal(np.asarray(a < 0), [[0, 1], [0, 0]])
    np.testing.assert_allclose(np.asarray(-a), -np.asarray(a))
    assert float(a.sum()) == 2.5 and abs(float(a.mean()) - 0.625) < 1e-7


def test_threshold_has_no_gradient():
    x = lamina.tensor([-1.0, 0.5, 2.0]).requires_grad_()
    y = L.threshold(x, 0.6)
    np.testing.assert_array_equal(np.asarray(y), [0, 0, 1])
    assert not y.requires_grad
