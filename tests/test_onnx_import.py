"""ONNX import (lamina.Net.from_onnx, `lamina import-onnx`), checked three ways:

- the onnx package's own backend node cases (generated from the installed package, with
  their reference outputs and tolerances) for every operator lamina imports: each case
  either reproduces the reference or is listed below with the error that names why;
- PyTorch-exported models (a ResNet-50, and a small model of the non-CNN operators)
  reproduce PyTorch's outputs;
- lamina's own exports of the shared deploy nets read back to the same outputs.

A Caffe layer owns its weights, so lamina imports Conv, ConvTranspose, BatchNormalization
and PRelu only with constant weights: where a node case feeds them as graph inputs, the
case's values are made initializers first (as any exported model has them), and so are
the integer inputs (shapes, axes, indices) that lamina's float blobs do not carry."""

import fnmatch
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina import cli

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

from test_onnx_export import SUPPORTED, MODELS, random_feeds, randomize, run_onnx, shared_deploy_net  # noqa: E402

OPERATORS = {
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Relu", "LeakyRelu", "PRelu", "Sigmoid",
    "Tanh", "Elu", "Abs", "Exp", "Log", "Softplus", "Sqrt", "Reciprocal", "Neg", "Clip", "Softmax",
    "LogSoftmax", "BatchNormalization", "LRN", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose",
    "Concat", "Split", "Gather", "Identity", "Dropout", "Constant", "Shape", "ConstantOfShape", "Expand",
    "LSTM", "GRU", "RNN",
}
# Node inputs that must be constants for the layer lamina makes.
CONSTANT_INPUTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "BatchNormalization": (1, 2, 3, 4), "PRelu": (1,),
                   "Clip": (1, 2), "LSTM": (1, 2, 3, 7), "GRU": (1, 2, 3), "RNN": (1, 2, 3)}

# Cases lamina refuses, by name pattern, with what the error must say.
REFUSED = {
    "test_*pool_1d*": "only 2-d", "test_*pool_3d*": "only 2-d", "test_conv*_1d": "only 2-d", "test_conv*_3d": "only 2-d",
    "test_*pool_2d_same_lower": "pad the start more than the end",
    "test_*pool_2d_same_upper": "output size that lamina's Pooling cannot",
    "test_convtranspose_autopad_same": "asymmetric padding",
    "test_averagepool_2d_dilations": "dilated pooling", "test_maxpool_2d_dilations": "dilated pooling",
    "test_maxpool_with_argmax*": "Indices output",
    "test_convtranspose_output_shape": "output_shape", "test_convtranspose_kernel_shape": "output_shape",
    "test_convtranspose_pad": "output_padding",
    "*training_mode": "training_mode", "test_training_dropout*": "training_mode|mask output",
    "test_dropout_default_mask*": "mask output",
    "test_identity_sequence": "no shape", "test_identity_opt": "no shape",
    "test_reshape_allowzero_reordered": "allowzero",
    "test_split_zero_size_splits*": "slice points must increase",
    "test_clip_min_greater_than_max": "exceeds max",
    "test_gru_defaults": "linear_before_reset 0", "test_gru_seq_length": "linear_before_reset 0",
    "test_gru_with_initial_bias": "linear_before_reset 0",
    "test_*_batchwise": "layout 1", "test_*_bidirectional": "forward direction", "test_*_reverse": "forward direction",
    "test_lstm_with_peepholes": "peepholes",
}


def node_cases():
    import onnx.backend.test.case.node as node

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    picked = []
    for case in cases:
        ops = {n.op_type for n in case.model.graph.node}
        # Casts between exotic types (8-bit floats, 4-bit ints) test the conversion itself;
        # lamina's blobs are float32.
        if ops <= OPERATORS and case.data_sets and not case.name.startswith("test_cast"):
            picked.append(case)
    return picked


CASES = {case.name: case for case in node_cases()}


def refusal(name):
    for pattern, reason in REFUSED.items():
        if fnmatch.fnmatch(name, pattern):
            return reason
    return None


def as_lamina_model(case):
    """The case's model with its weight and integer inputs made initializers; the feeds."""
    model = onnx.ModelProto.FromString(case.model.SerializeToString())
    graph = model.graph
    op = graph.node[0].op_type if len(graph.node) == 1 else None
    inputs, outputs = case.data_sets[0]
    kept, feeds = [], {}
    for k, (info, value) in enumerate(zip(list(graph.input), inputs)):
        value = np.asarray(value)
        if k in CONSTANT_INPUTS.get(op, ()) or value.dtype.kind in "iub":
            graph.initializer.append(numpy_helper.from_array(value, info.name))
        else:
            kept.append(info)
            feeds[info.name] = value.astype(np.float32)
    del graph.input[:]
    graph.input.extend(kept)
    return model, feeds, outputs


def test_the_node_cases_cover_every_operator():
    seen = {n.op_type for case in CASES.values() for n in case.model.graph.node}
    assert OPERATORS <= seen, OPERATORS - seen
    assert len(CASES) > 300


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_case(name, tmp_path):
    case = CASES[name]
    model, feeds, expected = as_lamina_model(case)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    reason = refusal(name)
    if reason:
        with pytest.raises(lamina.Error, match=reason):
            lamina.Net.from_onnx(path)
        return
    net = lamina.Net.from_onnx(path)
    net.forward(**feeds)
    for info, want in zip(model.graph.output, expected):
        got = net.blobs[info.name].data
        want = np.asarray(want)
        assert got.shape == want.shape, info.name
        np.testing.assert_allclose(got, want.astype(np.float64), rtol=case.rtol, atol=case.atol, err_msg=info.name)


def test_every_refusal_is_a_case():
    for pattern in REFUSED:
        assert any(fnmatch.fnmatch(name, pattern) for name in CASES), pattern


# ---- models exported by PyTorch ------------------------------------------------------------------
torch = pytest.importorskip("torch")
nn = torch.nn


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def resnet50():
    """He et al.'s ResNet-50 (v1.5: the stride on the 3x3 convolution), 1000 classes."""
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for b in range(blocks):
            layers.append(Bottleneck(cin, width, stride if b == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


def randomize_torch(model, seed=0):
    """Random weights, and BatchNorm statistics of order one, so that every channel matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


def export(model, args, path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), dynamo=False, opset_version=17, **kwargs)


@pytest.mark.heavy
def test_pytorch_resnet50(tmp_path):
    torch.manual_seed(0)
    model = randomize_torch(resnet50())
    x = torch.rand(2, 3, 224, 224)
    path = tmp_path / "resnet50.onnx"
    # A symbolic batch, given at import.
    export(model, (x[:1],), path, input_names=["image"], output_names=["logits"],
           dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}})
    net = lamina.Net.from_onnx(path, input_shapes={"image": (2, 3, 224, 224)})
    types = {layer.type for layer in net.layers}
    assert types == {"Input", "Convolution", "ReLU", "Pooling", "Arithmetic", "Flatten", "InnerProduct"}, types
    with torch.no_grad():
        want = model(x).numpy()
    got = net.forward(image=x.numpy())["logits"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert (got.argmax(1) == want.argmax(1)).all()


class Mixed(nn.Module):
    """The operators of non-convolutional models: Gather (an embedding), MatMul on 3-d,
    Transpose, Softmax over a middle axis, Concat, Split, PReLU, LeakyReLU, Sigmoid, Tanh,
    BatchNorm left unfolded, and a view that PyTorch exports through Shape and Gather."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.proj = nn.Linear(16, 12)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.prelu = nn.PReLU(6)
        self.head = nn.Linear(6 * 4 * 4 + 12, 5)

    def forward(self, tokens, image):
        e = self.embed(tokens)                                     # [B, T, 16]
        h = torch.tanh(self.proj(e))                               # MatMul + Add on 3-d
        attention = torch.softmax(h @ h.transpose(1, 2), dim=1)    # [B, T, T]
        pooled = (attention @ h)[:, 0]                             # Gather of one index
        a, b = torch.split(pooled, [5, 7], dim=1)
        text = torch.cat([torch.sigmoid(a), nn.functional.leaky_relu(b, 0.2)], dim=1)
        y = self.prelu(self.bn(self.conv(image)))
        y = nn.functional.max_pool2d(y, 2)
        flat = y.view(y.size(0), -1)
        return torch.log_softmax(self.head(torch.cat([flat, text], dim=1)), dim=1)


def test_pytorch_mixed_operators(tmp_path):
    torch.manual_seed(1)
    model = randomize_torch(Mixed())
    tokens = torch.randint(0, 50, (3, 7))
    image = torch.rand(3, 3, 8, 8)
    path = tmp_path / "mixed.onnx"
    export(model, (tokens, image), path, input_names=["tokens", "image"], output_names=["out"],
           do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Gather", "MatMul", "Transpose", "Softmax", "Split", "Concat", "PRelu", "BatchNormalization"} <= ops, ops
    net = lamina.Net.from_onnx(path)
    with torch.no_grad():
        want = model(tokens, image).numpy()
    got = net.forward(tokens=tokens.numpy(), image=image.numpy())["out"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    check_exported_back(net, tmp_path / "back.onnx", {"tokens": tokens.numpy().astype(np.float32), "image": image.numpy()})


def check_exported_back(net, path, feeds):
    """The imported net exported again: onnxruntime gives lamina's outputs."""
    net.to_onnx(path)
    got = run_onnx(path, feeds)
    for name, value in got.items():
        np.testing.assert_allclose(value, net.blobs[name].data, rtol=1e-5, atol=1e-6, err_msg=name)


RECURRENT = {"lstm": lambda: nn.LSTM(5, 4), "gru": lambda: nn.GRU(5, 4), "rnn_tanh": lambda: nn.RNN(5, 4),
             "rnn_relu": lambda: nn.RNN(5, 4, nonlinearity="relu")}


class Recurrent(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, *state):
        y, h = self.rnn(x, (state if len(state) > 1 else state[0]) if state else None)
        return (y, h[0]) if isinstance(h, tuple) else (y, h)


@pytest.mark.parametrize("initial", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_pytorch_recurrent(kind, initial, tmp_path):
    torch.manual_seed(2)
    model = Recurrent(RECURRENT[kind]()).eval()
    x = torch.randn(6, 3, 5)
    state = [torch.randn(1, 3, 4) for _ in range(2 if kind == "lstm" else 1)] if initial else []
    names = ["x", "h0", "c0"][:1 + len(state)]
    path = tmp_path / "rnn.onnx"
    export(model, (x, *state), path, input_names=names, output_names=["y", "h"])
    assert kind.split("_")[0].upper() in {n.op_type for n in onnx.load(str(path)).graph.node}
    net = lamina.Net.from_onnx(path)
    feeds = dict(zip(names, [t.numpy() for t in (x, *state)]))
    net.forward(**feeds)
    with torch.no_grad():
        want_y, want_h = model(x, *state)
    np.testing.assert_allclose(net.blobs["y"].data, want_y.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.blobs["h"].data, want_h.numpy(), rtol=1e-5, atol=1e-6)
    check_exported_back(net, tmp_path / "back.onnx", feeds)


# ---- lamina's exports read back ---------------------------------------------------------------
@pytest.mark.parametrize("model", sorted(SUPPORTED))
def test_shared_deploy_net_round_trip(model, tmp_path):
    net, rng = shared_deploy_net(model)
    feeds = random_feeds(net, rng)
    net.to_onnx(tmp_path / "model.onnx")
    back = lamina.Net.from_onnx(tmp_path / "model.onnx")
    want = net.forward(**feeds)
    got = back.forward(**feeds)
    for name, value in want.items():
        scale = max(1.0, float(np.abs(value).max()))
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5 * scale, err_msg=name)


def test_cli_import_onnx_writes_a_caffe_net(tmp_path, capsys):
    net = lamina.Net(MODELS / "mnist_lenet.prototxt", phase="test", input_shapes={"data": (2, 1, 28, 28)})
    rng = np.random.default_rng(3)
    randomize(net, rng)
    net.to_onnx(tmp_path / "lenet.onnx")
    proto, weights = tmp_path / "lenet.prototxt", tmp_path / "lenet.caffemodel"
    assert cli.main(["import-onnx", str(tmp_path / "lenet.onnx"), "--prototxt", str(proto),
                     "--weights", str(weights)]) == 0
    assert "wrote" in capsys.readouterr().out
    again = lamina.Net(proto, phase="test", weights=weights)
    x = rng.uniform(0, 1, (2, 1, 28, 28)).astype(np.float32)
    want = net.forward(data=x)["prob"]
    got = again.forward(data=x)
    np.testing.assert_allclose(list(got.values())[0], want, rtol=1e-5, atol=1e-6)


# ---- bad files -------------------------------------------------------------------------------------
def tiny_model(nodes, inputs=("x",), initializers=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, 2, 3, 3]) for name in inputs],
        [helper.make_tensor_value_info(nodes[-1].output[0], onnx.TensorProto.FLOAT, None)], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_unsupported_operator_is_named(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(tiny_model([helper.make_node("Relu", ["x"], ["r"], name="first"),
                          helper.make_node("Resize", ["r"], ["y"], name="grow")]), str(path))
    with pytest.raises(lamina.InvalidValueError, match=r"byte \d+: node 'grow' \(Resize\): lamina has no layer"):
        lamina.Net.from_onnx(path)


def test_unsupported_attribute_is_named(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(tiny_model([helper.make_node("Relu", ["x"], ["y"], name="r", alpha=2.0)]), str(path))
    with pytest.raises(lamina.InvalidValueError, match=r"node 'r' \(Relu\): attribute 'alpha' is not supported"):
        lamina.Net.from_onnx(path)


def test_unknown_input_value_is_a_format_error(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(tiny_model([helper.make_node("Relu", ["nowhere"], ["y"], name="r")]), str(path))
    with pytest.raises(lamina.FileFormatError, match=r"node 'r' \(Relu\): input 'nowhere' is produced by no node"):
        lamina.Net.from_onnx(path)


def test_truncated_file_names_the_byte(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    data = tiny_model([helper.make_node("Conv", ["x", "w"], ["y"])], initializers=[w]).SerializeToString()
    for cut in (len(data) // 2, len(data) - 3, 7):
        path = tmp_path / f"cut{cut}.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(lamina.FileFormatError, match=r"cut\d+\.onnx: byte \d+: \w+"):
            lamina.Net.from_onnx(path)


def test_tensor_whose_data_does_not_match_its_dims(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    w.dims[0] = 5
    path = tmp_path / "m.onnx"
    path.write_bytes(tiny_model([helper.make_node("Conv", ["x", "w"], ["y"])], initializers=[w]).SerializeToString())
    with pytest.raises(lamina.FileFormatError, match=r"initializer 'w' holds 288 bytes for dims of 90 elements"):
        lamina.Net.from_onnx(path)


def test_float_values_beyond_the_int64_range(tmp_path):
    """Weights of any float value read as they are (found by the native fuzzer: the reader
    converted every element to an integer too, undefined for 1e37)."""
    w = np.full((4, 2, 3, 3), 1e37, np.float32)
    w[0, 0, 0, 0], w[1, 0, 0, 0], w[2, 0, 0, 0] = -np.inf, np.nan, -1e38
    path = tmp_path / "m.onnx"
    onnx.save(tiny_model([helper.make_node("Conv", ["x", "w"], ["y"])], initializers=[numpy_helper.from_array(w, "w")]),
              str(path))
    net = lamina.Net.from_onnx(path)
    np.testing.assert_array_equal(net.params[net.layers[1].name][0].data, w)


def int_shape_given_as_floats():
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    shape.ClearField("raw_data")
    shape.float_data.extend([1e30, -1.0])
    return helper.make_node("Reshape", ["x", "shape"], ["y"]), shape


def weights_in_two_fields():
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    w.float_data.extend([1.0])
    return helper.make_node("Conv", ["x", "w"], ["y"]), w


# Malformed initializers: (node and initializer, what the FileFormatError says).
BAD_TENSORS = {
    "integer_tensor_with_float_values_out_of_range": (int_shape_given_as_floats,
                                                      r"initializer 'shape' holds a value beyond the int64 range"),
    "values_in_two_fields": (weights_in_two_fields, r"initializer 'w' holds values in more than one"),
}


@pytest.mark.parametrize("row", sorted(BAD_TENSORS))
def test_malformed_initializer(row, tmp_path):
    make, message = BAD_TENSORS[row]
    node, tensor = make()
    path = tmp_path / "m.onnx"
    onnx.save(tiny_model([node], initializers=[tensor]), str(path))
    with pytest.raises(lamina.FileFormatError, match=message):
        lamina.Net.from_onnx(path)


def test_external_data_is_refused(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "w")
    model = tiny_model([helper.make_node("Conv", ["x", "w"], ["y"])], initializers=[w])
    onnx.save(model, str(tmp_path / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    with pytest.raises(lamina.FileFormatError, match="external"):
        lamina.Net.from_onnx(tmp_path / "m.onnx")


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"name: 'a caffe net'\n")
    with pytest.raises(lamina.FileFormatError, match=re.escape(str(path)) + r": byte \d+"):
        lamina.Net.from_onnx(path)
