"""lamina.optim: optimizers and learning-rate schedulers over lamina tensors.

    opt = lamina.optim.Adam(params, lr=1e-3, weight_decay=1e-4)
    sched = lamina.optim.lr_scheduler.Cosine(opt, max_iter=1000, warmup_iter=50)
    for it in range(1000):
        opt.zero_grad(); loss(params).backward(); opt.step(); sched.step()

torch.optim's interface and results (optimizer.py says where they differ, exactly); the
updates and the policies are the C++ code lamina.Solver trains with (lamina/optim.hpp).
"""

from . import lr_scheduler
from .from_solver import from_solver
from .optimizer import SGD, AdaDelta, Adadelta, AdaGrad, Adagrad, Adam, AdamW, Optimizer, RMSProp, RMSprop

__all__ = ["Optimizer", "SGD", "AdaGrad", "Adagrad", "RMSProp", "RMSprop", "AdaDelta", "Adadelta", "Adam", "AdamW",
           "lr_scheduler", "from_solver"]
