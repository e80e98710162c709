"""lamina.Tensor: construction, views, and zero-copy exchange with NumPy."""

import gc

import numpy as np
import pytest

import lamina


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_numpy_shares_memory_and_survives_deleting_the_original(dtype):
    a = np.arange(12, dtype=dtype).reshape(3, 4)
    t = lamina.from_numpy(a)
    assert t.shape == (3, 4) and t.dtype == np.dtype(dtype) and t.device == "cpu"
    view = np.asarray(t)
    assert np.shares_memory(view, a)
    a[1, 2] = -5.0  # writes show through the tensor
    assert view[1, 2] == -5.0
    del a
    gc.collect()
    assert view[2, 3] == 11.0 and view[1, 2] == -5.0  # the tensor kept the array's memory
    del t
    gc.collect()
    assert float(view.sum()) == sum(range(12)) - 6 - 5  # and the NumPy view kept the tensor


def test_numpy_view_of_tensor_survives_deleting_the_tensor():
    t = lamina.zeros(4, 5)
    v = np.asarray(t)
    w = t.numpy()
    assert np.shares_memory(v, w)
    del t
    gc.collect()
    v[:] = 3.0
    assert w.sum() == 60.0


def test_roundtrip_tensor_numpy_tensor_is_zero_copy():
    t = lamina.ones(8, 3)
    t2 = lamina.from_numpy(np.asarray(t))
    assert np.shares_memory(np.asarray(t2), np.asarray(t))


def test_from_numpy_copies_what_it_cannot_wrap(rng):
    base = rng.standard_normal((6, 4)).astype(np.float32)
    for a in (base.T, base[::2], np.asfortranarray(base)):
        t = lamina.from_numpy(a)
        assert not np.shares_memory(np.asarray(t), base)
        np.testing.assert_array_equal(np.asarray(t), a)
    ro = base.copy()
    ro.flags.writeable = False
    assert not np.shares_memory(np.asarray(lamina.from_numpy(ro)), ro)
    with pytest.raises(lamina.DTypeError, match="from_numpy: unsupported dtype uint16"):
        lamina.from_numpy(np.arange(3, dtype=np.uint16))


def test_own_allocations_are_64_byte_aligned():
    for n in (1, 3, 17, 1000):
        assert np.asarray(lamina.empty(n)).ctypes.data % 64 == 0


def test_constructors_and_dtypes():
    assert lamina.zeros(2, 3).shape == (2, 3)
    assert lamina.zeros((2, 3)).shape == (2, 3)
    assert lamina.zeros(()).shape == ()
    assert lamina.zeros(2, dtype="float64").dtype == lamina.float64
    assert lamina.ones(3, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.asarray(lamina.full((2, 2), 2.5)), np.full((2, 2), 2.5, np.float32))
    t = lamina.tensor([[1, 2], [3, 4]])
    assert t.dtype == lamina.int64 and t.shape == (2, 2)  # as PyTorch
    assert lamina.tensor([[1, 2]], dtype=lamina.float32).dtype == lamina.float32
    assert lamina.tensor(np.ones(3)).dtype == lamina.float64
    assert lamina.tensor([1.5], dtype="float64").dtype == lamina.float64
    assert float(lamina.full((), 7.0)) == 7.0


def test_views_share_storage_and_follow_python_indexing():
    a = np.arange(20, dtype=np.float32).reshape(5, 4)
    t = lamina.from_numpy(a)
    row = t[1]
    assert row.shape == (4,)
    assert np.shares_memory(np.asarray(row), a)
    np.testing.assert_array_equal(np.asarray(t[-1]), a[-1])
    np.testing.assert_array_equal(np.asarray(t[1:3]), a[1:3])
    np.testing.assert_array_equal(np.asarray(t[::2]), a[::2])
    np.testing.assert_array_equal(np.asarray(t[-2:]), a[-2:])
    np.testing.assert_array_equal(np.asarray(t[3:100]), a[3:100])
    assert t[4:1].shape == (0, 4)
    assert not t[::2].is_contiguous()
    r = t.reshape(2, -1)
    assert r.shape == (2, 10) and np.shares_memory(np.asarray(r), a)
    copied = t[::2].reshape(-1)  # non-contiguous: reshape copies
    assert not np.shares_memory(np.asarray(copied), a)
    np.testing.assert_array_equal(np.asarray(copied), a[::2].reshape(-1))
    assert len(t) == 5 and t.size == 20 and t.ndim == 2 and t.strides == (4, 1)


def test_clone_to_and_fill():
    t = lamina.from_numpy(np.arange(6, dtype=np.float32))
    c = t.clone()
    assert not np.shares_memory(np.asarray(c), np.asarray(t))
    d = t.to(np.float64)
    assert d.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(d), np.arange(6))
    t.fill_(2.0)
    assert np.asarray(t).sum() == 12.0 and np.asarray(c).sum() == 15.0


def test_repr_shows_values_like_numpy():
    assert repr(lamina.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lamina.float32)) == (
        "tensor([[1., 2.],\n        [3., 4.]], dtype=float32)")
    assert repr(lamina.tensor([0.5, -12.25])) == "tensor([  0.5000, -12.2500], dtype=float64)"
    assert repr(lamina.tensor([1e-6, 1.0])) == "tensor([1.0000e-06, 1.0000e+00], dtype=float64)"
    assert repr(lamina.tensor([np.nan, np.inf, 1.0])) == "tensor([nan, inf,  1.], dtype=float64)"
    assert repr(lamina.tensor([[1, -20], [300, 4]])) == "tensor([[  1, -20],\n        [300,   4]], dtype=int64)"
    assert repr(lamina.tensor([True, False])) == "tensor([ True, False], dtype=bool)"
    assert repr(lamina.tensor(7, dtype=lamina.int32)) == "tensor(7, dtype=int32)"
    assert repr(lamina.zeros(0, 3)) == "tensor([], size=[0, 3], dtype=float32)"
    assert repr(lamina.zeros(2, 1, 2, dtype=lamina.int64)) == (
        "tensor([[[0, 0]],\n\n        [[0, 0]]], dtype=int64)")
    x = lamina.ones(2).requires_grad_()
    assert repr(x) == "tensor([1., 1.], dtype=float32, requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 2.], dtype=float32, grad_fn=<mul>)"
    assert str(x.T if x.ndim == 2 else x) == repr(x)


def test_repr_abbreviates_big_tensors():
    t = lamina.from_numpy(np.arange(2000, dtype=np.int64).reshape(40, 50))
    r = repr(t)
    a = np.arange(2000).reshape(40, 50)
    assert r == "tensor(" + np.array2string(a, separator=", ", prefix="tensor(") + ", dtype=int64)"
    assert r.count("...") == 7 and len(r) < 500  # one per shown row, one for the rows left out
    small = lamina.from_numpy(np.arange(1000, dtype=np.int32))  # 1000 elements: all shown
    assert "..." not in repr(small)


def test_matmul_matches_numpy(rng):
    for m, k, n in [(1, 1, 1), (7, 13, 5), (64, 300, 129)]:
        for dt, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
            a = rng.standard_normal((m, k)).astype(dt)
            b = rng.standard_normal((k, n)).astype(dt)
            c = lamina.ops.matmul(lamina.from_numpy(a), lamina.from_numpy(b))
            ref = a.astype(np.float64) @ b.astype(np.float64)
            np.testing.assert_allclose(np.asarray(c), ref, rtol=tol, atol=tol * np.abs(ref).max())
    a = lamina.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
    b = lamina.from_numpy(rng.standard_normal((4, 2)).astype(np.float32))
    np.testing.assert_allclose(np.asarray(a @ b), np.asarray(a) @ np.asarray(b), rtol=1e-5)


def test_set_num_threads():
    before = lamina.num_threads()
    lamina.set_num_threads(1)
    assert lamina.num_threads() == 1
    lamina.set_num_threads(before)
    assert lamina.num_threads() == before
