"""Nets from prototxt: every shared Caffe model builds in both phases, the deploy nets give
Caffe's output shapes, the schema rejects malformed files at file:line:column, and the
DAG rules (in place, splitting, phases and stages, loss_weight, propagate_down, sharing)
behave as in Caffe."""

from pathlib import Path

import numpy as np
import pytest

import lamina

MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"
if not MODELS.is_dir():  # pragma: no cover - CI checks out shared/ beside the repository
    pytest.skip("../shared/caffe-models is not present", allow_module_level=True)

IMAGE = {"data": (2, 3, 227, 227), "label": (2,)}
CIFAR = {"data": (2, 3, 32, 32), "label": (2,)}
MNIST = {"data": (2, 1, 28, 28), "label": (2,)}
SENTENCES = {"cont_sentence": (3, 2), "input_sentence": (3, 2), "target_sentence": (3, 2)}
HDF5 = {"data": (2, 4), "label": (2,)}
# Top shapes of the data layers that read files, per model (small batches keep this fast).
INPUT_SHAPES = {
    "bvlc_alexnet_train_val": IMAGE,
    "bvlc_reference_caffenet_train_val": IMAGE,
    "bvlc_googlenet_train_val": {"data": (2, 3, 224, 224), "label": (2,)},
    "cifar10_full_sigmoid_train_test": CIFAR,
    "cifar10_full_sigmoid_train_test_bn": CIFAR,
    "cifar10_full_train_test": CIFAR,
    "cifar10_quick_train_test": CIFAR,
    "coco_caption_lrcn": dict(IMAGE, **SENTENCES),
    "coco_caption_lrcn_vgg": dict({"data": (2, 3, 224, 224), "label": (2,)}, **SENTENCES),
    "coco_caption_lstm_language_model": SENTENCES,
    "feature_extraction_imagenet_val": IMAGE,
    "finetune_flickr_style_train_val": IMAGE,
    "hdf5_classification_logreg_train_val": HDF5,
    "hdf5_classification_nonlinear_auto_test": HDF5,
    "hdf5_classification_nonlinear_auto_train": HDF5,
    "hdf5_classification_nonlinear_train_val": HDF5,
    "mnist_autoencoder": {"data": (2, 1, 28, 28)},
    "mnist_lenet_train_test": MNIST,
    "mnist_siamese_train_test": {"pair_data": (2, 2, 28, 28), "sim": (2,)},
    "pascal_finetune_trainval_test": IMAGE,
}
# Stages the models' solvers set (train_state / test_state): without them Caffe, too, finds
# no data layer for these nets.
STAGES = {
    "coco_caption_lrcn": (["freeze-convnet", "factored", "2-layer"], ["freeze-convnet", "factored", "2-layer", "test-on-train"]),
    "coco_caption_lrcn_vgg": (["freeze-convnet", "factored", "2-layer"], ["freeze-convnet", "factored", "2-layer", "test-on-val"]),
    "coco_caption_lstm_language_model": (["embed-drop", "lstm-drop"], ["test-on-val"]),
    "mnist_autoencoder": ([], ["test-on-test"]),
}
ALL_FILES = sorted(MODELS.glob("*.prototxt"))
SOLVERS = [f for f in ALL_FILES if "solver" in f.name]
NETS = [f for f in ALL_FILES if "solver" not in f.name]


def test_the_shared_models_are_all_here():
    assert len(ALL_FILES) == 64 and len(SOLVERS) == 28


@pytest.mark.parametrize("path", SOLVERS, ids=[f.stem for f in SOLVERS])
def test_every_solver_validates_against_the_schema(path):
    lamina.schema.validate(lamina.prototxt.parse_file(str(path)), "SolverParameter", str(path))


@pytest.mark.parametrize("phase", ["train", "test"])
@pytest.mark.parametrize("path", NETS, ids=[f.stem for f in NETS])
def test_every_net_builds_in_both_phases(path, phase, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "python_layers"))  # pyloss for pycaffe_linreg
    stages = STAGES.get(path.stem, ([], []))[phase == "test"]
    net = lamina.Net(path, phase=phase, stages=stages, input_shapes=INPUT_SHAPES.get(path.stem), python_layers=True)
    assert net.layers and net.phase == phase
    # Every blob has a shape and nothing negative slipped through.
    for blob in net.blobs.values():
        assert all(d >= 0 for d in blob.shape)


def test_file_reading_data_layers_need_shapes():
    with pytest.raises(lamina.PrototxtError) as e:
        lamina.Net(MODELS / "mnist_lenet_train_test.prototxt", phase="train")
    assert "layer 'mnist' (Data)" in str(e.value) and "input_shapes" in str(e.value)
    assert e.value.line == 2


@pytest.mark.parametrize(
    "name, batch, outputs",
    [
        ("bvlc_alexnet_deploy", 10, {"prob": (10, 1000)}),
        ("bvlc_reference_caffenet_deploy", 10, {"prob": (10, 1000)}),
        ("bvlc_googlenet_deploy", 10, {"prob": (10, 1000)}),
        ("vgg16_deploy", 10, {"prob": (10, 1000)}),
        ("resnet50_deploy", 1, {"prob": (1, 1000)}),
        ("mnist_lenet", 64, {"ip2": (64, 10), "prob": (64, 10)}),
    ],
)
def test_deploy_nets_give_caffes_output_shapes(name, batch, outputs):
    net = lamina.Net(MODELS / f"{name}.prototxt", phase="test")
    data = net.inputs[0]
    assert net.blobs[data].shape[0] == batch
    rng = np.random.default_rng(0)
    out = net.forward(**{data: rng.standard_normal(net.blobs[data].shape).astype(np.float32)})
    for blob, shape in outputs.items():
        assert net.blobs[blob].shape == shape
    if "prob" in out:
        np.testing.assert_allclose(out["prob"].sum(1), 1, rtol=1e-4)


def test_googlenet_has_three_classifier_heads():
    net = lamina.Net(MODELS / "bvlc_googlenet_train_val.prototxt", phase="train",
                     input_shapes={"data": (2, 3, 224, 224), "label": (2,)})
    for head in ("loss1/classifier", "loss2/classifier", "loss3/classifier"):
        assert net.blobs[head].shape == (2, 1000)
    weights = {layer.name: layer.loss_weights for layer in net.layers if layer.type == "SoftmaxWithLoss"}
    assert weights == {"loss1/loss": [0.3], "loss2/loss": [0.3], "loss3/loss3": [1.0]}


def test_deprecated_input_header_becomes_an_input_layer():
    net = lamina.Net(MODELS / "vgg16_deploy.prototxt", phase="test")
    assert net.layers[0].type == "Input" and net.inputs == ["data"]
    assert net.blobs["data"].shape == (10, 3, 224, 224)
    text = 'input: "a" input_shape { dim: 2 dim: 3 } input: "b" input_shape { dim: 2 }\n' \
           'layer { name: "s" type: "Scale" bottom: "a" bottom: "b" top: "c" scale_param { axis: 0 } }'
    net = lamina.Net(text, phase="test")
    assert net.blobs["a"].shape == (2, 3) and net.blobs["b"].shape == (2,)


def test_v1_layers_upgrade_like_caffe():
    solver = lamina.prototxt.parse_file(str(MODELS / "mnist_lenet_solver_consolidated.prototxt"))
    net_param = [f for f in solver.fields if f.name == "net_param"][0].value
    text = lamina.prototxt.print(net_param)
    net = lamina.Net(text, phase="train", input_shapes={"data": (4, 1, 28, 28), "label": (4,)})
    types = [layer.type for layer in net.layers]
    assert types == ["Data", "Convolution", "Pooling", "Convolution", "Pooling", "InnerProduct", "ReLU",
                     "InnerProduct", "Accuracy", "SoftmaxWithLoss"]
    # blobs_lr / weight_decay became param { lr_mult decay_mult }.
    assert [p.lr_mult for p in net.params["conv1"]] == [1.0, 2.0]
    assert "blobs_lr" not in net.to_prototxt() and 'type: "Convolution"' in net.to_prototxt()
    test_net = lamina.Net(text, phase="test", stages=["test-on-test-set"],
                          input_shapes={"data": (4, 1, 28, 28), "label": (4,)})
    assert "accuracy" in test_net.outputs


LENET = (MODELS / "mnist_lenet_train_test.prototxt").read_text()


def test_phases_stages_and_levels_select_layers():
    text = """
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "train_only" type: "ReLU" bottom: "x" top: "a" include { phase: TRAIN } }
    layer { name: "test_only" type: "TanH" bottom: "x" top: "a" include { phase: TEST } }
    layer { name: "staged" type: "Sigmoid" bottom: "a" top: "b" include { stage: "deploy" } }
    layer { name: "not_staged" type: "AbsVal" bottom: "a" top: "b" include { not_stage: "deploy" } }
    layer { name: "deep" type: "Power" bottom: "b" top: "c" include { min_level: 2 } }
    layer { name: "shallow" type: "Exp" bottom: "b" top: "c" exclude { min_level: 2 } }
    """
    def names(**kw):
        return [layer.name for layer in lamina.Net(text, **kw).layers][1:]
    assert names(phase="train") == ["train_only", "not_staged", "shallow"]
    assert names(phase="test", stages=["deploy"], level=3) == ["test_only", "staged", "deep"]


def test_in_place_layers_and_diffs_at_the_chain_start():
    text = """force_backward: true
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 4 } } }
    layer { name: "ip" type: "Power" bottom: "x" top: "y" power_param { scale: 2 } }
    layer { name: "relu" type: "ReLU" bottom: "y" top: "y" }
    layer { name: "loss" type: "Reduction" bottom: "y" top: "loss" loss_weight: 1 }
    """
    net = lamina.Net(text, phase="train", dtype="float64")
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    net.forward(x=x)
    net.backward()
    np.testing.assert_array_equal(net.blobs["y"].data, [0, 4, 0, 8])  # after the in-place ReLU
    np.testing.assert_array_equal(net.blobs["y"].diff, [0, 1, 0, 1])  # Caffe: the ReLU's bottom diff
    np.testing.assert_array_equal(net.blobs["x"].diff, [0, 2, 0, 2])


# The layers after an in-place BatchNorm, and which of them it fuses: a per-channel Scale,
# a ReLU, both; not a leaky ReLU (its Scale still).
FUSION_RUNS = [
    (("Scale", "ReLU"), ["sc", "relu"]),
    (("Scale",), ["sc"]),
    (("ReLU",), ["relu"]),
    (("Scale", "leaky"), ["sc"]),
]


@pytest.mark.parametrize("global_stats", [True, False])
@pytest.mark.parametrize("bias_term", [True, False])
@pytest.mark.parametrize("run,fused_names", FUSION_RUNS)
def test_batch_norm_fuses_the_layers_after_it_with_the_same_results(global_stats, bias_term, run, fused_names):
    """A Scale and a ReLU in place after an in-place BatchNorm run inside it (the batch_norm
    op with the Scale's blobs as its weight and bias, and its relu); the same net with the
    first of them writing a new blob runs them apart. Values, every diff and the running
    statistics agree."""
    def build(top):
        layers = {
            "Scale": f"""layer {{ name: "sc" type: "Scale" bottom: "c" top: "TOP" scale_param {{
                        bias_term: {str(bias_term).lower()} filler {{ type: "uniform" min: 0.5 max: 2 }}
                        bias_filler {{ type: "gaussian" }} }} }}""",
            "ReLU": 'layer { name: "relu" type: "ReLU" bottom: "c" top: "TOP" }',
            "leaky": 'layer { name: "leaky" type: "ReLU" bottom: "c" top: "TOP" relu_param { negative_slope: 0.2 } }',
        }
        # the first layer of the run writes `top`; the rest work in place on it
        tail = "\n".join(layers[kind].replace('bottom: "c"', f'bottom: "{"c" if k == 0 else top}"')
                         .replace("TOP", top) for k, kind in enumerate(run))
        return lamina.Net(f"""force_backward: true
        layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 3 dim: 4 dim: 5 dim: 5 }} }} }}
        layer {{ name: "conv" type: "Convolution" bottom: "x" top: "c"
                 convolution_param {{ num_output: 6 kernel_size: 3 weight_filler {{ type: "gaussian" std: 0.5 }} }} }}
        layer {{ name: "bn" type: "BatchNorm" bottom: "c" top: "c"
                 batch_norm_param {{ use_global_stats: {str(global_stats).lower()} }} }}
        {tail}
        layer {{ name: "shift" type: "Power" bottom: "{top}" top: "p" power_param {{ shift: 1 }} }}
        layer {{ name: "loss" type: "Reduction" bottom: "p" top: "loss" reduction_param {{ operation: SUMSQ }} loss_weight: 1 }}
        """, phase="train", dtype="float64")  # (the shift: a gradient where the ReLU gave 0, which it must stop)

    fused, apart = build("c"), build("s")
    assert [layer.name for layer in fused.layers if layer.fused] == fused_names
    assert not any(layer.fused for layer in apart.layers)
    rng = np.random.default_rng(3)
    stats = [rng.uniform(-1, 1, 6) * 2, rng.uniform(0.5, 2, 6) * 2, np.array([2.0])]
    for layer, params in fused.params.items():
        for i, p in enumerate(params):
            p.data[...] = stats[i] if layer == "bn" else p.data
            apart.params[layer][i].data[...] = p.data
    x = rng.standard_normal((3, 4, 5, 5))
    for net in (fused, apart):
        net.forward(x=x)
        net.backward()
    out = fused.blobs["c"].data
    np.testing.assert_allclose(out, apart.blobs["s"].data, rtol=1e-12, atol=1e-12)
    if run[-1] == "ReLU":
        assert (out == 0).mean() > 0.2 and (out > 0).mean() > 0.2  # the ReLU cut some, passed some
    assert fused.loss() == pytest.approx(apart.loss(), rel=1e-12)
    for blob in ("x", "c"):  # "c": the diff at the chain's start, the convolution's output
        np.testing.assert_allclose(fused.blobs[blob].diff, apart.blobs[blob].diff, rtol=1e-10, atol=1e-10)
    for layer, params in fused.params.items():
        for p, q in zip(params, apart.params[layer]):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-12)  # running statistics too
            np.testing.assert_allclose(p.diff, q.diff, rtol=1e-10, atol=1e-10)
    if "Scale" in run:
        assert np.abs(fused.params["sc"][0].diff).max() > 1e-3  # the Scale's blobs did get gradients


def test_one_top_feeding_two_layers_sums_gradients_and_loss_weights_scale():
    text = """force_backward: true
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 3 } } }
    layer { name: "a" type: "Power" bottom: "x" top: "a" power_param { scale: 2 } }
    layer { name: "b" type: "Power" bottom: "x" top: "b" power_param { power: 2 } }
    layer { name: "la" type: "Reduction" bottom: "a" top: "la" loss_weight: 0.5 }
    layer { name: "lb" type: "Reduction" bottom: "b" top: "lb" loss_weight: 3 }
    """
    net = lamina.Net(text, phase="train", dtype="float64")
    x = np.array([1.0, -2.0, 0.5])
    net.forward(x=x)
    assert net.loss() == pytest.approx(0.5 * 2 * x.sum() + 3 * (x**2).sum())
    net.backward()
    np.testing.assert_allclose(net.blobs["x"].diff, 0.5 * 2 + 3 * 2 * x)


def test_propagate_down_false_stops_the_gradient():
    text = """force_backward: true
    layer { name: "x" type: "Input" top: "x" top: "y" input_param { shape { dim: 1 dim: 3 } } }
    layer { name: "e" type: "EuclideanLoss" bottom: "x" bottom: "y" top: "loss" propagate_down: true propagate_down: false }
    """
    net = lamina.Net(text, phase="train", dtype="float64")
    net.forward(x=np.array([[1.0, 2.0, 3.0]]), y=np.zeros((1, 3)))
    net.backward()
    np.testing.assert_allclose(net.blobs["x"].diff, [[1.0, 2.0, 3.0]])  # (x - y) / N, N = 1
    np.testing.assert_array_equal(net.blobs["y"].diff, 0)


def test_siamese_nets_share_weights_by_param_name():
    net = lamina.Net(MODELS / "mnist_siamese_train_test.prototxt", phase="train",
                     input_shapes={"pair_data": (4, 2, 28, 28), "sim": (4,)})
    conv1, conv1_p = net.params["conv1"], net.params["conv1_p"]
    assert conv1[0].tensor is not None
    np.testing.assert_array_equal(conv1[0].data, conv1_p[0].data)
    conv1[0].data[0, 0, 0, 0] = 123.0  # one blob, two layers
    assert conv1_p[0].data[0, 0, 0, 0] == 123.0
    names = [name for name, *_ in net.learnable_params()]
    assert len(names) == len(set(names)) == 10  # conv1, conv2, ip1, ip2, feat: weight and bias, once each
    rng = np.random.default_rng(0)
    net.forward(pair_data=rng.random((4, 2, 28, 28)), sim=np.array([0, 1, 0, 1.0]))
    net.backward()
    # The shared gradient is the sum over both branches: it equals what a two-branch sum gives.
    assert np.abs(conv1[0].diff).sum() > 0
    np.testing.assert_array_equal(conv1[0].diff, conv1_p[0].diff)


def test_save_and_load_weights_round_trip_atomically(tmp_path):
    shapes = {"data": (2, 1, 28, 28), "label": (2,)}
    a = lamina.Net(LENET, phase="train", input_shapes=shapes)
    path = tmp_path / "lenet.safetensors"
    a.save(path)
    assert not list(tmp_path.glob("*.tmp"))
    lamina.manual_seed(99)
    b = lamina.Net(LENET, phase="test", input_shapes={"data": (5, 1, 28, 28), "label": (5,)})
    assert not np.array_equal(a.params["conv1"][0].data, b.params["conv1"][0].data)
    b.load(path)
    for name in a.params:
        for pa, pb in zip(a.params[name], b.params[name]):
            np.testing.assert_array_equal(pa.data, pb.data)
    # The file is safetensors: an 8-byte header length, then JSON naming "layer/index".
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert b'"conv1/0":{"dtype":"F32","shape":[20,1,5,5]' in raw[8:8 + n]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:5], "only 5 bytes"),
        (lambda raw: (10**12).to_bytes(8, "little") + raw[8:], "does not fit"),
        (lambda raw: raw[:-4], "claims bytes"),
        (lambda raw: raw[:8] + raw[8:20].replace(b"{", b"[") + raw[20:], "bad header"),
    ],
)
def test_corrupt_weight_files_are_rejected_before_anything_changes(tmp_path, damage, message):
    net = lamina.Net(LENET, phase="test", input_shapes={"data": (2, 1, 28, 28), "label": (2,)})
    path = tmp_path / "w.safetensors"
    net.save(path)
    path.write_bytes(damage(path.read_bytes()))
    before = net.params["conv1"][0].data.copy()
    with pytest.raises(lamina.FileFormatError, match=message):
        net.load(path)
    np.testing.assert_array_equal(net.params["conv1"][0].data, before)


def test_loading_weights_of_another_net_names_the_mismatch(tmp_path):
    path = tmp_path / "w.safetensors"
    lamina.Net(MODELS / "cifar10_quick.prototxt", phase="test").save(path)
    net = lamina.Net(MODELS / "mnist_lenet.prototxt", phase="test")
    with pytest.raises(lamina.FileFormatError, match="conv1/0' has shape"):
        net.load(path)


def test_printer_round_trips_a_built_net():
    net = lamina.Net(MODELS / "bvlc_googlenet_deploy.prototxt", phase="test")
    again = lamina.Net(net.to_prototxt(), phase="test")
    assert [(x.name, x.type, x.bottoms, x.tops) for x in again.layers] == \
           [(x.name, x.type, x.bottoms, x.tops) for x in net.layers]


# Malformed nets: (text, error class, line, the text the column points at, words the
# message must contain). Semantic errors point at the layer's opening brace.
BAD = [
    ('layer { name: "a" type: "Input" top: "x" input_param { shape { dim: 2 } }\n', lamina.PrototxtError, 2, None,
     ["expected", "}"]),
    ('layer {\n  name: "a"\n  type: "Input"\n  top: "x"\n  input_parm { }\n}', lamina.PrototxtError, 5, "input_parm",
     ["unknown field 'input_parm'", "did you mean 'input_param'"]),
    ('layer { name: "a" type: "Input" top: "x"\n input_param { shape { dim: "2" } } }', lamina.PrototxtError, 2, '"2"',
     ["'dim'", "an integer"]),
    ('layer { name: "a" name: "b" type: "ReLU" }', lamina.PrototxtError, 1, 'name: "b"', ["'name'", "given twice"]),
    ('layer { name: "p" type: "Pooling" bottom: "x" top: "y" pooling_param { pool: MEAN } }', lamina.PrototxtError, 1,
     "MEAN", ["unknown PoolMethod value 'MEAN'", "one of MAX, AVE, STOCHASTIC"]),
    ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
     'layer { name: "c" type: "Convolutoin" bottom: "x" top: "y" }', lamina.PrototxtError, 2, "type",
     ["unknown layer type 'Convolutoin'", "did you mean 'Convolution'"]),
    ('layer { name: "c" type: "ReLU" bottom: "nowhere" top: "y" }', lamina.PrototxtError, 1, "bottom",
     ["unknown bottom 'nowhere'"]),
    ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
     'layer { name: "a" type: "ReLU" bottom: "x" top: "y" }\nlayer { name: "b" type: "TanH" bottom: "x" top: "y" }',
     lamina.PrototxtError, 3, "top", ["top 'y' is already produced"]),
    ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
     'layer { name: "a" type: "Eltwise" bottom: "x" top: "y" }', lamina.PrototxtError, 2, "{",
     ["takes at least 2 bottoms, got 1"]),
    ('layer { name: "a" type: "ReLU" include { phase: TRAIN } exclude { phase: TEST } }', lamina.PrototxtError, 1,
     "include", ["both include and exclude"]),
    ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }\n'
     'layer { name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 2 kernel_size: 7 } }',
     lamina.PrototxtError, 2, "{", ["layer 'c' (Convolution)", "[2, 3, 4, 4]"]),
    ('layer { name: "c" type: "Clip" clip_param { min: 0 } }', lamina.PrototxtError, 1, "{ min",
     ["missing its required field 'max'"]),
    ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 } } }\n'
     'layer { name: "f" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { weight_filler { type: "xavir" } num_output: 2 } }',
     lamina.PrototxtError, 2, '"xavir"', ["unknown value \"xavir\"", "did you mean 'xavier'"]),
    ('layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 } } }\n'
     'layer { name: "f" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: -2 } }',
     lamina.PrototxtError, 2, "-2", ["non-negative integer"]),
    ('layer { name: "s" type: "Scale" bottom: "x" top: "y" loss_weight: 1 loss_weight: 2 }', lamina.PrototxtError, 1,
     "bottom", ["unknown bottom"]),
]


@pytest.mark.parametrize("text, error, line, anchor, words", BAD, ids=range(len(BAD)))
def test_malformed_nets_name_file_line_and_column(text, error, line, anchor, words):
    with pytest.raises(error) as e:
        lamina.Net(text, phase="train")
    source_line = (text.split("\n") + [""])[line - 1]
    column = source_line.index(anchor) + 1 if anchor else 1
    assert (e.value.file, e.value.line, e.value.column) == ("<string>", line, column), str(e.value)
    for w in words:
        assert w in str(e.value)


def test_malformed_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.prototxt"
    path.write_text('name: "n"\nlayer { name: "a" type: "ReLU" bottom: "x" top: "y" }\n')
    with pytest.raises(lamina.PrototxtError) as e:
        lamina.Net(path)
    assert str(e.value).startswith(f"{path}:2:")


@pytest.mark.parametrize(
    "text, words",
    [
        ('lr_policy: "stepp"', ["did you mean 'step'"]),
        ('type: "adam"', ["did you mean 'Adam'"]),
        ('solver_mode: GPUU', ["SolverMode", "did you mean 'GPU'"]),
        ("base_lr: 0.01 base_lr: 0.02", ["given twice"]),
        ("momentum: fast", ["expects a number"]),
        ("max_iter: 1.5", ["expects an integer"]),
    ],
)
def test_solver_schema_errors(text, words):
    with pytest.raises(lamina.PrototxtError) as e:
        lamina.schema.validate(lamina.prototxt.parse(text, "solver.prototxt"), "SolverParameter", "solver.prototxt")
    for w in words:
        assert w in str(e.value)


def test_schema_params_give_caffes_defaults():
    net = lamina.Net(MODELS / "mnist_lenet.prototxt", phase="test")
    conv = [layer for layer in net.layers if layer.name == "conv1"][0]
    assert conv.blobs[0].shape == (20, 1, 5, 5)


class Doubler(lamina.Layer):
    """y = factor * x + b, with a learned b: a Python layer with a parameter."""

    def setup(self, bottoms):
        self.factor = self.param["scale_by_param"]["factor"]
        self.b = self.add_param((bottoms[0].shape[1],), 'type: "constant" value: 0.5')

    def forward(self, bottoms):
        return lamina.ops.add(lamina.ops.affine(bottoms[0], self.factor), self.b)


def test_register_a_new_layer_type_with_its_param_message():
    lamina.register_layer("ScaleBy", Doubler, bottoms=(1, 1), tops=(1, 1), schema="""
message ScaleByParameter
  float factor = 1
extend LayerParameter
  ScaleByParameter scale_by_param
""")
    text = """force_backward: true
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "s" type: "ScaleBy" bottom: "x" top: "y" scale_by_param { factor: 3 } }
    layer { name: "l" type: "Reduction" bottom: "y" top: "l" loss_weight: 1 }
    """
    net = lamina.Net(text, phase="train", dtype="float64")
    x = np.arange(6.0).reshape(2, 3)
    net.forward(x=x)
    np.testing.assert_allclose(net.blobs["y"].data, 3 * x + 0.5)
    net.backward()
    np.testing.assert_allclose(net.blobs["x"].diff, 3.0)
    np.testing.assert_allclose(net.params["s"][0].diff, [2.0, 2.0, 2.0])
    with pytest.raises(lamina.PrototxtError, match="did you mean 'factor'"):
        lamina.Net(text.replace("factor: 3", "factr: 3"))


def test_python_layers_load_by_module_and_class(tmp_path, monkeypatch):
    (tmp_path / "my_layers.py").write_text(
        "import lamina\n"
        "class Square(lamina.Layer):\n"
        "    def forward(self, bottoms):\n"
        "        k = float(self.param_str or 1)\n"
        "        return [lamina.ops.affine(lamina.ops.square(bottoms[0]), k)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    text = """force_backward: true
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 3 } } }
    layer { name: "sq" type: "Python" bottom: "x" top: "y" python_param { module: "my_layers" layer: "Square" param_str: "2" } }
    layer { name: "l" type: "Reduction" bottom: "y" top: "l" loss_weight: 1 }
    """
    net = lamina.Net(text, phase="train", dtype="float64", python_layers=True)
    net.forward(x=np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(net.blobs["y"].data, [2.0, 8.0, 18.0])
    net.backward()
    np.testing.assert_allclose(net.blobs["x"].diff, [4.0, -8.0, 12.0])
    with pytest.raises(lamina.InvalidValueError, match="no_such_module"):
        lamina.Net(text.replace("my_layers", "no_such_module"), python_layers=True)
    # Without consent nothing is imported: a PrototxtError at the layer says how to allow it.
    with pytest.raises(lamina.PrototxtError, match="python_layers=True") as e:
        lamina.Net(text.replace("my_layers", "no_such_module"))
    assert e.value.line == 3 and "'sq'" in str(e.value)


def test_forward_rejects_unknown_inputs_and_backward_needs_a_tape():
    net = lamina.Net(MODELS / "mnist_lenet.prototxt", phase="test")
    with pytest.raises(lamina.InvalidValueError, match="'image' is not an input"):
        net.forward(image=np.zeros((64, 1, 28, 28)))
    with pytest.raises(lamina.AutogradError, match="TEST phase"):
        net.backward()


def test_blob_reshape_and_zero_copy_views():
    net = lamina.Net(MODELS / "mnist_lenet.prototxt", phase="test")
    net.blobs["data"].reshape(3, 1, 28, 28)
    net.blobs["data"].data[...] = 1.0  # writes into lamina's memory
    out = net.forward()
    assert out["prob"].shape == (3, 10)
    a = net.params["conv1"][0].data
    a[...] = 0
    assert (net.params["conv1"][0].data == 0).all()
