"""int32, int64 and bool tensors: construction, NumPy exchange, conversions, and the float
ops refusing them by name."""

import gc

import numpy as np
import pytest

import lamina

INT_DTYPES = [np.int32, np.int64, np.bool_]
ALL_DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


def test_exported_dtypes_are_numpy_dtypes():
    assert lamina.int32 == np.int32 and lamina.int64 == np.int64
    assert lamina.bool_ == np.bool_ and lamina.bool == np.bool_
    assert lamina.zeros(2, dtype=lamina.int64).dtype == np.int64
    assert lamina.ones(2, dtype=bool).dtype == np.bool_
    assert lamina.full((2,), 3, dtype="int32").dtype == np.int32


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_from_numpy_shares_integer_and_bool_arrays(dtype):
    a = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    t = lamina.from_numpy(a)
    assert t.dtype == np.dtype(dtype) and t.shape == (3, 4)
    v = np.asarray(t)  # the buffer protocol
    assert v.dtype == np.dtype(dtype) and np.shares_memory(v, a)
    assert np.shares_memory(t.numpy(), a)
    a[0, 0] = 1
    assert t.numpy()[0, 0] == 1
    expected = a.copy()
    del a, t
    gc.collect()
    np.testing.assert_array_equal(v, expected)  # the view kept the tensor, the tensor the array
    b = (np.arange(10) % 4).astype(dtype)[::3]  # not contiguous: copied
    s = lamina.from_numpy(b)
    assert not np.shares_memory(s.numpy(), b)
    np.testing.assert_array_equal(s.numpy(), b)


def test_tensor_picks_dtypes_as_pytorch():
    assert lamina.tensor([1, 2, 3]).dtype == lamina.int64
    assert lamina.tensor(np.array([1, 2], np.int32)).dtype == lamina.int32
    assert lamina.tensor(np.array([1, 2], np.uint8)).dtype == lamina.int64
    assert lamina.tensor([True, False]).dtype == lamina.bool_
    assert lamina.tensor(3).dtype == lamina.int64 and lamina.tensor(3).shape == ()
    assert lamina.tensor([1.5]).dtype == lamina.float64  # NumPy's float64 stays float64
    assert lamina.tensor(np.float32([1.5])).dtype == lamina.float32
    assert lamina.tensor([1, 2], dtype=lamina.float32).dtype == lamina.float32
    t = lamina.tensor([0.0, 2.5], dtype=lamina.bool_)
    assert t.tolist() == [False, True]
    copy = lamina.tensor(t, dtype=lamina.int32)
    assert copy.dtype == lamina.int32 and copy.tolist() == [0, 1]


@pytest.mark.parametrize("src", ALL_DTYPES)
@pytest.mark.parametrize("dst", ALL_DTYPES)
def test_conversions_match_numpy_astype(src, dst):
    values = np.array([-3.75, -1.0, -0.5, 0.0, 0.5, 1.0, 2.25, 7.0, 100.5])
    a = values.astype(src)
    t = lamina.from_numpy(a).to(dst)
    assert t.dtype == np.dtype(dst)
    np.testing.assert_array_equal(t.numpy(), a.astype(dst))
    # Through a transposed (strided) view as well.
    m = np.ascontiguousarray(np.resize(a, 12).reshape(3, 4))
    mt = lamina.from_numpy(m).T
    out = lamina.zeros(4, 3, dtype=dst)
    with lamina.no_grad():
        out_copy = mt.to(dst)
    np.testing.assert_array_equal(out_copy.numpy(), m.T.astype(dst))
    assert out.dtype == np.dtype(dst)


def test_float_to_int_out_of_range_and_nan_give_the_minimum():
    a = np.array([np.nan, 1e30, -1e30, 2.0**31], np.float64)
    lo = np.iinfo(np.int32).min
    np.testing.assert_array_equal(lamina.from_numpy(a).to(lamina.int32).numpy(), [lo, lo, lo, lo])
    assert lamina.from_numpy(np.array([np.nan])).bool().item() is True


def test_conversion_methods_and_items():
    t = lamina.tensor([[1.9, -2.9], [0.0, 3.0]], dtype=lamina.float32)
    assert t.long().dtype == lamina.int64 and t.long().tolist() == [[1, -2], [0, 3]]
    assert t.int().dtype == lamina.int32
    assert t.bool().tolist() == [[True, True], [False, True]]
    assert t.long().double().dtype == lamina.float64 and t.long().float().dtype == lamina.float32
    assert t.is_floating_point and not t.long().is_floating_point
    big = lamina.tensor([2**60 + 1])
    assert big.item() == 2**60 + 1 and isinstance(big.item(), int)  # exact, not through a double
    assert int(big) == 2**60 + 1
    assert lamina.tensor([True]).item() is True
    assert isinstance(lamina.tensor([2.5], dtype=lamina.float32).item(), float)
    assert int(lamina.tensor(2.9)) == 2
    assert bool(lamina.tensor([0])) is False and bool(lamina.tensor(1.5)) is True
    with pytest.raises(lamina.InvalidValueError, match="ambiguous"):
        bool(lamina.tensor([1, 2]))


def test_fill_zeros_full_clone_contiguous_for_integers():
    t = lamina.full((2, 3), 7, dtype=lamina.int64)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 7))
    t.fill_(-4)
    assert t.tolist() == [[-4] * 3] * 2
    c = t.clone()
    assert c.dtype == lamina.int64 and not np.shares_memory(c.numpy(), t.numpy())
    assert t.T.contiguous().dtype == lamina.int64 and t.T.contiguous().shape == (3, 2)
    b = lamina.zeros(3, dtype=lamina.bool_)
    b.fill_(2.0)
    assert b.tolist() == [True] * 3
    assert np.asarray(b).view(np.uint8).tolist() == [1, 1, 1]  # one byte holding 1


def test_integer_tensors_have_no_gradient():
    with pytest.raises(lamina.DTypeError, match="int64 cannot require grad"):
        lamina.tensor([1, 2]).requires_grad_()
    with pytest.raises(lamina.DTypeError, match="bool cannot require grad"):
        lamina.tensor([True]).requires_grad = True
    x = lamina.tensor([1.5, 2.5], dtype=lamina.float32).requires_grad_()
    assert x.long().grad_fn is None and not x.long().requires_grad
    assert x.double().grad_fn == "to"


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("op", [
    ("relu", lambda L, x: L.relu(x)),
    ("exp", lambda L, x: L.exp(x)),
    ("matmul", lambda L, x: L.matmul(x, x)),
    ("softmax", lambda L, x: L.softmax(x, 1)),
    ("mean", lambda L, x: L.mean(x)),
    ("max_pool2d", lambda L, x: L.max_pool2d(x.reshape(1, 1, 2, 2))),
    ("linear", lambda L, x: L.linear(x, x)),
    ("l2_normalize", lambda L, x: L.l2_normalize(x)),
    ("prelu", lambda L, x: L.prelu(x, x[0])),
    ("mse_loss", lambda L, x: L.mse_loss(x, x)),
    ("sigmoid_cross_entropy", lambda L, x: L.sigmoid_cross_entropy(x, x)),
    ("power", lambda L, x: L.pow(x, 2.0)),
], ids=lambda o: o[0] if isinstance(o, tuple) else None)
def test_float_ops_reject_integer_and_bool_tensors_by_name(op, dtype):
    name, fn = op
    x = lamina.from_numpy(np.ones((2, 2), dtype))
    with pytest.raises(lamina.DTypeError, match=f"{name}: expected a float32 or float64 tensor, got {np.dtype(dtype)}"):
        fn(lamina.ops, x)


def test_rand_refuses_integer_dtypes():
    with pytest.raises(lamina.DTypeError, match="rand: expected a float32 or float64 tensor, got int32"):
        lamina.rand((2,), dtype=lamina.int32)


def test_data_movement_keeps_integer_dtypes():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = lamina.from_numpy(a)
    np.testing.assert_array_equal(lamina.ops.concat([t, t], axis=0).numpy(), np.concatenate([a, a]))
    np.testing.assert_array_equal(lamina.ops.transpose(t).numpy(), a.T)
    np.testing.assert_array_equal(lamina.ops.slice(t, 1, 1, 3).numpy(), a[:, 1:3])
    np.testing.assert_array_equal(t.reshape(3, 2).numpy(), a.reshape(3, 2))
    np.testing.assert_array_equal(t[1].numpy(), a[1])


# ---- comparisons, logical ops, integer arithmetic and sums ------------------------------

COMPARISONS = [("greater", np.greater, "__gt__"), ("less", np.less, "__lt__"), ("equal", np.equal, "__eq__"),
               ("greater_equal", np.greater_equal, "__ge__"), ("less_equal", np.less_equal, "__le__"),
               ("not_equal", np.not_equal, "__ne__")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("name,ref,dunder", COMPARISONS)
def test_comparisons_give_bool_with_broadcasting(name, ref, dunder, dtype, rng):
    a = rng.integers(-2, 3, (3, 1, 4)).astype(dtype)
    b = rng.integers(-2, 3, (5, 1)).astype(dtype)
    out = getattr(lamina.ops, name)(lamina.from_numpy(a), lamina.from_numpy(b))
    assert out.dtype == lamina.bool_ and out.shape == (3, 5, 4)
    np.testing.assert_array_equal(out.numpy(), ref(a, b))
    a2, b2 = np.ascontiguousarray(a[:, 0, :]), np.ascontiguousarray(b[:3, 0])
    t = lamina.from_numpy(a2).T  # strided
    np.testing.assert_array_equal(getattr(t, dunder)(lamina.from_numpy(b2)).numpy(), ref(a2.T, b2))
    scalar = True if dtype == np.bool_ else 1
    np.testing.assert_array_equal(getattr(lamina.from_numpy(a), dunder)(scalar).numpy(), ref(a, scalar))


def test_python_numbers_compare_from_either_side():
    x = lamina.tensor([1.0, 2.0, 3.0], dtype=lamina.float32)
    assert (x > 1.5).tolist() == [False, True, True]
    assert (2 < x).tolist() == [False, False, True]  # reflected: x.__gt__(2)
    assert (x == 2).tolist() == [False, True, False] and (x != 2).tolist() == [True, False, True]
    i = lamina.tensor([1, 2, 3])
    assert (i >= 2).tolist() == [False, True, True] and (1 == i).tolist() == [True, False, False]
    assert (i > 1.5).tolist() == [False, True, True]  # compared as float32, as PyTorch


def test_tensors_stay_hashable_by_identity():
    a, b = lamina.zeros(2), lamina.zeros(2)
    assert len({a, b, a}) == 2
    assert {a: 1, b: 2}[b] == 2 and a in {a: 0}
    assert hash(a) == hash(a) and hash(a) != hash(b)
    assert (a == None) is False and (a != "x") is True  # noqa: E711 - identity for non-numbers
    assert a in [None, a] and None not in [a]


def test_accuracy_idiom_counts_in_int64():
    logits = lamina.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], dtype=lamina.float32)
    y = lamina.tensor([1, 0, 0])
    pred = logits.argmax(1)
    assert pred.dtype == lamina.int64 and pred.tolist() == [1, 0, 1]
    correct = (pred == y).sum()
    assert correct.dtype == lamina.int64 and correct.item() == 2
    assert lamina.ops.argmax(lamina.tensor([[3, 7, 7], [9, 0, 1]]), 1).tolist() == [1, 0]  # first maximum


def test_logical_ops_and_operators():
    a = lamina.tensor([True, True, False, False])
    b = lamina.tensor([True, False, True, False])
    assert (a & b).tolist() == [True, False, False, False]
    assert (a | b).tolist() == [True, True, True, False]
    assert (~a).tolist() == [False, False, True, True]
    assert (a & True).tolist() == [True, True, False, False] and (False | b).tolist() == b.tolist()
    f = lamina.tensor([0.0, 2.0, -1.0, 0.0], dtype=lamina.float32)
    assert lamina.ops.logical_and(f, f).dtype == lamina.bool_
    assert lamina.ops.logical_not(f).tolist() == [True, False, False, True]
    assert lamina.ops.logical_or(lamina.tensor([0, 3]), lamina.tensor([0, 0])).tolist() == [False, True]
    assert a.any().item() is True and a.all().item() is False and lamina.tensor([1, 2]).all().item() is True
    assert lamina.tensor([0.0]).any().item() is False
    with pytest.raises(lamina.DTypeError, match="~ is logical_not of a bool tensor"):
        ~lamina.tensor([1, 2])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_arithmetic_matches_numpy(dtype, rng):
    a = rng.integers(-50, 50, (3, 4)).astype(dtype)
    b = rng.integers(-50, 50, (4,)).astype(dtype)
    ta, tb = lamina.from_numpy(a), lamina.from_numpy(b)
    for got, want in ((ta + tb, a + b), (ta - tb, a - b), (ta * tb, a * b), (-ta, -a), (ta * 3, a * 3),
                      (2 - ta, 2 - a), (lamina.ops.expand(tb, (3, 4)), np.broadcast_to(b, (3, 4)))):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got.numpy(), want)
    q = ta / tb  # true division, into float32
    assert q.dtype == lamina.float32
    np.testing.assert_allclose(q.numpy(), (a / b).astype(np.float32), rtol=1e-6)


def test_bool_arithmetic_as_pytorch():
    a = lamina.tensor([True, False, True])
    b = lamina.tensor([True, True, False])
    assert (a + b).tolist() == [True, True, True] and (a * b).tolist() == [True, False, False]
    with pytest.raises(lamina.DTypeError, match="sub: expected a float32 or float64 tensor, got bool"):
        a - b
    with pytest.raises(lamina.DTypeError, match="neg: expected a float32 or float64 tensor, got bool"):
        -a


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_sums_of_integers_and_bools_are_exact_int64(dtype, rng):
    a = rng.integers(0, 2 if dtype == np.bool_ else 1000, (4, 5, 6)).astype(dtype)
    t = lamina.from_numpy(a)
    for axis, keepdim in ((None, False), (1, False), ((0, 2), True), (-1, True), ((0, 1), False)):
        got = t.sum(axis=axis, keepdim=keepdim)
        assert got.dtype == lamina.int64
        np.testing.assert_array_equal(got.numpy(), a.sum(axis=axis, keepdims=keepdim, dtype=np.int64))
    big = lamina.full((3,), 2**52 + 1, dtype=lamina.int64)
    assert big.sum().item() == 3 * (2**52 + 1)  # exact past a double's 53 bits
    with pytest.raises(lamina.DTypeError, match="mean: expected a float32 or float64 tensor, got"):
        t.mean()


def test_old_float_mask_users_still_work():
    x = lamina.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=lamina.float32)
    mask = (x > 0).to(lamina.float32)  # a 0/1 float mask, as comparisons used to give
    np.testing.assert_array_equal((x * mask).numpy(), [[1, 0], [3, 0.5]])
    y = lamina.ops.threshold(x, 0.75)  # Caffe's Threshold stays a float 0/1 of x's dtype
    assert y.dtype == lamina.float32 and y.tolist() == [[1, 0], [1, 0]]


# ---- where, index_select, gather, nonzero ------------------------------------------------

def test_where_takes_any_dtype_and_refuses_a_non_bool_condition():
    c = lamina.tensor([[True], [False]])
    out = lamina.ops.where(c, lamina.tensor([1, 2, 3]), lamina.tensor(0))
    assert out.dtype == lamina.int64 and out.tolist() == [[1, 2, 3], [0, 0, 0]]
    with pytest.raises(lamina.DTypeError, match="where: the condition must be a bool tensor, got float32"):
        lamina.ops.where(lamina.zeros(2), lamina.zeros(2), lamina.zeros(2))
    assert lamina.ops.where(c, lamina.zeros(2), lamina.zeros(2, dtype=lamina.int64)).dtype == lamina.float32
    with pytest.raises(lamina.ShapeError, match="where: shapes"):
        lamina.ops.where(lamina.tensor([True, False, True]), lamina.zeros(2), lamina.zeros(2))


def test_where_gradient_goes_to_the_chosen_side():
    a = lamina.tensor([1.0, 2.0, 3.0]).requires_grad_()
    b = lamina.tensor(10.0).requires_grad_()  # broadcast: its gradient sums
    lamina.ops.where(lamina.tensor([True, False, False]), a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 0.0] and b.grad.item() == 2.0


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.bool_])
def test_index_select_gather_nonzero_forward_any_dtype(dtype, rng):
    x = rng.integers(0, 3, (3, 4, 2)).astype(dtype)
    t = lamina.from_numpy(x)
    idx = np.array([3, 0, 0])
    got = lamina.ops.index_select(t, 1, lamina.tensor(idx))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), np.take(x, idx, 1))
    g = rng.integers(0, 4, (3, 2, 2))
    np.testing.assert_array_equal(lamina.ops.gather(t, 1, lamina.tensor(g)).numpy(), np.take_along_axis(x, g, 1))
    nz = lamina.ops.nonzero(t)
    assert nz.dtype == lamina.int64 and nz.shape == (int(np.count_nonzero(x)), 3)
    np.testing.assert_array_equal(nz.numpy(), np.argwhere(x))
    m = lamina.from_numpy(np.ascontiguousarray(x[:, :, 1]))  # its .T is strided
    np.testing.assert_array_equal(lamina.ops.index_select(m.T, 0, lamina.tensor([1])).numpy(), x[:, :, 1].T[[1]])


def test_nonzero_of_empty_and_all_zero():
    assert lamina.ops.nonzero(lamina.zeros(2, 3)).shape == (0, 2)
    assert lamina.ops.nonzero(lamina.tensor(5)).shape == (1, 0)
    mask = lamina.tensor([[False, True], [True, True]])
    rows, cols = lamina.ops.nonzero(mask).T.numpy()  # usable as index_select input per axis
    assert rows.tolist() == [0, 1, 1] and cols.tolist() == [1, 0, 1]


def test_index_errors_name_the_op_the_index_and_the_extent():
    x = lamina.zeros(2, 3)
    with pytest.raises(lamina.OutOfRangeError, match="index_select: index 3 is out of range for axis 1 of size 3"):
        lamina.ops.index_select(x, 1, lamina.tensor([0, 3]))
    with pytest.raises(lamina.OutOfRangeError, match="index_select: index -1 is out of range for axis 0 of size 2"):
        lamina.ops.index_select(x, 0, lamina.tensor([-1]))
    with pytest.raises(lamina.OutOfRangeError, match="gather: index 5 is out of range for axis 1 of size 3"):
        lamina.ops.gather(x, 1, lamina.tensor([[0], [5]]))
    with pytest.raises(IndexError):  # lamina.OutOfRangeError is also the builtin
        lamina.ops.index_select(x, 2, lamina.tensor([0]))
    with pytest.raises(lamina.DTypeError, match="index_select: the index must be an int32 or int64 tensor, got float32"):
        lamina.ops.index_select(x, 0, lamina.zeros(1))
    with pytest.raises(lamina.DTypeError, match="gather: the index must be an int32 or int64 tensor, got bool"):
        lamina.ops.gather(x, 0, lamina.tensor([[True]]))
    with pytest.raises(lamina.ShapeError, match="index_select: the index must be 1-d"):
        lamina.ops.index_select(x, 0, lamina.tensor([[0]]))
    with pytest.raises(lamina.ShapeError, match="gather: index of shape \\[3, 1\\] does not fit input \\[2, 3\\]"):
        lamina.ops.gather(x, 1, lamina.tensor([[0], [0], [0]]))


def test_index_select_backward_adds_repeated_indices():
    w = lamina.tensor(np.arange(6.0).reshape(3, 2)).requires_grad_()
    lamina.ops.index_select(w, 0, lamina.tensor([2, 2, 0])).sum().backward()
    assert w.grad.tolist() == [[1, 1], [0, 0], [2, 2]]
    assert lamina.ops.index_select(w, 0, lamina.tensor([1])).grad_fn == "index_select"


# ---- integer labels and indices ------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_labels_give_what_float_labels_give(dtype, rng):
    x = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    losses, grads = [], []
    for lab in (lamina.tensor(labels.astype(np.float64)), lamina.tensor(labels.astype(dtype))):
        lx = lamina.tensor(x).requires_grad_()
        loss = lamina.ops.softmax_cross_entropy(lx, lab)
        loss.backward()
        losses.append(loss.item())
        grads.append(lx.grad.numpy())
    assert losses[0] == losses[1]
    np.testing.assert_array_equal(grads[0], grads[1])


def test_bad_labels_are_clear_errors():
    x = lamina.zeros(2, 3)
    with pytest.raises(lamina.InvalidValueError, match="softmax_cross_entropy: label 3 at position 1 is not a class index in \\[0, 3\\)"):
        lamina.ops.softmax_cross_entropy(x, lamina.tensor([0, 3]))
    with pytest.raises(lamina.InvalidValueError, match="label 9223372036854775807 at position 0"):  # exact, not via a double
        lamina.ops.softmax_cross_entropy(x, lamina.tensor([2**63 - 1, 0]))
    with pytest.raises(lamina.InvalidValueError, match="label 1.5 at position 0 is not a class index"):
        lamina.ops.softmax_cross_entropy(x, lamina.tensor([1.5, 0.0]))
    with pytest.raises(lamina.InvalidValueError, match="label nan at position 1"):
        lamina.ops.softmax_cross_entropy(x, lamina.tensor([1.0, np.nan]))
    with pytest.raises(lamina.DTypeError, match="softmax_cross_entropy: the target must hold class indices as int64 or int32 or floats, got bool"):
        lamina.ops.softmax_cross_entropy(x, lamina.tensor([True, False]))
    with pytest.raises(lamina.OutOfRangeError, match="embedding: index -1 at position 0 is not a row of a table with 3 rows"):
        lamina.ops.embedding(lamina.tensor([-1]), lamina.zeros(3, 2))


def test_embedding_takes_int64_indices_of_any_shape():
    w = lamina.tensor(np.arange(8.0).reshape(4, 2)).requires_grad_()
    idx = lamina.tensor([[3, 0], [3, 3]])
    y = lamina.ops.embedding(idx, w)
    assert y.shape == (2, 2, 2) and y.numpy()[0, 0].tolist() == [6, 7]
    y.sum().backward()
    assert w.grad.numpy()[:, 0].tolist() == [1, 0, 0, 3]


PROMOTION = [  # (a, b) -> the dtype PyTorch gives
    (lambda: lamina.tensor([1, 2]), lambda: lamina.tensor([0.5, 1.5], dtype=lamina.float32)),
    (lambda: lamina.tensor([1, 2], dtype=lamina.int32), lambda: lamina.tensor([3, 4])),
    (lambda: lamina.tensor([True, False]), lambda: lamina.tensor([3, 4], dtype=lamina.int32)),
    (lambda: lamina.tensor([1.0, 2.0], dtype=lamina.float32), lambda: lamina.tensor(2.0, dtype=lamina.float64)),
    (lambda: lamina.tensor([1, 2], dtype=lamina.int32), lambda: lamina.tensor(2.5, dtype=lamina.float64)),
    (lambda: lamina.tensor([1, 2]), lambda: 2.5),
    (lambda: lamina.tensor([True, False]), lambda: 3),
    (lambda: lamina.tensor([1, 2], dtype=lamina.int32), lambda: 7),
    (lambda: lamina.tensor([1.0, 2.0], dtype=lamina.float64), lambda: lamina.tensor([1, 2], dtype=lamina.int32)),
]


@pytest.mark.parametrize("make_a,make_b", PROMOTION)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "gt", "eq"])
def test_mixed_dtypes_promote_as_torch(make_a, make_b, op):
    import operator

    import torch

    def to_torch(v):
        return torch.from_numpy(np.asarray(v.numpy())) if isinstance(v, lamina.Tensor) else v

    a, b = make_a(), make_b()
    if op == "sub" and (a.dtype == lamina.bool_ or (isinstance(b, lamina.Tensor) and b.dtype == lamina.bool_)):
        pytest.skip("PyTorch refuses - on bool")
    f = getattr(operator, op)
    for x, y in ((a, b), (b, a)):
        got, want = f(x, y), f(to_torch(x), to_torch(y))
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (x, y)
        np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64), rtol=1e-6)
