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
    ("div", lambda L, x: L.div(x, x)),
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
