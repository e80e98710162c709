"""The losses beyond their op-table rows (test_ops.py): bad input naming the op and the
shapes, PyTorch's edge cases (probabilities of exactly 0 and 1, every label ignored), the
Caffe op sharing cross_entropy's forward, and lamina.functional's re-exports."""

import numpy as np
import pytest

import lamina
import lamina.functional as F
from lamina import ops as L

try:
    import torch
except ImportError:  # pragma: no cover - CI installs the test extra
    torch = None


def z(*shape, dtype="float32"):
    return lamina.zeros(*shape, dtype=dtype)


def labels(a):
    return lamina.tensor(np.asarray(a, dtype=np.int64))


BAD = [
    # call                                                                error                     message must contain
    (lambda: L.mse_loss(z(2, 3), z(4)),                                   lamina.ShapeError,        "mse_loss: shapes [2, 3] and [4] do not broadcast"),
    (lambda: L.l1_loss(z(2, 3), z(2, 3, dtype="float64")),                lamina.DTypeError,        "l1_loss: dtypes differ: float32 and float64"),
    (lambda: L.l1_loss(z(2), z(2), reduction="avg"),                      lamina.InvalidValueError, "l1_loss: reduction must be 'none', 'mean' or 'sum', got 'avg'"),
    (lambda: L.kl_div(z(2), z(2), reduction="avg"),                       lamina.InvalidValueError, "kl_div: reduction must be 'none', 'mean', 'sum' or 'batchmean', got 'avg'"),
    (lambda: L.mse_loss(z(2), z(2), reduction="batchmean"),               lamina.InvalidValueError, "mse_loss: reduction 'batchmean' is kl_div's only"),
    (lambda: L.smooth_l1_loss(z(2), z(2), beta=-1.0),                     lamina.InvalidValueError, "smooth_l1_loss: beta must be >= 0, got -1"),
    (lambda: L.huber_loss(z(2), z(2), delta=0.0),                         lamina.InvalidValueError, "huber_loss: delta must be > 0, got 0"),
    (lambda: L.nll_loss(z(2, 5), labels([0, 5])),                         lamina.OutOfRangeError,   "nll_loss: label 5 at position 1 is not a class index in [0, 5)"),
    (lambda: L.cross_entropy(z(2, 5), labels([-1, 0])),                   lamina.OutOfRangeError,   "cross_entropy: label -1 at position 0 is not a class index in [0, 5)"),
    (lambda: L.cross_entropy(z(2, 5), lamina.tensor([1.0, 0.0])),        lamina.DTypeError,        "cross_entropy: the target must hold class indices as int64 or int32, got float64"),
    (lambda: L.nll_loss(z(2, 5), lamina.tensor([True, False])),           lamina.DTypeError,        "nll_loss: the target must hold class indices as int64 or int32, got bool"),
    (lambda: L.nll_loss(z(2, 5, dtype="int64"), labels([0, 1])),          lamina.DTypeError,        "nll_loss: expected a float32 or float64 tensor, got int64"),
    (lambda: L.mse_loss(z(2, dtype="int32"), z(2, dtype="int32")),        lamina.DTypeError,        "mse_loss: expected a float32 or float64 tensor, got int32"),
    (lambda: L.softmax_cross_entropy(z(2, 5), lamina.tensor([True, False])), lamina.DTypeError,     "softmax_cross_entropy: the target must hold class indices as int64 or int32 or floats, got bool"),
    (lambda: L.cross_entropy(z(2, 5), labels([0, 1, 2])),                 lamina.ShapeError,        "cross_entropy: target [3] does not match input [2, 5] (expected [2])"),
    (lambda: L.nll_loss(z(2, 5, 3), labels(np.zeros((2, 5)))),            lamina.ShapeError,        "nll_loss: target [2, 5] does not match input [2, 5, 3] (expected [2, 3])"),
    (lambda: L.cross_entropy(z(2, 5), labels([0, 1]), z(4)),              lamina.ShapeError,        "cross_entropy: weight must be [5], got [4]"),
    (lambda: L.nll_loss(z(2, 5), labels([0, 1]), z(5, dtype="float64")), lamina.DTypeError,        "nll_loss: dtypes differ"),
    (lambda: L.cross_entropy(z(2, 5), labels([0, 1]), label_smoothing=1.5), lamina.InvalidValueError, "cross_entropy: label_smoothing must be in [0, 1], got 1.5"),
    (lambda: L.cross_entropy(z(0, 5), labels(np.zeros(0))),               lamina.ShapeError,        "cross_entropy: needs a non-empty input"),
    (lambda: L.nll_loss(z(2, 5), labels([0, 1]), reduction="batchmean"), lamina.InvalidValueError, "nll_loss: reduction 'batchmean' is kl_div's only"),
    (lambda: L.binary_cross_entropy(z(2, 3), z(3)),                       lamina.ShapeError,        "binary_cross_entropy: input [2, 3] and target [3] differ in shape"),
    (lambda: L.binary_cross_entropy(z(2, 3), z(2, 3), z(2)),              lamina.ShapeError,        "binary_cross_entropy: shapes [2] and [2, 3] do not broadcast"),
    (lambda: L.binary_cross_entropy_with_logits(z(2, 3), z(2, 3), pos_weight=z(2, 1, 3)), lamina.ShapeError,
     "binary_cross_entropy_with_logits: pos_weight [2, 1, 3] does not broadcast to the input [2, 3]"),
    (lambda: L.hinge_embedding_loss(z(2, 3), z(2)),                       lamina.ShapeError,        "hinge_embedding_loss: shapes [2, 3] and [2] do not broadcast"),
    (lambda: L.margin_ranking_loss(z(3), z(3), z(2)),                     lamina.ShapeError,        "margin_ranking_loss: shapes [3] and [2] do not broadcast"),
    (lambda: L.triplet_margin_loss(z(2, 3), z(3), z(2, 3)),               lamina.ShapeError,        "triplet_margin_loss: anchor, positive and negative must all be [N, D] or all [D], got [2, 3], [3] and [2, 3]"),
    (lambda: L.triplet_margin_loss(z(2, 3), z(2, 3), z(2, 3), p=0),       lamina.InvalidValueError, "triplet_margin_loss: p must be > 0"),
    (lambda: L.cosine_embedding_loss(z(2, 3), z(2, 3), z(3)),             lamina.ShapeError,        "cosine_embedding_loss: expected inputs [N, D] with target [N]"),
    (lambda: L.cosine_embedding_loss(z(2, 3), z(2, 4), z(2)),             lamina.ShapeError,        "cosine_embedding_loss: input1 [2, 3] and input2 [2, 4] differ in shape"),
    (lambda: L.kl_div(z(2, 3), z(4)),                                     lamina.ShapeError,        "kl_div: shapes [2, 3] and [4] do not broadcast"),
]


@pytest.mark.parametrize("call,error,message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_input_names_the_loss(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


@pytest.mark.skipif(torch is None, reason="torch is not installed (test extra)")
def test_binary_cross_entropy_at_probabilities_zero_and_one_is_finite_as_in_torch():
    # log 0 is clamped to -100 and the gradient's p (1 - p) kept >= 1e-12: a saturated
    # sigmoid (p exactly 0 or 1 in float32) gives PyTorch's finite loss and input gradient.
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.25], dtype=np.float32)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.5], dtype=np.float32)
    lp = lamina.tensor(p).requires_grad_()
    loss = L.binary_cross_entropy(lp, lamina.tensor(t), reduction="sum")
    loss.backward()
    tp = torch.tensor(p, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy(tp, torch.tensor(t), reduction="sum")
    tl.backward()
    assert float(loss) == pytest.approx(tl.item(), rel=1e-6) and float(loss) == pytest.approx(200 - 0.5 * np.log(0.25 * 0.75), rel=1e-6)
    np.testing.assert_allclose(np.asarray(lp.grad), tp.grad.numpy(), rtol=1e-6)
    assert np.all(np.isfinite(np.asarray(lp.grad)))


@pytest.mark.skipif(torch is None, reason="torch is not installed (test extra)")
def test_every_label_ignored():
    # PyTorch's weighted mean over no positions is 0 / 0; Caffe's normalizer never drops below 1.
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = np.array([-100.0, -100.0, -100.0])
    for op in ("nll_loss", "cross_entropy"):
        ours = float(getattr(L, op)(lamina.tensor(x), labels(y)))
        theirs = getattr(torch.nn.functional, op)(torch.tensor(x), torch.tensor(y).long()).item()
        assert np.isnan(ours) and np.isnan(theirs), op
        assert float(getattr(L, op)(lamina.tensor(x), labels(y), reduction="sum")) == 0.0
    assert float(L.softmax_cross_entropy(lamina.tensor(x), labels(y), ignore_label=-100)) == 0.0


def test_caffe_softmax_cross_entropy_is_cross_entropy():
    # One forward and backward serve both: equal to the last bit, the valid normalization
    # being PyTorch's mean (and NONE its sum).
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    y = np.array([[0, 5, 2], [1, 1, -1], [3, 4, 0], [-1, 2, 2]], dtype=np.float64)
    grads = []
    for loss_of in (lambda t: L.cross_entropy(t, labels(y), ignore_index=-1),
                    lambda t: L.softmax_cross_entropy(t, labels(y), ignore_label=-1)):
        t = lamina.tensor(x).requires_grad_()
        loss = loss_of(t)
        loss.backward()
        grads.append((float(loss), np.asarray(t.grad)))
    assert grads[0][0] == grads[1][0]
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
    assert float(L.cross_entropy(lamina.tensor(x), labels(y), ignore_index=-1, reduction="sum")) == \
        float(L.softmax_cross_entropy(lamina.tensor(x), labels(y), ignore_label=-1, normalization="none"))


def test_functional_reexports_the_ops_with_torch_keywords():
    for name in F.__all__:
        assert getattr(F, name) is getattr(L, name), name
    assert lamina.functional is F
    a, b = lamina.tensor([1.0, 2.0]), lamina.tensor([0.0, 4.0])
    assert float(F.mse_loss(input=a, target=b, reduction="sum")) == 5.0
    with pytest.raises(TypeError):  # after the deprecated size_average, arguments are keyword-only
        F.mse_loss(a, b, "sum")
