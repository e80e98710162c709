"""Fuzz target: the solver parser (lamina.Solver from solver text over a tiny net), its
learning-rate policy, and one step when the text asks for a bounded amount of work.
First byte bit 0: try the step."""

import sys

import driver
import lamina

TARGET = "solver"

NET = """
layer { name: "x" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 }
                     data_filler { type: "gaussian" } data_filler { type: "constant" value: -1 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "fc" inner_product_param { num_output: 2
        weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "y" top: "loss" }
"""

TYPES = ["SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"]
POLICIES = ['"fixed"', '"step" gamma: 0.5 stepsize: 2', '"exp" gamma: 0.9', '"inv" gamma: 0.1 power: 0.75',
            '"multistep" gamma: 0.1 stepvalue: 1 stepvalue: 3', '"poly" power: 2', '"sigmoid" gamma: -0.1 stepsize: 2']


def seeds():
    out = [b"\x01" + (f'type: "{t}" base_lr: 0.01 lr_policy: {p} max_iter: 5 momentum: 0.9 weight_decay: 0.001 '
                      f'regularization_type: "L{1 + i % 2}" clip_gradients: 1 iter_size: {1 + i % 2} '
                      f'random_seed: {i} display: 1').encode()
           for i, (t, p) in enumerate((t, p) for t in TYPES for p in POLICIES)]
    return out + [b"\x00" + t for t in driver.caffe_model_texts("solver")]


def _bounded(param) -> bool:
    """One step does at most a few forwards: Caffe would run what the text asks, however long."""
    return param["iter_size"] <= 8 and sum(param["test_iter"]) <= 8


def one_input(data: bytes) -> None:
    if not data:
        return
    text = "\n" + driver.text_of(data[1:])
    solver = driver.guarded(lamina.Solver, text, net=NET, quiet=True)
    if solver is None:
        return
    driver.guarded(lambda: solver.learning_rate)
    if data[0] & 1 and _bounded(solver.param):
        driver.guarded(solver.step, 1)


if __name__ == "__main__":
    driver.main(sys.modules[__name__])
