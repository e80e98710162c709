"""`lamina train`, `lamina test` and `lamina draw` through subprocess, as a user runs them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lamina

NET = """name: "dummy_regression"
layer { name: "x" type: "DummyData" top: "x" top: "y"
        dummy_data_param { shape { dim: 16 dim: 4 } shape { dim: 16 dim: 1 }
                           data_filler { type: "gaussian" } data_filler { type: "constant" value: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "p" inner_product_param { num_output: 1 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
"""


def lamina_cli(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "lamina", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "net.prototxt").write_text(NET)
    (tmp_path / "solver.prototxt").write_text(
        'net: "net.prototxt"\nbase_lr: 0.05\nlr_policy: "fixed"\nmomentum: 0.9\nmax_iter: 60\ndisplay: 20\n'
        'test_iter: 2\ntest_interval: 30\nsnapshot: 30\nsnapshot_prefix: "snaps/run"\nsolver_mode: CPU\nrandom_seed: 1\n')
    (tmp_path / "snaps").mkdir()
    return tmp_path


def test_train_prints_caffe_lines_tests_and_snapshots(project):
    r = lamina_cli("train", "--solver", "solver.prototxt", cwd=project)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Iteration 0, loss = " in out and "Iteration 20, lr = 0.05" in out
    assert "Iteration 30, Testing net (#0)" in out and "Test net output #0: loss = " in out
    assert "Optimization Done." in out
    assert (project / "snaps" / "run_iter_30.safetensors").exists()
    assert (project / "snaps" / "run_iter_60.solverstate").exists()
    # The loss fell from the first display to the last (the bias learns y = 2).
    losses = [float(line.split("loss = ")[1]) for line in out.splitlines() if line.startswith("Iteration") and "loss = " in line and "lr" not in line]
    assert losses[-1] < losses[0] / 3
    # Resume from a snapshot for 10 more iterations.
    r = lamina_cli("train", "--solver", "solver.prototxt", "--snapshot", "snaps/run_iter_30.solverstate",
                   "--iterations", "10", cwd=project)
    assert r.returncode == 0, r.stderr
    # Score the trained weights.
    r = lamina_cli("test", "--model", "net.prototxt", "--weights", "snaps/run_iter_60.safetensors", "--iterations", "3",
                   cwd=project)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("loss = ")[1]) < losses[0]


def test_caffe_snapshots_resume_and_caffemodels_are_weights(project):
    solver = project / "solver.prototxt"
    solver.write_text(solver.read_text() + "snapshot_format: BINARYPROTO\n")
    r = lamina_cli("train", "--solver", "solver.prototxt", "--iterations", "30", cwd=project)
    assert r.returncode == 0, r.stderr
    assert (project / "snaps" / "run_iter_30.caffemodel").exists() and not list(project.glob("snaps/*.safetensors"))
    r = lamina_cli("train", "--solver", "solver.prototxt", "--snapshot", "snaps/run_iter_30.solverstate",
                   "--iterations", "10", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "Iteration 30, Testing net" in r.stdout and "Iteration 0," not in r.stdout  # continued from Caffe's state
    # --weights: comma-separated caffemodels applied in order, layers the net lacks named.
    other = lamina.Net(NET.replace('name: "ip"', 'name: "ip_old"'), phase="test")
    other.save(project / "old.caffemodel", format="caffemodel")
    r = lamina_cli("test", "--model", "net.prototxt", "--weights", "snaps/run_iter_30.caffemodel,old.caffemodel",
                   "--iterations", "2", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "old.caffemodel: ignoring layers the net lacks: ip_old" in r.stderr


def test_ctrl_c_snapshots_and_stops(project):
    (project / "solver.prototxt").write_text((project / "solver.prototxt").read_text().replace("max_iter: 60", "max_iter: 100000000"))
    child = subprocess.Popen([sys.executable, "-m", "lamina", "train", "--solver", "solver.prototxt"], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list((project / "snaps").glob("run_iter_30.*")):
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted at iteration" in err
    state = err.split("snapshot ")[1].strip()
    assert os.path.exists(os.path.join(project, state)) or os.path.exists(state)
    solver = lamina.Solver(str(project / "solver.prototxt"), quiet=True)
    solver.restore(state if os.path.isabs(state) else str(project / state))
    assert solver.iter > 30


@pytest.mark.parametrize(
    "solver_text, words",
    [
        ('net: "net.prototxt"\nbase_lr: 0.1\nlr_policy: "stepp"\n', ["solver.prototxt:3:12", "did you mean 'step'"]),
        ('net: "missing.prototxt"\nbase_lr: 0.1\nlr_policy: "fixed"\n', ["missing.prototxt"]),
        ('net: "net.prototxt"\nbase_lr: 0.1\nlr_policy: "fixed"\nsolver_mode: GPU\n', ["solver.prototxt:4:1", "CUDA"]),
    ],
)
def test_train_errors_are_one_line_without_traceback(project, solver_text, words):
    (project / "solver.prototxt").write_text(solver_text)
    r = lamina_cli("train", "--solver", "solver.prototxt", cwd=project)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    for w in words:
        assert w in r.stderr


def test_draw_writes_dot_and_explains_a_missing_package(project, tmp_path):
    models = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"
    r = lamina_cli("draw", "--model", str(models / "mnist_lenet_train_test.prototxt"), "lenet.dot", cwd=project)
    assert r.returncode == 0, r.stderr
    dot = (project / "lenet.dot").read_text()
    assert '"layer:conv1" -> "blob:conv1"' in dot and '"blob:data" -> "layer:conv1"' in dot
    assert "accuracy" not in dot  # a TEST-only layer, drawn for the TRAIN phase
    try:
        import graphviz  # noqa: F401
    except ImportError:
        r = lamina_cli("draw", "--model", "net.prototxt", "net.svg", cwd=project)
        assert r.returncode == 1 and "pip install graphviz" in r.stderr


def test_time_reports_every_layer(project):
    r = lamina_cli("time", "--model", "net.prototxt", "--iterations", "2", cwd=project)
    assert r.returncode == 0, r.stderr
    for layer in ("ip", "loss"):
        assert any(line.strip().startswith(layer) for line in r.stdout.splitlines())
    assert "whole net forward+backward" in r.stdout
    assert np.isfinite(float(r.stdout.rsplit(":", 1)[1].split()[0]))


def test_time_of_a_deploy_net_says_it_has_no_whole_backward(project):
    # mnist_lenet.prototxt has no loss: the per-layer backward is still timed, but the whole
    # net's line must not claim a forward+backward that did only the forward.
    deploy = Path(__file__).resolve().parents[2] / "shared" / "caffe-models" / "mnist_lenet.prototxt"
    if not deploy.exists():
        pytest.skip("../shared/caffe-models is not present")
    r = lamina_cli("time", "--model", str(deploy), "--phase", "train", "--iterations", "2", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "whole net forward:" in r.stdout and "no loss layer" in r.stdout
    assert "whole net forward+backward" not in r.stdout
