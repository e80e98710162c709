"""Deterministic mode (lamina.set_deterministic): the same results at 1 and 2 threads, bit
for bit, at every vector level the host runs: every convolution path of the backward, the
GEMM paths of linear, and LeNet trained 200 iterations (parallel.hpp says what the mode
changes)."""

import hashlib

import numpy as np
import pytest

import lamina
from lamina import ops


@pytest.fixture
def deterministic(each_isa):
    """The mode on, at each vector level the host runs (the kernels, and so the sums that
    could follow the threads, differ per level)."""
    before, threads = lamina.deterministic(), lamina.num_threads()
    lamina.set_deterministic(True)
    lamina.set_num_threads(2)
    if lamina.num_threads() < 2:
        pytest.skip("a build without threads")
    yield
    lamina.set_deterministic(before)
    lamina.set_num_threads(threads)


def conv_grads(threads, x, w, b, pad):
    lamina.set_num_threads(threads)
    ts = [lamina.tensor(a).requires_grad_() for a in (x, w, b)]
    y = ops.conv2d(*ts, pad=pad, groups=x.shape[1] // w.shape[1])
    proj = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    (y * lamina.tensor(proj)).sum().backward()
    return [y.numpy()] + [t.grad.numpy() for t in ts]


CONVS = [  # (x, w, pad): the paths conv2d's backward picks from
    ((64, 1, 28, 28), (20, 1, 5, 5), 0),    # dot_gemm over image taps (LeNet's conv1)
    ((64, 20, 12, 12), (50, 20, 5, 5), 0),  # im2col + BLAS, Winograd-sized 5x5 (LeNet's conv2)
    ((8, 32, 28, 28), (64, 32, 3, 3), 1),   # 3x3: Winograd's weight gradient outside the mode
    ((1, 3, 64, 64), (16, 3, 5, 5), 0),     # one large image: rows split over threads outside it
    ((4, 6, 9, 9), (6, 2, 3, 3), 1),        # grouped
]


@pytest.mark.parametrize("xs,ws,pad", CONVS, ids=[str(c[0]) for c in CONVS])
def test_conv_gradients_equal_at_1_and_2_threads(deterministic, xs, ws, pad):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    for one, two in zip(conv_grads(1, x, w, b, pad), conv_grads(2, x, w, b, pad)):
        np.testing.assert_array_equal(one, two)


def linear_grads(threads, x, w, b):
    lamina.set_num_threads(threads)
    ts = [lamina.tensor(a).requires_grad_() for a in (x, w, b)]
    y = ops.linear(*ts)
    proj = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    (y * lamina.tensor(proj)).sum().backward()
    return [y.numpy()] + [t.grad.numpy() for t in ts]


LINEARS = [  # (batch, in, out): the GEMM paths linear's forward and backward pick from
    (64, 800, 500),   # LeNet's ip1: the BLAS, its blocks split over threads outside the mode
    (64, 500, 10),    # LeNet's ip2: one block
    (8, 4096, 1000),  # a few rows against a large weight (its own kernel)
    (4, 9216, 300),   # a small batch: the weight gradient of depth 4 by conv_gemm
]


@pytest.mark.parametrize("shape", LINEARS, ids=str)
def test_linear_gradients_equal_at_1_and_2_threads(deterministic, shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    for one, two in zip(linear_grads(1, x, w, b), linear_grads(2, x, w, b)):
        np.testing.assert_array_equal(one, two)


def test_lenet_trains_to_the_same_weights_at_1_and_2_threads(deterministic):
    from lamina.examples import example_dir

    digests = []
    for threads in (1, 2):
        lamina.set_num_threads(threads)
        solver = lamina.Solver(str(example_dir("lenet") / "lenet_solver.prototxt"), quiet=True)
        solver.step(200)
        blobs = b"".join(np.ascontiguousarray(p[1].numpy()).tobytes() for p in solver.net.learnable_params())
        digests.append(hashlib.sha256(blobs).hexdigest())
    assert digests[0] == digests[1]


def test_the_mode_is_off_by_default_and_switchable():
    assert isinstance(lamina.deterministic(), bool)
    before = lamina.deterministic()
    lamina.set_deterministic(not before)
    assert lamina.deterministic() is (not before)
    lamina.set_deterministic(before)
