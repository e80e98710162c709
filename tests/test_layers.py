"""Every built-in layer type is a table row, checked through a net built from prototxt:
its forward against NumPy (or PyTorch for conv, pooling and LRN), and a float64
central-difference check of the gradients the tape gives for its bottoms and blobs."""

import numpy as np
import pytest

import lamina

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs the test extra
    torch = None


def std(shape, rng):
    return rng.standard_normal(shape)


def pos(shape, rng):
    return rng.uniform(0.5, 2.0, shape)


def away(shape, rng):  # keeps kinks (relu, abs, clip, max) outside the finite-difference step
    return rng.uniform(0.1, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def labels(classes):
    return lambda shape, rng: rng.integers(0, classes, shape).astype(np.float64)


def distinct(shape, rng):  # no ties between elements (max pooling, Eltwise MAX, ArgMax)
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 - 1.0


def build(layer, bottoms, phase="train", extra=""):
    """A net of Input layers for `bottoms` ({name: array}) followed by `layer`."""
    text = ["force_backward: true"]
    for name, a in bottoms.items():
        dims = " ".join(f"dim: {d}" for d in a.shape)
        text.append(f'layer {{ name: "in_{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }} }}')
    text.append(layer)
    text.append(extra)
    return "\n".join(text)


def tops_of(net, layer_name):
    return [lamina_layer for lamina_layer in net.layers if lamina_layer.name == layer_name][0].tops


def conv_ref(b, p):
    return [F.conv2d(t(b["x"]), t(p[0]), t(p[1]), stride=2, padding=1, groups=2).numpy()]


def t(a):
    return torch.from_numpy(np.asarray(a, np.float64))


def softmax(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def lstm_ref(b, p, hidden=3):
    x, cont = b["x"], b["cont"]
    w_x, bias, w_h = p
    steps, n = cont.shape
    h, c = np.zeros((n, hidden)), np.zeros((n, hidden))
    out = []
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for s in range(steps):
        k = cont[s][:, None]
        g = x[s].reshape(n, -1) @ w_x.T + bias + (h * k) @ w_h.T
        i, f, o, cand = sig(g[:, :hidden]), sig(g[:, hidden:2 * hidden]), sig(g[:, 2 * hidden:3 * hidden]), np.tanh(g[:, 3 * hidden:])
        c = k * f * c + i * cand
        h = o * np.tanh(c)
        out.append(h)
    return [np.stack(out)]


def rnn_ref(b, p, hidden=3):
    x, cont = b["x"], b["cont"]
    w_x, bias, w_h, w_o, b_o = p
    steps, n = cont.shape
    h, out = np.zeros((n, hidden)), []
    for s in range(steps):
        h = np.tanh(x[s].reshape(n, -1) @ w_x.T + bias + (h * cont[s][:, None]) @ w_h.T)
        out.append(np.tanh(h @ w_o.T + b_o))
    return [np.stack(out)]


def hinge_ref(b, p, power):
    x, y = b["x"], b["y"].astype(int)
    tt = -np.ones_like(x)
    tt[np.arange(len(y)), y] = 1
    return [np.sum(np.maximum(0, 1 - tt * x) ** power) / x.shape[0]]


def contrastive_ref(b, p, margin=1.0):
    d2 = ((b["a"] - b["b"]) ** 2).sum(1)
    y = b["y"]
    far = np.maximum(margin - np.sqrt(d2), 0) ** 2
    return [np.sum(y * d2 + (1 - y) * far) / (2 * len(y))]


def bn_ref(b, p):
    x = b["x"]
    m = x.mean(axis=(0, 2, 3), keepdims=True)
    v = x.var(axis=(0, 2, 3), keepdims=True)
    return [(x - m) / np.sqrt(v + 1e-5)]


def mvn_ref(b, p, across=False, variance=True):
    x = b["x"]
    flat = x.reshape(x.shape[0] if across else x.shape[0] * x.shape[1], -1)
    c = flat - flat.mean(1, keepdims=True)
    if variance:
        c = c / (np.sqrt((c**2).mean(1, keepdims=True)) + 1e-9)
    return [c.reshape(x.shape)]


def lrn_within_ref(b, p, size=3, alpha=0.5, beta=0.75):
    x = b["x"]
    pad = size // 2
    sq = np.pad(x**2, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    s = np.zeros_like(x)
    for i in range(size):
        for j in range(size):
            s += sq[:, :, i:i + x.shape[2], j:j + x.shape[3]]
    return [x / (1 + alpha / size**2 * s) ** beta]


def accuracy_ref(b, p, k):
    x, y = b["x"], b["y"].astype(int)
    rank = (x > x[np.arange(len(y)), y][:, None]).sum(1)
    return [np.mean(rank < k)]


def torch_recurrent_ref(kind, nonlinearity="tanh"):
    """PyTorch's LSTM/GRU/RNN in float64 with the layer's blobs and initial states."""
    def ref(b, p):
        extra = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
        m = getattr(torch.nn, kind)(b["x"].shape[2], p[2].shape[1], **extra).double()
        with torch.no_grad():
            for name, blob in zip(["weight_ih_l0", "bias_ih_l0", "weight_hh_l0", "bias_hh_l0"], p):
                getattr(m, name).copy_(t(blob))
            state = (t(b["h0"])[None], t(b["c0"])[None]) if kind == "LSTM" else t(b["h0"])[None]
            y, h = m(t(b["x"]), state)
        return [y.numpy()] + [s[0].numpy() for s in (h if kind == "LSTM" else (h,))]
    return ref


# id, layer prototxt (bottoms and tops named in it), {bottom: (shape, generator)},
# reference(bottoms, blobs) -> [tops], options
FILL = 'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 }'
ROWS = [
    ("Convolution", f'layer {{ name: "L" type: "Convolution" bottom: "x" top: "t" convolution_param {{ num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 2 {FILL} }} }}',
     {"x": ((2, 4, 7, 7), std)}, conv_ref, {"torch": True}),
    ("Convolution_hw", f'layer {{ name: "L" type: "Convolution" bottom: "x" top: "t" convolution_param {{ num_output: 3 kernel_h: 3 kernel_w: 1 stride_h: 2 pad_w: 1 dilation: 2 {FILL} }} }}',
     {"x": ((1, 2, 9, 5), std)},
     lambda b, p: [F.conv2d(t(b["x"]), t(p[0]), t(p[1]), stride=(2, 1), padding=(0, 1), dilation=2).numpy()], {"torch": True}),
    ("Deconvolution", f'layer {{ name: "L" type: "Deconvolution" bottom: "x" top: "t" convolution_param {{ num_output: 3 kernel_size: 4 stride: 2 pad: 1 {FILL} }} }}',
     {"x": ((2, 2, 3, 3), std)},
     lambda b, p: [F.conv_transpose2d(t(b["x"]), t(p[0]), t(p[1]), stride=2, padding=1).numpy()], {"torch": True}),
    ("Pooling_max", 'layer { name: "L" type: "Pooling" bottom: "x" top: "t" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }',
     {"x": ((2, 3, 8, 8), distinct)},
     lambda b, p: [F.max_pool2d(t(b["x"]), 3, 2, ceil_mode=True).numpy()], {"torch": True}),
    ("Pooling_ave", 'layer { name: "L" type: "Pooling" bottom: "x" top: "t" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }',
     {"x": ((2, 3, 7, 7), std)},
     lambda b, p: [F.avg_pool2d(t(b["x"]), 3, 2, 1, ceil_mode=True, count_include_pad=True).numpy()], {"torch": True}),
    ("Pooling_global", 'layer { name: "L" type: "Pooling" bottom: "x" top: "t" pooling_param { pool: AVE global_pooling: true } }',
     {"x": ((2, 3, 5, 4), std)}, lambda b, p: [b["x"].mean(axis=(2, 3), keepdims=True)], {}),
    ("InnerProduct", f'layer {{ name: "L" type: "InnerProduct" bottom: "x" top: "t" inner_product_param {{ num_output: 5 {FILL} }} }}',
     {"x": ((3, 2, 2, 2), std)}, lambda b, p: [b["x"].reshape(3, -1) @ p[0].T + p[1]], {}),
    ("InnerProduct_axis2_transpose", f'layer {{ name: "L" type: "InnerProduct" bottom: "x" top: "t" inner_product_param {{ num_output: 4 axis: 2 transpose: true {FILL} }} }}',
     {"x": ((2, 3, 5), std)}, lambda b, p: [b["x"] @ p[0] + p[1]], {}),
    ("Embed", f'layer {{ name: "L" type: "Embed" bottom: "x" top: "t" embed_param {{ num_output: 3 input_dim: 6 {FILL} }} }}',
     {"x": ((2, 4), labels(6))}, lambda b, p: [p[0][b["x"].astype(int)] + p[1]], {"no_grad": ["x"]}),
    ("ReLU", 'layer { name: "L" type: "ReLU" bottom: "x" top: "t" }', {"x": ((3, 4), away)},
     lambda b, p: [np.maximum(b["x"], 0)], {}),
    ("ReLU_leaky_inplace", 'layer { name: "L" type: "ReLU" bottom: "x" top: "x" relu_param { negative_slope: 0.1 } }',
     {"x": ((3, 4), away)}, lambda b, p: [np.where(b["x"] > 0, b["x"], 0.1 * b["x"])], {}),
    ("PReLU", 'layer { name: "L" type: "PReLU" bottom: "x" top: "t" prelu_param { filler { type: "uniform" min: 0.1 max: 0.5 } } }',
     {"x": ((2, 3, 2, 2), away)}, lambda b, p: [np.where(b["x"] > 0, b["x"], p[0].reshape(1, 3, 1, 1) * b["x"])], {}),
    ("ELU", 'layer { name: "L" type: "ELU" bottom: "x" top: "t" elu_param { alpha: 0.5 } }', {"x": ((7,), away)},
     lambda b, p: [np.where(b["x"] > 0, b["x"], 0.5 * (np.exp(b["x"]) - 1))], {}),
    ("Sigmoid", 'layer { name: "L" type: "Sigmoid" bottom: "x" top: "t" }', {"x": ((2, 5), std)},
     lambda b, p: [1 / (1 + np.exp(-b["x"]))], {}),
    ("TanH", 'layer { name: "L" type: "TanH" bottom: "x" top: "t" }', {"x": ((2, 5), std)}, lambda b, p: [np.tanh(b["x"])], {}),
    ("AbsVal", 'layer { name: "L" type: "AbsVal" bottom: "x" top: "t" }', {"x": ((6,), away)}, lambda b, p: [np.abs(b["x"])], {}),
    ("BNLL", 'layer { name: "L" type: "BNLL" bottom: "x" top: "t" }', {"x": ((6,), std)}, lambda b, p: [np.logaddexp(0, b["x"])], {}),
    ("Power", 'layer { name: "L" type: "Power" bottom: "x" top: "t" power_param { power: 2 scale: 0.5 shift: 1 } }',
     {"x": ((5,), std)}, lambda b, p: [(1 + 0.5 * b["x"]) ** 2], {}),
    ("Exp", 'layer { name: "L" type: "Exp" bottom: "x" top: "t" exp_param { base: 2 scale: 0.5 shift: 0.1 } }',
     {"x": ((5,), std)}, lambda b, p: [2.0 ** (0.1 + 0.5 * b["x"])], {}),
    ("Log", 'layer { name: "L" type: "Log" bottom: "x" top: "t" log_param { base: 10 scale: 2 shift: 0.5 } }',
     {"x": ((5,), pos)}, lambda b, p: [np.log10(0.5 + 2 * b["x"])], {}),
    ("Threshold", 'layer { name: "L" type: "Threshold" bottom: "x" top: "t" threshold_param { threshold: 0.2 } }',
     {"x": ((8,), away)}, lambda b, p: [(b["x"] > 0.2).astype(float)], {"no_grad": ["x"]}),
    ("Clip", 'layer { name: "L" type: "Clip" bottom: "x" top: "t" clip_param { min: -0.5 max: 0.6 } }',
     {"x": ((8,), away)}, lambda b, p: [np.clip(b["x"], -0.5, 0.6)], {}),
    ("Dropout_test", 'layer { name: "L" type: "Dropout" bottom: "x" top: "t" dropout_param { dropout_ratio: 0.3 } }',
     {"x": ((4, 3), std)}, lambda b, p: [b["x"]], {"phase": "test"}),
    ("Swish", 'layer { name: "L" type: "Swish" bottom: "x" top: "t" swish_param { beta: 1.5 } }',
     {"x": ((6,), std)}, lambda b, p: [b["x"] / (1 + np.exp(-1.5 * b["x"]))], {}),
    ("Softmax", 'layer { name: "L" type: "Softmax" bottom: "x" top: "t" }', {"x": ((3, 4, 2), std)},
     lambda b, p: [softmax(b["x"], 1)], {}),
    ("BatchNorm_train", 'layer { name: "L" type: "BatchNorm" bottom: "x" top: "t" }', {"x": ((4, 3, 2, 2), std)}, bn_ref, {}),
    ("Scale", 'layer { name: "L" type: "Scale" bottom: "x" top: "t" scale_param { bias_term: true filler { type: "gaussian" } bias_filler { type: "gaussian" } } }',
     {"x": ((2, 3, 2, 2), std)}, lambda b, p: [b["x"] * p[0].reshape(1, 3, 1, 1) + p[1].reshape(1, 3, 1, 1)], {}),
    ("Scale_two_bottoms", 'layer { name: "L" type: "Scale" bottom: "x" bottom: "s" top: "t" scale_param { axis: 0 } }',
     {"x": ((2, 3, 2), std), "s": ((2, 3), std)}, lambda b, p: [b["x"] * b["s"][:, :, None]], {}),
    ("Bias", 'layer { name: "L" type: "Bias" bottom: "x" top: "t" bias_param { num_axes: 2 filler { type: "gaussian" } } }',
     {"x": ((2, 3, 4), std)}, lambda b, p: [b["x"] + p[0][None]], {}),
    ("LRN", 'layer { name: "L" type: "LRN" bottom: "x" top: "t" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }',
     {"x": ((2, 5, 3, 3), std)}, lambda b, p: [F.local_response_norm(t(b["x"]), 3, 0.5, 0.75, 2.0).numpy()], {"torch": True}),
    ("LRN_within", 'layer { name: "L" type: "LRN" bottom: "x" top: "t" lrn_param { local_size: 3 alpha: 0.5 norm_region: WITHIN_CHANNEL } }',
     {"x": ((2, 2, 4, 4), std)}, lrn_within_ref, {}),
    ("MVN", 'layer { name: "L" type: "MVN" bottom: "x" top: "t" }', {"x": ((2, 3, 3, 3), std)}, mvn_ref, {}),
    ("MVN_across_mean_only", 'layer { name: "L" type: "MVN" bottom: "x" top: "t" mvn_param { across_channels: true normalize_variance: false } }',
     {"x": ((2, 3, 3, 3), std)}, lambda b, p: mvn_ref(b, p, True, False), {}),
    ("SoftmaxWithLoss", 'layer { name: "L" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "t" top: "prob" }',
     {"x": ((4, 5), std), "y": ((4,), labels(5))},
     lambda b, p: [-np.mean(np.log(softmax(b["x"]))[np.arange(4), b["y"].astype(int)]), softmax(b["x"])],
     {"no_grad": ["y"]}),
    ("SoftmaxWithLoss_spatial_ignore", 'layer { name: "L" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "t" loss_param { ignore_label: 1 } }',
     {"x": ((2, 3, 2, 2), std), "y": ((2, 1, 2, 2), labels(3))},
     lambda b, p: [(lambda lp, y: -lp[y != 1].mean() if (y != 1).any() else 0.0)(
         np.take_along_axis(np.log(softmax(b["x"])), b["y"].astype(int), 1).ravel(), b["y"].ravel())],
     {"no_grad": ["y"]}),
    ("EuclideanLoss", 'layer { name: "L" type: "EuclideanLoss" bottom: "a" bottom: "b" top: "t" }',
     {"a": ((3, 4), std), "b": ((3, 4), std)}, lambda b, p: [((b["a"] - b["b"]) ** 2).sum() / 6], {}),
    ("HingeLoss_L1", 'layer { name: "L" type: "HingeLoss" bottom: "x" bottom: "y" top: "t" }',
     {"x": ((4, 3), away), "y": ((4,), labels(3))}, lambda b, p: hinge_ref(b, p, 1), {"no_grad": ["y"]}),
    ("HingeLoss_L2", 'layer { name: "L" type: "HingeLoss" bottom: "x" bottom: "y" top: "t" hinge_loss_param { norm: L2 } }',
     {"x": ((4, 3), away), "y": ((4,), labels(3))}, lambda b, p: hinge_ref(b, p, 2), {"no_grad": ["y"]}),
    ("SigmoidCrossEntropyLoss", 'layer { name: "L" type: "SigmoidCrossEntropyLoss" bottom: "x" bottom: "y" top: "t" }',
     {"x": ((3, 4), std), "y": ((3, 4), lambda s, r: r.uniform(0, 1, s))},
     lambda b, p: [np.mean(np.logaddexp(0, b["x"]) - b["y"] * b["x"])], {"no_grad": ["y"]}),
    ("ContrastiveLoss", 'layer { name: "L" type: "ContrastiveLoss" bottom: "a" bottom: "b" bottom: "y" top: "t" contrastive_loss_param { margin: 2 } }',
     {"a": ((6, 3), std), "b": ((6, 3), std), "y": ((6,), labels(2))}, lambda b, p: contrastive_ref(b, p, 2.0),
     {"no_grad": ["y"]}),
    ("MultinomialLogisticLoss", 'layer { name: "L" type: "MultinomialLogisticLoss" bottom: "x" bottom: "y" top: "t" }',
     {"x": ((4, 3), pos), "y": ((4,), labels(3))},
     lambda b, p: [-np.mean(np.log(b["x"][np.arange(4), b["y"].astype(int)]))], {"no_grad": ["y"]}),
    ("InfogainLoss", 'layer { name: "L" type: "InfogainLoss" bottom: "x" bottom: "y" bottom: "H" top: "t" }',
     {"x": ((4, 3), pos), "y": ((4,), labels(3)), "H": ((3, 3), pos)},
     lambda b, p: [-np.sum(b["H"][b["y"].astype(int)] * np.log(b["x"])) / 4], {"no_grad": ["y", "H"]}),
    ("Accuracy_top2", 'layer { name: "L" type: "Accuracy" bottom: "x" bottom: "y" top: "t" accuracy_param { top_k: 2 } }',
     {"x": ((20, 5), distinct), "y": ((20,), labels(5))}, lambda b, p: accuracy_ref(b, p, 2), {"no_grad": ["x", "y"]}),
    ("Concat", 'layer { name: "L" type: "Concat" bottom: "a" bottom: "b" top: "t" concat_param { axis: 1 } }',
     {"a": ((2, 2, 3), std), "b": ((2, 1, 3), std)}, lambda b, p: [np.concatenate([b["a"], b["b"]], 1)], {}),
    ("Slice", 'layer { name: "L" type: "Slice" bottom: "x" top: "t" top: "u" top: "v" slice_param { axis: 1 slice_point: 1 slice_point: 3 } }',
     {"x": ((2, 5), std)}, lambda b, p: [b["x"][:, :1], b["x"][:, 1:3], b["x"][:, 3:]], {}),
    ("Split", 'layer { name: "L" type: "Split" bottom: "x" top: "t" top: "u" }', {"x": ((2, 3), std)},
     lambda b, p: [b["x"], b["x"]], {}),
    ("Eltwise_sum_coeff", 'layer { name: "L" type: "Eltwise" bottom: "a" bottom: "b" top: "t" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 } }',
     {"a": ((2, 3), std), "b": ((2, 3), std)}, lambda b, p: [b["a"] - 0.5 * b["b"]], {}),
    ("Eltwise_prod", 'layer { name: "L" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "t" eltwise_param { operation: PROD } }',
     {"a": ((2, 3), std), "b": ((2, 3), std), "c": ((2, 3), std)}, lambda b, p: [b["a"] * b["b"] * b["c"]], {}),
    ("Eltwise_max", 'layer { name: "L" type: "Eltwise" bottom: "a" bottom: "b" top: "t" eltwise_param { operation: MAX } }',
     {"a": ((2, 3), distinct), "b": ((2, 3), lambda s, r: distinct(s, r) + 0.05)}, lambda b, p: [np.maximum(b["a"], b["b"])], {}),
    ("Flatten", 'layer { name: "L" type: "Flatten" bottom: "x" top: "t" flatten_param { axis: 1 end_axis: 2 } }',
     {"x": ((2, 3, 4, 2), std)}, lambda b, p: [b["x"].reshape(2, 12, 2)], {}),
    ("Reshape", 'layer { name: "L" type: "Reshape" bottom: "x" top: "t" reshape_param { shape { dim: 0 dim: -1 dim: 2 } } }',
     {"x": ((2, 3, 4), std)}, lambda b, p: [b["x"].reshape(2, 6, 2)], {}),
    ("Crop", 'layer { name: "L" type: "Crop" bottom: "x" bottom: "r" top: "t" crop_param { axis: 2 offset: 1 offset: 2 } }',
     {"x": ((2, 2, 5, 6), std), "r": ((2, 2, 3, 3), std)}, lambda b, p: [b["x"][:, :, 1:4, 2:5]], {"no_grad": ["r"]}),
    ("Tile", 'layer { name: "L" type: "Tile" bottom: "x" top: "t" tile_param { axis: 1 tiles: 3 } }',
     {"x": ((2, 2, 3), std)}, lambda b, p: [np.tile(b["x"], (1, 3, 1))], {}),
    ("Reduction_sum", 'layer { name: "L" type: "Reduction" bottom: "x" top: "t" reduction_param { axis: 1 coeff: 2 } }',
     {"x": ((3, 2, 4), std)}, lambda b, p: [2 * b["x"].sum(axis=(1, 2))], {}),
    ("Reduction_asum", 'layer { name: "L" type: "Reduction" bottom: "x" top: "t" reduction_param { operation: ASUM } }',
     {"x": ((3, 2), away)}, lambda b, p: [np.abs(b["x"]).sum()], {}),
    ("Reduction_sumsq", 'layer { name: "L" type: "Reduction" bottom: "x" top: "t" reduction_param { operation: SUMSQ axis: -1 } }',
     {"x": ((3, 2), std)}, lambda b, p: [(b["x"] ** 2).sum(1)], {}),
    ("Reduction_mean", 'layer { name: "L" type: "Reduction" bottom: "x" top: "t" reduction_param { operation: MEAN axis: 1 } }',
     {"x": ((3, 2, 2), std)}, lambda b, p: [b["x"].mean(axis=(1, 2))], {}),
    ("ArgMax", 'layer { name: "L" type: "ArgMax" bottom: "x" top: "t" argmax_param { top_k: 2 out_max_val: true } }',
     {"x": ((3, 5), distinct)},
     lambda b, p: [np.stack([np.argsort(-b["x"], 1)[:, :2], -np.sort(-b["x"], 1)[:, :2]], 1)], {"no_grad": ["x"]}),
    ("ArgMax_axis", 'layer { name: "L" type: "ArgMax" bottom: "x" top: "t" argmax_param { axis: 1 } }',
     {"x": ((3, 4, 2), distinct)}, lambda b, p: [np.argmax(b["x"], 1)[:, None, :]], {"no_grad": ["x"]}),
    # lamina's layers for general graphs (layers/tensor.cpp)
    ("Parameter", 'layer { name: "L" type: "Parameter" top: "t" parameter_param { shape { dim: 2 dim: 3 } } }', {},
     lambda b, p: [p[0]], {}),
    ("Permute", 'layer { name: "L" type: "Permute" bottom: "x" top: "t" permute_param { order: 2 order: 0 } }',
     {"x": ((2, 3, 4), std)}, lambda b, p: [np.transpose(b["x"], (2, 0, 1))], {}),
    ("MatMul_batched_broadcast", 'layer { name: "L" type: "MatMul" bottom: "a" bottom: "b" top: "t" }',
     {"a": ((2, 1, 3, 4), std), "b": ((3, 4, 5), std)}, lambda b, p: [b["a"] @ b["b"]], {}),
    ("MatMul_vector_by_batch", 'layer { name: "L" type: "MatMul" bottom: "a" bottom: "b" top: "t" }',
     {"a": ((4,), std), "b": ((2, 4, 3), std)}, lambda b, p: [b["a"] @ b["b"]], {}),
    ("MatMul_batch_by_matrix", 'layer { name: "L" type: "MatMul" bottom: "a" bottom: "b" top: "t" }',
     {"a": ((2, 3, 4), std), "b": ((4, 2), std)}, lambda b, p: [b["a"] @ b["b"]], {}),
    ("Arithmetic_sub_broadcast", 'layer { name: "L" type: "Arithmetic" bottom: "a" bottom: "b" top: "t" arithmetic_param { operation: SUB } }',
     {"a": ((2, 3, 4), std), "b": ((3, 1), std)}, lambda b, p: [b["a"] - b["b"]], {}),
    ("Arithmetic_div", 'layer { name: "L" type: "Arithmetic" bottom: "a" bottom: "b" top: "t" arithmetic_param { operation: DIV } }',
     {"a": ((3, 4), std), "b": ((4,), pos)}, lambda b, p: [b["a"] / b["b"]], {}),
    ("Arithmetic_pow", 'layer { name: "L" type: "Arithmetic" bottom: "a" bottom: "b" top: "t" arithmetic_param { operation: POW } }',
     {"a": ((3, 4), pos), "b": ((3, 1), std)}, lambda b, p: [b["a"] ** b["b"]], {}),
    ("Arithmetic_max", 'layer { name: "L" type: "Arithmetic" bottom: "a" bottom: "b" top: "t" arithmetic_param { operation: MAX } }',
     {"a": ((3, 4), std), "b": ((3, 4), std)}, lambda b, p: [np.maximum(b["a"], b["b"])], {}),
    ("Arithmetic_min", 'layer { name: "L" type: "Arithmetic" bottom: "a" bottom: "b" top: "t" arithmetic_param { operation: MIN } }',
     {"a": ((2, 4), std), "b": ((4,), std)}, lambda b, p: [np.minimum(b["a"], b["b"])], {}),
    ("Gather_indices_in_param", 'layer { name: "L" type: "Gather" bottom: "x" top: "t" gather_param { axis: 1 index: 4 index: -1 index: 0 index: 4 index_shape { dim: 2 dim: 2 } } }',
     {"x": ((3, 5, 2), std)}, lambda b, p: [np.take(b["x"], [[4, -1], [0, 4]], axis=1)], {}),
    ("Gather_scalar_drops_the_axis", 'layer { name: "L" type: "Gather" bottom: "x" top: "t" gather_param { axis: -1 index: 2 index_shape { } } }',
     {"x": ((3, 4), std)}, lambda b, p: [b["x"][:, 2]], {}),
    ("Gather_indices_from_bottom", 'layer { name: "L" type: "Gather" bottom: "x" bottom: "i" top: "t" }',
     {"x": ((5, 3), std), "i": ((2, 2), labels(5))}, lambda b, p: [b["x"][b["i"].astype(int)]], {"no_grad": ["i"]}),
    ("LogSoftmax", 'layer { name: "L" type: "LogSoftmax" bottom: "x" top: "t" softmax_param { axis: 1 } }',
     {"x": ((2, 3, 4), std)}, lambda b, p: [np.log(softmax(b["x"], 1))], {}),
    ("SequenceLSTM", f'layer {{ name: "L" type: "SequenceLSTM" bottom: "x" bottom: "h0" bottom: "c0" top: "y" top: "h" top: "c" recurrent_param {{ num_output: 3 {FILL} }} }}',
     {"x": ((4, 2, 5), std), "h0": ((2, 3), std), "c0": ((2, 3), std)}, torch_recurrent_ref("LSTM"), {"torch": True}),
    ("SequenceGRU", f'layer {{ name: "L" type: "SequenceGRU" bottom: "x" bottom: "h0" top: "y" top: "h" recurrent_param {{ num_output: 3 {FILL} }} }}',
     {"x": ((4, 2, 5), std), "h0": ((2, 3), std)}, torch_recurrent_ref("GRU"), {"torch": True}),
    ("SequenceRNN_relu", f'layer {{ name: "L" type: "SequenceRNN" bottom: "x" bottom: "h0" top: "y" recurrent_param {{ num_output: 3 nonlinearity: "relu" {FILL} }} }}',
     {"x": ((4, 2, 5), std), "h0": ((2, 3), pos)}, lambda b, p: torch_recurrent_ref("RNN", "relu")(b, p)[:1], {"torch": True}),
    ("LSTM", f'layer {{ name: "L" type: "LSTM" bottom: "x" bottom: "cont" top: "t" recurrent_param {{ num_output: 3 {FILL} }} }}',
     {"x": ((4, 2, 3), std), "cont": ((4, 2), lambda s, r: np.array([[0, 0], [1, 1], [1, 0], [1, 1]], float))},
     lstm_ref, {"no_grad": ["cont"]}),
    ("RNN", f'layer {{ name: "L" type: "RNN" bottom: "x" bottom: "cont" top: "t" recurrent_param {{ num_output: 3 {FILL} }} }}',
     {"x": ((3, 2, 2), std), "cont": ((3, 2), lambda s, r: np.array([[0, 0], [1, 1], [0, 1]], float))},
     rnn_ref, {"no_grad": ["cont"]}),
]


def make_inputs(spec, rng):
    return {name: gen(shape, rng).astype(np.float64) for name, (shape, gen) in spec.items()}


def net_loss(net):
    return sum(float(net.blobs[f"loss_{top}"].data) for top in net._checked_tops)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_layer(row):
    name, layer, spec, ref, opt = row
    if opt.get("torch") and torch is None:  # pragma: no cover - CI installs torch
        pytest.skip("torch is a test extra")
    rng = np.random.default_rng(7)
    lamina.manual_seed(3)
    bottoms = make_inputs(spec, rng)
    phase = opt.get("phase", "train")

    # Forward against the reference, float64 and float32.
    net = lamina.Net(build(layer, bottoms), phase=phase, dtype="float64")
    net.forward(**bottoms)
    tops = tops_of(net, "L")
    params = [p.data.copy() for p in net.params.get("L", [])]
    expected = ref(bottoms, params)
    for top, want in zip(tops, expected):
        np.testing.assert_allclose(net.blobs[top].data, want, rtol=1e-10, atol=1e-12, err_msg=f"{name} top {top}")
    net32 = lamina.Net(build(layer, bottoms), phase=phase, dtype="float32")
    for p32, p in zip(net32.params.get("L", []), params):
        p32.data[...] = p
    net32.forward(**bottoms)
    for top, want in zip(tops, expected):
        np.testing.assert_allclose(net32.blobs[top].data, want, rtol=2e-4, atol=2e-5, err_msg=f"{name} float32 {top}")

    # Gradients: loss = sum over tops of sum(top * R) with fixed random R.
    no_grad = set(opt.get("no_grad", []))
    checked = [n for n in bottoms if n not in no_grad]
    if not checked and not params:
        return
    extra = []
    weights = {}
    for top, want in zip(tops, expected):
        shape = np.shape(want)
        weights[f"R_{top}"] = rng.standard_normal(shape)
        dims = " ".join(f"dim: {d}" for d in shape)
        extra.append(f'layer {{ name: "in_R_{top}" type: "Input" top: "R_{top}" input_param {{ shape {{ {dims} }} }} }}')
        extra.append(f'layer {{ name: "p_{top}" type: "Eltwise" bottom: "{top}" bottom: "R_{top}" top: "p_{top}" eltwise_param {{ operation: PROD }} }}')
        extra.append(f'layer {{ name: "s_{top}" type: "Reduction" bottom: "p_{top}" top: "loss_{top}" loss_weight: 1 }}')
    # The tested layer's own loss (loss layers weigh their top 1 by default) is switched off.
    silenced = layer.rstrip()[:-1] + " loss_weight: 0" * len(tops) + " }"
    gnet = lamina.Net(build(silenced, bottoms, extra="\n".join(extra)), phase=phase, dtype="float64")
    gnet._checked_tops = tops
    for pg, p in zip(gnet.params.get("L", []), params):
        pg.data[...] = p
    feed = dict(bottoms, **weights)
    gnet.forward(**feed)
    gnet.backward()
    analytic = {n: gnet.blobs[n].diff.copy() for n in checked}
    analytic.update({i: p.diff.copy() for i, p in enumerate(gnet.params.get("L", [])) if p.lr_mult})

    eps = 1e-6
    for key, grad in analytic.items():
        target = feed[key] if isinstance(key, str) else gnet.params["L"][key].data
        flat = target.reshape(-1)
        picks = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
        for k in picks:
            old = flat[k]
            flat[k] = old + eps
            if isinstance(key, str):
                gnet.forward(**feed)
            else:
                gnet.forward()
            up = net_loss(gnet)
            flat[k] = old - eps
            if isinstance(key, str):
                gnet.forward(**feed)
            else:
                gnet.forward()
            down = net_loss(gnet)
            flat[k] = old
            numeric = (up - down) / (2 * eps)
            assert abs(grad.reshape(-1)[k] - numeric) <= 1e-5 * max(1.0, abs(numeric)), (
                f"{name}: d loss / d {key}[{k}]: tape {grad.reshape(-1)[k]}, numeric {numeric}"
            )


def test_every_caffe_layer_type_in_the_issue_is_registered():
    wanted = """Input DummyData MemoryData Convolution Deconvolution Pooling InnerProduct Embed ReLU PReLU ELU
    Sigmoid TanH AbsVal BNLL Power Exp Log Threshold Clip Dropout BatchNorm Scale Bias LRN MVN Softmax
    SoftmaxWithLoss EuclideanLoss HingeLoss SigmoidCrossEntropyLoss ContrastiveLoss MultinomialLogisticLoss
    InfogainLoss Accuracy Concat Slice Split Eltwise Flatten Reshape Crop Tile Reduction ArgMax Silence
    Python LSTM RNN Data HDF5Data ImageData WindowData""".split()
    assert not set(wanted) - set(lamina.layer_types())


def test_dropout_train_zeroes_and_scales():
    lamina.manual_seed(5)
    net = lamina.Net(build('layer { name: "L" type: "Dropout" bottom: "x" top: "t" dropout_param { dropout_ratio: 0.25 } }',
                           {"x": np.ones((100, 100))}), phase="train")
    out = net.forward(x=np.ones((100, 100)))["t"]
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)


def test_batchnorm_running_statistics_follow_caffe():
    # Caffe: blob0 += batch mean, blob1 += unbiased variance, blob2 = 0.999 * blob2 + 1 (after decay).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 2, 3, 3))
    text = build('layer { name: "L" type: "BatchNorm" bottom: "x" top: "t" }', {"x": x})
    net = lamina.Net(text, phase="train", dtype="float64")
    for p in net.params["L"]:
        np.testing.assert_array_equal(p.data, 0)  # the build's trial run left no trace
    net.forward(x=x)
    mean, var, weight = (p.data for p in net.params["L"])
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)
    np.testing.assert_allclose(weight, [1.0])
    test_net = lamina.Net(text, phase="test", dtype="float64")
    for src, dst in zip(net.params["L"], test_net.params["L"]):
        dst.data[...] = src.data
    y = test_net.forward(x=x)["t"]
    want = (x - mean.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-10)
    assert all(p.lr_mult == 0 for p in net.params["L"])


def test_dummy_data_and_memory_data():
    net = lamina.Net("""
      layer { name: "d" type: "DummyData" top: "a" top: "b"
              dummy_data_param { shape { dim: 2 dim: 3 } shape { dim: 4 }
                                 data_filler { type: "constant" value: 1.5 } data_filler { type: "uniform" min: 2 max: 3 } } }
      layer { name: "m" type: "MemoryData" top: "x" top: "y"
              memory_data_param { batch_size: 5 channels: 1 height: 2 width: 2 } }
    """, phase="test")
    out = net.forward()
    np.testing.assert_array_equal(out["a"], np.full((2, 3), 1.5, np.float32))
    assert out["b"].shape == (4,) and (out["b"] >= 2).all() and (out["b"] < 3).all()
    assert net.inputs == ["x", "y"]
    assert net.blobs["x"].shape == (5, 1, 2, 2) and net.blobs["y"].shape == (5,)


@pytest.mark.parametrize(
    "filler, check",
    [
        ('type: "constant" value: 0.5', lambda w: np.all(w == 0.5)),
        ('type: "uniform" min: -0.1 max: 0.3', lambda w: w.min() >= -0.1 and w.max() < 0.3 and abs(w.mean() - 0.1) < 0.01),
        ('type: "gaussian" mean: 1 std: 0.1', lambda w: abs(w.mean() - 1) < 0.01 and abs(w.std() - 0.1) < 0.01),
        ('type: "gaussian" std: 1 sparse: 10', lambda w: abs((w != 0).mean() - 10 / 64) < 0.02),
        ('type: "xavier"', lambda w: abs(w.max()) <= np.sqrt(3 / 300) and abs(w.std() - np.sqrt(1 / 300)) < 0.002),
        ('type: "xavier" variance_norm: FAN_OUT', lambda w: abs(w.max()) <= np.sqrt(3 / 1600)),
        ('type: "msra" variance_norm: AVERAGE', lambda w: abs(w.std() - np.sqrt(2 / 950)) < 0.002),
        ('type: "positive_unitball"', lambda w: np.allclose(w.reshape(64, -1).sum(1), 1) and (w >= 0).all()),
    ],
)
def test_fillers(filler, check):
    # A [64, 12, 5, 5] convolution: fan_in 300, fan_out 1600.
    lamina.manual_seed(11)
    net = lamina.Net(build(f'layer {{ name: "L" type: "Convolution" bottom: "x" top: "t" convolution_param {{ num_output: 64 kernel_size: 5 weight_filler {{ {filler} }} }} }}',
                           {"x": np.zeros((1, 12, 5, 5))}), phase="test")
    assert check(net.params["L"][0].data.astype(np.float64))


def test_fillers_are_reproducible_and_bilinear_matches_caffe():
    text = build('layer { name: "L" type: "Deconvolution" bottom: "x" top: "t" convolution_param { num_output: 1 kernel_size: 4 stride: 2 bias_term: false weight_filler { type: "bilinear" } } }',
                 {"x": np.zeros((1, 1, 3, 3))})
    lamina.manual_seed(1)
    w = lamina.Net(text, phase="test").params["L"][0].data[0, 0]
    # Caffe's bilinear kernel of size 4: the outer product of [0.25, 0.75, 0.75, 0.25].
    v = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(w, np.outer(v, v), rtol=1e-6)
    conv = build('layer { name: "L" type: "InnerProduct" bottom: "x" top: "t" inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }',
                 {"x": np.zeros((1, 4))})
    lamina.manual_seed(9)
    a = lamina.Net(conv).params["L"][0].data.copy()
    lamina.manual_seed(9)
    b = lamina.Net(conv).params["L"][0].data.copy()
    np.testing.assert_array_equal(a, b)
