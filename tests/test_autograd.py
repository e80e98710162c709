"""The tape: graph shapes (diamonds, reuse), modes, freeing, safety, custom functions."""

import numpy as np
import pytest

import lamina
from lamina import ops


def leaf(values, dtype="float64"):
    return lamina.tensor(np.asarray(values, dtype=np.float64), dtype=dtype).requires_grad_()


def test_diamond_accumulates_both_paths():
    x = leaf([1.0, 2.0])
    a, b = x * 3.0, ops.exp(x)
    (a + b).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), 3.0 + np.exp([1.0, 2.0]))


def test_one_tensor_twice_in_one_op():
    x = leaf([1.5, -2.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [3.0, -4.0])


def test_shared_weight_used_by_two_layers():
    w = leaf(np.eye(2) * 2)
    x = lamina.tensor(np.array([[1.0, 1.0]]))
    y = ((x @ w) @ w).sum()  # x W W: dW = x^T (1 W^T) + (xW)^T 1
    y.backward()
    ones = np.ones((1, 2))
    wn = np.eye(2) * 2
    expected = np.array([[1.0, 1.0]]).T @ (ones @ wn.T) + (np.array([[1.0, 1.0]]) @ wn).T @ ones
    np.testing.assert_allclose(np.asarray(w.grad), expected)


def test_grad_accumulates_across_backward_calls_and_can_be_cleared():
    x = leaf([2.0])
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [8.0])
    x.grad = None
    assert x.grad is None


def test_leaf_grads_never_share_memory_with_each_other_or_the_seed():
    # A leaf's .grad takes a backward rule's fresh result as it is, but copies anything shared:
    # add's gradient reaches both of its leaves as one tensor, a seed reaches a leaf through
    # reshape as a view of it, and a wrapped NumPy array stays the caller's.
    x, z = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + z).sum().backward()
    gx, gz = np.asarray(x.grad), np.asarray(z.grad)
    assert not np.shares_memory(gx, gz)
    gx[0] = 100.0
    np.testing.assert_allclose(np.asarray(z.grad), [1.0, 1.0])
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    seed = lamina.tensor(np.array([5.0, 6.0, 7.0, 8.0]))
    w.reshape([4]).backward(seed)
    assert not np.shares_memory(np.asarray(w.grad), np.asarray(seed))
    np.testing.assert_allclose(np.asarray(w.grad), [[5.0, 6.0], [7.0, 8.0]])
    array = np.array([1.0, 1.0])
    v = leaf([0.5, 0.5])
    v.backward(lamina.from_numpy(array))
    assert not np.shares_memory(np.asarray(v.grad), array)
    m = leaf([1.0, 2.0])
    (m * 3.0).sum().backward()  # a fresh gradient: kept, and still right
    np.testing.assert_allclose(np.asarray(m.grad), [3.0, 3.0])


def test_non_leaf_grad_only_with_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    k = x * 3.0
    h.retain_grad()
    (h * k).sum().backward()
    np.testing.assert_allclose(np.asarray(h.grad), np.asarray(k))
    assert k.grad is None and not h.is_leaf and x.is_leaf and h.grad_fn == "mul"


def test_no_grad_records_nothing():
    x = leaf([1.0])
    with lamina.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(lamina.AutogradError, match="does not require grad"):
        y.backward()


def test_graph_is_freed_unless_retained():
    x = leaf([1.0, 2.0])
    y = ops.sigmoid(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    s = 1 / (1 + np.exp(-np.array([1.0, 2.0])))
    np.testing.assert_allclose(np.asarray(x.grad), 2 * s * (1 - s))
    with pytest.raises(lamina.AutogradError, match="already freed.*retain_graph"):
        y.backward()


def test_non_scalar_output_needs_a_seed():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(lamina.AutogradError, match=r"output of shape \[2\] is not a scalar"):
        y.backward()
    y.backward(lamina.tensor([1.0, 10.0]))
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 20.0])
    with pytest.raises(lamina.ShapeError, match="gradient of shape"):
        (x * 2.0).backward(lamina.tensor([1.0, 2.0, 3.0]))


def test_in_place_write_to_a_saved_tensor_is_detected():
    x = leaf([0.5, 1.0])
    y = ops.sigmoid(x)  # saves its output
    z = y.sum()
    y.fill_(0.0)
    with pytest.raises(lamina.AutogradError, match="sigmoid: a tensor of shape \\[2\\] saved for its backward was modified in place"):
        z.backward()


def test_in_place_write_to_leaf_requiring_grad_is_refused():
    x = leaf([1.0])
    with pytest.raises(lamina.AutogradError, match="fill_: in-place write to a leaf"):
        x.fill_(3.0)
    with lamina.no_grad():
        x.fill_(3.0)  # initialisation under no_grad is fine
    assert float(x) == 3.0


def test_detach_and_requires_grad_rules():
    x = leaf([1.0])
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(np.asarray(d), np.asarray(y))
    with pytest.raises(lamina.AutogradError, match="only leaves can be marked"):
        y.requires_grad = False


def test_grad_function_leaves_dot_grad_alone_and_reaches_inputs():
    x = leaf([1.0, -1.0])
    h = x * 3.0
    y = (h * h).sum()
    gx, gh = lamina.grad(y, [x, h], retain_graph=True)
    np.testing.assert_allclose(np.asarray(gh), 2 * np.asarray(h))
    np.testing.assert_allclose(np.asarray(gx), 18 * np.asarray(x))
    assert x.grad is None
    unused = leaf([5.0])
    with pytest.raises(lamina.AutogradError, match="was not used"):
        lamina.grad(y, [unused], retain_graph=True)
    assert lamina.grad(y, [unused], allow_unused=True) == [None]


def test_gradient_with_respect_to_the_input_image():
    # Adversarial examples need d loss / d input: an input that requires grad gets it.
    image = leaf(np.linspace(-1, 1, 6).reshape(1, 6))
    w = lamina.tensor(np.arange(12.0).reshape(6, 2))
    loss = ops.relu(image @ w).sum()
    (g,) = lamina.grad(loss, [image])
    mask = (np.asarray(image) @ np.asarray(w)) > 0
    np.testing.assert_allclose(np.asarray(g), (mask * 1.0) @ np.asarray(w).T)


class Cube(lamina.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return lamina.from_numpy(np.asarray(x) ** 3)  # forward in NumPy

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * 3.0 * x * x  # backward in lamina ops


def test_custom_function_joins_the_tape():
    x = leaf([1.0, -2.0, 0.5])
    y = Cube.apply(ops.tanh(x))
    assert y.grad_fn == "Cube"
    assert lamina.gradcheck(lambda t: Cube.apply(ops.tanh(t)), [lamina.tensor([1.0, -2.0, 0.5])])
    y.sum().backward()
    t = np.tanh([1.0, -2.0, 0.5])
    np.testing.assert_allclose(np.asarray(x.grad), 3 * t**2 * (1 - t**2))


def test_custom_function_wrong_gradient_count_is_an_error():
    class Bad(lamina.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, dy):
            return dy

    y = Bad.apply(leaf([1.0]), leaf([2.0]))
    with pytest.raises(lamina.AutogradError, match="Bad.backward returned 1 gradients for 2 inputs"):
        y.sum().backward()


def test_gradcheck_catches_a_wrong_gradient():
    class Wrong(lamina.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, dy):
            return dy * 3.0

    with pytest.raises(AssertionError, match=r"analytic .* vs numeric "):
        lamina.gradcheck(lambda t: Wrong.apply(t), [lamina.tensor([1.0])])
    with pytest.raises(lamina.DTypeError, match="needs float64"):
        lamina.gradcheck(ops.relu, [lamina.tensor([1.0], dtype="float32")])


def test_mlp_in_ten_lines_learns():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    Y = (X[:, :1] * X[:, 1:] > 0).astype(np.float64)  # XOR of signs: not linearly separable
    x, y = lamina.tensor(X), lamina.tensor(Y)
    w1 = lamina.tensor(rng.standard_normal((2, 16)) * 0.5).requires_grad_()
    w2 = lamina.tensor(rng.standard_normal((16, 1)) * 0.5).requires_grad_()
    for step in range(300):
        p = ops.sigmoid(ops.relu(x @ w1) @ w2)
        loss = ((p - y) * (p - y)).mean()
        w1.grad = w2.grad = None
        loss.backward()
        with lamina.no_grad():
            for w in (w1, w2):
                np.asarray(w)[...] -= 1.0 * np.asarray(w.grad)
    accuracy = float(((np.asarray(p) > 0.5) == (Y > 0.5)).mean())
    assert accuracy > 0.9, accuracy
