"""Bad input raises a lamina.Error subclass (also the matching builtin) with a message
that names the operation and the offending shapes or values. Never a crash."""

import numpy as np
import pytest

import lamina

HIERARCHY = [
    (lamina.ShapeError, ValueError),
    (lamina.DTypeError, TypeError),
    (lamina.InvalidValueError, ValueError),
    (lamina.OutOfRangeError, IndexError),
    (lamina.FileError, OSError),
    (lamina.FileFormatError, OSError),
    (lamina.PrototxtError, ValueError),
    (lamina.DeviceError, RuntimeError),
]


@pytest.mark.parametrize("cls,builtin", HIERARCHY)
def test_every_error_is_a_lamina_error_and_its_builtin(cls, builtin):
    assert issubclass(cls, lamina.Error) and issubclass(cls, builtin)
    assert cls.__module__ == "lamina"
    assert issubclass(lamina.FileFormatError, lamina.FileError)


t34 = lamina.zeros(3, 4)

BAD = [
    # call                                              error                     message must contain
    (lambda: t34.reshape(5, 5),                         lamina.ShapeError,        "reshape: cannot reshape a tensor of shape [3, 4] (12 elements) into [5, 5]"),
    (lambda: t34.reshape(-1, -1),                       lamina.ShapeError,        "more than one -1"),
    (lambda: t34[::2].view(8),                          lamina.ShapeError,        "view: a tensor of shape [2, 4] with strides [8, 1] is not contiguous"),
    (lambda: t34[3],                                    lamina.OutOfRangeError,   "index 3 is out of bounds for axis 0 with size 3"),
    (lambda: t34[-4],                                   lamina.OutOfRangeError,   "out of bounds"),
    (lambda: t34[1, 4],                                 lamina.OutOfRangeError,   "index 4 is out of bounds for axis 1 with size 4"),
    (lambda: t34[::-1],                                 lamina.InvalidValueError, "negative step"),
    (lambda: t34[0][0][0],                              lamina.OutOfRangeError,   "too many indices for a tensor of shape []"),
    (lambda: lamina.ops.matmul(t34, t34),               lamina.ShapeError,        "matmul: inner dimensions differ: a is [3, 4], b is [3, 4]"),
    (lambda: lamina.ops.matmul(t34, lamina.zeros(4)),   lamina.ShapeError,        "matmul: expected 2-d tensors"),
    (lambda: lamina.ops.matmul(t34, lamina.zeros(4, 2, dtype="float64")), lamina.DTypeError, "matmul: dtypes differ: float32 and float64"),
    (lambda: lamina.zeros(2, -3),                       lamina.ShapeError,        "zeros: shape [2, -3] has a negative extent"),
    (lambda: lamina.zeros(2**62, 2**62),                lamina.ShapeError,        "too many elements"),
    (lambda: lamina.zeros("ab"),                        lamina.ShapeError,        "zeros: a shape is an int or a sequence of ints"),
    (lambda: lamina.ones(2, dtype="int16"),             lamina.DTypeError,        "ones: unsupported dtype int16"),
    (lambda: lamina.tensor(["a", "b"]),                 lamina.DTypeError,        "cannot become a tensor"),
    (lambda: lamina.from_numpy(np.zeros(3, np.uint8)),  lamina.DTypeError,        "from_numpy: unsupported dtype uint8"),
    (lambda: lamina.ops.relu(lamina.zeros(2, dtype="int64")), lamina.DTypeError,  "relu: expected a float32 or float64 tensor, got int64"),
    (lambda: lamina.zeros(2, dtype="int32").requires_grad_(), lamina.DTypeError,  "int32 cannot require grad"),
    (lambda: lamina.zeros(2, 2).item(),                 lamina.ShapeError,        "item: needs a tensor with one element, got shape [2, 2]"),
    (lambda: lamina.set_num_threads(0),                 lamina.InvalidValueError, "set_num_threads: need at least 1 thread, got 0"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input_raises_clear_error(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_huge_allocation_is_an_error_not_a_crash():
    with pytest.raises((lamina.Error, MemoryError)):
        lamina.empty(2**58)
