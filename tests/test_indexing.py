"""Indexing (t[...] and t[...] = v) against NumPy, and in-place ops with the tape's safety."""

import numpy as np
import pytest

import lamina

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the test extra
    torch = None

E = Ellipsis
A = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)

KEYS = [
    0, -1, 1, (1, 2), (-2, -3, 3), (0, 0, 0, 0), (1, -1, -1, -5),
    slice(None), slice(1, None), slice(None, -1), slice(-100, 100), slice(2, 1), slice(None, None, 2),
    (slice(None), 1), (slice(None), slice(None), 2), (E, 0), (E, slice(1, None, 2)), (0, E, 4),
    (None,), (None, 0), (0, None, None, 1), (E, None), (slice(None), None, E, None),
    (slice(None, None, 3), E, slice(1, -1, 2), None), (1, slice(0, 3, 2), E, slice(None, None, 4)),
    (np.int64(1), np.int32(-1)), (), E, (E,), (1, 2, 3, E),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_getitem_matches_numpy_and_shares_memory(key, dtype):
    a = A.astype(dtype)
    t = lamina.from_numpy(a)
    got = t[key]
    want = a[key]
    assert got.shape == np.shape(want) and got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(got), want)
    if got.size:
        assert np.shares_memory(np.asarray(got), a)  # a view, never a copy


def test_index_of_views_and_writes_through_them():
    a = np.arange(12.0).reshape(3, 4)
    t = lamina.from_numpy(a)
    np.testing.assert_array_equal(np.asarray(t.T[1:, 0]), a.T[1:, 0])
    np.testing.assert_array_equal(np.asarray(t[:, ::2][1:, -1]), a[:, ::2][1:, -1])
    np.testing.assert_array_equal(np.asarray(t.permute(1, 0)[::3]), a.T[::3])
    col = t[:, 2]
    col.fill_(-1.0)  # the view writes into the tensor (and the NumPy array it wraps)
    assert (a[:, 2] == -1).all()
    t[1][2:].zero_()
    assert (a[1, 2:] == 0).all() and a[1, 1] == 5


BAD_KEYS = [
    (5, lamina.OutOfRangeError, "index 5 is out of bounds for axis 0 with size 2"),
    ((0, -4), lamina.OutOfRangeError, "index -4 is out of bounds for axis 1 with size 3"),
    ((0, 0, 0, 0, 0), lamina.OutOfRangeError, "too many indices for a tensor of shape [2, 3, 4, 5]"),
    ((E, 0, E), lamina.OutOfRangeError, "only one ellipsis"),
    (slice(None, None, -1), lamina.InvalidValueError, "has a negative step"),
    ((0, slice(None, None, 0)), lamina.InvalidValueError, "slice step cannot be zero"),
    (1.0, IndexError, "1.0 is not an index"),
    ("a", IndexError, "is not an index"),
    (slice(0.5, 2), IndexError, "slice bounds must be ints or None"),
    ([0, 2], lamina.OutOfRangeError, "index 2 is out of bounds for axis 0 with size 2"),
    ((0, np.array([1, -4])), lamina.OutOfRangeError, "index -4 is out of bounds for axis 1 with size 3"),
    ((E, [5]), lamina.OutOfRangeError, "index 5 is out of bounds for axis 3 with size 5"),
    (True, lamina.OutOfRangeError, "a bool (True) as an index is not supported"),
    (lamina.tensor([0.0]), lamina.OutOfRangeError, "must be int64, int32 or bool, got float64"),
    ([0.5], lamina.OutOfRangeError, "must hold ints or bools, got dtype float64"),
    (np.ones((2, 4), bool), lamina.OutOfRangeError, "the mask of shape [2, 4] (item 0) does not match"),
    ((0, 0, np.ones((4, 5, 1), bool)), lamina.OutOfRangeError, "the mask of shape [4, 5, 1]"),
    (([0, 1], [0, 1, 2]), lamina.ShapeError, "do not broadcast"),
    (([0], 0, 0, 0, [0]), lamina.OutOfRangeError, "too many indices"),
]


@pytest.mark.parametrize("key,error,message", BAD_KEYS, ids=[m for _, _, m in BAD_KEYS])
def test_bad_keys_raise_index_errors_naming_the_axis(key, error, message):
    t = lamina.from_numpy(A.copy())
    with pytest.raises(error) as info:
        t[key]
    assert message in str(info.value)
    with pytest.raises(error) as info:
        t[key] = 0.0
    assert message in str(info.value)


SET = [
    ((slice(None), 1), 7.0),
    ((E, 2), np.arange(6.0).reshape(2, 3, 1)),  # broadcast along the last axis
    ((0, slice(1, None, 2)), np.arange(5.0)),
    ((None, 1, E, 0), np.ones((1, 1, 1, 4))),  # leading extents of 1 dropped, as NumPy
    (-1, np.arange(60.0).reshape(3, 4, 5)),
    ((), 3.5),
    ((1, 2, 3, 4), -2),
]


@pytest.mark.parametrize("key,value", SET, ids=[repr(k) for k, _ in SET])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_setitem_matches_numpy(key, value, as_tensor):
    a = A.copy()
    t = lamina.from_numpy(a.copy())
    before = t.numpy()
    v = lamina.tensor(np.asarray(value, dtype=np.float32)) if as_tensor else value  # float32 into float64
    t[key] = v
    a[key] = value
    np.testing.assert_array_equal(np.asarray(t), a)
    assert np.shares_memory(before, np.asarray(t))  # written in place


def test_setitem_reads_an_overlapping_value_before_writing():
    a = np.arange(10.0)
    t = lamina.from_numpy(a.copy())
    t[1:] = t[:-1]
    a[1:] = a[:-1].copy()
    np.testing.assert_array_equal(np.asarray(t), a)
    m = lamina.from_numpy(np.arange(9.0).reshape(3, 3))
    m[:, :] = m.T  # the value is the same memory read another way
    np.testing.assert_array_equal(np.asarray(m), np.arange(9.0).reshape(3, 3).T)


def test_setitem_errors():
    t = lamina.zeros(2, 3)
    with pytest.raises(lamina.ShapeError, match=r"a value of shape \[2\] does not broadcast to the indexed shape \[3\]"):
        t[0] = lamina.zeros(2)
    with pytest.raises(lamina.ShapeError, match="does not broadcast"):
        t[:, 0] = np.ones((3,))
    w = lamina.zeros(3).requires_grad_()
    with pytest.raises(lamina.AutogradError, match="index_put_: in-place write to a leaf tensor of shape \\[3\\] that requires grad"):
        w[0] = 1.0
    with lamina.no_grad():
        w[0] = 1.0  # initialisation
    assert float(w[0]) == 1.0


def test_setitem_is_recorded_and_matches_torch():
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal((4, 3)), rng.standard_normal(3)

    def run(lib, x, v):
        h = x * 2.0
        h[1:] = h[:-1] * 1.0  # reads the old h, then overwrites it
        h[0] = v
        h[:, 1] = 0.0
        return (h * h).sum()

    lx, lv = lamina.tensor(x).requires_grad_(), lamina.tensor(v).requires_grad_()
    loss = run(lamina, lx, lv)
    loss.backward()
    assert lamina.gradcheck(lambda a, b: run(lamina, a, b), [lamina.tensor(x), lamina.tensor(v)])
    if torch is not None:
        tx, tv = torch.tensor(x, requires_grad=True), torch.tensor(v, requires_grad=True)
        tloss = run(torch, tx, tv)
        tloss.backward()
        np.testing.assert_allclose(float(loss), float(tloss.detach()), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(lx.grad), tx.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(lv.grad), tv.grad.numpy(), rtol=1e-12)


def test_buffer_filled_from_tensors_that_require_grad():
    a = lamina.tensor([1.0, 2.0, 3.0], dtype="float64").requires_grad_()
    out = lamina.zeros(2, 3, dtype="float64")
    assert out.is_leaf and not out.requires_grad
    out[0] = a * 2.0
    out[1] = a * a
    assert out.requires_grad and out.grad_fn == "index_put_"
    out.sum().backward()
    np.testing.assert_allclose(np.asarray(a.grad), 2.0 + 2 * np.array([1.0, 2.0, 3.0]))


# ---- in-place ops ----

@pytest.mark.parametrize("op,np_op", [("__iadd__", np.add), ("__isub__", np.subtract), ("__imul__", np.multiply),
                                      ("__itruediv__", np.divide), ("add_", np.add), ("sub_", np.subtract),
                                      ("mul_", np.multiply), ("div_", np.divide)])
@pytest.mark.parametrize("other", [2.5, 3, np.array([1.0, 2.0, 4.0]), np.array([[2.0], [0.5]])])
def test_in_place_arithmetic_keeps_the_object_and_its_memory(op, np_op, other):
    a = np.arange(1.0, 7.0).reshape(2, 3)
    t = lamina.from_numpy(a)
    rhs = lamina.tensor(other, dtype="float64") if isinstance(other, np.ndarray) else other
    r = getattr(t, op)(rhs)
    assert r is t
    np.testing.assert_allclose(a, np_op(np.arange(1.0, 7.0).reshape(2, 3), other))  # the wrapped array changed


def test_in_place_operators_rebind_to_the_same_tensor():
    t = lamina.ones(3)
    ident = id(t)
    t += 1
    t *= lamina.tensor([1.0, 2.0, 3.0], dtype="float32")
    t -= 0.5
    t /= 2
    assert id(t) == ident
    np.testing.assert_allclose(np.asarray(t), (2 * np.array([1.0, 2.0, 3.0]) - 0.5) / 2)


def test_in_place_into_strided_views_and_clamp_zero():
    a = np.arange(12.0).reshape(3, 4)
    t = lamina.from_numpy(a.copy())
    t.T[1:] += lamina.tensor([10.0, 20.0, 30.0], dtype="float64")  # strided destination, broadcast row
    ref = np.arange(12.0).reshape(3, 4)
    ref.T[1:] += [10.0, 20.0, 30.0]
    np.testing.assert_array_equal(np.asarray(t), ref)
    t[::2].clamp_(max=20.0)
    ref[::2] = np.minimum(ref[::2], 20.0)
    np.testing.assert_array_equal(np.asarray(t), ref)
    t.clamp_(min=5.0)
    np.testing.assert_array_equal(np.asarray(t), np.maximum(ref, 5.0))
    assert t.clamp_(3.0, 8.0) is t
    assert float(t.max()) == 8.0
    t.zero_()
    assert not np.asarray(t).any()


def test_in_place_errors():
    t = lamina.zeros(2, 3)
    with pytest.raises(lamina.ShapeError, match=r"add_: cannot broadcast \[2, 3, 1\] to \[2, 3\]"):
        t += lamina.zeros(2, 3, 1)
    with pytest.raises(lamina.DTypeError, match="mul_: dtypes differ"):
        t *= lamina.zeros(3, dtype="float64")
    with pytest.raises(lamina.InvalidValueError, match="clamp_: needs a lower bound"):
        t.clamp_()
    with pytest.raises(lamina.InvalidValueError, match="clamp: needs a lower bound"):
        t.clamp()
    with pytest.raises(lamina.DTypeError, match="expected a lamina.Tensor or a number"):
        t += "a"


def test_in_place_on_a_leaf_that_requires_grad_is_refused_unless_no_grad():
    w = lamina.ones(3, dtype="float64").requires_grad_()
    for write in (lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.clamp_(0.0, 1.0), lambda: w.zero_(),
                  lambda: w.copy_(lamina.zeros(3, dtype="float64"))):
        with pytest.raises(lamina.AutogradError, match="in-place write to a leaf tensor of shape \\[3\\] that requires grad"):
            write()
    with lamina.no_grad():
        w -= 0.5  # an optimizer step
    np.testing.assert_array_equal(np.asarray(w), [0.5, 0.5, 0.5])
    assert w.is_leaf and w.grad_fn is None


def test_a_tensor_saved_for_backward_then_written_in_place_makes_backward_raise():
    x = lamina.tensor([0.5, -1.0, 2.0], dtype="float64").requires_grad_()
    y = x.sigmoid()  # saves its output
    loss = y.sum()
    y += 1.0
    with pytest.raises(lamina.AutogradError, match="sigmoid: a tensor of shape \\[3\\] saved for its backward was modified in place"):
        loss.backward()

    a = x * 1.0
    b = a * x  # mul saves a
    a.mul_(3.0)
    with pytest.raises(lamina.AutogradError, match="mul: a tensor of shape \\[3\\] saved"):
        b.sum().backward()

    x.grad = None
    h = x * 1.0
    p = h + 1.0  # add saves nothing: a later write into h leaves its backward valid
    h[0] = 5.0
    (p.sum() + h.sum()).backward()  # h's new history: entry 0 no longer depends on x
    np.testing.assert_array_equal(np.asarray(x.grad), [1.0, 2.0, 2.0])

    with lamina.no_grad():  # writes under no_grad are invisible to the tape, but still versioned
        z = x.tanh()
    q = x.tanh()
    with lamina.no_grad():
        q.zero_()
    with pytest.raises(lamina.AutogradError, match="tanh: a tensor of shape"):
        q.sum().backward()
    assert z.grad_fn is None


VIEW_WRITES = {
    # name: f(lib, x, y) -> output; writes into views of tensors with and without history
    "add_into_columns": lambda lib, x, y: iadd_columns(x * 1.0, y),
    "setitem_through_reshape": lambda lib, x, y: set_flat(x * 2.0, y),
    "mul_into_transposed_row": lambda lib, x, y: mul_row_of_t(x * 1.0, y),
    "buffer_view_of_a_view": lambda lib, x, y: buffer_rows(lib, x, y),
    "old_view_reads_new_history": lambda lib, x, y: old_view_after_write(x * 3.0, y),
    "clamp_fill_in_views": lambda lib, x, y: clamp_and_fill(x + 0.0, y),
}


def iadd_columns(h, y):
    h[:, :2] += y[:2]  # a view, written in place, then assigned back
    return h


def set_flat(h, y):
    h.reshape(-1)[1:4] = y  # x.view(-1)[...] = ...
    return h


def mul_row_of_t(h, y):
    h.t()[1] *= y[0]
    return h


def buffer_rows(lib, x, y):
    buf = lib.zeros(3, 3, dtype=x.dtype)  # a leaf that does not require grad
    row = buf[1]
    row[1:] = y[:2]  # a view of a view
    buf[0] = x[0]
    return buf * 1.0


def old_view_after_write(h, y):
    before = h[1:]  # taken before the writes into h
    h += y
    h[0, 1] = y[2]
    return before * before


def clamp_and_fill(h, y):
    h[0].clamp_(-0.5, 0.5)
    h[2, :2].zero_()
    h[1, ::2] = y[1]
    return h * y


@pytest.mark.parametrize("name", list(VIEW_WRITES))
def test_recorded_writes_into_views_match_torch(name):
    fn = VIEW_WRITES[name]
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((3, 3)), rng.standard_normal(3)
    lx, ly = lamina.tensor(x).requires_grad_(), lamina.tensor(y).requires_grad_()
    out = fn(lamina, lx, ly)
    (out * out).sum().backward()
    assert lamina.gradcheck(lambda a, b: fn(lamina, a, b), [lamina.tensor(x), lamina.tensor(y)])
    if torch is not None:
        tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
        tout = fn(torch, tx, ty)
        (tout * tout).sum().backward()
        np.testing.assert_allclose(np.asarray(out), tout.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(lx.grad), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(ly.grad), ty.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_writes_into_views_of_leaves_that_require_grad_are_refused():
    w = lamina.ones(2, 3, dtype="float64").requires_grad_()
    with pytest.raises(lamina.AutogradError, match="add_: in-place write to a view of a leaf tensor of shape \\[2, 3\\]"):
        w[0] += 1.0
    with pytest.raises(lamina.AutogradError, match="index_put_: in-place write to a view of a leaf"):
        w.T[0] = 2.0
    with lamina.no_grad():
        w[0] += 1.0
    assert float(w.sum()) == 9.0


def test_in_place_on_non_leaf_matches_torch_and_retained_grad_follows():
    rng = np.random.default_rng(3)
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))

    def block(lib, x, w, retain=False):
        out = x @ w  # matmul saves x and w, not out
        out += x  # a residual connection, in place
        if retain:
            out.retain_grad()
        out *= 2.0
        out.clamp_(min=-1.0)
        out /= out.detach() * 0 + 3.0
        return out

    lx, lw = lamina.tensor(xs).requires_grad_(), lamina.tensor(ws).requires_grad_()
    out = block(lamina, lx, lw, retain=True)
    (out * out).sum().backward()
    assert lamina.gradcheck(lambda x, w: block(lamina, x, w), [lamina.tensor(xs), lamina.tensor(ws)])
    if torch is not None:
        tx, tw = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
        tout = block(torch, tx, tw, retain=True)
        (tout * tout).sum().backward()
        np.testing.assert_allclose(np.asarray(out), tout.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(lx.grad), tx.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(lw.grad), tw.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(out.grad), tout.grad.numpy(), rtol=1e-12)


def test_fill_and_zero_on_a_non_leaf_cut_the_gradient():
    x = lamina.tensor([1.0, 2.0], dtype="float64").requires_grad_()
    h = x * 3.0
    h.zero_()
    (h + x).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [1.0, 1.0])  # only through + x
    assert h.requires_grad


def test_copy_into_a_buffer_records():
    x = lamina.tensor([1.0, 2.0], dtype="float64").requires_grad_()
    buf = lamina.zeros(2, dtype="float64")
    assert buf.copy_(x * x) is buf
    buf.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [2.0, 4.0])


# Tensor items (NumPy arrays and lists become tensors): gathers, placed as PyTorch places them.
MASK = (A % 7) < 3  # a mask over all four axes
ADVANCED = [
    [1, 0, 1], [[1], [0]], np.array([-1, 0]), (slice(None), [2, 0, 2]), (E, [4, 0]), ([0, 1], [2, 0]),
    ([[0], [1]], slice(None), [1, 2, 3]),  # broadcast [2, 1] with [3]; not adjacent: B first
    ([0, 1], slice(None), slice(None), [1, 4]), (slice(None), [0, 2], [1, 3]),  # adjacent: in place
    (slice(None), [0, 2], None, [1, 3]),  # a new axis between them: B first
    (1, slice(None), [0, 3]), ([1, 0], 2), (slice(1, None), [[0, 1], [2, 2]], E, slice(None, None, 2)),
    (np.int64(1), [2], [3], [4]), ([], ), (slice(None), []),
    MASK, (1, MASK[0]), (MASK[:, 0, 0, 0],), (slice(None), MASK[0, :, 0, 0]), (E, MASK[0, 0]),
    (MASK[:, :, 0, 0], [1]), (0, MASK[0, :, :, 0], slice(1, 3)), (MASK[..., 0, 0], E, [0, 1]),
]


def torch_key(key):
    items = key if isinstance(key, tuple) else (key,)
    return tuple(torch.tensor(np.asarray(k, dtype=np.int64) if isinstance(k, list) else k)
                 if isinstance(k, (list, np.ndarray)) else k for k in items)


def lamina_key(key, as_tensors):
    items = key if isinstance(key, tuple) else (key,)
    if not as_tensors:
        return items
    return tuple(lamina.tensor(np.asarray(k, dtype=np.int64) if isinstance(k, list) else k)
                 if isinstance(k, (list, np.ndarray)) else k for k in items)


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("key", ADVANCED, ids=lambda k: repr(k)[:60])
@pytest.mark.parametrize("as_tensors", [False, True], ids=["arrays", "tensors"])
def test_tensor_indices_match_torch_forward_and_backward(key, as_tensors):
    t = lamina.from_numpy(A.copy()).requires_grad_()
    tt = torch.tensor(A, requires_grad=True)
    got, want = t[lamina_key(key, as_tensors)], tt[torch_key(key)]
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(np.asarray(got.detach()), want.detach().numpy())
    w = np.random.default_rng(1).standard_normal(got.shape)  # repeated indices add their gradients
    (got * lamina.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(t.grad), tt.grad.numpy(), rtol=1e-14, atol=1e-14)


def test_tensor_indices_follow_numpy_where_numpy_and_torch_agree():
    # NumPy's placement equals PyTorch's unless an int stands apart from the index arrays.
    t = lamina.from_numpy(A)
    for key in [([1, 0],), (slice(None), [[2], [0]], [1, 3]), (MASK,), (E, MASK[0, 0, 0]), ([0, 1], E, [1, 2])]:
        np.testing.assert_array_equal(np.asarray(t[key]), A[tuple(np.asarray(k) if isinstance(k, list) else k
                                                                   for k in key)])
    # integer dtypes and int32 indices
    i = lamina.tensor(np.arange(10, dtype=np.int32) * 3)
    np.testing.assert_array_equal(np.asarray(i[lamina.tensor(np.array([9, 0], np.int32))]), [27, 0])
    assert i[i > 20].tolist() == [21, 24, 27]


def test_gradcheck_through_tensor_indices():
    x = lamina.tensor(np.random.default_rng(2).standard_normal((3, 4)))
    idx, mask = lamina.tensor([2, 0, 2]), lamina.tensor(np.array([True, False, True, True]))
    assert lamina.gradcheck(lambda a: (a[idx][:, mask] ** 2).sum(), [x])
    assert lamina.gradcheck(lambda a: a[[[0], [2]], [1, 3]] * a[1, [0, 0]], [x])


SET_ADVANCED = [
    (([1, 0],), 7.0),
    ((slice(None), [2, 0]), np.arange(5.0)),  # broadcast over the leading axes
    ((MASK,), -1.0),
    ((MASK,), np.arange(float(MASK.sum()))),
    ((1, MASK[1, :, :, 0]), np.arange(5.0)),  # one value per masked row of the last axis
    (([0, 1], [1, 2], [3, 0]), np.array([[1.0], [2.0]])),
    ((0, slice(None), [3, 3, 1]), 2.5),  # a repeated index writes the same value twice
    ((E, MASK[0, 0, 0]), np.array([7.0, 8.0, 9.0])),
]


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("key,value", SET_ADVANCED, ids=lambda k: repr(k)[:40])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_setitem_with_tensor_indices_matches_torch_in_place(key, value, as_tensor):
    t = lamina.from_numpy(A.copy())
    before = np.asarray(t)
    tt = torch.tensor(A)
    t[lamina_key(key, True)] = lamina.tensor(np.asarray(value)) if as_tensor else value
    tt[torch_key(key)] = torch.tensor(np.asarray(value)) if isinstance(value, np.ndarray) else value
    np.testing.assert_array_equal(np.asarray(t), tt.numpy())
    assert np.shares_memory(before, np.asarray(t))


def test_setitem_with_tensor_indices_into_strided_views_and_other_dtypes():
    a = np.arange(1.0, 13.0).reshape(3, 4)
    t = lamina.from_numpy(a)
    t.T[[1, 3]] = 0.0  # columns 1 and 3 of the underlying array
    assert (a[:, [1, 3]] == 0).all() and (a[:, [0, 2]] != 0).all()
    t[:, ::2][t[:, ::2] > 5] = -1.0
    ref = np.arange(1.0, 13.0).reshape(3, 4)
    ref[:, [1, 3]] = 0.0
    ref[:, ::2][ref[:, ::2] > 5] = -1.0
    np.testing.assert_array_equal(a, ref)
    i = lamina.tensor(np.arange(6))
    i[lamina.tensor(np.arange(6) % 2 == 0)] = lamina.tensor([10, 20, 30], dtype=lamina.int32)  # to int64
    assert i.tolist() == [10, 1, 20, 3, 30, 5]
    with pytest.raises(lamina.ShapeError, match=r"a value of shape \[2\] does not broadcast to the indexed shape \[3\]"):
        i[[0, 1, 2]] = lamina.tensor([1, 2])


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_setitem_with_tensor_indices_is_recorded_and_matches_torch():
    rng = np.random.default_rng(3)
    x, v = rng.standard_normal((4, 5)), rng.standard_normal(2)

    def run(lib, x, v, idx, mask):
        h = x * 2.0
        h[idx, 1] = v  # the value's gradient, the old region's cut
        g = h[1:]
        g[mask] = g[mask] * 3.0  # a write through a view, read from the same positions
        return (h * h).sum()

    idx, mask = [0, 3], rng.standard_normal((3, 5)) > 0
    lx, lv = lamina.tensor(x).requires_grad_(), lamina.tensor(v).requires_grad_()
    loss = run(lamina, lx, lv, lamina.tensor(idx), lamina.tensor(mask))
    loss.backward()
    assert lamina.gradcheck(lambda a, b: run(lamina, a, b, lamina.tensor(idx), lamina.tensor(mask)),
                            [lamina.tensor(x), lamina.tensor(v)])
    tx, tv = torch.tensor(x, requires_grad=True), torch.tensor(v, requires_grad=True)
    tloss = run(torch, tx, tv, torch.tensor(idx), torch.tensor(mask))
    tloss.backward()
    np.testing.assert_allclose(float(loss), float(tloss.detach()), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(lx.grad), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(lv.grad), tv.grad.numpy(), rtol=1e-12)


ARANGE = [((5,), {}), ((2, 9, 3), {}), ((0.0, 1.0, 0.25), {}), ((1, -3, -1), {}), ((3, 3), {}), ((5, 0, -2), {}),
          ((0, 1, 0.1), {}), ((4,), {"dtype": lamina.float64}), ((-2.5, 2), {}), ((7,), {"dtype": lamina.int32})]


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("args,kwargs", ARANGE, ids=lambda a: repr(a))
def test_arange_matches_torch(args, kwargs):
    got = lamina.arange(*args, **kwargs)
    tkw = {"dtype": {lamina.float64: torch.float64, lamina.int32: torch.int32}[kwargs["dtype"]]} if kwargs else {}
    want = torch.arange(*args, **tkw)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-6)


def test_arange_errors():
    assert lamina.arange(5, 0).shape == (0,)  # empty, as NumPy (PyTorch refuses)
    with pytest.raises(lamina.InvalidValueError, match="step cannot be zero"):
        lamina.arange(0, 5, 0)
    with pytest.raises(lamina.InvalidValueError, match="must be finite"):
        lamina.arange(0, float("inf"))
    with pytest.raises(lamina.ShapeError, match="too many elements"):
        lamina.arange(0, 1e30, 1e-30)
