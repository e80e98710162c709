"""lamina.functional: lamina's ops under torch.nn.functional's names and arguments.

Thin re-exports of ``lamina.ops`` (the C++ ops; nothing is computed here), so that code
written against ``torch.nn.functional as F`` reads the same with ``lamina.functional as F``.
Losses take PyTorch's ``reduction`` ('mean', 'sum', 'none'; kl_div also 'batchmean'); the
deprecated ``size_average`` and ``reduce`` are not taken, so arguments after them are
keyword-only.
"""

from ._lamina import ops as _ops

# activations and layers whose signatures are torch's
relu = _ops.relu
sigmoid = _ops.sigmoid
tanh = _ops.tanh
softplus = _ops.softplus
elu = _ops.elu
leaky_relu = _ops.leaky_relu
linear = _ops.linear

# losses
nll_loss = _ops.nll_loss
cross_entropy = _ops.cross_entropy
binary_cross_entropy = _ops.binary_cross_entropy
binary_cross_entropy_with_logits = _ops.binary_cross_entropy_with_logits
mse_loss = _ops.mse_loss
l1_loss = _ops.l1_loss
smooth_l1_loss = _ops.smooth_l1_loss
huber_loss = _ops.huber_loss
hinge_embedding_loss = _ops.hinge_embedding_loss
margin_ranking_loss = _ops.margin_ranking_loss
triplet_margin_loss = _ops.triplet_margin_loss
cosine_embedding_loss = _ops.cosine_embedding_loss
kl_div = _ops.kl_div

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "softplus",
    "elu",
    "leaky_relu",
    "linear",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "cosine_embedding_loss",
    "kl_div",
]
