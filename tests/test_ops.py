"""Every op is a table row: forward against NumPy (float64 and float32), a float64
central-difference gradient check through the tape, and parity with PyTorch (forward
and every input gradient, float32, rtol 1e-5) when torch is installed."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import lamina
from lamina import ops

# Every test here runs once per CPU vector level the machine has (conftest.each_isa).
pytestmark = pytest.mark.usefixtures("each_isa")

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


def put(x, key, v):  # x with x[key] = v, without touching x (lamina and torch alike)
    y = x * 1.0
    y[key] = v
    return y


def np_put(x, key, v):
    y = x.copy()
    y[key] = v
    return y


def isub(a, b):
    y = a * 1.0
    y -= b
    return y


def sq_in_place(a):
    y = a * 1.0
    y *= y
    return y


def accumulate(lib, a, b):  # a leaf buffer that does not require grad takes a history
    acc = lib.zeros(tuple(a.shape), dtype=a.dtype)
    acc += a * b
    acc += a
    return acc


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
    # transposed views go to the GEMM as they are (forward and both gradients)
    ("matmul_transposed_views", lambda a, b: L.matmul(a.T, b.T), lambda a, b: a.T @ b.T,
     lambda t, a, b: a.T @ b.T, [((7, 5), std), ((3, 7), std)]),
    ("matmul_transposed_a", lambda a, b: L.matmul(a.T, b), lambda a, b: a.T @ b,
     lambda t, a, b: a.T @ b, [((7, 5), std), ((7, 3), std)]),
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
    # axis views (Tensor methods and lamina.ops functions)
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), lambda t, x: x.permute(2, 0, 1),
     [((2, 3, 4), std)]),
    ("permute_op_negative_axes", lambda x: L.permute(x, [-1, 0, -2]), lambda x: x.transpose(2, 0, 1),
     lambda t, x: x.permute(-1, 0, -2), [((2, 3, 4), std)]),
    ("transpose_two_axes", lambda x: x.transpose(0, -1), lambda x: np.swapaxes(x, 0, -1),
     lambda t, x: x.transpose(0, -1), [((2, 3, 4), std)]),
    ("transpose_op_two_axes", lambda x: L.transpose(x, 1, 2), lambda x: np.swapaxes(x, 1, 2),
     lambda t, x: t.transpose(x, 1, 2), [((2, 3, 4), std)]),
    ("movedim", lambda x: x.movedim(0, -1), lambda x: np.moveaxis(x, 0, -1), lambda t, x: x.movedim(0, -1),
     [((2, 3, 4), std)]),
    ("squeeze_axis", lambda x: x.squeeze(1), lambda x: x.squeeze(1), lambda t, x: x.squeeze(1), [((3, 1, 2), std)]),
    ("squeeze_all", lambda x: L.squeeze(x), np.squeeze, lambda t, x: x.squeeze(), [((1, 3, 1, 2, 1), std)]),
    ("unsqueeze", lambda x: x.unsqueeze(-1), lambda x: np.expand_dims(x, -1), lambda t, x: x.unsqueeze(-1),
     [((3, 2), std)]),
    ("unsqueeze_op_front", lambda x: L.unsqueeze(x, 0), lambda x: x[None], lambda t, x: x.unsqueeze(0),
     [((3, 2), std)]),
    ("flatten_middle", lambda x: x.flatten(1, 2), lambda x: x.reshape(2, 12, 5), lambda t, x: x.flatten(1, 2),
     [((2, 3, 4, 5), std)]),
    ("flatten_of_permuted_view", lambda x: L.flatten(x.permute(1, 0, 2)), lambda x: x.transpose(1, 0, 2).reshape(-1),
     lambda t, x: x.permute(1, 0, 2).flatten(), [((2, 3, 4), std)]),
    ("stack", lambda a, b, c: L.stack([a, b, c], 1), lambda a, b, c: np.stack([a, b, c], 1),
     lambda t, a, b, c: t.stack([a, b, c], 1), [((2, 3), std)] * 3),
    ("stack_last_axis", lambda a, b: L.stack([a, b], -1), lambda a, b: np.stack([a, b], -1),
     lambda t, a, b: t.stack([a, b], -1), [((4,), std)] * 2),
    ("cat", lambda a, b: L.cat([a, b]), lambda a, b: np.concatenate([a, b]), lambda t, a, b: t.cat([a, b]),
     [((2, 3), std), ((4, 3), std)]),
    # basic indexing: views on any axis
    ("index_int_and_step", lambda x: x[1, ::2], lambda x: x[1, ::2], lambda t, x: x[1, ::2], [((3, 5, 2), std)]),
    ("index_column", lambda x: x[:, -1], lambda x: x[:, -1], lambda t, x: x[:, -1], [((4, 3), std)]),
    ("index_none_ellipsis", lambda x: x[None, ..., 1:3, None], lambda x: x[None, ..., 1:3, None],
     lambda t, x: x[None, ..., 1:3, None], [((2, 3, 4), std)]),
    ("index_negative_bounds", lambda x: x[-1, -3:, 1:-1:2], lambda x: x[-1, -3:, 1:-1:2],
     lambda t, x: x[-1, -3:, 1:-1:2], [((2, 4, 6), std)]),
    ("index_of_transposed_view", lambda x: x.T[1:, 0], lambda x: x.T[1:, 0], lambda t, x: x.T[1:, 0],
     [((3, 4), std)]),
    # assignment through an index (recorded: the value's gradient is its region's)
    ("setitem_broadcast_value", lambda x, v: put(x, (slice(None), 1), v),
     lambda x, v: np_put(x, (slice(None), 1), v), lambda t, x, v: put(x, (slice(None), 1), v),
     [((3, 4, 2), std), ((2,), std)]),
    ("setitem_leading_ones_and_step", lambda x, v: put(x, (slice(None, None, 2), Ellipsis), v),
     lambda x, v: np_put(x, (slice(None, None, 2), Ellipsis), v),
     lambda t, x, v: put(x, (slice(None, None, 2), Ellipsis), v), [((5, 3), std), ((1, 1, 3), std)]),
    ("setitem_number", lambda x: put(x, (0, Ellipsis), 2.5), lambda x: np_put(x, (0, Ellipsis), 2.5),
     lambda t, x: put(x, (0, Ellipsis), 2.5), [((2, 3), std)]),
    ("setitem_twice", lambda x, v, w: put(put(x, 1, v), (Ellipsis, 0), w),
     lambda x, v, w: np_put(np_put(x, 1, v), (Ellipsis, 0), w),
     lambda t, x, v, w: put(put(x, 1, v), (Ellipsis, 0), w), [((3, 4), std), ((4,), std), ((3,), std)]),
    # in-place arithmetic (recorded on a non-leaf), right side broadcast
    ("add_", lambda a, b: (a * 1.0).add_(b), np.add, lambda t, a, b: (a * 1.0).add_(b), [((2, 3), std), ((3,), std)]),
    ("sub_operator", lambda a, b: isub(a, b), np.subtract, lambda t, a, b: isub(a, b), [((2, 3), std), ((2, 1), std)]),
    ("mul_", lambda a, b: (a * 1.0).mul_(b), np.multiply, lambda t, a, b: (a * 1.0).mul_(b),
     [((2, 3), std), ((1, 3), std)]),
    # torch refuses y *= y under autograd (its mul_ saves y, then overwrites it); lamina reads
    # y into a copy first
    ("mul_by_itself", lambda a: sq_in_place(a), np.square, lambda t, a: a * a, [((5,), std)]),
    ("div_number_then_tensor", lambda a, b: (a * 1.0).div_(2.0).div_(b), lambda a, b: a / 2.0 / b,
     lambda t, a, b: (a * 1.0).div_(2.0).div_(b), [((3, 2), std), ((2,), pos)]),
    ("clamp_", lambda x: (x * 1.0).clamp_(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
     lambda t, x: (x * 1.0).clamp_(-0.5, 0.5), [((5, 4), away_from_zero)]),
    ("residual_add_in_place", lambda x, w: L.relu((x @ w).add_(x)), lambda x, w: np.maximum(x @ w + x, 0),
     lambda t, x, w: t.relu((x @ w).add_(x)), [((4, 3), away_from_zero), ((3, 3), std)]),
    ("accumulate_into_zeros", lambda a, b: accumulate(lamina, a, b), lambda a, b: a * b + a,
     lambda t, a, b: accumulate(t, a, b), [((2, 3), std), ((2, 3), std)]),
    # operators and one-sided clamps
    ("pow_tensor_exponent", L.pow, np.power, lambda t, a, b: a**b, [((2, 3), pos), ((3,), std)]),
    ("pow_operator_tensor", lambda a, b: a**b, np.power, lambda t, a, b: a**b, [((4,), pos), ((), std)]),
    ("rpow", lambda x: 2.0**x, lambda x: 2.0**x, lambda t, x: 2.0**x, [((4,), std)]),
    ("pow_operator_number", lambda x: x**2, np.square, lambda t, x: x**2, [((3, 2), std)]),
    ("clamp_min", lambda x: x.clamp(min=-0.5), lambda x: np.maximum(x, -0.5), lambda t, x: x.clamp(min=-0.5),
     [((5, 4), away_from_zero)]),
    ("clamp_max_op", lambda x: L.clamp(x, max=0.5), lambda x: np.minimum(x, 0.5), lambda t, x: t.clamp(x, max=0.5),
     [((5, 4), away_from_zero)]),
    ("abs_builtin", abs, np.abs, lambda t, x: abs(x), [((6,), away_from_zero)]),
    ("max_all_method", lambda x: x.max(), np.max, lambda t, x: x.max(), [((3, 4), std)]),
    ("methods_chain", lambda x: x.exp().log().tanh().sigmoid().softmax(0),
     lambda x: np.exp(1 / (1 + np.exp(-np.tanh(x)))) / np.exp(1 / (1 + np.exp(-np.tanh(x)))).sum(0),
     lambda t, x: x.exp().log().tanh().sigmoid().softmax(0), [((3, 2), std)]),
    ("composite_mlp", lambda x, w1, w2: L.sigmoid(L.relu(x @ w1) @ w2).mean(),
     lambda x, w1, w2: np.mean(1 / (1 + np.exp(-(np.maximum(x @ w1, 0) @ w2)))),
     lambda t, x, w1, w2: t.sigmoid(t.relu(x @ w1) @ w2).mean(),
     [((6, 4), std), ((4, 5), std), ((5, 2), std)]),
]


def np_conv2d(x, w, b=None, stride=1, pad=0, dilation=1, groups=1):
    """A naive-loop convolution in float64: the reference for conv2d."""
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH = (H + 2 * pad - dilation * (KH - 1) - 1) // stride + 1
    OW = (W + 2 * pad - dilation * (KW - 1) - 1) // stride + 1
    y = np.zeros((N, O, OH, OW))
    Og = O // groups
    for o in range(O):
        g = o // Og
        for kh in range(KH):
            for kw in range(KW):
                patch = xp[:, g * Cg:(g + 1) * Cg, kh * dilation: kh * dilation + stride * (OH - 1) + 1: stride,
                           kw * dilation: kw * dilation + stride * (OW - 1) + 1: stride]
                y[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, kh, kw])
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def np_pool(x, k, s, p, ceil, mode):
    """Caffe's pooling, by loops (k, s, p: one value, or (height, width))."""
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw) = ((v, v) if np.isscalar(v) else v for v in (k, s, p))

    def out(n, k, s, p):
        span = n + 2 * p - k
        o = (-(-span // s) if ceil else span // s) + 1
        if ceil and p > 0 and (o - 1) * s >= n + p:
            o -= 1
        return o

    OH, OW = out(H, kh, sh, ph), out(W, kw, sw, pw)
    y = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)
            div = (h1 - h0) * (w1 - w0)
            win = x[:, :, max(h0, 0):min(h1, H), max(w0, 0):min(w1, W)]
            y[:, :, i, j] = win.max((2, 3)) if mode == "max" else win.sum((2, 3)) / div
    return y


def conv_row(name, xs, ws, bias=True, **kw):
    specs = [(xs, std), (ws, std)] + ([((ws[0],), std)] if bias else [])
    tkw = {"stride": kw.get("stride", 1), "padding": kw.get("pad", 0), "dilation": kw.get("dilation", 1),
           "groups": kw.get("groups", 1)}
    return ("conv2d_" + name, lambda *a: L.conv2d(*a, **kw), lambda *a: np_conv2d(*a, **kw),
            lambda t, *a: t.nn.functional.conv2d(*a, **tkw), specs)


def distinct(shape, rng):  # no ties, so max pooling's argmax is unambiguous
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 + rng.uniform(0, 0.01, shape)


def pool_row(name, mode, xs, k, s, p, ceil):
    fn = L.max_pool2d if mode == "max" else L.avg_pool2d
    tfn = (lambda t, x: t.nn.functional.max_pool2d(x, k, s, p, ceil_mode=ceil)) if mode == "max" else \
        (lambda t, x: t.nn.functional.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=True))
    return (f"{mode}_pool2d_{name}", lambda x: fn(x, k, s, p, ceil_mode=ceil),
            lambda x: np_pool(x, k, s, p, ceil, mode), tfn, [(xs, distinct)])


def np_log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


LABELS = np.array([3, 0, 4, 1, 1, 2], dtype=np.float64)

ROWS += [
    conv_row("lenet1", (2, 1, 12, 12), (4, 1, 5, 5)),
    conv_row("batch1_odd_channels", (1, 5, 7, 9), (3, 5, 3, 3), pad=1),
    conv_row("1x1", (2, 6, 5, 5), (4, 6, 1, 1)),
    conv_row("1x1_groups2", (2, 4, 5, 5), (6, 2, 1, 1), groups=2),  # dx written group by group, not zeroed first
    conv_row("11x11_stride4", (1, 3, 23, 23), (2, 3, 11, 11), stride=4),
    conv_row("stride_gt_kernel", (2, 2, 9, 9), (3, 2, 2, 2), stride=3),
    conv_row("pad_ge_kernel", (1, 2, 4, 4), (2, 2, 3, 3), pad=3),
    conv_row("dilation2", (2, 3, 9, 9), (2, 3, 3, 3), dilation=2, pad=2),
    conv_row("groups2", (2, 4, 6, 6), (6, 2, 3, 3), groups=2, pad=1),
    conv_row("depthwise", (2, 3, 6, 6), (3, 1, 3, 3), groups=3, pad=1),
    conv_row("depthwise_mult2_stride2", (2, 3, 7, 7), (6, 1, 3, 3), groups=3, stride=2, pad=1),
    conv_row("depthwise_dilated_pad_ge_kernel", (1, 4, 8, 8), (4, 1, 3, 3), groups=4, dilation=2, pad=3),
    conv_row("depthwise_nobias_1x1", (3, 2, 4, 5), (2, 1, 1, 1), bias=False, groups=2),
    conv_row("nobias", (3, 2, 5, 5), (2, 2, 3, 3), bias=False),
    pool_row("2x2s2", "max", (2, 3, 8, 8), 2, 2, 0, False),
    pool_row("2x2s2_rows_past_16_odd_width", "max", (1, 2, 6, 41), 2, 2, 0, False),
    pool_row("3x3s2_ceil_pad_rows_past_16", "max", (1, 2, 7, 45), 3, 2, 1, True),
    pool_row("5x5s2_pad2", "max", (2, 1, 9, 20), 5, 2, 2, False),
    pool_row("3x3s2_ceil", "max", (1, 2, 9, 9), 3, 2, 0, True),
    pool_row("3x3s2_ceil_pad", "max", (2, 2, 8, 8), 3, 2, 1, True),
    pool_row("19x19s2_pad3", "max", (1, 2, 21, 40), 19, 2, 3, False),  # kernel columns past the kept masks
    pool_row("3x3s1_pad", "avg", (2, 2, 6, 6), 3, 1, 1, False),
    pool_row("3x3s2_ceil_pad", "avg", (1, 3, 8, 8), 3, 2, 1, True),
    pool_row("odd_ceil", "avg", (2, 1, 7, 5), 2, 2, 0, True),
    # horizontal stride 2 (float32 AVX-512 rows): rows past 16 outputs (the backward's carry
    # between chunks), a 5-wide window, trailing columns no window covers
    pool_row("3x3s2_ceil_pad_rows_past_16", "avg", (1, 2, 5, 70), 3, 2, 1, True),
    pool_row("5x5s2_pad2", "avg", (2, 1, 9, 37), 5, 2, 2, False),
    pool_row("2x2s2_uncovered_columns", "avg", (1, 2, 5, 9), 2, 2, 0, False),
    pool_row("3x3_stride1x2", "avg", (2, 2, 7, 19), (3, 3), (1, 2), (1, 1), False),  # rows in several windows
    pool_row("2x3_stride3x2_ceil", "avg", (1, 2, 10, 21), (2, 3), (3, 2), (0, 1), True),  # rows in none
    ("global_avg_pool", lambda x: L.avg_pool2d(x, global_pooling=True), lambda x: x.mean((2, 3), keepdims=True),
     lambda t, x: x.mean((2, 3), keepdim=True), [((2, 3, 4, 5), std)]),
    ("softmax", lambda x: L.softmax(x, 1), lambda x: np.exp(np_log_softmax(x, 1)), lambda t, x: t.softmax(x, 1),
     [((3, 5, 2), std)]),
    ("log_softmax", L.log_softmax, lambda x: np_log_softmax(x, -1), lambda t, x: t.log_softmax(x, -1),
     [((4, 7), std)]),
    ("softmax_cross_entropy", lambda x: L.softmax_cross_entropy(x, lamina.tensor(LABELS, dtype=x.dtype)),
     lambda x: -np.mean(np_log_softmax(x, 1)[np.arange(6), LABELS.astype(int)]),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(LABELS).long()), [((6, 5), std)]),
    ("softmax_cross_entropy_int64_labels", lambda x: L.softmax_cross_entropy(x, lamina.tensor(LABELS.astype(np.int64))),
     lambda x: -np.mean(np_log_softmax(x, 1)[np.arange(6), LABELS.astype(int)]),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(LABELS).long()), [((6, 5), std)]),
    ("softmax_cross_entropy_int32_labels_ignore",
     lambda x: L.softmax_cross_entropy(x, lamina.tensor(np.array([3, -1, 4, 1, 1, 2], np.int32)), ignore_label=-1),
     lambda x: -np.mean(np_log_softmax(x, 1)[[0, 2, 3, 4, 5], [3, 4, 1, 1, 2]]),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([3, -1, 4, 1, 1, 2]), ignore_index=-1), [((6, 5), std)]),
    ("softmax_cross_entropy_spatial_ignore",
     lambda x: L.softmax_cross_entropy(x, lamina.tensor(LABELS.reshape(2, 3) * [[1, 1, 0], [1, 1, 1]] - [[0, 0, 1], [0, 0, 0]], dtype=x.dtype), ignore_label=-1),
     lambda x: -np.mean(np.delete(np.take_along_axis(np_log_softmax(x, 1), np.array([[3, 0, 0], [1, 1, 2]])[:, None], 1).reshape(-1), 2)),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([[3, 0, -1], [1, 1, 2]]), ignore_index=-1),
     [((2, 5, 3), std)]),
]


def np_conv_transpose2d(x, w, b=None, stride=1, pad=0, dilation=1, groups=1):
    """The adjoint of np_conv2d in its input, by loops."""
    N, Cin, H, W = x.shape
    _, Cog, KH, KW = w.shape
    OH = (H - 1) * stride - 2 * pad + dilation * (KH - 1) + 1
    OW = (W - 1) * stride - 2 * pad + dilation * (KW - 1) + 1
    y = np.zeros((N, Cog * groups, OH + 2 * pad, OW + 2 * pad))
    Cig = Cin // groups
    for ci in range(Cin):
        g = ci // Cig
        for kh in range(KH):
            for kw in range(KW):
                contrib = np.einsum("nhw,o->nohw", x[:, ci], w[ci, :, kh, kw])
                y[:, g * Cog:(g + 1) * Cog, kh * dilation: kh * dilation + stride * (H - 1) + 1: stride,
                  kw * dilation: kw * dilation + stride * (W - 1) + 1: stride] += contrib
    y = y[:, :, pad:pad + OH, pad:pad + OW]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def np_batch_norm(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1, -1] + [1] * (x.ndim - 2)
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * w.reshape(shape) + b.reshape(shape)


def np_lrn_across(x, n, alpha, beta, k):
    sq = np.pad(x**2, ((0, 0), ((n - 1) // 2, (n - 1) // 2), (0, 0), (0, 0)))
    s = sum(sq[:, i:i + x.shape[1]] for i in range(n))
    return x / (k + alpha / n * s) ** beta


def np_lrn_within(x, n, alpha, beta):
    return x / (1 + alpha * np_pool(x**2, n, 1, (n - 1) // 2, False, "avg")) ** beta


IDX = np.array([[1, 0, 3], [3, 3, 2]], dtype=np.float64)

ROWS += [
    ("conv_transpose2d", lambda x, w, b: L.conv_transpose2d(x, w, b, stride=2, pad=1),
     lambda x, w, b: np_conv_transpose2d(x, w, b, stride=2, pad=1),
     lambda t, x, w, b: t.nn.functional.conv_transpose2d(x, w, b, stride=2, padding=1),
     [((2, 3, 4, 5), std), ((3, 2, 3, 3), std), ((2,), std)]),
    ("conv_transpose2d_groups_dilation", lambda x, w: L.conv_transpose2d(x, w, groups=2, dilation=2),
     lambda x, w: np_conv_transpose2d(x, w, groups=2, dilation=2),
     lambda t, x, w: t.nn.functional.conv_transpose2d(x, w, groups=2, dilation=2),
     [((1, 4, 3, 3), std), ((4, 3, 2, 2), std)]),
    ("prelu_channels", L.prelu, lambda x, a: np.where(x > 0, x, a.reshape(1, -1, 1) * x),
     lambda t, x, a: t.nn.functional.prelu(x, a), [((2, 3, 4), away_from_zero), ((3,), std)]),
    ("prelu_shared", L.prelu, lambda x, a: np.where(x > 0, x, a * x),
     lambda t, x, a: t.nn.functional.prelu(x, a), [((5, 2), away_from_zero), ((1,), std)]),
    ("batch_norm_train", lambda x, w, b: L.batch_norm(x, None, None, w, b, training=True),
     np_batch_norm, lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True),
     [((4, 3, 2, 2), std), ((3,), std), ((3,), std)]),
    ("batch_norm_eval", lambda x, w, b: L.batch_norm(x, lamina.tensor([0.5, -1.0, 2.0], dtype=x.dtype),
                                                    lamina.tensor([1.5, 0.25, 4.0], dtype=x.dtype), w, b, training=False),
     lambda x, w, b: (x - np.array([0.5, -1.0, 2.0]).reshape(1, 3, 1)) / np.sqrt(np.array([1.5, 0.25, 4.0]).reshape(1, 3, 1) + 1e-5)
     * w.reshape(1, 3, 1) + b.reshape(1, 3, 1),
     lambda t, x, w, b: t.nn.functional.batch_norm(x, t.tensor([0.5, -1.0, 2.0]), t.tensor([1.5, 0.25, 4.0]), w, b,
                                                   training=False),
     [((2, 3, 5), std), ((3,), std), ((3,), std)]),
    # with the ReLU after it in the same pass (the net's BatchNorm + Scale + ReLU)
    ("batch_norm_train_relu", lambda x, w, b: L.batch_norm(x, None, None, w, b, training=True, relu=True),
     lambda x, w, b: np.maximum(np_batch_norm(x, w, b), 0),
     lambda t, x, w, b: t.relu(t.nn.functional.batch_norm(x, None, None, w, b, training=True)),
     [((4, 3, 2, 2), std), ((3,), std), ((3,), std)]),
    ("batch_norm_eval_relu", lambda x: L.batch_norm(x, lamina.tensor([0.5, -1.0], dtype=x.dtype),
                                                    lamina.tensor([1.5, 0.25], dtype=x.dtype), training=False, relu=True),
     lambda x: np.maximum((x - np.array([0.5, -1.0]).reshape(1, 2, 1)) / np.sqrt(np.array([1.5, 0.25]).reshape(1, 2, 1) + 1e-5), 0),
     lambda t, x: t.relu(t.nn.functional.batch_norm(x, t.tensor([0.5, -1.0]), t.tensor([1.5, 0.25]), training=False)),
     [((3, 2, 5), std)]),
    ("batch_norm_2d_input", lambda x: L.batch_norm(x, training=True),
     lambda x: np_batch_norm(x, np.ones(5), np.zeros(5)),
     lambda t, x: t.nn.functional.batch_norm(x, None, None, training=True), [((6, 5), std)]),
    ("scale_shift", L.scale_shift, lambda x, s, b: x * s.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1),
     lambda t, x, s, b: x * s.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1), [((2, 3, 4, 5), std), ((3,), std), ((3,), std)]),
    # scale over two axes from axis 0 (no shift); a scalar scale over everything
    ("scale_shift_axes_0_1", lambda x, s: L.scale_shift(x, s, axis=0), lambda x, s: x * s[:, :, None],
     lambda t, x, s: x * s[:, :, None], [((2, 3, 4), std), ((2, 3), std)]),
    ("scale_shift_scalar", lambda x, s, b: L.scale_shift(x, s, b, axis=2), lambda x, s, b: x * s + b,
     lambda t, x, s, b: x * s + b, [((2, 3), std), ((), std), ((), std)]),
    ("lrn_across", lambda x: L.lrn(x, 3, 0.5, 0.75, 2.0), lambda x: np_lrn_across(x, 3, 0.5, 0.75, 2.0),
     lambda t, x: t.nn.functional.local_response_norm(x, 3, 0.5, 0.75, 2.0), [((2, 5, 3, 3), std)]),
    # a window wider than the channels, beta other than 0.75 (pow, not square roots), and
    # planes of more than 256 positions (split into chunks)
    ("lrn_across_wide_window_beta", lambda x: L.lrn(x, 7, 0.9, 0.6, 1.5), lambda x: np_lrn_across(x, 7, 0.9, 0.6, 1.5),
     lambda t, x: t.nn.functional.local_response_norm(x, 7, 0.9, 0.6, 1.5), [((2, 4, 15, 19), std)]),
    ("lrn_within", lambda x: L.lrn(x, 3, 0.5, 0.75, across_channels=False), lambda x: np_lrn_within(x, 3, 0.5, 0.75),
     lambda t, x: x / (1 + 0.5 * t.nn.functional.avg_pool2d(x * x, 3, 1, 1)) ** 0.75, [((1, 2, 4, 5), std)]),
    ("sigmoid_cross_entropy", L.sigmoid_cross_entropy,
     lambda x, t: np.mean(np.logaddexp(0, x) - t * x),
     lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y), [((4, 3), std), ((4, 3), lambda s, r: r.uniform(0, 1, s))]),
    ("mse_loss", L.mse_loss, lambda a, b: np.mean((a - b) ** 2), lambda t, a, b: t.nn.functional.mse_loss(a, b),
     [((3, 4), std), ((3, 4), std)]),
    ("concat", lambda a, b, c: L.concat([a, b, c], 1), lambda a, b, c: np.concatenate([a, b, c], 1),
     lambda t, a, b, c: t.cat([a, b, c], 1), [((2, 1, 3), std), ((2, 4, 3), std), ((2, 2, 3), std)]),
    ("concat_axis0", lambda a, b: L.concat([a, b], 0), lambda a, b: np.concatenate([a, b], 0),
     lambda t, a, b: t.cat([a, b], 0), [((1, 3), std), ((2, 3), std)]),
    ("slice_axis", lambda x: L.slice(x, 1, 1, -1), lambda x: x[:, 1:-1], lambda t, x: x[:, 1:-1], [((2, 5, 2), std)]),
    ("embedding", lambda w: L.embedding(lamina.tensor(IDX, dtype=w.dtype), w), lambda w: w[IDX.astype(int)],
     lambda t, w: t.nn.functional.embedding(t.tensor(IDX).long(), w), [((4, 3), std)]),
    ("embedding_int32", lambda w: L.embedding(lamina.tensor(IDX.astype(np.int32)), w), lambda w: w[IDX.astype(int)],
     lambda t, w: t.nn.functional.embedding(t.tensor(IDX).long(), w), [((4, 3), std)]),
]
ROWS += [
    ("max_axis", lambda x: L.max(x, 1), lambda x: x.max(1), lambda t, x: x.max(1).values, [((3, 5, 2), distinct)]),
    ("max_keepdim_last", lambda x: L.max(x, -1, True), lambda x: x.max(-1, keepdims=True),
     lambda t, x: x.max(-1, keepdim=True).values, [((4, 3), distinct)]),
    ("l2_normalize", lambda x: L.l2_normalize(x, 1), lambda x: x / np.sqrt((x**2).sum(1, keepdims=True) + 1e-12),
     lambda t, x: t.nn.functional.normalize(x, dim=1, eps=0), [((3, 4), std)]),
]

# ---- losses (PyTorch's): each reduction, weights, ignore_index, label smoothing, pos_weight --


def labels(a):
    """Class labels as the class losses take them: int64."""
    return lamina.tensor(np.asarray(a, dtype=np.int64))


def unit(shape, rng):  # probabilities and soft targets
    return rng.uniform(0.05, 0.95, shape)


def signs(shape, rng):  # +1 / -1 targets
    return rng.choice([-1.0, 1.0], shape)


def np_reduce(loss, reduction, divisor=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / (loss.size if divisor is None else divisor)


def np_nll(logp, y, weight=None, ignore_index=-100, reduction="mean"):
    y = np.asarray(y).astype(int)
    keep = y != ignore_index
    safe = np.where(keep, y, 0)
    w = (np.ones(logp.shape[1]) if weight is None else weight)[safe] * keep
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    return np_reduce(-w * picked, reduction, w.sum())


def np_cross_entropy(x, y, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    lp = np_log_softmax(x, 1)
    loss = np_nll(lp, y, weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    C = x.shape[1]
    w = np.ones(C) if weight is None else weight
    keep = np.asarray(y) != ignore_index
    smooth = -(lp * w.reshape((1, C) + (1,) * (x.ndim - 2))).sum(1) * keep
    weight_sum = (w[np.where(keep, np.asarray(y).astype(int), 0)] * keep).sum()
    return (1 - label_smoothing) * loss + label_smoothing / C * np_reduce(smooth, reduction, weight_sum)


def np_bce(p, t, w=1.0):
    return -w * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def np_bce_logits(x, t, w=1.0, pos_weight=1.0):
    return w * ((1 - t) * x + (1 + (pos_weight - 1) * t) * np.logaddexp(0, -x))


def np_huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def np_distance(u, v, p, eps):
    return (np.abs(u - v + eps) ** p).sum(-1) ** (1 / p)


def np_triplet(a, p, n, margin=1.0, norm=2.0, eps=1e-6, swap=False):
    d_neg = np_distance(a, n, norm, eps)
    if swap:
        d_neg = np.minimum(d_neg, np_distance(p, n, norm, eps))
    return np.maximum(np_distance(a, p, norm, eps) - d_neg + margin, 0)


def np_cosine_embedding(x1, x2, y, margin=0.0):
    cos = (x1 * x2).sum(-1) / np.sqrt(((x1**2).sum(-1) + 1e-12) * ((x2**2).sum(-1) + 1e-12))
    return np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0)


def np_kl_div(x, t, log_target=False):
    return np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)


def torch_kl_div_mean(t, x, y):  # PyTorch warns that its default is not the true KL divergence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return t.nn.functional.kl_div(x, y)


CLASS_W = np.array([0.5, 1.0, 2.0, 0.25, 1.5])
SPATIAL = np.array([[3, 0, -100], [1, 1, 2]], dtype=np.float64)  # [2, 3] labels, one ignored
IGNORE_1 = np.array([3, 1, 4, 1, 0, 2], dtype=np.float64)
PAIR_Y = np.array([1.0, -1.0, -1.0, 1.0])
HINGE_Y = np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0], [-1.0, 1.0, 1.0]])


def w_like(a, x):  # a constant of x's dtype (lamina), or the torch tensor of x's dtype
    return lamina.tensor(a, dtype=x.dtype) if isinstance(x, lamina.Tensor) else torch.tensor(a, dtype=x.dtype)


def class_row(name, op, ref, shape, y, **kw):
    """A row of nll_loss or cross_entropy on fixed labels y (the weight becomes x's dtype)."""
    def args(x):
        return {k: w_like(v, x) if k == "weight" else v for k, v in kw.items()}

    return (f"{op}_{name}", lambda x: getattr(L, op)(x, labels(y), **args(x)), lambda x: ref(x, y, **kw),
            lambda t, x: getattr(t.nn.functional, op)(x, t.tensor(y).long(), **args(x)), [(shape, std)])


ROWS += [
    class_row("mean", "nll_loss", np_nll, (6, 5), LABELS),
    class_row("weighted_ignore_sum", "nll_loss", np_nll, (6, 5), IGNORE_1, weight=CLASS_W, ignore_index=1,
              reduction="sum"),
    class_row("weighted_mean", "nll_loss", np_nll, (6, 5), LABELS, weight=CLASS_W),
    class_row("spatial_none", "nll_loss", np_nll, (2, 4, 3), SPATIAL, reduction="none"),
    class_row("mean", "cross_entropy", np_cross_entropy, (6, 5), LABELS),
    class_row("spatial_weighted_ignore", "cross_entropy", np_cross_entropy, (2, 5, 3), SPATIAL, weight=CLASS_W),
    class_row("weighted_none", "cross_entropy", np_cross_entropy, (6, 5), LABELS, weight=CLASS_W, reduction="none"),
    class_row("sum", "cross_entropy", np_cross_entropy, (6, 5), LABELS, reduction="sum"),
    class_row("smoothing", "cross_entropy", np_cross_entropy, (6, 5), LABELS, label_smoothing=0.2),
    class_row("smoothing_weighted_ignore", "cross_entropy", np_cross_entropy, (2, 5, 3), SPATIAL, weight=CLASS_W,
              label_smoothing=0.3),
    class_row("smoothing_weighted_sum", "cross_entropy", np_cross_entropy, (6, 5), IGNORE_1, weight=CLASS_W,
              ignore_index=1, reduction="sum", label_smoothing=0.1),
    class_row("smoothing_none", "cross_entropy", np_cross_entropy, (2, 5, 3), SPATIAL, reduction="none",
              label_smoothing=0.4),
    # class probabilities as targets (soft labels): both inputs get a gradient
    ("cross_entropy_probabilities", L.cross_entropy, lambda x, p: -(p * np_log_softmax(x, 1)).sum(1).mean(),
     lambda t, x, p: t.nn.functional.cross_entropy(x, p), [((6, 5), std), ((6, 5), unit)]),
    ("cross_entropy_probabilities_spatial_weighted_smoothing_sum",
     lambda x, p: L.cross_entropy(x, p, lamina.tensor(CLASS_W, dtype=x.dtype), reduction="sum", label_smoothing=0.3),
     lambda x, p: -((0.7 * p + 0.3 / 5) * np_log_softmax(x, 1) * CLASS_W.reshape(1, 5, 1)).sum(),
     lambda t, x, p: t.nn.functional.cross_entropy(x, p, t.tensor(CLASS_W, dtype=x.dtype), reduction="sum",
                                                   label_smoothing=0.3), [((2, 5, 3), std), ((2, 5, 3), unit)]),
    ("cross_entropy_probabilities_unbatched_none", lambda x, p: L.cross_entropy(x, p, reduction="none"),
     lambda x, p: -(p * np_log_softmax(x, 0)).sum(0), lambda t, x, p: t.nn.functional.cross_entropy(x, p, reduction="none"),
     [((5,), std), ((5,), unit)]),
    ("cross_entropy_unbatched", lambda x: L.cross_entropy(x, labels(2.0)),
     lambda x: -np_log_softmax(x, 0)[2], lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(2)), [((5,), std)]),
    ("binary_cross_entropy", L.binary_cross_entropy, lambda p, t: np.mean(np_bce(p, t)),
     lambda t, p, y: t.nn.functional.binary_cross_entropy(p, y), [((4, 3), unit), ((4, 3), unit)]),
    ("binary_cross_entropy_weighted_sum",
     lambda p, y: L.binary_cross_entropy(p, y, w_like([0.5, 2.0, 1.0], p), reduction="sum"),
     lambda p, y: np.sum(np_bce(p, y, np.array([0.5, 2.0, 1.0]))),
     lambda t, p, y: t.nn.functional.binary_cross_entropy(p, y, w_like([0.5, 2.0, 1.0], p), reduction="sum"),
     [((4, 3), unit), ((4, 3), unit)]),
    ("binary_cross_entropy_none", lambda p, y: L.binary_cross_entropy(p, y, reduction="none"), np_bce,
     lambda t, p, y: t.nn.functional.binary_cross_entropy(p, y, reduction="none"), [((2, 3, 2), unit), ((2, 3, 2), unit)]),
    ("binary_cross_entropy_with_logits", L.binary_cross_entropy_with_logits, lambda x, y: np.mean(np_bce_logits(x, y)),
     lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y), [((4, 3), std), ((4, 3), unit)]),
    ("binary_cross_entropy_with_logits_pos_weight_weighted",
     lambda x, y: L.binary_cross_entropy_with_logits(x, y, w_like([[2.0], [0.5], [1.0], [1.5]], x),
                                                     pos_weight=w_like([3.0, 0.5, 1.0], x)),
     lambda x, y: np.mean(np_bce_logits(x, y, np.array([[2.0], [0.5], [1.0], [1.5]]), np.array([3.0, 0.5, 1.0]))),
     lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(
         x, y, w_like([[2.0], [0.5], [1.0], [1.5]], x), pos_weight=w_like([3.0, 0.5, 1.0], x)),
     [((4, 3), std), ((4, 3), unit)]),
    ("binary_cross_entropy_with_logits_pos_weight_none",
     lambda x, y: L.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=w_like([3.0, 0.5, 1.0], x)),
     lambda x, y: np_bce_logits(x, y, 1.0, np.array([3.0, 0.5, 1.0])),
     lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none",
                                                                      pos_weight=w_like([3.0, 0.5, 1.0], x)),
     [((2, 3), std), ((2, 3), unit)]),
    ("binary_cross_entropy_with_logits_large_sum",
     lambda x, y: L.binary_cross_entropy_with_logits(x, y, reduction="sum"),
     lambda x, y: np.sum(np_bce_logits(x, y)),
     lambda t, x, y: t.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="sum"),
     [((4,), lambda s, r: np.array([-800.0, -30.0, 30.0, 800.0])), ((4,), unit)]),
    ("mse_loss_sum", lambda a, b: L.mse_loss(a, b, reduction="sum"), lambda a, b: np.sum((a - b) ** 2),
     lambda t, a, b: t.nn.functional.mse_loss(a, b, reduction="sum"), [((3, 4), std), ((3, 4), std)]),
    ("mse_loss_none_broadcast", lambda a, b: L.mse_loss(a, b, reduction="none"), lambda a, b: (a - b) ** 2,
     lambda t, a, b: (a - b) ** 2, [((3, 4), std), ((4,), std)]),
    ("l1_loss", L.l1_loss, lambda a, b: np.mean(np.abs(a - b)), lambda t, a, b: t.nn.functional.l1_loss(a, b),
     [((3, 4), std), ((3, 4), std)]),
    ("l1_loss_none", lambda a, b: L.l1_loss(a, b, reduction="none"), lambda a, b: np.abs(a - b),
     lambda t, a, b: t.nn.functional.l1_loss(a, b, reduction="none"), [((5,), std), ((5,), std)]),
    ("smooth_l1_loss", L.smooth_l1_loss, lambda a, b: np.mean(np_huber(a - b, 1.0)),
     lambda t, a, b: t.nn.functional.smooth_l1_loss(a, b), [((4, 5), std), ((4, 5), std)]),
    ("smooth_l1_loss_beta_sum", lambda a, b: L.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
     lambda a, b: np.sum(np_huber(a - b, 0.5)) / 0.5,
     lambda t, a, b: t.nn.functional.smooth_l1_loss(a, b, reduction="sum", beta=0.5), [((4, 5), std), ((4, 5), std)]),
    ("smooth_l1_loss_beta0_none", lambda a, b: L.smooth_l1_loss(a, b, reduction="none", beta=0.0),
     lambda a, b: np.abs(a - b), lambda t, a, b: t.nn.functional.smooth_l1_loss(a, b, reduction="none", beta=0.0),
     [((6,), std), ((6,), std)]),
    ("huber_loss", L.huber_loss, lambda a, b: np.mean(np_huber(a - b, 1.0)),
     lambda t, a, b: t.nn.functional.huber_loss(a, b), [((4, 5), std), ((4, 5), std)]),
    ("huber_loss_delta_none", lambda a, b: L.huber_loss(a, b, "none", 0.7), lambda a, b: np_huber(a - b, 0.7),
     lambda t, a, b: t.nn.functional.huber_loss(a, b, "none", 0.7), [((3, 5), std), ((3, 5), std)]),
    ("hinge_embedding_loss", lambda x: L.hinge_embedding_loss(x, w_like(HINGE_Y, x)),
     lambda x: np.mean(np.where(HINGE_Y == 1, x, np.maximum(0, 1 - x))),
     lambda t, x: t.nn.functional.hinge_embedding_loss(x, w_like(HINGE_Y, x)), [((4, 3), std)]),
    ("hinge_embedding_loss_margin_sum", lambda x: L.hinge_embedding_loss(x, w_like(HINGE_Y, x), 0.5, reduction="sum"),
     lambda x: np.sum(np.where(HINGE_Y == 1, x, np.maximum(0, 0.5 - x))),
     lambda t, x: t.nn.functional.hinge_embedding_loss(x, w_like(HINGE_Y, x), 0.5, reduction="sum"), [((4, 3), std)]),
    ("margin_ranking_loss", lambda a, b, y: L.margin_ranking_loss(a, b, y, 0.5),
     lambda a, b, y: np.mean(np.maximum(0, -y * (a - b) + 0.5)),
     lambda t, a, b, y: t.nn.functional.margin_ranking_loss(a, b, y, 0.5), [((6,), std), ((6,), std), ((6,), signs)]),
    ("margin_ranking_loss_none", lambda a, b, y: L.margin_ranking_loss(a, b, y, reduction="none"),
     lambda a, b, y: np.maximum(0, -y * (a - b)),
     lambda t, a, b, y: t.nn.functional.margin_ranking_loss(a, b, y, reduction="none"),
     [((6,), std), ((6,), std), ((6,), signs)]),
    ("triplet_margin_loss", L.triplet_margin_loss, lambda a, p, n: np.mean(np_triplet(a, p, n)),
     lambda t, a, p, n: t.nn.functional.triplet_margin_loss(a, p, n), [((5, 4), std)] * 3),
    ("triplet_margin_loss_p1_swap_none", lambda a, p, n: L.triplet_margin_loss(a, p, n, 3.0, 1, swap=True,
                                                                               reduction="none"),
     lambda a, p, n: np_triplet(a, p, n, 3.0, 1.0, swap=True),
     lambda t, a, p, n: t.nn.functional.triplet_margin_loss(a, p, n, 3.0, 1, swap=True, reduction="none"),
     [((5, 4), std)] * 3),
    ("triplet_margin_loss_p3_unbatched", lambda a, p, n: L.triplet_margin_loss(a, p, n, 2.0, 3),
     lambda a, p, n: np_triplet(a, p, n, 2.0, 3.0),
     lambda t, a, p, n: t.nn.functional.triplet_margin_loss(a, p, n, 2.0, 3), [((4,), std)] * 3),
    ("cosine_embedding_loss", lambda a, b: L.cosine_embedding_loss(a, b, w_like(PAIR_Y, a), 0.2),
     lambda a, b: np.mean(np_cosine_embedding(a, b, PAIR_Y, 0.2)),
     lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, w_like(PAIR_Y, a), 0.2), [((4, 5), std)] * 2),
    ("cosine_embedding_loss_none", lambda a, b: L.cosine_embedding_loss(a, b, w_like(PAIR_Y, a), reduction="none"),
     lambda a, b: np_cosine_embedding(a, b, PAIR_Y),
     lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, w_like(PAIR_Y, a), reduction="none"),
     [((4, 5), std)] * 2),
    ("kl_div", L.kl_div, lambda x, y: np.mean(np_kl_div(x, y)), torch_kl_div_mean,
     [((3, 4), std), ((3, 4), unit)]),
    ("kl_div_batchmean", lambda x, y: L.kl_div(x, y, reduction="batchmean"),
     lambda x, y: np.sum(np_kl_div(x, y)) / 3,
     lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="batchmean"), [((3, 4), std), ((3, 4), unit)]),
    ("kl_div_log_target_sum", lambda x, y: L.kl_div(x, y, reduction="sum", log_target=True),
     lambda x, y: np.sum(np_kl_div(x, y, True)),
     lambda t, x, y: t.nn.functional.kl_div(x, y, reduction="sum", log_target=True), [((3, 4), std), ((3, 4), std)]),
    ("kl_div_none_broadcast", lambda x, y: L.kl_div(x, y, reduction="none"), np_kl_div,
     lambda t, x, y: t.nn.functional.kl_div(x, y.expand(3, 4), reduction="none"), [((3, 4), std), ((4,), unit)]),
]

COND = np.array([[True, False, True], [False, False, True]])
SEL = np.array([2, 0, 2, 1])  # repeated: their gradients add up
GATHER = np.array([[[0, 2], [1, 1], [2, 0]], [[2, 2], [0, 1], [1, 0]]])  # [2, 3, 2], axis 1 of [2, 3, 2]
GATHER_PART = np.array([[3, 0, 3], [1, 1, 2]])  # [2, 3] into axis 1 of [3, 4]: rows past 2 unread


def take_along(x, index, axis):  # NumPy's gather for an index no larger than x outside axis
    part = tuple(slice(0, n) if d != axis else slice(None) for d, n in enumerate(index.shape))
    return np.take_along_axis(x[part], index, axis)


ROWS += [
    ("where", lambda a, b: L.where(lamina.tensor(COND), a, b), lambda a, b: np.where(COND, a, b),
     lambda t, a, b: t.where(t.tensor(COND), a, b), [((2, 3), std), ((3,), std)]),
    ("where_broadcast_cond", lambda a, b: L.where(lamina.tensor(COND[:, :1]), a, b),
     lambda a, b: np.where(COND[:, :1], a, b), lambda t, a, b: t.where(t.tensor(COND[:, :1]), a, b),
     [((2, 3), std), ((2, 1), std)]),
    ("index_select_axis1_repeats", lambda x: L.index_select(x, 1, lamina.tensor(SEL)), lambda x: np.take(x, SEL, 1),
     lambda t, x: t.index_select(x, 1, t.tensor(SEL)), [((2, 3, 4), std)]),
    ("index_select_axis0_int32", lambda x: L.index_select(x, 0, lamina.tensor(SEL.astype(np.int32))),
     lambda x: x[SEL], lambda t, x: t.index_select(x, 0, t.tensor(SEL.astype(np.int32))), [((3, 2), std)]),
    ("index_select_last_axis", lambda x: L.index_select(x, -1, lamina.tensor(SEL)), lambda x: x[..., SEL],
     lambda t, x: t.index_select(x, -1, t.tensor(SEL)), [((2, 3), std)]),
    ("gather_axis1", lambda x: L.gather(x, 1, lamina.tensor(GATHER)), lambda x: np.take_along_axis(x, GATHER, 1),
     lambda t, x: t.gather(x, 1, t.tensor(GATHER)), [((2, 3, 2), std)]),
    ("gather_axis0", lambda x: L.gather(x, 0, lamina.tensor(GATHER[:, :, 0] % 2)),
     lambda x: np.take_along_axis(x, GATHER[:, :, 0] % 2, 0), lambda t, x: t.gather(x, 0, t.tensor(GATHER[:, :, 0] % 2)),
     [((2, 3), std)]),
    ("gather_smaller_index", lambda x: L.gather(x, 1, lamina.tensor(GATHER_PART)), lambda x: take_along(x, GATHER_PART, 1),
     lambda t, x: t.gather(x, 1, t.tensor(GATHER_PART)), [((3, 4), std)]),
]

LENET_LABELS = np.array([3, 0, 9], dtype=np.float64)


def lenet(L_or_t, x, c1, b1, c2, b2, f1, fb1, f2, fb2):
    """conv5-pool-conv5-pool-ip-relu-ip-softmax loss on 3 16x16 images (LeNet's shape, smaller)."""
    if L_or_t is L:
        h = L.max_pool2d(L.conv2d(x, c1, b1), 2, 2)
        h = L.max_pool2d(L.conv2d(h, c2, b2), 2, 2)
        h = L.relu(L.linear(h.reshape(3, -1), f1, fb1))
        return L.softmax_cross_entropy(L.linear(h, f2, fb2), lamina.tensor(LENET_LABELS, dtype=x.dtype))
    t = L_or_t
    F = t.nn.functional
    h = F.max_pool2d(F.conv2d(x, c1, b1), 2, 2)
    h = F.max_pool2d(F.conv2d(h, c2, b2), 2, 2)
    h = F.relu(F.linear(h.reshape(3, -1), f1, fb1))
    return F.cross_entropy(F.linear(h, f2, fb2), t.tensor(LENET_LABELS).long())


def np_lenet(x, c1, b1, c2, b2, f1, fb1, f2, fb2):
    h = np_pool(np_conv2d(x, c1, b1), 2, 2, 0, False, "max")
    h = np_pool(np_conv2d(h, c2, b2), 2, 2, 0, False, "max")
    h = np.maximum(h.reshape(3, -1) @ f1.T + fb1, 0)
    return -np.mean(np_log_softmax(h @ f2.T + fb2, 1)[np.arange(3), LENET_LABELS.astype(int)])


ROWS.append(("composite_lenet", lambda *a: lenet(L, *a), np_lenet, lambda t, *a: lenet(t, *a),
             [((3, 1, 16, 16), distinct), ((4, 1, 5, 5), std), ((4,), std), ((6, 4, 3, 3), std), ((6,), std),
              ((12, 24), std), ((12,), std), ((10, 12), std), ((10,), std)]))
IDS = [r[0] for r in ROWS]


def make_inputs(specs, seed):
    rng = np.random.default_rng(seed)
    return [np.asarray(gen(shape, rng), dtype=np.float64) for shape, gen in specs]


@pytest.mark.parametrize("name,fn,ref,tfn,specs", ROWS, ids=IDS)
def test_forward_matches_numpy(name, fn, ref, tfn, specs):
    arrays = make_inputs(specs, 0)
    expected = ref(*arrays)
    scale = max(1.0, float(np.max(np.abs(expected))))  # float32 error grows with the values summed
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        out = fn(*[lamina.tensor(a, dtype=dtype) for a in arrays])
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(np.asarray(out), expected, rtol=tol, atol=tol * scale)


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
        # rtol 1e-5, plus an absolute 1e-5 of the gradient's largest entry: through deep
        # graphs (composite_lenet) float32 sums taken in another order differ by that much.
        ref = ta.grad.numpy()
        atol = 1e-5 * max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(np.asarray(a.grad), ref, rtol=1e-5, atol=atol)


BAD = [
    (lambda: L.add(lamina.zeros(2, 3), lamina.zeros(4)), lamina.ShapeError, "add: shapes [2, 3] and [4] do not broadcast"),
    (lambda: L.pow(lamina.zeros(2, dtype="int64"), lamina.zeros(2, dtype="int64")), lamina.DTypeError, "pow: expected a float32 or float64 tensor, got int64"),
    (lambda: L.sum(lamina.zeros(2, 3), 2), lamina.OutOfRangeError, "sum: axis 2 is out of range for 2-d input"),
    (lambda: L.sum(lamina.zeros(2, 3), [1, 1]), lamina.InvalidValueError, "sum: axis 1 given twice"),
    (lambda: L.linear(lamina.zeros(2, 3), lamina.zeros(4, 2)), lamina.ShapeError, "linear: expected x [N, K] and weight [O, K]"),
    (lambda: L.linear(lamina.zeros(2, 3), lamina.zeros(4, 3), lamina.zeros(3)), lamina.ShapeError, "linear: bias must be [4]"),
    (lambda: L.transpose(lamina.zeros(2, 3), [0, 0]), lamina.InvalidValueError, "transpose: axis 0 repeated"),
    (lambda: L.transpose(lamina.zeros(2, 3, 4)), lamina.ShapeError, "without a permutation the input must be 2-d"),
    (lambda: L.clip(lamina.zeros(2), 1.0, 0.0), lamina.InvalidValueError, "clip: lower bound 1 is above upper bound 0"),
    (lambda: L.mean(lamina.zeros(0, 3), 0), lamina.ShapeError, "mean: cannot average over an empty extent"),
    (lambda: lamina.zeros(2) + "a", lamina.DTypeError, "expected a lamina.Tensor or a number"),
    (lambda: L.conv2d(lamina.zeros(1, 3, 5, 5), lamina.zeros(2, 2, 3, 3)), lamina.ShapeError, "conv2d: weight [2, 2, 3, 3] does not fit input [1, 3, 5, 5] with groups=1 (expected [2, 3, KH, KW])"),
    (lambda: L.conv2d(lamina.zeros(1, 3, 2, 2), lamina.zeros(2, 3, 3, 3)), lamina.ShapeError, "conv2d: output size 0x0 <= 0"),
    (lambda: L.conv2d(lamina.zeros(1, 3, 5), lamina.zeros(2, 3, 3, 3)), lamina.ShapeError, "conv2d: expected input [N, C, H, W], got [1, 3, 5]"),
    (lambda: L.conv2d(lamina.zeros(0, 3, 5, 5), lamina.zeros(2, 3, 3, 3)), lamina.ShapeError, "conv2d: empty input [0, 3, 5, 5]"),
    (lambda: L.conv2d(lamina.zeros(1, 4, 5, 5), lamina.zeros(3, 2, 3, 3), groups=2), lamina.ShapeError, "not divisible by groups=2"),
    (lambda: L.conv2d(lamina.zeros(1, 3, 5, 5), lamina.zeros(2, 3, 3, 3), stride=0), lamina.InvalidValueError, "conv2d: stride must be >= 1"),
    (lambda: L.conv2d(lamina.zeros(1, 3, 5, 5), lamina.zeros(2, 3, 3, 3), lamina.zeros(3)), lamina.ShapeError, "conv2d: bias must be [2], got [3]"),
    (lambda: L.max_pool2d(lamina.zeros(1, 1, 4, 4), 2, 2, 2), lamina.InvalidValueError, "max_pool2d: padding 2x2 must be >= 0 and smaller than the kernel 2x2"),
    (lambda: L.max_pool2d(lamina.zeros(1, 1, 2, 2), 3), lamina.ShapeError, "kernel 3x3 is larger than the padded input"),
    (lambda: L.softmax_cross_entropy(lamina.zeros(2, 3), lamina.tensor([0.0, 3.0])), lamina.InvalidValueError, "label 3 at position 1 is not a class index in [0, 3)"),
    (lambda: L.softmax_cross_entropy(lamina.zeros(2, 3), lamina.tensor([0.0])), lamina.ShapeError, "labels of shape [1] (1 values) do not match logits [2, 3]"),
    (lambda: L.softmax_cross_entropy(lamina.zeros(2, 3), lamina.tensor([0.0, 1.0]), normalization="mean"), lamina.InvalidValueError, "normalization must be one of"),
    (lambda: L.concat([lamina.zeros(2, 3), lamina.zeros(3, 3)], 1), lamina.ShapeError, "concat: tensor 1 has shape [3, 3], which does not match [2, 3] outside axis 1"),
    (lambda: L.slice(lamina.zeros(2, 3), 1, 2, 5), lamina.OutOfRangeError, "slice: range [2, 5) is out of bounds for axis 1 of size 3"),
    (lambda: L.embedding(lamina.tensor([0.0, 4.0]), lamina.zeros(4, 2)), lamina.OutOfRangeError, "embedding: index 4 at position 1 is not a row of a table with 4 rows"),
    (lambda: L.dropout(lamina.zeros(2), 1.0), lamina.InvalidValueError, "dropout: probability must be in [0, 1), got 1"),
    (lambda: L.batch_norm(lamina.zeros(2, 3), lamina.zeros(4)), lamina.ShapeError, "batch_norm: per-channel tensors must be [3], got [4]"),
    (lambda: L.batch_norm(lamina.zeros(1, 3), training=True), lamina.ShapeError, "more than one value per channel"),
    (lambda: L.lrn(lamina.zeros(1, 3, 2, 2), 4), lamina.InvalidValueError, "lrn: local_size must be odd"),
    (lambda: L.prelu(lamina.zeros(2, 3), lamina.zeros(2)), lamina.ShapeError, "prelu: slope must be [1] or [C]"),
    (lambda: L.scale_shift(lamina.zeros(2, 3, 4), lamina.zeros(4)), lamina.ShapeError,
     "scale_shift: scale [4] does not match input [2, 3, 4] from axis 1"),
    (lambda: L.scale_shift(lamina.zeros(2, 3), lamina.zeros(3), lamina.zeros(2)), lamina.ShapeError,
     "scale_shift: shift [2] differs from scale [3]"),
    (lambda: L.conv_transpose2d(lamina.zeros(1, 3, 2, 2), lamina.zeros(2, 3, 3, 3)), lamina.ShapeError, "conv_transpose2d: weight [2, 3, 3, 3] must be [3, out_channels/groups, KH, KW]"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m[:30] for _, _, m in BAD])
def test_bad_input(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_transpose_property_is_a_view_for_matrices():
    a = np.arange(12.0).reshape(3, 4)
    t = lamina.tensor(a)
    v = t.T
    assert v.shape == (4, 3) and not v.is_contiguous()
    assert np.shares_memory(np.asarray(v), np.asarray(t))  # no copy
    np.testing.assert_array_equal(np.asarray(v), a.T)
    np.testing.assert_array_equal(np.asarray(v.T), a)
    # gradient through the view, into a matmul that reads it in place
    w = lamina.tensor(np.ones((2, 4))).requires_grad_()
    (lamina.tensor(a) @ w.T).sum().backward()
    np.testing.assert_array_equal(np.asarray(w.grad), np.tile(a.sum(0), (2, 1)))
    with pytest.raises(lamina.ShapeError, match="must be 2-d"):  # other ranks: transpose(x, perm)
        lamina.tensor(np.zeros((2, 3, 4))).T


def test_operators_and_masks():
    a = lamina.tensor([[1.0, -2.0], [3.0, 0.5]])
    np.testing.assert_allclose(np.asarray(2 - a * 3 / 2 + 1), 3 - np.asarray(a) * 1.5)
    np.testing.assert_array_equal(np.asarray(a > 0.75), [[1, 0], [1, 0]])
    np.testing.assert_array_equal(np.asarray(a < 0), [[0, 1], [0, 0]])
    np.testing.assert_allclose(np.asarray(-a), -np.asarray(a))
    assert float(a.sum()) == 2.5 and abs(float(a.mean()) - 0.625) < 1e-7


@pytest.mark.parametrize("mode,expected", [("valid", 2), ("full", 3), ("batch_size", 3), ("none", 1)])
def test_cross_entropy_normalization_modes(mode, expected):
    logits = lamina.tensor(np.zeros((3, 4)))  # -log(1/4) per counted position
    labels = lamina.tensor([1.0, -1.0, 2.0])
    loss = L.softmax_cross_entropy(logits, labels, ignore_label=-1, normalization=mode)
    np.testing.assert_allclose(float(loss), 2 * np.log(4) / expected)


@pytest.mark.parametrize("xs,ws,kw", [
    ((1, 3, 40, 40), (4, 3, 3, 3), {"pad": 1}),                       # 1600 columns, 40 rows
    ((1, 4, 70, 70), (6, 2, 3, 3), {"stride": 2, "pad": 1, "groups": 2}),  # 1225 columns, 2 groups
    ((1, 2, 33, 41), (3, 2, 5, 5), {"pad": 2, "dilation": 1}),        # 33 rows: unequal shares
])
def test_single_large_image_split_over_threads_matches_reference(xs, ws, kw):
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    before = lamina.num_threads()
    try:
        for threads in (1, 2):
            lamina.set_num_threads(threads)
            y = L.conv2d(lamina.tensor(x), lamina.tensor(w), lamina.tensor(b), **kw)
            np.testing.assert_allclose(np.asarray(y), np_conv2d(x, w, b, **kw), rtol=1e-12, atol=1e-12)
    finally:
        lamina.set_num_threads(before)
    if torch is not None:  # the conv_transpose2d backward also takes this path
        xt = lamina.tensor(rng.standard_normal((1, ws[0], 20, 20))).requires_grad_()
        wt = lamina.tensor(rng.standard_normal((ws[0], 3, 3, 3)))
        lamina.set_num_threads(2)
        L.conv_transpose2d(xt, wt, pad=1).sum().backward()
        lamina.set_num_threads(before)
        txt = torch.tensor(np.asarray(xt), requires_grad=True)
        torch.nn.functional.conv_transpose2d(txt, torch.tensor(np.asarray(wt)), padding=1).sum().backward()
        np.testing.assert_allclose(np.asarray(xt.grad), txt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv_threads_agree():
    rng = np.random.default_rng(5)
    x = lamina.tensor(rng.standard_normal((6, 3, 10, 10)).astype(np.float32)).requires_grad_()
    w = lamina.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)).requires_grad_()
    results = []
    before = lamina.num_threads()
    for threads in (1, 2):
        lamina.set_num_threads(threads)
        x.grad = w.grad = None
        y = L.conv2d(x, w, pad=1)
        (y * y).sum().backward()
        results.append([np.asarray(y).copy(), np.asarray(x.grad).copy(), np.asarray(w.grad).copy()])
    lamina.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.skipif(torch is None, reason="torch is not installed (test extra)")
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 32, 36, 36), (24, 32, 3, 3), {"pad": 1}),     # B strips copied in blocks of K, a partial last strip
    ((3, 20, 12, 12), (50, 20, 5, 5), {}),             # LeNet conv2: 8-column rows, a partial panel of A
    ((2, 5, 19, 21), (7, 5, 3, 3), {"pad": 2, "dilation": 2}),  # rows longer than one vector
    ((2, 3, 10, 10), (4, 3, 5, 5), {"pad": 4}),        # whole rows of padding
    ((1, 16, 40, 40), (12, 16, 3, 3), {"pad": 1}),     # one image: its output rows split over threads
    ((2, 6, 13, 11), (5, 6, 3, 3), {"pad": (2, 1), "stride": (2, 1), "dilation": (2, 1)}),  # 9-16 column rows
    ((2, 3, 37, 41), (8, 3, 7, 7), {"pad": 3, "stride": 2}),  # horizontal stride 2, rows past 16 outputs
    ((2, 16, 14, 14), (24, 16, 1, 1), {"stride": 2}),          # a 1x1 stride-2 projection
    # planes of a multiple of 256 positions, whose column rows are spread one cache line
    # apart: 8-column rows, 16-column rows, stride 2
    ((2, 3, 64, 8), (4, 3, 3, 3), {"pad": 1}),
    ((2, 3, 16, 16), (5, 3, 3, 3), {"pad": 1}),
    ((2, 8, 32, 32), (8, 8, 3, 3), {"pad": 1, "stride": 2}),
    # bands of 33 rows (264 columns) and a last one of 32 (256: the wider stride, which
    # overran a buffer sized for the first band; found under ASan)
    ((2, 108, 98, 8), (4, 108, 3, 3), {"pad": 1}),
    # weight gradients by dot_gemm (few weights, long rows): CIFAR10-quick's conv1; groups
    ((3, 3, 32, 32), (32, 3, 5, 5), {"pad": 2}),
    ((2, 8, 20, 20), (12, 4, 3, 3), {"pad": 1, "groups": 2}),
    # the padded input read in place of im2col (stride 1, output rows of whole vectors), by
    # the forward and dot_gemm: unequal padding; dilation with groups; one image's rows
    # split over threads; 16-column rows with a last strip of 16; strips copied (72
    # outputs); one image of 24 strips split over threads
    ((2, 3, 20, 32), (4, 3, 5, 3), {"pad": (2, 1)}),
    ((2, 4, 18, 18), (6, 2, 3, 3), {"pad": 1, "dilation": 2, "groups": 2}),
    ((1, 3, 32, 48), (8, 3, 3, 3), {"pad": 1}),
    ((2, 3, 9, 16), (4, 3, 3, 3), {"pad": 1}),
    ((2, 8, 16, 16), (72, 8, 3, 3), {"pad": 1}),
    ((1, 4, 16, 48), (16, 4, 3, 3), {"pad": 1}),
    # column matrices past 2 MB, built and multiplied in bands of output rows (the last partial)
    ((1, 3, 224, 224), (8, 3, 7, 7), {"pad": 3, "stride": 2}),
    ((2, 16, 61, 60), (8, 16, 3, 3), {"pad": 1}),
    # one image of 1024 positions or more: its weight gradient split over the threads by
    # output rows (each thread its own sums), 1x1 (direct); by the BLAS, 33 rows in unequal
    # shares; with groups
    ((1, 16, 40, 40), (24, 16, 1, 1), {}),
    ((1, 32, 33, 35), (64, 32, 3, 3), {"pad": 2, "dilation": 2}),
    ((1, 64, 34, 34), (128, 32, 3, 3), {"pad": 2, "dilation": 2, "groups": 2}),
    # one image under 1024 positions on two threads: im2col and col2im split by input
    # channels (33 and 32 of 65; stride 2)
    ((1, 65, 14, 14), (16, 65, 3, 3), {"pad": 1}),
    ((1, 64, 30, 30), (8, 64, 3, 3), {"pad": 1, "stride": 2}),
    # one image of 256 positions or fewer: its weight gradient by conv_gemm, the column
    # matrix read as B transposed and dW streamed out (288 columns, 9 strips, split over
    # threads); a partial panel and a masked last strip (45 columns); the last 8 columns as
    # dot products (40, 1x1); groups; bands (a 9216-row column matrix past 2 MB: the later
    # bands add into the streamed dW)
    ((1, 32, 7, 7), (64, 32, 3, 3), {"pad": 1}),
    ((1, 5, 9, 9), (20, 5, 3, 3), {"pad": 1}),
    ((1, 40, 7, 7), (24, 40, 1, 1), {}),
    ((1, 32, 10, 10), (48, 16, 3, 3), {"pad": 1, "groups": 2}),
    ((1, 1024, 16, 16), (8, 1024, 3, 3), {"pad": 1}),
    # forward outputs of 8 MB or more, written by streaming stores: in place (CIFAR10-quick's
    # conv1 at 64 images); from copied strips (dilated: not Winograd)
    ((64, 3, 32, 32), (32, 3, 5, 5), {"pad": 2}),
    ((32, 8, 32, 32), (64, 8, 3, 3), {"pad": 2, "dilation": 2}),
    # depthwise: rows past 16 outputs (an output height not a multiple of 4); a channel
    # multiplier with vertical stride and dilation; 5x5; 2x4 (no register kernel for its weight
    # gradient); 1x9 (none for any of it)
    ((2, 8, 21, 37), (8, 1, 3, 3), {"pad": 1, "groups": 8}),
    ((1, 3, 9, 20), (3, 1, 2, 4), {"pad": (1, 2), "stride": (3, 1), "groups": 3}),
    ((2, 3, 17, 19), (6, 1, 3, 3), {"pad": (2, 1), "stride": (2, 1), "dilation": (2, 1), "groups": 3}),
    ((1, 4, 11, 33), (4, 1, 5, 5), {"pad": 2, "groups": 4}),
    ((1, 4, 6, 30), (4, 1, 1, 9), {"pad": (0, 4), "groups": 4}),
])
def test_float32_conv_kernel_paths_match_torch(xs, ws, kw):
    """The float32 AVX-512 paths (masked-lane im2col/col2im, conv_gemm with copied
    strips, depthwise) on shapes that reach them, at 1 and 2 threads, against torch."""
    check_float32_conv_against_torch(xs, ws, kw, 1e-5)


@pytest.mark.skipif(torch is None, reason="torch is not installed (test extra)")
@pytest.mark.parametrize("xs,ws,kw", [
    # F(4x4, 3x3) (enough channels both sides, 48 tiles or more): partial tiles; pad 0 (its
    # input gradient padded by 2) with tiles of several images in one vector; pad 2; groups
    ((2, 64, 20, 22), (64, 64, 3, 3), {"pad": 1}),
    ((16, 48, 7, 9), (96, 48, 3, 3), {}),
    ((3, 64, 13, 13), (128, 64, 3, 3), {"pad": 2}),
    ((6, 128, 9, 10), (128, 64, 3, 3), {"pad": 1, "groups": 2}),
    # one image (ResNet-50's 28x28 planes): 49 tiles, four groups of slots, two per thread
    ((1, 64, 28, 28), (64, 64, 3, 3), {"pad": 1}),
    # few channels (8 each side; LeNet's conv2 at 48 tiles)
    ((16, 8, 12, 12), (8, 8, 3, 3), {"pad": 1}),
    ((12, 20, 12, 12), (50, 20, 5, 5), {}),
    # F(4x4, 5x5): 4 tiles a row; 7 a row with two groups (AlexNet's conv2)
    ((4, 48, 13, 13), (64, 48, 5, 5), {"pad": 2}),
    ((2, 64, 27, 27), (96, 32, 5, 5), {"pad": 2, "groups": 2}),
])
def test_float32_winograd_paths_match_torch(xs, ws, kw):
    """Winograd's float32 results against torch's direct ones, within 3e-5 of the largest
    value (its error against float64 here: up to 1e-5, the direct sum's 1.5e-6)."""
    check_float32_conv_against_torch(xs, ws, kw, 3e-5)


def check_float32_conv_against_torch(xs, ws, kw, atol):
    rng = np.random.default_rng(17)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, (ws[0],)))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=kw.get("stride", 1), padding=kw.get("pad", 0),
                                    dilation=kw.get("dilation", 1), groups=kw.get("groups", 1))
    seed = rng.standard_normal(ty.shape).astype(np.float32)
    (ty * torch.tensor(seed)).sum().backward()
    before = lamina.num_threads()
    try:
        for threads in (1, 2):
            lamina.set_num_threads(threads)
            lx, lw, lb = (lamina.tensor(a).requires_grad_() for a in (x, w, b))
            y = L.conv2d(lx, lw, lb, **kw)
            (y * lamina.tensor(seed)).sum().backward()
            for ours, theirs in ((y, ty), (lx.grad, tx.grad), (lw.grad, tw.grad), (lb.grad, tb.grad)):
                ref = theirs.detach().numpy()
                np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=atol * np.abs(ref).max())
    finally:
        lamina.set_num_threads(before)


def _has_winograd(level):
    return lamina.cpu_info()["kernels"]["winograd"] == level


def test_winograd_is_used_and_can_be_turned_off(tmp_path, each_isa):
    """A 3x3 convolution with 64 channels each side takes Winograd's F(4x4, 3x3): its float32
    result differs from the direct sum's in the last bits; LAMINA_WINOGRAD=0 (read at start)
    gives the direct sum's. Both are within float32 rounding of the float64 result."""
    script = (
        "import sys, numpy as np, lamina\n"
        "from lamina import ops\n"
        "rng = np.random.default_rng(5)\n"
        "x = rng.standard_normal((2, 64, 20, 22)).astype(np.float32)\n"
        "w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)\n"
        "y = ops.conv2d(lamina.tensor(x), lamina.tensor(w), None, pad=1)\n"
        "y64 = ops.conv2d(lamina.tensor(x.astype(np.float64)), lamina.tensor(w.astype(np.float64)), None, pad=1)\n"
        "np.save(sys.argv[1], np.asarray(y)); np.save(sys.argv[1] + '64', np.asarray(y64))\n")
    outs = {}
    for flag in ("1", "0"):
        env = dict(os.environ, LAMINA_WINOGRAD=flag, LAMINA_ISA=each_isa)
        path = str(tmp_path / f"y{flag}.npy")
        subprocess.run([sys.executable, "-c", script, path], env=env, check=True)
        outs[flag] = np.load(path), np.load(path + "64.npy")
    (wino, ref), (direct, _) = outs["1"], outs["0"]
    scale = np.abs(ref).max()
    if not _has_winograd(each_isa):  # a level without Winograd kernels: the flag changes nothing
        np.testing.assert_array_equal(wino, direct)
    else:
        assert not np.array_equal(wino, direct)
    np.testing.assert_allclose(wino, ref, atol=2e-5 * scale)
    np.testing.assert_allclose(direct, ref, atol=2e-6 * scale)


def test_winograd_is_chosen_per_direction(tmp_path, each_isa):
    """A 20 -> 50 channel 5x5 on 9x9 planes (5x5 outputs): its forward and weight gradient take
    F(4x4, 5x5) (2x2 tiles, 41 % of the direct multiplies), its input gradient (a convolution
    padded by 4 onto 9x9, 3x3 tiles: 92 %) the direct GEMM: with LAMINA_WINOGRAD=0 the output
    and dw change in the last bits, dx not at all. LeNet's conv2 (12x12 -> 8x8) takes it in
    all three directions; a 3-channel input (CIFAR10-quick's conv1) in none."""
    script = (
        "import sys, numpy as np, lamina\n"
        "from lamina import ops\n"
        "rng = np.random.default_rng(6)\n"
        "out = {}\n"
        "for name, xs, ws, pad in (('small', (12, 20, 9, 9), (50, 20, 5, 5), 0), ('lenet', (12, 20, 12, 12), (50, 20, 5, 5), 0),\n"
        "                          ('rgb', (12, 3, 16, 16), (32, 3, 5, 5), 2)):\n"
        "    x = lamina.tensor(rng.standard_normal(xs).astype(np.float32)).requires_grad_()\n"
        "    w = lamina.tensor(rng.standard_normal(ws).astype(np.float32)).requires_grad_()\n"
        "    y = ops.conv2d(x, w, None, pad=pad)\n"
        "    (y * lamina.tensor(rng.standard_normal(y.shape).astype(np.float32))).sum().backward()\n"
        "    out.update({name + k: np.asarray(v) for k, v in (('y', y), ('dx', x.grad), ('dw', w.grad))})\n"
        "np.savez(sys.argv[1], **out)\n")
    outs = {}
    for flag in ("1", "0"):
        path = str(tmp_path / f"r{flag}.npz")
        env = dict(os.environ, LAMINA_WINOGRAD=flag, LAMINA_ISA=each_isa)
        subprocess.run([sys.executable, "-c", script, path], env=env, check=True)
        outs[flag] = dict(np.load(path))
    wino, direct = outs["1"], outs["0"]
    if not _has_winograd(each_isa):  # a level without Winograd kernels: the flag changes nothing
        for key in wino:
            np.testing.assert_array_equal(wino[key], direct[key], err_msg=key)
        return
    for key in ("smally", "smalldw", "lenety", "lenetdx", "lenetdw"):
        assert not np.array_equal(wino[key], direct[key]), key
        np.testing.assert_allclose(wino[key], direct[key], atol=3e-5 * np.abs(direct[key]).max())
    for key in ("smalldx", "rgby", "rgbdx", "rgbdw"):
        np.testing.assert_array_equal(wino[key], direct[key], err_msg=key)


def test_batch_norm_running_statistics_match_torch():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 4, 4))
    rm, rv = lamina.tensor(np.zeros(3)), lamina.tensor(np.ones(3))
    for _ in range(3):
        L.batch_norm(lamina.tensor(x), rm, rv, training=True, momentum=0.2)
    np.testing.assert_allclose(np.asarray(rm), (1 - 0.8**3) * x.mean((0, 2, 3)), rtol=1e-12)
    unbiased = x.var((0, 2, 3), ddof=1)
    np.testing.assert_allclose(np.asarray(rv), 0.8**3 + (1 - 0.8**3) * unbiased, rtol=1e-12)
    y = L.batch_norm(lamina.tensor(x), rm, rv, training=False)
    shape = (1, 3, 1, 1)
    expected = (x - np.asarray(rm).reshape(shape)) / np.sqrt(np.asarray(rv).reshape(shape) + 1e-5)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12)
    if torch is not None:
        trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        for _ in range(3):
            torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
        np.testing.assert_allclose(np.asarray(rm), trm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(rv), trv.numpy(), rtol=1e-12)


def test_inference_input_gradients_do_not_read_the_input():
    """Batch norm with fixed statistics and scale_shift are affine in x: dx = dy * w * invstd
    (dy * scale), whatever x holds; an infinite x gives an infinite y but a finite dx (the
    training formula's x - mean term has a zero factor there, and 0 * inf would be NaN)."""
    x = np.array([[[1.0, np.inf], [-np.inf, 2.0]], [[0.5, 3.0], [np.nan, -1.0]]]).reshape(2, 2, 2)
    dy = np.arange(1.0, 9.0).reshape(2, 2, 2)
    mean, var, w = np.array([0.5, -1.0]), np.array([4.0, 0.25]), np.array([3.0, -2.0])
    lx = lamina.tensor(x).requires_grad_()
    y = L.batch_norm(lx, lamina.tensor(mean), lamina.tensor(var), lamina.tensor(w), None, training=False)
    (y * lamina.tensor(dy)).sum().backward()
    expected = dy * (w / np.sqrt(var + 1e-5)).reshape(1, 2, 1)
    np.testing.assert_allclose(np.asarray(lx.grad), expected, rtol=1e-14)
    lx.grad = None
    (L.scale_shift(lx, lamina.tensor(w), lamina.tensor(mean)) * lamina.tensor(dy)).sum().backward()
    np.testing.assert_array_equal(np.asarray(lx.grad), dy * w.reshape(1, 2, 1))
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.batch_norm(tx, torch.tensor(mean), torch.tensor(var), torch.tensor(w), None,
                                            training=False)
        (ty * torch.tensor(dy)).sum().backward()
        np.testing.assert_allclose(tx.grad.numpy(), expected, rtol=1e-14)


def test_dropout_is_seeded_thread_independent_and_scaled():
    x = lamina.ones(100000)
    before = lamina.num_threads()
    masks = []
    for threads in (1, 2):
        lamina.set_num_threads(threads)
        masks.append(np.asarray(L.dropout(x, 0.3, seed=42)).copy())
    lamina.set_num_threads(before)
    np.testing.assert_array_equal(masks[0], masks[1])
    assert set(np.unique(masks[0])) == {0.0, np.float32(1 / 0.7)}
    assert abs((masks[0] == 0).mean() - 0.3) < 0.01  # 30,000 expected zeros: std 0.0014
    assert not np.array_equal(masks[0], np.asarray(L.dropout(x, 0.3, seed=43)))
    lamina.manual_seed(7)
    a = np.asarray(L.dropout(x, 0.5)).copy()
    lamina.manual_seed(7)
    np.testing.assert_array_equal(a, np.asarray(L.dropout(x, 0.5)))
    assert L.dropout(x, 0.3, training=False) is not None
    np.testing.assert_array_equal(np.asarray(L.dropout(x, 0.3, training=False)), np.asarray(x))
    xg = lamina.tensor(np.linspace(1, 2, 50)).requires_grad_()
    y = L.dropout(xg, 0.5, seed=1)
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(xg.grad), np.asarray(y) / np.asarray(xg))  # the mask itself


def test_random_fills_have_their_moments():
    u = np.asarray(lamina.rand((200000,), -1.0, 3.0, seed=5))
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 0.01 and abs(u.var() - 16 / 12) < 0.02
    g = np.asarray(lamina.randn((200000,), 2.0, 0.5, dtype="float64", seed=6))
    assert abs(g.mean() - 2.0) < 0.005 and abs(g.std() - 0.5) < 0.005
    np.testing.assert_array_equal(g, np.asarray(lamina.randn((200000,), 2.0, 0.5, dtype="float64", seed=6)))


def test_argmax_first_maximum_no_gradient():
    x = lamina.tensor([[1.0, 3.0, 3.0], [5.0, -1.0, 0.0]]).requires_grad_()
    a = L.argmax(x, 1)
    np.testing.assert_array_equal(np.asarray(a), [1, 0])
    assert not a.requires_grad
    np.testing.assert_array_equal(np.asarray(L.argmax(x, 0, keepdim=True)), [[1, 0, 0]])


def test_threshold_has_no_gradient():
    x = lamina.tensor([-1.0, 0.5, 2.0]).requires_grad_()
    y = L.threshold(x, 0.6)
    np.testing.assert_array_equal(np.asarray(y), [0, 0, 1])
    assert not y.requires_grad


def test_float32_exp_is_accurate_over_the_whole_range():
    # exp's float32 kernel is our own polynomial (it vectorises): within 2 ulp of the true
    # value wherever the result is a normal float; overflow, underflow and NaN as exp.
    x = np.concatenate([np.linspace(-110, 90, 400001), [np.nan, np.inf, -np.inf, 0.0]]).astype(np.float32)
    y = np.asarray(L.exp(lamina.tensor(x))).astype(np.float64)
    ref = np.exp(x.astype(np.float64))
    normal = np.isfinite(ref) & (ref > np.finfo(np.float32).tiny) & (ref < np.finfo(np.float32).max)
    assert np.max(np.abs(y[normal] - ref[normal]) / ref[normal]) < 2 * 2.0**-23
    assert np.isnan(y[-4]) and y[-3] == np.inf and y[-2] == 0.0 and y[-1] == 1.0
    assert np.all(y[x > 88.8] == np.inf) and np.all(y[x < -104] == 0.0)


def test_float32_sigmoid_is_accurate_over_the_whole_range():
    # sigmoid's float32 kernel goes through exp(-|x|): within 4 ulp wherever the result is a
    # normal float, 0 below it, 1 far above, NaN as NaN.
    x = np.concatenate([np.linspace(-100, 40, 280001), [np.nan, np.inf, -np.inf]]).astype(np.float32)
    y = np.asarray(L.sigmoid(lamina.tensor(x))).astype(np.float64)
    ref = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    normal = np.isfinite(ref) & (ref > np.finfo(np.float32).tiny)
    assert np.max(np.abs(y[normal] - ref[normal]) / ref[normal]) < 4 * 2.0**-23
    assert np.all(np.abs(y[~normal & np.isfinite(x)]) <= np.finfo(np.float32).tiny)
    assert np.isnan(y[-3]) and y[-2] == 1.0 and y[-1] == 0.0


def test_float32_softmax_is_accurate_down_to_the_smallest_normal_probability(each_isa):
    # softmax's exponentials take x - max <= 0 with a shorter kernel than exp (flushing
    # exp(x - max) below float's normal range to 0): within the path's bound wherever the
    # probability is a normal float, and within the smallest normal float of the truth below
    # that. Bounds per path, set by how the row's sum accumulates: 4 ulp for the AVX-512
    # rows (16 lanes of partial sums), 8 for the portable rows vectorised at 8 lanes
    # (measured 7.4), 16 for the generic level's (measured 11: its float sum runs in fewer
    # lanes).
    ulps = {"avx512": 4, "avx2": 8}.get(lamina.cpu_info()["kernels"]["softmax"], 16)
    x = np.concatenate([[0.0], -np.linspace(0, 87, 20001), [-88.0, -200.0, -np.inf]]).astype(np.float32)
    for fn, ref in ((L.softmax, np.exp(x.astype(np.float64) - np.log(np.exp(x.astype(np.float64)).sum()))),
                    (L.log_softmax, x.astype(np.float64) - np.log(np.exp(x.astype(np.float64)).sum()))):
        y = np.asarray(fn(lamina.tensor(x[None]), 1))[0].astype(np.float64)
        if fn is L.softmax:
            normal = ref > np.finfo(np.float32).tiny
            assert np.max(np.abs(y[normal] - ref[normal]) / ref[normal]) < ulps * 2.0**-23
            assert np.all(np.abs(y[~normal] - ref[~normal]) <= np.finfo(np.float32).tiny)
            assert y[-2] == 0.0 and y[-1] == 0.0  # exp(-200), exp(-inf)
        else:
            np.testing.assert_allclose(y[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=2e-7, atol=1e-5)


@pytest.mark.parametrize("classes", [1, 15, 16, 17, 33, 64, 100, 1000])
def test_float32_softmax_rows_of_every_length_with_masked_and_nan_entries(classes):
    # Rows are taken 64, 32 and 16 values at a time with a masked tail (AVX-512): every
    # length against float64; -inf entries (masked logits) give probability 0 and
    # log-probability -inf; a NaN makes its row NaN, as in PyTorch.
    rng = np.random.default_rng(classes)
    x = (rng.standard_normal((5, classes)) * 10).astype(np.float32)
    if classes > 1:
        x[1, ::3] = -np.inf
        x[2, classes // 2] = np.nan
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ref_log = x64 - x64.max(1, keepdims=True)
        ref_log -= np.log(np.exp(ref_log).sum(1, keepdims=True))
    for fn, ref in ((L.softmax, np.exp(ref_log)), (L.log_softmax, ref_log)):
        y = np.asarray(fn(lamina.tensor(x), 1)).astype(np.float64)
        if classes > 1:
            assert np.all(np.isnan(y[2])), fn
            y, got_ref = np.delete(y, 2, 0), np.delete(ref, 2, 0)
        else:
            got_ref = ref
        np.testing.assert_allclose(y, got_ref, rtol=1e-6, atol=1e-7 if fn is L.softmax else 2e-5)


@pytest.mark.parametrize("shape", [(3, 1, 4, 5), (2, 3), (7,), (1, 6, 1, 2), (4, 1, 3), (3, 2500), (1, 4100)])
def test_sum_over_every_subset_of_axes(shape):
    # Contiguous blocks of reduced axes take a vectorised kernel, scattered ones an odometer:
    # every subset, with and without keepdim, against NumPy in float64.
    import itertools

    x = np.random.default_rng(3).standard_normal(shape)
    for r in range(len(shape) + 1):
        for axes in itertools.combinations(range(len(shape)), r):
            for keep in (False, True):
                got = np.asarray(L.sum(lamina.tensor(x), list(axes) if axes else None, keep))
                ref = x.sum(axis=axes if axes else None, keepdims=keep)
                assert got.shape == np.shape(ref), (axes, keep)
                np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel, stride, size", [(2, 2, 6), (2, 2, 7), (2, 2, 40), (3, 2, 7), (3, 2, 37), (5, 2, 23),
                                                  (3, 3, 6)])
def test_max_pool_ties_send_the_gradient_to_the_first_maximum(kernel, stride, size, dtype):
    # Caffe and PyTorch route a tied window's gradient to its first maximum in row-major order;
    # 2x2/2 and (float32, AVX-512) any stride-2 window have their own kernels, the others the
    # general sweep; rows past 16 outputs take several vector steps.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 3, size, size)).astype(dtype)  # many ties
    t = lamina.tensor(x).requires_grad_()
    y = L.max_pool2d(t, kernel, stride)
    y.backward(lamina.ones(*y.shape))
    want = np.zeros_like(x)
    for n, c, oh, ow in np.ndindex(*y.shape):
        window = x[n, c, oh * stride:oh * stride + kernel, ow * stride:ow * stride + kernel]
        h, w = np.unravel_index(np.argmax(window), window.shape)  # np.argmax: the first maximum
        want[n, c, oh * stride + h, ow * stride + w] += 1
        assert np.asarray(y)[n, c, oh, ow] == window.max()
    np.testing.assert_array_equal(np.asarray(t.grad), want)
