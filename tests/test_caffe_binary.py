"""Caffe's binary files (.caffemodel, .binaryproto, .solverstate) read and written by lamina's
own wire-format code, checked against an independent decoder: the protobuf package with a
schema built here at run time from caffe.proto's field numbers (no .proto compile step)."""

from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina import _lamina

descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
from google.protobuf import descriptor_pool, message_factory  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"

# ---- the independent schema: caffe.proto's field numbers -------------------------------------
F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
MESSAGES = {
    "BlobShape": [("dim", 1, F.TYPE_INT64, REP, None, True)],
    "BlobProto": [("num", 1, F.TYPE_INT32, OPT, None, False), ("channels", 2, F.TYPE_INT32, OPT, None, False),
                  ("height", 3, F.TYPE_INT32, OPT, None, False), ("width", 4, F.TYPE_INT32, OPT, None, False),
                  ("data", 5, F.TYPE_FLOAT, REP, None, True), ("diff", 6, F.TYPE_FLOAT, REP, None, True),
                  ("shape", 7, F.TYPE_MESSAGE, OPT, "BlobShape", False),
                  ("double_data", 8, F.TYPE_DOUBLE, REP, None, True), ("double_diff", 9, F.TYPE_DOUBLE, REP, None, True)],
    "LayerParameter": [("name", 1, F.TYPE_STRING, OPT, None, False), ("type", 2, F.TYPE_STRING, OPT, None, False),
                       ("bottom", 3, F.TYPE_STRING, REP, None, False), ("top", 4, F.TYPE_STRING, REP, None, False),
                       ("loss_weight", 5, F.TYPE_FLOAT, REP, None, False),
                       ("blobs", 7, F.TYPE_MESSAGE, REP, "BlobProto", False)],
    "V0LayerParameter": [("name", 1, F.TYPE_STRING, OPT, None, False), ("type", 2, F.TYPE_STRING, OPT, None, False),
                         ("num_output", 3, F.TYPE_UINT32, OPT, None, False),
                         ("blobs", 50, F.TYPE_MESSAGE, REP, "BlobProto", False)],
    "V1LayerParameter": [("layer", 1, F.TYPE_MESSAGE, OPT, "V0LayerParameter", False),
                         ("bottom", 2, F.TYPE_STRING, REP, None, False), ("top", 3, F.TYPE_STRING, REP, None, False),
                         ("name", 4, F.TYPE_STRING, OPT, None, False), ("type", 5, F.TYPE_INT32, OPT, None, False),
                         ("blobs", 6, F.TYPE_MESSAGE, REP, "BlobProto", False),
                         ("blobs_lr", 7, F.TYPE_FLOAT, REP, None, False)],
    "NetParameter": [("name", 1, F.TYPE_STRING, OPT, None, False),
                     ("layers", 2, F.TYPE_MESSAGE, REP, "V1LayerParameter", False),
                     ("force_backward", 5, F.TYPE_BOOL, OPT, None, False),
                     ("layer", 100, F.TYPE_MESSAGE, REP, "LayerParameter", False)],
    "SolverState": [("iter", 1, F.TYPE_INT32, OPT, None, False), ("learned_net", 2, F.TYPE_STRING, OPT, None, False),
                    ("history", 3, F.TYPE_MESSAGE, REP, "BlobProto", False),
                    ("current_step", 4, F.TYPE_INT32, OPT, None, False)],
    "Datum": [("channels", 1, F.TYPE_INT32, OPT, None, False), ("height", 2, F.TYPE_INT32, OPT, None, False),
              ("width", 3, F.TYPE_INT32, OPT, None, False), ("data", 4, F.TYPE_BYTES, OPT, None, False),
              ("label", 5, F.TYPE_INT32, OPT, None, False), ("float_data", 6, F.TYPE_FLOAT, REP, None, False),
              ("encoded", 7, F.TYPE_BOOL, OPT, None, False)],
}


def caffe_schema(packed: bool):
    """Message classes for Caffe's messages; packed=False writes every repeated number
    unpacked (as protobuf accepts on reading)."""
    package = "caffe_packed" if packed else "caffe_unpacked"
    proto = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto2")
    for name, fields in MESSAGES.items():
        m = proto.message_type.add(name=name)
        for fname, number, ftype, label, type_name, is_packed in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".{package}.{type_name}"
            if label == REP and ftype not in (F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE):
                f.options.packed = bool(packed and is_packed)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in MESSAGES}


PB = caffe_schema(packed=True)
PB_UNPACKED = caffe_schema(packed=False)

# ---- nets ------------------------------------------------------------------------------------
SMALL = """name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.3 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
        inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.3 } } }
"""


def small_net():
    return lamina.Net(SMALL, phase="test")


def weights(net):
    return {name: [b.data.copy() for b in blobs] for name, blobs in net.params.items()}


def fill_blob(blob, array, legacy=False, double=False):
    a = np.asarray(array)
    if legacy:
        dims = [1] * (4 - a.ndim) + list(a.shape)
        blob.num, blob.channels, blob.height, blob.width = dims
    else:
        blob.shape.dim.extend(a.shape)
    (blob.double_data if double else blob.data).extend(a.ravel().tolist())


def protobuf_model(arrays, pb=PB, v1=False, legacy=False, double=False, extra_layer=None):
    """A NetParameter written by protobuf with the given {layer: [arrays]}."""
    net = pb["NetParameter"](name="small")
    for name, blobs in arrays.items():
        layer = net.layers.add(name=name, type=4) if v1 else net.layer.add(name=name, type="X")
        for a in blobs:
            fill_blob(layer.blobs.add(), a, legacy=legacy, double=double)
    if extra_layer:
        net.layer.add(name=extra_layer).blobs.add().shape.dim.append(0)
    return net.SerializeToString()


def random_weights(net, seed=0):
    rng = np.random.default_rng(seed)
    return {name: [rng.standard_normal(b.data.shape).astype(np.float32) for b in blobs]
            for name, blobs in net.params.items()}


# ---- round trips through the independent decoder -----------------------------------------------
def test_a_caffemodel_lamina_writes_decodes_in_protobuf(tmp_path):
    net = small_net()
    net.save(tmp_path / "m.caffemodel", format="caffemodel")
    assert not list(tmp_path.glob("*.tmp"))
    parsed = PB["NetParameter"].FromString((tmp_path / "m.caffemodel").read_bytes())
    assert parsed.name == "small"
    assert [layer.name for layer in parsed.layer] == ["data", "conv", "relu", "ip"]
    assert [layer.type for layer in parsed.layer] == ["Input", "Convolution", "ReLU", "InnerProduct"]
    assert list(parsed.layer[1].bottom) == ["data"] and list(parsed.layer[1].top) == ["conv"]
    for layer in parsed.layer:
        mine = net.params.get(layer.name, [])
        assert len(layer.blobs) == len(mine)
        for blob, b in zip(layer.blobs, mine):
            assert tuple(blob.shape.dim) == b.data.shape
            np.testing.assert_array_equal(np.array(blob.data, np.float32).reshape(b.data.shape), b.data)


@pytest.mark.parametrize("form", ["packed", "unpacked", "v1_legacy_unpacked", "double_data", "v1_packed"])
def test_a_caffemodel_protobuf_writes_loads_in_lamina(tmp_path, form):
    net = small_net()
    arrays = random_weights(net)
    raw = {
        "packed": lambda: protobuf_model(arrays),
        "unpacked": lambda: protobuf_model(arrays, pb=PB_UNPACKED),
        "v1_legacy_unpacked": lambda: protobuf_model(arrays, pb=PB_UNPACKED, v1=True, legacy=True),
        "double_data": lambda: protobuf_model(arrays, double=True),
        "v1_packed": lambda: protobuf_model(arrays, v1=True),
    }[form]()
    path = tmp_path / "m.caffemodel"
    path.write_bytes(raw)
    assert net.load(path) == []
    for name, blobs in arrays.items():
        for a, b in zip(blobs, net.params[name]):
            np.testing.assert_array_equal(b.data, a)


def test_v0_layers_inside_v1_layers_load(tmp_path):
    net = small_net()
    arrays = random_weights(net, seed=4)
    model = PB["NetParameter"](name="old")
    for name, blobs in arrays.items():
        v0 = model.layers.add().layer
        v0.name, v0.type = name, "conv" if name == "conv" else "innerproduct"
        for a in blobs:
            fill_blob(v0.blobs.add(), a, legacy=True)
    (tmp_path / "v0.caffemodel").write_bytes(model.SerializeToString())
    net.load(tmp_path / "v0.caffemodel")
    np.testing.assert_array_equal(net.params["ip"][1].data, arrays["ip"][1])


def test_layers_the_net_lacks_are_skipped_and_listed_and_files_apply_in_order(tmp_path):
    net = small_net()
    first, second = random_weights(net, 1), random_weights(net, 2)
    (tmp_path / "a.caffemodel").write_bytes(protobuf_model(first, extra_layer="fc8_old"))
    (tmp_path / "b.caffemodel").write_bytes(protobuf_model({"ip": second["ip"]}))
    assert net.load(tmp_path / "a.caffemodel") == ["fc8_old"]
    assert net.load(tmp_path / "b.caffemodel") == []
    np.testing.assert_array_equal(net.params["conv"][0].data, first["conv"][0])  # from the first file
    np.testing.assert_array_equal(net.params["ip"][0].data, second["ip"][0])  # the second over it


def test_a_shape_mismatch_names_the_layer_blob_and_shapes_and_changes_nothing(tmp_path):
    net = small_net()
    arrays = random_weights(net, 3)
    arrays["ip"][0] = np.zeros((5, 7), np.float32)  # conv (first in the file) fits, ip's weight does not
    (tmp_path / "bad.caffemodel").write_bytes(protobuf_model(arrays))
    before = weights(net)
    with pytest.raises(lamina.ShapeError) as e:
        net.load(tmp_path / "bad.caffemodel")
    assert "layer 'ip' blob 0" in str(e.value) and "[5, 7]" in str(e.value) and "[5, 64]" in str(e.value)
    for name, blobs in before.items():
        for a, b in zip(blobs, net.params[name]):
            np.testing.assert_array_equal(b.data, a)


def test_a_truncated_caffemodel_changes_nothing(tmp_path):
    net = small_net()
    (tmp_path / "t.caffemodel").write_bytes(protobuf_model(random_weights(net))[:-7])
    before = weights(net)
    with pytest.raises(lamina.FileFormatError):
        net.load(tmp_path / "t.caffemodel")
    for name, blobs in before.items():
        for a, b in zip(blobs, net.params[name]):
            np.testing.assert_array_equal(b.data, a)


def test_a_wrong_blob_count_is_an_error(tmp_path):
    net = small_net()
    arrays = random_weights(net)
    arrays["conv"] = arrays["conv"][:1]
    (tmp_path / "m.caffemodel").write_bytes(protobuf_model(arrays))
    with pytest.raises(lamina.ShapeError, match="layer 'conv' has 1 blobs in the file but 2 in the net"):
        net.load(tmp_path / "m.caffemodel")


def test_safetensors_still_load_and_format_is_told_by_content(tmp_path):
    net = small_net()
    net.save(tmp_path / "w.bin")
    net.save(tmp_path / "w2.bin", format="caffemodel")
    other = lamina.Net(SMALL, phase="test")
    assert other.load(tmp_path / "w2.bin") == []
    other.load(tmp_path / "w.bin")
    np.testing.assert_array_equal(other.params["ip"][0].data, net.params["ip"][0].data)
    with pytest.raises(lamina.InvalidValueError, match="format 'onnx'"):
        net.save(tmp_path / "x", format="onnx")


def lenet_train_text():
    text = (MODELS / "mnist_lenet.prototxt").read_text().replace("dim: 64", "dim: 8")
    text = text.replace('type: "Softmax"\n  bottom: "ip2"\n  top: "prob"',
                        'type: "SoftmaxWithLoss"\n  bottom: "ip2"\n  bottom: "label"\n  top: "loss"')
    return 'layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 8 } } }\n' + text


@pytest.mark.skipif(not MODELS.is_dir(), reason="../shared/caffe-models is not present")
def test_lenet_trained_in_lamina_round_trips_through_a_caffemodel_bit_identically(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (8, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 8).astype(np.float32)
    solver = lamina.Solver('base_lr: 0.01 lr_policy: "fixed" momentum: 0.9 max_iter: 5', net=lenet_train_text(), quiet=True)
    solver.feed = lambda net, phase: {"data": images, "label": labels}
    solver.step(5)
    solver.net.save(tmp_path / "lenet.caffemodel", format="caffemodel")
    deploy = (MODELS / "mnist_lenet.prototxt").read_text().replace("dim: 64", "dim: 8")
    a = lamina.Net(deploy, phase="test")
    assert a.load(tmp_path / "lenet.caffemodel") == ["label"]  # the deploy net has no label input
    for name in ("conv1", "conv2", "ip1", "ip2"):
        for x, y in zip(a.params[name], solver.net.params[name]):
            np.testing.assert_array_equal(x.data, y.data)
    solver.net.forward(data=images, label=labels)
    a.forward(data=images)
    np.testing.assert_array_equal(a.blobs["ip2"].data, solver.net.blobs["ip2"].data)
    solver.net.save(tmp_path / "lenet.safetensors")
    b = lamina.Net(deploy, phase="test")
    b.load(tmp_path / "lenet.safetensors")
    np.testing.assert_array_equal(a.forward(data=images)["prob"], b.forward(data=images)["prob"])
    # The file protobuf reads is the same weights.
    parsed = PB["NetParameter"].FromString((tmp_path / "lenet.caffemodel").read_bytes())
    conv1 = next(layer for layer in parsed.layer if layer.name == "conv1")
    np.testing.assert_array_equal(np.array(conv1.blobs[0].data, np.float32).reshape(20, 1, 5, 5),
                                  solver.net.params["conv1"][0].data)


@pytest.mark.skipif(not MODELS.is_dir(), reason="../shared/caffe-models is not present")
@pytest.mark.parametrize("deploy", ["bvlc_alexnet_deploy", "cifar10_quick"])
def test_real_deploy_nets_load_caffemodels_protobuf_writes(tmp_path, deploy):
    net = lamina.Net(MODELS / f"{deploy}.prototxt", phase="test")
    arrays = {name: [np.full(b.data.shape, k + 0.5, np.float32) for k, b in enumerate(blobs)]
              for name, blobs in list(net.params.items())[:3]}
    (tmp_path / "m.caffemodel").write_bytes(protobuf_model(arrays, v1=deploy == "cifar10_quick", legacy=True))
    assert net.load(tmp_path / "m.caffemodel") == []
    for name, blobs in arrays.items():
        for a, b in zip(blobs, net.params[name]):
            np.testing.assert_array_equal(b.data, a)


# ---- .binaryproto and Datum ------------------------------------------------------------------
def test_binaryproto_both_ways(tmp_path):
    mean = np.random.default_rng(0).standard_normal((1, 3, 4, 5)).astype(np.float32)
    _lamina.write_blob_proto(str(tmp_path / "mean.binaryproto"), mean)
    parsed = PB["BlobProto"].FromString((tmp_path / "mean.binaryproto").read_bytes())
    assert tuple(parsed.shape.dim) == mean.shape
    np.testing.assert_array_equal(np.array(parsed.data, np.float32).reshape(mean.shape), mean)
    legacy = PB_UNPACKED["BlobProto"]()
    fill_blob(legacy, mean, legacy=True)
    (tmp_path / "legacy.binaryproto").write_bytes(legacy.SerializeToString())
    np.testing.assert_array_equal(_lamina.read_blob_proto(str(tmp_path / "legacy.binaryproto")), mean)
    doubles = PB["BlobProto"]()
    fill_blob(doubles, mean.astype(np.float64), double=True)
    back = _lamina.decode_blob_proto(doubles.SerializeToString())
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, mean)


def test_datum_both_ways():
    from lamina import caffe_proto

    d = caffe_proto.Datum(channels=3, height=1, width=2, data=bytes(range(6)), label=-3)
    parsed = PB["Datum"].FromString(caffe_proto.encode_datum(d))
    assert (parsed.channels, parsed.height, parsed.width, parsed.data, parsed.label) == (3, 1, 2, bytes(range(6)), -3)
    floats = PB_UNPACKED["Datum"](channels=1, height=1, width=2, float_data=[0.5, -2.0], label=4, encoded=False)
    back = caffe_proto.decode_datum(floats.SerializeToString())
    assert back.float_data == [0.5, -2.0] and back.label == 4
    np.testing.assert_array_equal(back.array(), np.array([[[0.5, -2.0]]], np.float32))


# ---- .solverstate ------------------------------------------------------------------------------
SMALL_TRAIN = """
layer { name: "data" type: "Input" top: "data" top: "label" input_param { shape { dim: 16 dim: 2 } shape { dim: 16 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
        inner_product_param { num_output: 8 weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""
DATA = np.random.default_rng(5).uniform(-1, 1, (10, 16, 2)).astype(np.float32)


def train(text, prefix, iterations, restore=None):
    lamina.manual_seed(11)
    solver = lamina.Solver(text + f' snapshot_prefix: "{prefix}"', net=SMALL_TRAIN, quiet=True)
    solver.feed = lambda net, phase: {"data": DATA[solver.iter % 10], "label": (DATA[solver.iter % 10][:, 0] > 0).astype(np.float32)}
    if restore:
        solver.restore(restore)
    solver.step(iterations - solver.iter)
    return solver


@pytest.mark.parametrize("kind, slots", [("SGD", 1), ("Nesterov", 1), ("Adam", 2), ("AdaDelta", 2)])
def test_caffe_solverstates_continue_training(tmp_path, kind, slots):
    text = (f'type: "{kind}" base_lr: 0.05 lr_policy: "multistep" gamma: 0.5 stepvalue: 3 stepvalue: 7 momentum: 0.9 '
            'weight_decay: 0.001 max_iter: 10 snapshot: 5 snapshot_format: BINARYPROTO')
    whole = train(text, tmp_path / "whole", 10)
    train(text, tmp_path / "run", 5)
    state = tmp_path / "run_iter_5.solverstate"
    assert (tmp_path / "run_iter_5.caffemodel").exists()
    parsed = PB["SolverState"].FromString(state.read_bytes())
    assert parsed.iter == 5 and parsed.current_step == 1 and parsed.learned_net.endswith("run_iter_5.caffemodel")
    assert len(parsed.history) == 4 * slots
    resumed = train(text, tmp_path / "again", 10, restore=state)
    assert resumed.iter == 10
    for name in ("ip1", "ip2"):
        for a, b in zip(whole.net.params[name], resumed.net.params[name]):
            np.testing.assert_array_equal(a.data, b.data)

    # The same state as another writer would put it: legacy 4-d dims, unpacked data, a
    # learned_net beside the state file.
    other = PB_UNPACKED["SolverState"](iter=parsed.iter, current_step=parsed.current_step,
                                       learned_net="moved/run_iter_5.caffemodel")
    for h in parsed.history:
        fill_blob(other.history.add(), np.array(h.data, np.float32).reshape(tuple(h.shape.dim)), legacy=True)
    (tmp_path / "other.solverstate").write_bytes(other.SerializeToString())
    resumed = train(text, tmp_path / "third", 10, restore=tmp_path / "other.solverstate")
    for name in ("ip1", "ip2"):
        for a, b in zip(whole.net.params[name], resumed.net.params[name]):
            np.testing.assert_array_equal(a.data, b.data)


def test_a_solverstate_for_another_net_changes_nothing(tmp_path):
    state = PB["SolverState"](iter=3)
    fill_blob(state.history.add(), np.zeros((3, 3), np.float32))
    (tmp_path / "s.solverstate").write_bytes(state.SerializeToString())
    solver = lamina.Solver('base_lr: 0.1 lr_policy: "fixed" momentum: 0.9', net=SMALL_TRAIN, quiet=True)
    with pytest.raises(lamina.FileFormatError, match="holds 1 history blobs; a SGD solver over this net's 4"):
        solver.restore(tmp_path / "s.solverstate")
    assert solver.iter == 0


# ---- bad input: each a FileFormatError naming the offset and the field ----------------------
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    return bytes(out + bytes([v]))


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def floats(values):
    return np.asarray(values, "<f4").tobytes()


SHAPE_2x3 = ld(7, ld(1, varint(2) + varint(3)))
GOOD_BLOB = SHAPE_2x3 + ld(5, floats(range(6)))
NAME = ld(1, b"small")


def in_layer(blob):
    """A model whose one layer holds `blob`; returns (bytes, offset of the blob's first byte)."""
    layer_head = ld(1, b"ip")
    layer = layer_head + ld(7, blob)
    model = NAME + ld(100, layer)
    blob_start = len(NAME) + len(key(100, 2) + varint(len(layer))) + len(layer_head) + len(key(7, 2) + varint(len(blob)))
    return model, blob_start


def layer_start():
    return len(NAME) + len(key(100, 2))


BAD = [
    # name, bytes, offset, field, words
    ("truncated file", (NAME + ld(100, ld(1, b"ip") + ld(7, GOOD_BLOB)))[:-5], len(NAME), "NetParameter.layer",
     "bytes but"),
    ("length past the end of its message", NAME + ld(100, ld(1, b"ip") + key(7, 2) + varint(50) + GOOD_BLOB),
     layer_start() + 1 + len(ld(1, b"ip")), "LayerParameter.blobs", "claims 50 bytes"),
    ("wrong wire type for a known field", key(1, 0) + varint(5), 0, "NetParameter.name", "wire type varint (0)"),
    ("wrong wire type inside a blob", in_layer(key(1, 2) + varint(1) + b"x")[0], in_layer(b"")[1],
     "BlobProto.num", "wire type length-delimited (2)"),
    ("a varint longer than 10 bytes", NAME + b"\xff" * 11, len(NAME), "NetParameter.(key)", "longer than 10 bytes"),
    ("a value varint longer than 10 bytes", in_layer(key(1, 0) + b"\x80" * 10 + b"\x01")[0], in_layer(b"")[1],
     "BlobProto.num", "longer than 10 bytes"),
    ("count does not match the shape", in_layer(SHAPE_2x3 + ld(5, floats(range(5))))[0],
     in_layer(SHAPE_2x3 + ld(5, floats(range(5))))[1], "BlobProto.data", "holds 5 values for shape [2, 3]"),
    ("legacy dims do not match", in_layer(key(1, 0) + varint(2) + ld(5, floats([1])))[0], in_layer(b"")[1],
     "BlobProto.data", "holds 1 values for shape [2, 0, 0, 0]"),
    ("a claimed size beyond the file", in_layer(key(5, 2) + varint(1 << 40))[0], in_layer(b"")[1], "BlobProto.data",
     f"claims {1 << 40} bytes"),
    ("a huge dimension product", in_layer(ld(7, ld(1, varint(1 << 40) * 3)) + ld(5, floats([1])))[0],
     in_layer(b"")[1], "BlobProto.data", "holds 1 values"),
    ("a negative dimension", in_layer(ld(7, ld(1, varint(-2))))[0], in_layer(b"")[1], "BlobProto.shape",
     "negative dimension"),
    ("ragged packed floats", in_layer(ld(5, b"\x00" * 6))[0], in_layer(b"")[1], "BlobProto.data",
     "not a whole number of 4-byte values"),
    ("a truncated unpacked float", NAME + ld(100, ld(7, key(5, 5) + b"\x00\x00")), layer_start() + 1 + 2,
     "BlobProto.data", "runs past the end"),
    ("a key with no value", NAME + key(1, 2), len(NAME), "NetParameter.name", "truncated"),
    ("field number 0", NAME + b"\x02\x00", len(NAME), "NetParameter.(key)", "field number 0"),
    ("a group wire type", NAME + key(9, 3), len(NAME), "NetParameter.(key)", "wire type 3"),
    ("a name that is not UTF-8", NAME + ld(100, ld(1, b"a\xc0\x80")), layer_start() + 1, "LayerParameter.name",
     "byte 1 of the string is not valid UTF-8"),
]


@pytest.mark.parametrize("name, raw, offset, field, words", BAD, ids=[row[0] for row in BAD])
def test_bad_caffemodels_name_the_offset_and_field(tmp_path, name, raw, offset, field, words):
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(raw)
    with pytest.raises(lamina.FileFormatError) as e:
        _lamina.read_caffemodel(str(path))
    message = str(e.value)
    assert message.startswith(f"{path}: byte {offset}: ") and field in message and words in message, message


def test_a_lone_blob_counts_offsets_from_its_own_start():
    with pytest.raises(lamina.FileFormatError, match="<bytes>: byte 0: BlobProto.data: holds 5 values"):
        _lamina.decode_blob_proto(SHAPE_2x3 + ld(5, floats(range(5))))


def test_unknown_fields_are_skipped():
    blob = key(15, 0) + varint(7) + key(16, 1) + b"\x00" * 8 + key(17, 5) + b"\x00" * 4 + ld(18, b"zz") + GOOD_BLOB
    np.testing.assert_array_equal(_lamina.decode_blob_proto(blob), np.arange(6, dtype=np.float32).reshape(2, 3))


# ---- fuzz: any bytes give a model or a lamina.Error ---------------------------------------
def mutate(rng, raw):
    b = bytearray(raw)
    kind = rng.integers(0, 5)
    if kind == 0 and b:  # flip bytes
        for _ in range(rng.integers(1, 4)):
            b[rng.integers(0, len(b))] = rng.integers(0, 256)
    elif kind == 1:  # truncate
        b = b[: rng.integers(0, len(b) + 1)]
    elif kind == 2:  # insert random bytes
        at = rng.integers(0, len(b) + 1)
        b[at:at] = rng.integers(0, 256, rng.integers(1, 12)).astype(np.uint8).tobytes()
    elif kind == 3 and b:  # duplicate a slice
        i = rng.integers(0, len(b))
        j = rng.integers(i, min(len(b), i + 40) + 1)
        b[j:j] = b[i:j]
    else:  # a huge varint somewhere
        at = rng.integers(0, len(b) + 1)
        b[at:at] = b"\xff" * rng.integers(1, 12) + b"\x7f"
    return bytes(b)


def test_fuzzed_caffemodels_raise_only_lamina_errors(tmp_path):
    net = small_net()
    net.save(tmp_path / "good.caffemodel", format="caffemodel")
    good = (tmp_path / "good.caffemodel").read_bytes()
    v1 = protobuf_model(random_weights(net), pb=PB_UNPACKED, v1=True, legacy=True)
    rng = np.random.default_rng(2024)
    path = tmp_path / "fuzz.caffemodel"
    outcomes = {"ok": 0, "error": 0}
    for i in range(3000):
        raw = mutate(rng, good if i % 2 else v1)
        for _ in range(rng.integers(0, 3)):
            raw = mutate(rng, raw)
        path.write_bytes(raw)
        try:
            if i % 10 == 0:
                net.load(path)
            else:
                _lamina.read_caffemodel(str(path))
            outcomes["ok"] += 1
        except lamina.Error:
            outcomes["error"] += 1
        try:
            _lamina.decode_blob_proto(raw[: rng.integers(0, 200)])
        except lamina.Error:
            pass
    assert outcomes["ok"] > 50 and outcomes["error"] > 500, outcomes
