"""DLPack both ways: lamina tensors into NumPy and PyTorch and back without copies, the
memory kept alive by whichever side still holds it, and bad input as lamina errors."""

import gc
import weakref

import numpy as np
import pytest

import lamina

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the test extra
    torch = None

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


def sample(dtype, shape=(3, 4)):
    return (np.arange(np.prod(shape)).reshape(shape) % 3).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_arrays_come_in_and_go_out_without_copies(dtype):
    a = sample(dtype)
    t = lamina.from_dlpack(a)
    assert t.shape == a.shape and t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), a)
    back = np.from_dlpack(t)
    assert back.dtype == a.dtype and np.shares_memory(back, a)
    t[0, 0] = 1  # one memory: the write shows on every side
    assert a[0, 0] == 1 and back[0, 0] == 1


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_torch_tensors_come_in_and_go_out_without_copies(dtype):
    tt = torch.from_numpy(sample(dtype))
    t = lamina.from_dlpack(tt)
    np.testing.assert_array_equal(t.numpy(), tt.numpy())
    back = torch.from_dlpack(t)
    assert back.dtype == tt.dtype and back.data_ptr() == tt.data_ptr()
    back[1, 2] = 0
    assert t.numpy()[1, 2] == 0


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_strided_zero_d_and_empty_tensors_keep_their_layout():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    for view in (base[::2, 1::3], base.t(), base[1:, 2], base[0, 0], base[:0], base.reshape(2, 3, 4)[:, None, 1]):
        t = lamina.from_dlpack(view)
        assert t.shape == tuple(view.shape)
        np.testing.assert_array_equal(t.numpy(), view.numpy())
    lt = lamina.from_numpy(np.arange(24.0).reshape(4, 6)).T[1:, ::2]  # a strided lamina view goes out as one
    tv = torch.from_dlpack(lt)
    assert tv.stride() == (1, 12)  # elements: the transposed base read with step 2
    np.testing.assert_array_equal(tv.numpy(), lt.numpy())


def test_the_producer_lives_while_the_consumer_does():
    a = np.arange(1000.0)
    alive = weakref.ref(a)
    t = lamina.from_dlpack(a)
    del a
    gc.collect()
    assert alive() is not None  # lamina holds the array
    assert float(t[999]) == 999.0
    del t
    gc.collect()
    assert alive() is None  # and lets it go with its last tensor

    t = lamina.from_numpy(np.arange(5.0)) * 2.0
    n = np.from_dlpack(t)
    del t
    gc.collect()
    np.testing.assert_array_equal(n, np.arange(5.0) * 2)  # NumPy holds lamina's storage


def test_capsules_consumed_once_and_freed_when_never_consumed():
    a = np.arange(4.0)
    alive = weakref.ref(a)
    capsule = a.__dlpack__()
    t = lamina.from_dlpack(capsule)
    with pytest.raises(lamina.InvalidValueError, match="an unused one"):
        lamina.from_dlpack(capsule)  # renamed 'used_dltensor' by the first consumer
    del a, capsule, t
    gc.collect()
    assert alive() is None
    unused = lamina.from_numpy(np.arange(3.0)).__dlpack__()
    del unused  # its destructor runs the deleter: nothing leaks, nothing crashes
    gc.collect()


def test_read_only_arrays_and_copy_true_give_copies():
    r = np.arange(3.0)
    r.flags.writeable = False
    t = lamina.from_dlpack(r)
    t[0] = 7.0
    assert r[0] == 0.0  # never a write into read-only memory
    w = np.arange(3.0)
    c = lamina.from_dlpack(w, copy=True)
    c[0] = 7.0
    assert w[0] == 0.0
    out = np.from_dlpack(lamina.from_numpy(w), copy=True)
    assert not np.shares_memory(out, w)


BAD = [
    (lambda: lamina.from_dlpack(np.zeros(3, np.uint8)), lamina.DTypeError, "dtype uint8 has no lamina dtype"),
    (lambda: lamina.from_dlpack(np.zeros(3, np.float16)), lamina.DTypeError, "dtype float16 has no lamina dtype"),
    (lambda: lamina.from_dlpack([1, 2]), lamina.DTypeError, "does not support DLPack"),
    (lambda: lamina.from_dlpack(np.arange(4.0)[::-1]), lamina.InvalidValueError, "negative strides"),
    (lambda: lamina.rand(2).requires_grad_().__dlpack__(), lamina.AutogradError, "requires grad; export t.detach()"),
    (lambda: lamina.rand(2).__dlpack__(stream=1), lamina.InvalidValueError, "a cpu tensor takes no stream"),
    (lambda: lamina.rand(2).__dlpack__(dl_device=(2, 0)), lamina.DeviceError, "cannot export to device type 2"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_a_lamina_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_device_is_the_cpu():
    assert lamina.zeros(2).__dlpack_device__() == (1, 0)
