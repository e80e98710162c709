"""Losses as modules (torch.nn's names and arguments) over lamina.functional's C++ ops."""

from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
           "HuberLoss", "HingeEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss", "CosineEmbeddingLoss",
           "KLDivLoss"]


class _Loss(Module):
    """Calls `_fn(*inputs, **options)`; tensor options (class weights) are buffers."""

    _fn = staticmethod(F.mse_loss)

    def __init__(self, **options):
        super().__init__()
        object.__setattr__(self, "_options", {})
        for key, value in options.items():
            if key in ("weight", "pos_weight"):
                self.register_buffer(key, value)
            else:
                self._options[key] = value

    def forward(self, *inputs):
        extra = {k: v for k, v in self._buffers.items() if v is not None}
        return type(self)._fn(*inputs, **self._options, **extra)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._options.items())


def _loss(name: str, fn, doc: str, **defaults):
    def __init__(self, **options):
        unknown = set(options) - set(defaults)
        if unknown:
            raise TypeError(f"{name}() got unexpected arguments {sorted(unknown)}")
        _Loss.__init__(self, **{**defaults, **options})

    return type(name, (_Loss,), {"_fn": staticmethod(fn), "__init__": __init__, "__doc__": doc})


CrossEntropyLoss = _loss("CrossEntropyLoss", F.cross_entropy, "log_softmax + nll_loss over integer labels.",
                         weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0)
NLLLoss = _loss("NLLLoss", F.nll_loss, "-log_probs[label], integer labels.", weight=None, ignore_index=-100,
                reduction="mean")
BCELoss = _loss("BCELoss", F.binary_cross_entropy, "Binary cross-entropy of probabilities.", weight=None,
                reduction="mean")
BCEWithLogitsLoss = _loss("BCEWithLogitsLoss", F.binary_cross_entropy_with_logits,
                          "Binary cross-entropy of logits, computed stably.", weight=None, reduction="mean",
                          pos_weight=None)
MSELoss = _loss("MSELoss", F.mse_loss, "Squared error.", reduction="mean")
L1Loss = _loss("L1Loss", F.l1_loss, "Absolute error.", reduction="mean")
SmoothL1Loss = _loss("SmoothL1Loss", F.smooth_l1_loss, "Smooth L1 with threshold beta.", reduction="mean", beta=1.0)
HuberLoss = _loss("HuberLoss", F.huber_loss, "Huber loss with threshold delta.", reduction="mean", delta=1.0)
HingeEmbeddingLoss = _loss("HingeEmbeddingLoss", F.hinge_embedding_loss, "x if y = 1, max(0, margin - x) if y = -1.",
                           margin=1.0, reduction="mean")
MarginRankingLoss = _loss("MarginRankingLoss", F.margin_ranking_loss, "max(0, -y (x1 - x2) + margin).", margin=0.0,
                          reduction="mean")
TripletMarginLoss = _loss("TripletMarginLoss", F.triplet_margin_loss, "max(d(a, p) - d(a, n) + margin, 0).",
                          margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean")
CosineEmbeddingLoss = _loss("CosineEmbeddingLoss", F.cosine_embedding_loss,
                            "1 - cos(x1, x2) if y = 1, max(0, cos(x1, x2) - margin) if y = -1.", margin=0.0,
                            reduction="mean")
KLDivLoss = _loss("KLDivLoss", F.kl_div, "KL divergence of log-probabilities from a target.", reduction="mean",
                  log_target=False)
