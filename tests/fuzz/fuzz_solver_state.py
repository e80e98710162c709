"""Fuzz target: solver state restore (Solver.restore) of lamina's .solverstate
(safetensors) and Caffe's protobuf one. First byte: 0 mutates the state file, 1 the
weights file the state names; the rest is that file. A failed restore must change nothing."""

import os
import sys

import driver
import lamina
import numpy as np

TARGET = "solver_state"

NET = """
layer { name: "x" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 }
                     data_filler { type: "constant" value: 1 } data_filler { type: "constant" value: -1 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "fc" inner_product_param { num_output: 2
        weight_filler { type: "constant" value: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "y" top: "loss" }
"""


def _solver(folder: str, kind: str = "Adam", extra: str = "") -> "lamina.Solver":
    text = (f'type: "{kind}" base_lr: 0.01 momentum: 0.9 lr_policy: "step" gamma: 0.5 stepsize: 2 max_iter: 100 '
            f'random_seed: 7 snapshot_prefix: "{folder}/s" {extra}')
    return lamina.Solver(text, net=NET, quiet=True)


FOLDER = str(driver.SCRATCH / "state")
os.makedirs(FOLDER, exist_ok=True)
SOLVER = _solver(FOLDER)
SOLVER.step(3)
STATE = SOLVER.snapshot()
WEIGHTS = STATE.replace(".solverstate", ".safetensors")


def seeds():
    out = [b"\x00" + open(STATE, "rb").read()]
    if os.path.exists(WEIGHTS):
        out.append(b"\x01" + open(WEIGHTS, "rb").read())
    for kind in ("SGD", "AdaDelta"):
        folder = str(driver.SCRATCH / f"seed-{kind}")
        os.makedirs(folder, exist_ok=True)
        for fmt in ("", "snapshot_format: BINARYPROTO"):
            s = _solver(folder, kind, fmt)
            s.step(2)
            out.append(b"\x00" + open(s.snapshot(), "rb").read())
    return out


def one_input(data: bytes) -> None:
    if not data:
        return
    # the state file (and the weights it names) is rewritten fresh for every input
    original_state, original_weights = ORIGINALS
    state = data[1:] if data[0] & 1 == 0 else original_state
    weights = data[1:] if data[0] & 1 else original_weights
    with open(STATE, "wb") as f:
        f.write(state)
    with open(WEIGHTS, "wb") as f:
        f.write(weights)
    before = (SOLVER.iter, [p.data.copy() for p in SOLVER.net.params["fc"]])
    if driver.fails(SOLVER.restore, STATE):
        after = (SOLVER.iter, [p.data for p in SOLVER.net.params["fc"]])
        if after[0] != before[0] or not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(after[1], before[1])):
            raise AssertionError("a failed Solver.restore changed the solver")


ORIGINALS = (open(STATE, "rb").read(), open(WEIGHTS, "rb").read() if os.path.exists(WEIGHTS) else b"")

if __name__ == "__main__":
    driver.main(sys.modules[__name__])
