"""The Python builder: LeNet, an MLP and a ResNet block written with NetSpec give prototxt
that parses, round-trips through the printer and builds the nets Caffe would."""

from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina import NetSpec
from lamina import layers as L
from lamina import params as P
from lamina.netspec import TEST

MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"


def lenet(batch=64):
    n = NetSpec("LeNet")
    n.data, n.label = L.Input(ntop=2, shape=[dict(dim=[batch, 1, 28, 28]), dict(dim=[batch])])
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"),
                            param=[dict(lr_mult=1), dict(lr_mult=2)])
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50, weight_filler=dict(type="xavier"))
    n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.ip1 = L.InnerProduct(n.pool2, num_output=500, weight_filler=dict(type="xavier"))
    n.relu1 = L.ReLU(n.ip1, in_place=True)
    n.ip2 = L.InnerProduct(n.relu1, num_output=10, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.ip2, n.label)
    n.accuracy = L.Accuracy(n.ip2, n.label, include=dict(phase=TEST))
    return n


def test_lenet_matches_the_caffe_model_file():
    text = lenet().to_proto()
    net = lamina.Net(text, phase="test")
    ours = [(x.type, x.bottoms, x.tops) for x in net.layers if x.type not in ("Input", "Accuracy")]
    caffe = lamina.Net(MODELS / "mnist_lenet.prototxt", phase="test")
    theirs = [(x.type, x.bottoms, x.tops) for x in caffe.layers if x.type not in ("Input", "Softmax")]
    assert ours[:-1] == theirs  # the same stack, ending in a loss instead of a softmax
    for name in ("conv1", "conv2", "ip1", "ip2"):
        assert [p.shape for p in net.params[name]] == [p.shape for p in caffe.params[name]]
    assert [p.lr_mult for p in net.params["conv1"]] == [1.0, 2.0]
    assert "accuracy" in net.outputs
    assert "accuracy" not in lamina.Net(text, phase="train").blobs


def test_prototxt_round_trips_through_the_parser_and_printer():
    text = lenet().to_proto()
    tree = lamina.prototxt.parse(text)
    again = lamina.prototxt.print(tree)
    assert lamina.prototxt.print(lamina.prototxt.parse(again)) == again
    assert [f.name for f in tree.fields].count("layer") == 10


def test_mlp_trains_from_a_netspec():
    n = NetSpec()
    n.x, n.y = L.Input(ntop=2, shape=[dict(dim=[32, 2]), dict(dim=[32])])
    n.h = L.InnerProduct(n.x, num_output=16, weight_filler=dict(type="xavier"))
    n.a = L.TanH(n.h)
    n.out = L.InnerProduct(n.a, num_output=2, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.out, n.y)
    solver = lamina.Solver('type: "Adam" base_lr: 0.02 lr_policy: "fixed" momentum: 0.9 random_seed: 3',
                           net=n.to_proto(), quiet=True)
    rng = np.random.default_rng(0)

    def batch(net, phase):
        x = rng.uniform(-1, 1, (32, 2))
        return {"x": x, "y": (x[:, 0] * x[:, 1] > 0).astype(np.float32)}

    solver.feed = batch
    first = solver.step(5)
    solver.step(300)
    assert solver.smoothed_loss < first / 3


def resnet_block(n, bottom, channels, name):
    conv = L.Convolution(bottom, num_output=channels, kernel_size=3, pad=1, bias_term=False,
                         weight_filler=dict(type="msra"))
    setattr(n, f"{name}_conv", conv)
    setattr(n, f"{name}_bn", L.BatchNorm(conv, in_place=True))
    setattr(n, f"{name}_scale", L.Scale(getattr(n, f"{name}_bn"), bias_term=True, in_place=True))
    setattr(n, f"{name}_relu", L.ReLU(getattr(n, f"{name}_scale"), in_place=True))
    conv2 = L.Convolution(getattr(n, f"{name}_relu"), num_output=channels, kernel_size=3, pad=1, bias_term=False,
                          weight_filler=dict(type="msra"))
    setattr(n, f"{name}_conv2", conv2)
    setattr(n, f"{name}_sum", L.Eltwise(conv2, bottom, operation=P.Eltwise.SUM))
    return getattr(n, f"{name}_sum")


def test_resnet_block_builds_and_adds_the_shortcut():
    n = NetSpec("block")
    n.data = L.Input(shape=dict(dim=[2, 8, 6, 6]))
    out = resnet_block(n, n.data, 8, "res1")
    n.out = L.ReLU(out)
    net = lamina.Net(n.to_proto(), phase="test")
    assert net.blobs["out"].shape == (2, 8, 6, 6)
    assert [x.type for x in net.layers] == ["Input", "Convolution", "BatchNorm", "Scale", "ReLU", "Convolution",
                                            "Eltwise", "ReLU"]
    # Zero the second convolution: the block is then relu(x) of the shortcut alone.
    net.params["res1_conv2"][0].data[...] = 0
    x = np.random.default_rng(0).standard_normal((2, 8, 6, 6)).astype(np.float32)
    out = net.forward(data=x)["out"]
    np.testing.assert_allclose(out, np.maximum(x, 0), rtol=1e-6)


def test_builder_errors_are_clear():
    with pytest.raises(AttributeError, match="did you mean 'Convolution'"):
        L.Convolutoin
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[1, 1, 4, 4]))
    n.c = L.Convolution(n.data, kernal_size=3, num_output=2)
    with pytest.raises(lamina.PrototxtError, match="did you mean 'kernel_size'"):
        n.to_proto()
    with pytest.raises(AttributeError, match="no enum value"):
        P.Pooling.MEAN
    with pytest.raises(lamina.InvalidValueError, match="assign a layer's output"):
        n.x = 3
