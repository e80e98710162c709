"""lamina.nn: every module against its torch.nn counterpart with the same weights (forward,
the input's gradient and every parameter's gradient, float64), and the Module machinery
(registration, state_dict round trips through safetensors, errors)."""

import numpy as np
import pytest

import lamina
from lamina import nn

torch = pytest.importorskip("torch")


def to_torch_state(module):
    return {k: torch.from_numpy(np.array(v)) for k, v in module.state_dict().items()}


def run_pair(lm, tm, x_np, train=True, extra_inputs=None):
    """Forward and backward through both with the same random output projection."""
    lm.double().train(train)
    tm.double().train(train)
    missing, unexpected = tm.load_state_dict(to_torch_state(lm), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    x = lamina.tensor(x_np).requires_grad_()
    xt = torch.from_numpy(x_np.copy()).requires_grad_()
    y, yt = lm(x), tm(xt)
    if isinstance(yt, tuple):  # recurrent: (output, state)
        y, yt = y[0], yt[0]
    proj = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (y * lamina.tensor(proj)).sum().backward()
    (yt * torch.from_numpy(proj)).sum().backward()
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(np.asarray(x.grad), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    tparams = dict(tm.named_parameters())
    for name, p in lm.named_parameters():
        np.testing.assert_allclose(np.asarray(p.grad), tparams[name].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)
    for name, b in lm.named_buffers():  # running statistics moved the same way
        np.testing.assert_allclose(np.asarray(b), tm.state_dict()[name].numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def rand(*shape):
    return np.random.default_rng(0).standard_normal(shape)


# name, lamina module, torch module, input
ROWS = [
    ("linear", lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), rand(4, 5)),
    ("linear_3d", lambda: nn.Linear(5, 3, bias=False), lambda: torch.nn.Linear(5, 3, bias=False), rand(2, 4, 5)),
    ("conv2d", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), lambda: torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
     rand(2, 3, 7, 6)),
    ("conv2d_groups_dilation", lambda: nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2),
     lambda: torch.nn.Conv2d(4, 6, (3, 2), dilation=2, groups=2), rand(1, 4, 9, 8)),
    ("conv1d", lambda: nn.Conv1d(3, 5, 3, stride=2, padding=1), lambda: torch.nn.Conv1d(3, 5, 3, stride=2, padding=1),
     rand(2, 3, 11)),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
     lambda: torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), rand(2, 3, 4, 5)),
    ("max_pool2d", lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2), rand(2, 3, 6, 8)),
    ("max_pool2d_ceil", lambda: nn.MaxPool2d(3, 2, ceil_mode=True), lambda: torch.nn.MaxPool2d(3, 2, ceil_mode=True),
     rand(1, 2, 8, 8)),
    ("avg_pool2d_pad", lambda: nn.AvgPool2d(3, 2, padding=1), lambda: torch.nn.AvgPool2d(3, 2, padding=1),
     rand(2, 2, 7, 7)),
    ("adaptive_avg_pool2d", lambda: nn.AdaptiveAvgPool2d((3, 2)), lambda: torch.nn.AdaptiveAvgPool2d((3, 2)),
     rand(2, 3, 7, 5)),
    ("adaptive_avg_pool2d_even", lambda: nn.AdaptiveAvgPool2d(2), lambda: torch.nn.AdaptiveAvgPool2d(2),
     rand(2, 3, 6, 4)),
    ("batch_norm2d", lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), rand(4, 3, 5, 5)),
    ("batch_norm1d", lambda: nn.BatchNorm1d(6, momentum=0.3), lambda: torch.nn.BatchNorm1d(6, momentum=0.3),
     rand(8, 6)),
    ("batch_norm1d_3d", lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), rand(4, 3, 5)),
    ("lrn", lambda: nn.LocalResponseNorm(3, alpha=0.1, beta=0.75, k=2.0),
     lambda: torch.nn.LocalResponseNorm(3, alpha=0.1, beta=0.75, k=2.0), rand(2, 6, 3, 3)),
    ("relu", lambda: nn.ReLU(), lambda: torch.nn.ReLU(), rand(3, 4)),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), rand(3, 4)),
    ("elu", lambda: nn.ELU(0.5), lambda: torch.nn.ELU(0.5), rand(3, 4)),
    ("prelu", lambda: nn.PReLU(3), lambda: torch.nn.PReLU(3), rand(2, 3, 4)),
    ("sigmoid", lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid(), rand(3, 4)),
    ("tanh", lambda: nn.Tanh(), lambda: torch.nn.Tanh(), rand(3, 4)),
    ("softplus", lambda: nn.Softplus(), lambda: torch.nn.Softplus(), rand(3, 4)),
    ("softmax", lambda: nn.Softmax(1), lambda: torch.nn.Softmax(1), rand(3, 4, 2)),
    ("log_softmax", lambda: nn.LogSoftmax(-1), lambda: torch.nn.LogSoftmax(-1), rand(3, 4)),
    ("flatten", lambda: nn.Flatten(), lambda: torch.nn.Flatten(), rand(2, 3, 4)),
    ("sequential", lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)),
     lambda: torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)), rand(5, 4)),
    ("lstm", lambda: nn.LSTM(3, 4), lambda: torch.nn.LSTM(3, 4), rand(5, 2, 3)),
    ("lstm_2layers_batch_first", lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True),
     lambda: torch.nn.LSTM(3, 4, num_layers=2, batch_first=True), rand(2, 5, 3)),
    ("gru", lambda: nn.GRU(3, 4, num_layers=2), lambda: torch.nn.GRU(3, 4, num_layers=2), rand(4, 2, 3)),
    ("rnn_tanh", lambda: nn.RNN(3, 5), lambda: torch.nn.RNN(3, 5), rand(4, 3, 3)),
    ("lstm_bidirectional_2layers", lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
     lambda: torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True), rand(5, 2, 3)),
    ("gru_bidirectional_batch_first", lambda: nn.GRU(3, 2, batch_first=True, bidirectional=True),
     lambda: torch.nn.GRU(3, 2, batch_first=True, bidirectional=True), rand(2, 4, 3)),
    ("rnn_bidirectional", lambda: nn.RNN(2, 3, num_layers=3, bidirectional=True),
     lambda: torch.nn.RNN(2, 3, num_layers=3, bidirectional=True), rand(3, 2, 2)),
    ("rnn_relu_nobias", lambda: nn.RNN(3, 5, nonlinearity="relu", bias=False),
     lambda: torch.nn.RNN(3, 5, nonlinearity="relu", bias=False), rand(4, 3, 3)),
]


@pytest.mark.parametrize("name,make,make_torch,x", ROWS, ids=[r[0] for r in ROWS])
def test_module_matches_torch(name, make, make_torch, x):
    lamina.manual_seed(3)
    run_pair(make(), make_torch(), x)


def test_batch_norm_eval_uses_running_statistics():
    lm, tm = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    run_pair(lm, tm, rand(4, 3, 2, 2), train=True)  # moves the running statistics
    run_pair(lm, tm, rand(2, 3, 2, 2) + 1.0, train=False)


def test_recurrent_initial_state_and_final_state():
    lamina.manual_seed(0)
    lm, tm = nn.LSTM(2, 3, num_layers=2).double(), torch.nn.LSTM(2, 3, num_layers=2).double()
    tm.load_state_dict(to_torch_state(lm))
    x, h0, c0 = rand(4, 2, 2), rand(2, 2, 3), rand(2, 2, 3) * 0.5
    y, (h, c) = lm(lamina.tensor(x), (lamina.tensor(h0), lamina.tensor(c0)))
    yt, (ht, ct) = tm(*[torch.from_numpy(a) for a in (x,)], (torch.from_numpy(h0), torch.from_numpy(c0)))
    for a, b in ((y, yt), (h, ht), (c, ct)):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_bidirectional_initial_and_final_states_match_torch():
    lamina.manual_seed(1)
    lm = nn.LSTM(2, 3, num_layers=2, bidirectional=True).double()
    tm = torch.nn.LSTM(2, 3, num_layers=2, bidirectional=True).double()
    tm.load_state_dict(to_torch_state(lm))
    x, h0, c0 = rand(4, 2, 2), rand(4, 2, 3), rand(4, 2, 3) * 0.5
    y, (h, c) = lm(lamina.tensor(x), (lamina.tensor(h0), lamina.tensor(c0)))
    yt, (ht, ct) = tm(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    assert y.shape == (4, 2, 6) and h.shape == (4, 2, 3)
    for a, b in ((y, yt), (h, ht), (c, ct)):
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(lamina.ShapeError, match=r"initial state must be \[4, N, 3\]"):
        lm(lamina.tensor(x), (lamina.tensor(h0[:2]), lamina.tensor(c0[:2])))


def test_embedding_matches_torch():
    lm = nn.Embedding(7, 3).double()
    tm = torch.nn.Embedding(7, 3).double()
    tm.load_state_dict(to_torch_state(lm))
    idx = np.array([[1, 6, 1], [0, 2, 5]])
    y = lm(lamina.tensor(idx))  # int64 indices
    yt = tm(torch.from_numpy(idx))
    proj = rand(2, 3, 3)
    (y * lamina.tensor(proj)).sum().backward()
    (yt * torch.from_numpy(proj)).sum().backward()
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy())
    np.testing.assert_allclose(np.asarray(lm.weight.grad), tm.weight.grad.numpy())


def test_dropout_is_identity_in_eval_and_scales_in_training():
    m = nn.Dropout(0.25)
    x = lamina.ones(1000)
    y = np.asarray(m(x))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)} and 0.6 < (y > 0).mean() < 0.9
    np.testing.assert_array_equal(np.asarray(m.eval()(x)), np.ones(1000))


def test_default_fillers_follow_pytorch_bounds_and_caffe_fillers_apply():
    lamina.manual_seed(0)
    lin = nn.Linear(100, 50)
    w = np.asarray(lin.weight)
    assert np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.09 and abs(w.mean()) < 0.01
    conv = nn.Conv2d(4, 8, 3, weight_filler={"type": "gaussian", "std": 0.5}, bias_filler={"type": "constant", "value": 0.2})
    np.testing.assert_allclose(np.asarray(conv.bias), 0.2, rtol=1e-6)
    assert 0.4 < np.asarray(conv.weight).std() < 0.6
    x = nn.init.xavier_(lamina.zeros((30, 20)))  # Caffe: uniform in +-sqrt(3 / fan_in)
    assert np.abs(np.asarray(x)).max() <= np.sqrt(3 / 20) + 1e-6
    with pytest.raises(lamina.Error):
        nn.init.fill_(lamina.zeros(3), "no_such_filler")


class Net2(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.head = nn.Linear(2 * 4 * 4, 3)
        self.scale = 2.0  # a plain attribute

    def forward(self, x):
        return self.head(self.body(x).reshape(x.shape[0], -1))


def test_module_registration_names_and_repr():
    m = Net2()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.weight", "head.bias"]
    assert [n for n, _ in m.named_buffers()] == ["body.1.running_mean", "body.1.running_var"]
    assert list(m.state_dict()) == ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias",
                                    "body.1.running_mean", "body.1.running_var", "head.weight", "head.bias"]
    r = repr(m)
    assert "(body): Sequential(" in r and "(0): Conv2d(1, 2, kernel_size=(3, 3)" in r and "(head): Linear(" in r
    assert m.eval().body[1].training is False and m.train().head.training is True
    assert m.scale == 2.0 and "scale" not in dict(m.named_parameters())


def test_state_dict_round_trip_through_safetensors(tmp_path):
    lamina.manual_seed(1)
    a, b = Net2(), Net2()
    a.train()(lamina.randn((2, 1, 6, 6)))  # running statistics move
    a.save(tmp_path / "m.safetensors")
    b.load_state_dict(tmp_path / "m.safetensors")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(np.asarray(va), np.asarray(vb))
    x = lamina.randn((3, 1, 6, 6))
    np.testing.assert_array_equal(np.asarray(a.eval()(x)), np.asarray(b.eval()(x)))


def test_load_state_dict_errors_change_nothing():
    m = Net2()
    before = {k: np.array(v) for k, v in m.state_dict().items()}
    good = {k: np.zeros(v.shape, np.float32) for k, v in before.items()}
    bad_shape = dict(good, **{"head.weight": np.zeros((3, 5), np.float32)})
    with pytest.raises(lamina.ShapeError, match="head.weight"):
        m.load_state_dict(bad_shape)
    missing = {k: v for k, v in good.items() if k != "body.0.bias"}
    with pytest.raises(lamina.InvalidValueError, match="missing keys body.0.bias"):
        m.load_state_dict(missing)
    with pytest.raises(lamina.InvalidValueError, match="unexpected keys extra"):
        m.load_state_dict(dict(good, extra=np.zeros(1, np.float32)))
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), before[k])
    assert m.load_state_dict(missing, strict=False) == (["body.0.bias"], [])
    np.testing.assert_array_equal(np.asarray(m.head.weight), 0)


def test_bad_arguments_are_lamina_errors():
    with pytest.raises(lamina.InvalidValueError, match="in_features"):
        nn.Linear(0, 3)
    with pytest.raises(lamina.InvalidValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(lamina.ShapeError, match="BatchNorm2d"):
        nn.BatchNorm2d(3)(lamina.zeros((2, 4, 2, 2)))
    with pytest.raises(lamina.ShapeError, match="LSTM"):
        nn.LSTM(2, 3)(lamina.zeros((2, 2)))
    with pytest.raises(lamina.ShapeError, match="lstm: w_x"):
        nn.LSTM(2, 3)(lamina.zeros((2, 2, 5)))
    with pytest.raises(lamina.DeviceError):
        nn.Linear(2, 2).to("cuda")


LENET_TRAIN = """
name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 4 dim: 1 dim: 6 dim: 6 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1" inner_product_param { num_output: 3 } }
"""


def test_net_module_parameters_and_gradients_mix_with_python_code():
    lamina.manual_seed(2)
    net = nn.NetModule(lamina.Net(LENET_TRAIN, phase="train"))
    assert [n for n, _ in net.named_parameters()] == ["conv1/0", "conv1/1", "ip1/0", "ip1/1"]
    x = np.random.default_rng(0).standard_normal((4, 1, 6, 6)).astype(np.float32)

    class Feed(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(data=x)

    model = nn.Sequential(Feed(net), nn.Linear(3, 2))  # a prototxt net inside Python code
    out = model(lamina.tensor(x))
    (out * out).sum().backward()
    w = dict(model.named_parameters())
    assert all(w[k].grad is not None for k in w)
    # The net's own parameters get the gradient torch computes for the same composition.
    conv_w, conv_b = np.asarray(w["0.inner.conv1/0"]), np.asarray(w["0.inner.conv1/1"])
    ip_w, ip_b = np.asarray(w["0.inner.ip1/0"]), np.asarray(w["0.inner.ip1/1"])
    lin_w, lin_b = np.asarray(w["1.weight"]), np.asarray(w["1.bias"])
    T = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (conv_w, conv_b, ip_w, ip_b, lin_w, lin_b)]
    y = torch.nn.functional.conv2d(torch.tensor(x, dtype=torch.float64), T[0], T[1])
    y = torch.nn.functional.linear(torch.nn.functional.linear(y.reshape(4, -1), T[2], T[3]), T[4], T[5])
    (y * y).sum().backward()
    for k, t in zip(["0.inner.conv1/0", "0.inner.conv1/1", "0.inner.ip1/0", "0.inner.ip1/1", "1.weight", "1.bias"], T):
        np.testing.assert_allclose(np.asarray(w[k].grad), t.grad.numpy(), rtol=2e-4, atol=1e-5, err_msg=k)


def labels(n, c):
    return np.random.default_rng(4).integers(0, c, n)


# name, lamina loss module, torch loss module, inputs (the first one gets a gradient)
LOSS_ROWS = [
    ("cross_entropy", lambda: nn.CrossEntropyLoss(label_smoothing=0.1), lambda: torch.nn.CrossEntropyLoss(label_smoothing=0.1),
     [rand(5, 4), labels(5, 4)]),
    ("cross_entropy_weighted_sum", lambda: nn.CrossEntropyLoss(weight=lamina.tensor(np.arange(1.0, 5.0)), reduction="sum"),
     lambda: torch.nn.CrossEntropyLoss(weight=torch.arange(1.0, 5.0, dtype=torch.float64), reduction="sum"),
     [rand(5, 4), labels(5, 4)]),
    ("nll", lambda: nn.NLLLoss(ignore_index=1), lambda: torch.nn.NLLLoss(ignore_index=1), [rand(6, 3), labels(6, 3)]),
    ("mse", lambda: nn.MSELoss(), lambda: torch.nn.MSELoss(), [rand(3, 4), rand(3, 4) + 1]),
    ("l1_sum", lambda: nn.L1Loss(reduction="sum"), lambda: torch.nn.L1Loss(reduction="sum"), [rand(3, 4), rand(3, 4) + 0.1]),
    ("smooth_l1", lambda: nn.SmoothL1Loss(beta=0.5), lambda: torch.nn.SmoothL1Loss(beta=0.5), [rand(7), rand(7) * 2]),
    ("bce_logits", lambda: nn.BCEWithLogitsLoss(pos_weight=lamina.tensor(np.array([2.0, 0.5, 1.0]))),
     lambda: torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)),
     [rand(4, 3), (rand(4, 3) > 0).astype(np.float64)]),
    ("triplet", lambda: nn.TripletMarginLoss(margin=0.5), lambda: torch.nn.TripletMarginLoss(margin=0.5),
     [rand(4, 5), rand(4, 5) * 0.5, rand(4, 5) * 2]),
    ("kl_div_batchmean", lambda: nn.KLDivLoss(reduction="batchmean"), lambda: torch.nn.KLDivLoss(reduction="batchmean"),
     [np.log(np.full((3, 4), 0.25)) + rand(3, 4) * 0.1, np.full((3, 4), 0.25)]),
]


@pytest.mark.parametrize("name,make,make_torch,inputs", LOSS_ROWS, ids=[r[0] for r in LOSS_ROWS])
def test_loss_module_matches_torch(name, make, make_torch, inputs):
    lx = [lamina.tensor(a) for a in inputs]
    tx = [torch.from_numpy(np.array(a)) for a in inputs]
    lx[0].requires_grad_()
    tx[0].requires_grad_()
    y, yt = make()(*lx), make_torch()(*tx)
    y.backward()
    yt.backward()
    np.testing.assert_allclose(float(y), yt.item(), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(lx[0].grad), tx[0].grad.numpy(), rtol=1e-9, atol=1e-12)
