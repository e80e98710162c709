"""snapshot_format: HDF5: Caffe's .caffemodel.h5 and .solverstate.h5 layouts, written from
the solver's own state (the same as the BINARYPROTO snapshot's) and resumed from."""

import numpy as np
import pytest

import lamina
from lamina import _lamina

h5py = pytest.importorskip("h5py")

NET = """
name: "fit"
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 4 dim: 3 } } }
layer { name: "y" type: "Input" top: "y" input_param { shape { dim: 4 dim: 2 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h"
  inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
layer { name: "ip2" type: "InnerProduct" bottom: "h" top: "out"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "y" top: "loss" }
"""


def solver_text(tmp_path, fmt, kind="SGD"):
    (tmp_path / "net.prototxt").write_text(NET)
    return (f'net: "{tmp_path / "net.prototxt"}"\ntype: "{kind}"\nbase_lr: 0.05\nmomentum: 0.9\nlr_policy: "step"\n'
            f'gamma: 0.5\nstepsize: 2\nmax_iter: 100\ndisplay: 0\nrandom_seed: 3\n'
            f'snapshot_prefix: "{tmp_path / fmt}"\nsnapshot_format: {fmt}\n')


def feed(net, phase):
    step = feed.count = getattr(feed, "count", 0) + 1
    rng = np.random.default_rng(step)
    return {"x": rng.standard_normal((4, 3)), "y": rng.standard_normal((4, 2))}


def make(tmp_path, fmt, kind="SGD"):
    path = tmp_path / f"{fmt}.prototxt"
    path.write_text(solver_text(tmp_path, fmt, kind))
    return lamina.Solver(str(path), feed=feed, quiet=True)


def params(solver):
    return [np.asarray(p[1]).copy() for p in solver.net.learnable_params()]


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_hdf5_snapshot_holds_the_binaryproto_state_in_caffes_layout(tmp_path, kind):
    lamina.manual_seed(0)
    h5, bp = make(tmp_path, "HDF5", kind), make(tmp_path, "BINARYPROTO", kind)
    bp.net.load(_save(h5, tmp_path))  # the same start
    feed.count = 0
    h5.step(3)
    feed.count = 0
    bp.step(3)
    state = h5.snapshot()
    assert state == str(tmp_path / "HDF5_iter_3.solverstate.h5")
    ref = _lamina.read_caffe_solver_state(bp.snapshot())
    with h5py.File(state, "r") as f:
        assert f["iter"][()].tolist() == [3] and f["current_step"][()].tolist() == [ref["current_step"]]
        assert f["learned_net"][()].decode() == str(tmp_path / "HDF5_iter_3.caffemodel.h5")
        history = [f["history"][str(k)][()] for k in range(len(f["history"]))]
    ref_history = ref["history"]
    assert len(history) == len(ref_history) == (2 if kind == "Adam" else 1) * 4
    for got, want in zip(history, ref_history):
        assert np.allclose(got, np.asarray(want).reshape(got.shape), rtol=1e-6, atol=1e-8)
    with h5py.File(tmp_path / "HDF5_iter_3.caffemodel.h5", "r") as f:
        assert sorted(f["data"]) == sorted(["x", "y", "ip1", "relu", "ip2", "loss"])  # HDF5 lists by name
        assert list(f["data"]["relu"]) == [] and list(f["data"]["ip1"]) == ["0", "1"]
        assert np.array_equal(f["data"]["ip2"]["0"][()], h5.net.params["ip2"][0].data)


def _save(solver, tmp_path):
    path = tmp_path / "start.safetensors"
    solver.net.save(str(path))
    return str(path)


def test_hdf5_restore_continues_as_an_uninterrupted_run(tmp_path):
    lamina.manual_seed(0)
    a = make(tmp_path, "HDF5")
    start = _save(a, tmp_path)
    feed.count = 0
    a.step(3)
    state = a.snapshot()
    a.step(2)
    b = make(tmp_path, "HDF5")
    b.restore(state)
    assert b.iter == 3
    feed.count = 3
    b.step(2)
    for x, y in zip(params(a), params(b)):
        assert np.allclose(x, y, rtol=1e-6, atol=1e-7)
    c = make(tmp_path, "HDF5")
    c.net.load(start)
    assert not all(np.array_equal(x, y) for x, y in zip(params(a), params(c)))


def test_net_weights_in_hdf5(tmp_path):
    net = lamina.Net(NET, phase="test")
    net.save(str(tmp_path / "w.caffemodel.h5"), format="hdf5")
    other = lamina.Net(NET, phase="test")
    assert other.load(str(tmp_path / "w.caffemodel.h5")) == []
    for name in net.params:
        for p, q in zip(net.params[name], other.params[name]):
            assert np.array_equal(p.data, q.data)
    with h5py.File(tmp_path / "w.caffemodel.h5", "a") as f:
        del f["data"]["ip2"]["0"]
        f["data"]["ip2"]["0"] = np.zeros((3, 5), np.float32)
        f["data"].create_group("extra")
    with pytest.raises(lamina.ShapeError, match="ip2.*blob 0"):
        other.load(str(tmp_path / "w.caffemodel.h5"))
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_group("weights")
    with pytest.raises(lamina.FileFormatError, match="no group 'data'"):
        other.load(str(tmp_path / "bad.h5"))
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["data/ip1"] = np.zeros(3, np.float32)
    with pytest.raises(lamina.FileFormatError, match="data/ip1: a dataset where a group"):
        other.load(str(tmp_path / "bad.h5"))
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["data/ip1/0"] = np.zeros((5, 3), np.int32)
    with pytest.raises(lamina.FileFormatError, match="not a floating-point"):
        other.load(str(tmp_path / "bad.h5"))


def test_hdf5_state_with_wrong_history_is_refused(tmp_path):
    lamina.manual_seed(0)
    a = make(tmp_path, "HDF5")
    state = a.snapshot()
    with h5py.File(state, "a") as f:
        del f["history"]["3"]
    b = make(tmp_path, "HDF5")
    before = params(b)
    with pytest.raises(lamina.FileFormatError, match="history blobs"):
        b.restore(state)
    with h5py.File(state, "a") as f:
        del f["iter"]
        f.create_group("iter")
    with pytest.raises(lamina.FileFormatError, match="'iter' must be a dataset"):
        b.restore(state)
    with h5py.File(state, "a") as f:
        del f["iter"]
        f["iter"] = np.array([1.5])
    with pytest.raises(lamina.FileFormatError, match="one integer"):
        b.restore(state)
    assert b.iter == 0 and all(np.array_equal(x, y) for x, y in zip(before, params(b)))
