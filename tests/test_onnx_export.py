"""ONNX export (net.to_onnx, `lamina export-onnx`): every export passes onnx.checker, and
onnxruntime's outputs match lamina's forward. The onnx and onnxruntime packages are test
dependencies only; lamina writes the ModelProto with its own wire-format code.

Tolerance: rtol 1e-4 and atol 1e-4 times the output's largest magnitude (at least 1), float32
on both sides; weights are random, scaled so activations stay of order one."""

import re
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina import cli

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"
RTOL = 1e-4


def randomize(net: lamina.Net, rng: np.random.Generator) -> None:
    """Weights of order 1/sqrt(fan_in), biases and BatchNorm statistics of order one."""
    for layer in net.layers:
        blobs = net.params.get(layer.name, [])
        for k, blob in enumerate(blobs):
            data = blob.data
            if layer.type == "BatchNorm":
                data[...] = [rng.normal(size=data.shape), rng.uniform(0.5, 1.5, data.shape), np.full(data.shape, 2.0)][k]
            elif layer.type in ("Scale", "PReLU") or data.ndim == 1:
                data[...] = rng.uniform(0.5, 1.5, data.shape) if k == 0 and layer.type != "Bias" else rng.uniform(-0.5, 0.5, data.shape)
            else:
                fan_in = data.size / data.shape[0]
                if layer.type == "Deconvolution":
                    fan_in = data.size / data.shape[1]
                data[...] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), data.shape)


def run_onnx(path: Path, feeds: dict) -> dict:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def check_export(net: lamina.Net, path: Path, feeds: dict) -> None:
    """Exports net, checks the model and compares onnxruntime with lamina on feeds."""
    net.to_onnx(path)
    onnx.checker.check_model(str(path), full_check=True)
    expected = net.forward(**feeds)
    got = run_onnx(path, {k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()})
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        scale = max(1.0, float(np.abs(want).max(initial=0.0)))
        np.testing.assert_allclose(got[name], want, rtol=RTOL, atol=RTOL * scale, err_msg=name)


def random_feeds(net: lamina.Net, rng: np.random.Generator) -> dict:
    """Uniform in [-1, 1); the caption nets' word ids and sequence markers as they are."""
    feeds = {name: rng.uniform(-1, 1, net.blobs[name].shape).astype(np.float32) for name in net.inputs}
    if "input_sentence" in feeds:
        feeds["input_sentence"] = rng.integers(0, 8801, feeds["input_sentence"].shape).astype(np.float32)
    if "cont_sentence" in feeds:
        cont = np.ones(feeds["cont_sentence"].shape, np.float32)
        cont[0] = 0
        cont[min(2, len(cont) - 1), 0] = 0
        feeds["cont_sentence"] = cont
    return feeds


# ---- the shared deploy nets -----------------------------------------------------------------
# Built at batch 1.
SUPPORTED = {
    "mnist_lenet.prototxt": {},
    "cifar10_quick.prototxt": {},
    "cifar10_full.prototxt": {},
    "mnist_siamese.prototxt": {},
    "net_surgery_conv.prototxt": {},
    "bvlc_alexnet_deploy.prototxt": {"data": (1, 3, 227, 227)},
    "bvlc_reference_caffenet_deploy.prototxt": {"data": (1, 3, 227, 227)},
    "bvlc_googlenet_deploy.prototxt": {"data": (1, 3, 224, 224)},
    "resnet50_deploy.prototxt": {"data": (1, 3, 224, 224)},
    # Caffe's LSTM layers: one ONNX LSTM node per step (3 steps here, a new sentence at step 2).
    "coco_caption_lstm_lm_deploy.prototxt": {"cont_sentence": (3, 2), "input_sentence": (3, 2)},
    "coco_caption_lrcn_word_to_preds_deploy.prototxt": {"cont_sentence": (3, 2), "input_sentence": (3, 2),
                                                        "image_features": (2, 1000)},
}
# Deploy nets of 60M+ parameters (filling and copying them takes most of their time): run in the
# full suite, left out of the sanitized one (heavy).
LARGE = {
    "vgg16_deploy.prototxt": {},
    "bvlc_reference_rcnn_ilsvrc13_deploy.prototxt": {},
    "finetune_flickr_style_deploy.prototxt": {},
}


def test_every_shared_deploy_net_is_listed():
    if not MODELS.exists():
        pytest.skip(f"{MODELS} is not here")
    deploy = {p.name for p in MODELS.glob("*deploy*.prototxt")}
    assert deploy <= set(SUPPORTED) | set(LARGE)


def batch_one(path: Path, shapes: dict) -> dict:
    """The net's Input shapes with batch 1 (unless given)."""
    if shapes:
        return shapes
    net = lamina.Net(path, phase="test")
    return {name: (1,) + tuple(net.blobs[name].shape[1:]) for name in net.inputs}


def shared_deploy_net(model: str):
    """A SUPPORTED (or LARGE) deploy net at batch 1 with random weights, and the generator that made them."""
    path = MODELS / model
    if not path.exists():
        pytest.skip(f"{path} is not here")
    net = lamina.Net(path, phase="test", input_shapes=batch_one(path, {**SUPPORTED, **LARGE}[model]))
    rng = np.random.default_rng(0)
    randomize(net, rng)
    return net, rng


@pytest.mark.parametrize("model", sorted(SUPPORTED) + [pytest.param(m, marks=pytest.mark.heavy) for m in sorted(LARGE)])
def test_shared_deploy_net(model, tmp_path):
    net, rng = shared_deploy_net(model)
    check_export(net, tmp_path / "model.onnx", random_feeds(net, rng))


# ---- one layer (or a few) at a time ------------------------------------------------------------
def net_text(shape, layers: str, tops=("data",)) -> str:
    dims = "".join(f" shape {{ {' '.join(f'dim: {d}' for d in s)} }}" for s in shape)
    top_lines = " ".join(f'top: "{t}"' for t in tops)
    return f'name: "row" layer {{ name: "input" type: "Input" {top_lines} input_param {{{dims} }} }}\n' + layers


def layer(name, type_, bottoms=("data",), tops=None, params=""):
    bottom_lines = " ".join(f'bottom: "{b}"' for b in bottoms)
    top_lines = " ".join(f'top: "{t}"' for t in (tops or (name,)))
    return f'layer {{ name: "{name}" type: "{type_}" {bottom_lines} {top_lines} {params} }}\n'


POOL = "pooling_param { pool: %s kernel_size: %d stride: %d pad: %d }"
ROWS = {
    "conv_grouped_dilated": ([(2, 4, 9, 9)], layer("conv", "Convolution", params=(
        "convolution_param { num_output: 6 group: 2 kernel_size: 3 stride: 2 pad: 1 dilation: 2 }"))),
    "conv_rectangular_no_bias": ([(1, 3, 8, 7)], layer("conv", "Convolution", params=(
        "convolution_param { num_output: 4 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 "
        "bias_term: false }"))),
    "deconv_grouped": ([(2, 4, 5, 5)], layer("deconv", "Deconvolution", params=(
        "convolution_param { num_output: 6 group: 2 kernel_size: 3 stride: 2 pad: 1 }"))),
    "max_pool_ceil_pad": ([(1, 2, 6, 6)], layer("pool", "Pooling", params=POOL % ("MAX", 3, 2, 1))),
    "ave_pool_ceil_pad_overhang": ([(1, 2, 6, 6)], layer("pool", "Pooling", params=POOL % ("AVE", 3, 2, 1))),
    "ave_pool_ceil_pad_fits": ([(1, 2, 7, 7)], layer("pool", "Pooling", params=POOL % ("AVE", 3, 2, 1))),
    "ave_pool_ceil_no_pad_overhang": ([(1, 2, 6, 6)], layer("pool", "Pooling", params=POOL % ("AVE", 3, 2, 0))),
    "ave_pool_floor": ([(1, 2, 5, 5)], layer("pool", "Pooling", params=(
        "pooling_param { pool: AVE kernel_size: 2 stride: 2 round_mode: FLOOR }"))),
    "max_pool_rectangular": ([(1, 2, 7, 6)], layer("pool", "Pooling", params=(
        "pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 1 }"))),
    "global_ave_pool": ([(2, 3, 5, 4)], layer("pool", "Pooling", params="pooling_param { pool: AVE global_pooling: true }")),
    "global_max_pool": ([(2, 3, 5, 4)], layer("pool", "Pooling", params="pooling_param { pool: MAX global_pooling: true }")),
    "inner_product_4d": ([(2, 3, 4, 4)], layer("ip", "InnerProduct", params="inner_product_param { num_output: 5 }")),
    "inner_product_axis2": ([(2, 3, 4)], layer("ip", "InnerProduct", params="inner_product_param { num_output: 5 axis: 2 }")),
    "inner_product_transpose": ([(3, 6)], layer("ip", "InnerProduct", params=(
        "inner_product_param { num_output: 4 transpose: true }"))),
    "relu": ([(2, 3, 4)], layer("act", "ReLU")),
    "leaky_relu_in_place": ([(2, 3, 4, 4)], layer("conv", "Convolution", params="convolution_param { num_output: 2 kernel_size: 1 }")
                            + layer("act", "ReLU", ("conv",), ("conv",), "relu_param { negative_slope: 0.1 }")),
    "sigmoid": ([(2, 3)], layer("act", "Sigmoid")),
    "tanh": ([(2, 3)], layer("act", "TanH")),
    "elu": ([(2, 3)], layer("act", "ELU", params="elu_param { alpha: 0.5 }")),
    "absval": ([(2, 3)], layer("act", "AbsVal")),
    "bnll": ([(2, 3)], layer("act", "BNLL")),
    "prelu": ([(2, 3, 4, 4)], layer("act", "PReLU")),
    "prelu_shared": ([(2, 3, 4)], layer("act", "PReLU", params="prelu_param { channel_shared: true }")),
    "power": ([(2, 3)], layer("act", "Power", params="power_param { power: 2 scale: 0.5 shift: 1 }")),
    "exp": ([(2, 3)], layer("act", "Exp", params="exp_param { base: 2 scale: 0.5 shift: 0.1 }")),
    "log": ([(2, 3)], layer("act", "Log", params="log_param { base: 10 scale: 0.5 shift: 2 }")),
    "lrn": ([(2, 7, 3, 3)], layer("norm", "LRN", params="lrn_param { local_size: 5 alpha: 0.01 beta: 0.75 k: 2 }")),
    "lrn_within_channel": ([(2, 3, 5, 5)], layer("norm", "LRN", params=(
        "lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL }"))),
    "lrn_within_channel_wider_than_plane": ([(1, 2, 3, 2)], layer("norm", "LRN", params=(
        "lrn_param { local_size: 9 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL }"))),
    "batchnorm_scale_relu": ([(2, 3, 4, 4)], layer("bn", "BatchNorm", ("data",), ("bn",))
                             + layer("scale", "Scale", ("bn",), ("bn",), "scale_param { bias_term: true }")
                             + layer("relu", "ReLU", ("bn",), ("bn",))),
    "scale_axes": ([(2, 3, 4, 5)], layer("scale", "Scale", params="scale_param { axis: 1 num_axes: 2 }")),
    "bias": ([(2, 3, 4)], layer("bias", "Bias", params="bias_param { axis: 2 }")),
    "softmax": ([(2, 3, 4)], layer("prob", "Softmax")),
    "softmax_axis2": ([(2, 3, 4)], layer("prob", "Softmax", params="softmax_param { axis: 2 }")),
    "slice_concat": ([(2, 6, 3)], layer("slice", "Slice", tops=("a", "b", "c"),
                                        params="slice_param { axis: 1 slice_point: 1 slice_point: 4 }")
                     + layer("concat", "Concat", ("c", "a"), params="concat_param { axis: 1 }")),
    "slice_equal": ([(2, 6, 3)], layer("slice", "Slice", tops=("a", "b"), params="slice_param { axis: 1 }")),
    "eltwise_sum_coeffs": ([(2, 3, 4)], layer("sum", "Eltwise", ("data", "data"), params=(
        "eltwise_param { operation: SUM coeff: 0.5 coeff: -2 }"))),
    "flatten": ([(2, 3, 4, 5)], layer("flat", "Flatten")),
    "flatten_end_axis": ([(2, 3, 4, 5)], layer("flat", "Flatten", params="flatten_param { axis: 1 end_axis: 2 }")),
    "reshape": ([(2, 3, 4)], layer("shaped", "Reshape", params="reshape_param { shape { dim: 0 dim: -1 dim: 2 } }")),
    "dropout_split": ([(2, 3)], layer("drop", "Dropout") + layer("split", "Split", ("drop",), ("s1", "s2"))),
}


# Caffe's recurrent layers: cont marking sequence starts, or any values (the state is multiplied by it).
@pytest.mark.parametrize("cont", ["sequences", "random"])
@pytest.mark.parametrize("type_,static", [("LSTM", False), ("RNN", False), ("LSTM", True), ("RNN", True)])
def test_caffe_recurrent_layer(type_, static, cont, tmp_path):
    tops = ("data", "cont", "static") if static else ("data", "cont")
    shapes = [(5, 2, 3, 2), (5, 2)] + ([(2, 4)] if static else [])
    net = lamina.Net(net_text(shapes, layer("rec", type_, tops[:3], params="recurrent_param { num_output: 4 }"), tops=tops),
                     phase="test")
    rng = np.random.default_rng(4)
    randomize(net, rng)
    feeds = random_feeds(net, rng)
    if cont == "sequences":  # new sequences at steps 0 and 3 of item 0, step 0 of item 1
        feeds["cont"] = np.array([[0, 0], [1, 1], [1, 1], [0, 1], [1, 1]], np.float32)
    check_export(net, tmp_path / "rec.onnx", feeds)


@pytest.mark.parametrize("row", sorted(ROWS))
def test_layer_row(row, tmp_path):
    shapes, layers = ROWS[row]
    net = lamina.Net(net_text(shapes, layers), phase="test")
    rng = np.random.default_rng(1)
    randomize(net, rng)
    check_export(net, tmp_path / "row.onnx", random_feeds(net, rng))


def test_eltwise_prod_and_max_of_two_inputs(tmp_path):
    text = net_text([(2, 3, 4), (2, 3, 4)], layer("prod", "Eltwise", ("a", "b"), params="eltwise_param { operation: PROD }")
                    + layer("max", "Eltwise", ("a", "b", "prod"), params="eltwise_param { operation: MAX }"),
                    tops=("a", "b"))
    net = lamina.Net(text, phase="test")
    rng = np.random.default_rng(2)
    check_export(net, tmp_path / "eltwise.onnx", random_feeds(net, rng))


def test_scale_and_bias_by_a_second_bottom(tmp_path):
    text = net_text([(2, 3, 4, 5), (2, 3), (3, 4)],
                    layer("scale", "Scale", ("a", "b"), params="scale_param { axis: 0 }")
                    + layer("bias", "Bias", ("scale", "c"), params="bias_param { axis: 1 }"),
                    tops=("a", "b", "c"))
    net = lamina.Net(text, phase="test")
    check_export(net, tmp_path / "scale.onnx", random_feeds(net, np.random.default_rng(5)))


def test_embed(tmp_path):
    text = net_text([(2, 3)], layer("embed", "Embed", params="embed_param { num_output: 4 input_dim: 7 }"))
    net = lamina.Net(text, phase="test")
    rng = np.random.default_rng(3)
    randomize(net, rng)
    check_export(net, tmp_path / "embed.onnx", {"data": rng.integers(0, 7, (2, 3)).astype(np.float32)})


def test_in_place_chain_keeps_the_blob_name_for_the_last_writer(tmp_path):
    shapes, layers = ROWS["batchnorm_scale_relu"]
    net = lamina.Net(net_text(shapes, layers), phase="test")
    net.to_onnx(tmp_path / "chain.onnx")
    graph = onnx.load(str(tmp_path / "chain.onnx")).graph
    assert [o.name for o in graph.output] == ["bn"]
    assert [i.name for i in graph.input] == ["data"]
    assert [n.op_type for n in graph.node] == ["BatchNormalization", "Mul", "Add", "Relu"]
    assert graph.node[-1].output == ["bn"]


def test_model_header(tmp_path):
    net = lamina.Net(net_text([(1, 2)], layer("act", "Sigmoid")), phase="test")
    net.to_onnx(tmp_path / "m.onnx", opset=19)
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 19)]
    assert model.producer_name == "lamina"
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 2]
    assert net.onnx_model(opset=19) == (tmp_path / "m.onnx").read_bytes()


# ---- the command line --------------------------------------------------------------------------
def test_cli_export_with_weights(tmp_path, capsys):
    shapes, layers = ROWS["conv_grouped_dilated"]
    model = tmp_path / "net.prototxt"
    model.write_text(net_text(shapes, layers))
    net = lamina.Net(model, phase="test")
    rng = np.random.default_rng(4)
    randomize(net, rng)
    net.save(tmp_path / "w.safetensors")
    out = tmp_path / "net.onnx"
    assert cli.main(["export-onnx", "--model", str(model), "--weights", str(tmp_path / "w.safetensors"), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx.checker.check_model(str(out), full_check=True)
    feeds = random_feeds(net, rng)
    got = run_onnx(out, feeds)
    np.testing.assert_allclose(got["conv"], net.forward(**feeds)["conv"], rtol=RTOL, atol=RTOL)


def test_cli_export_unsupported_layer_is_one_line(tmp_path, capsys):
    model = tmp_path / "net.prototxt"
    model.write_text(net_text([(2, 3, 4)], layer("norm", "MVN")))
    assert cli.main(["export-onnx", "--model", str(model), str(tmp_path / "net.onnx")]) == 1
    assert "layer 'norm' (type MVN) has no ONNX form" in capsys.readouterr().err


# ---- bad input ---------------------------------------------------------------------------------
BAD = {
    "mvn": (layer("norm", "MVN"), "layer 'norm' (type MVN) has no ONNX form"),
    "batchnorm_batch_statistics": (layer("bn", "BatchNorm", params="batch_norm_param { use_global_stats: false }"),
                                   "layer 'bn' (type BatchNorm) normalizes with batch statistics"),
    "reduction": (layer("sum", "Reduction"), "layer 'sum' (type Reduction) has no ONNX form"),
}


@pytest.mark.parametrize("row", sorted(BAD))
def test_unsupported_layer_is_named(row, tmp_path):
    layers, message = BAD[row]
    net = lamina.Net(net_text([(2, 3, 4, 4)], layers), phase="test")
    with pytest.raises(lamina.InvalidValueError, match=re.escape(message)):
        net.to_onnx(tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


@pytest.mark.parametrize("opset", [16, 22])
def test_opset_out_of_range(opset, tmp_path):
    net = lamina.Net(net_text([(1, 2)], layer("act", "Sigmoid")), phase="test")
    with pytest.raises(lamina.InvalidValueError, match=f"opset {opset} is not supported"):
        net.to_onnx(tmp_path / "m.onnx", opset=opset)
