"""Every fuzz target of tests/fuzz runs briefly (a fixed number of inputs from a fixed
seed), so a change that brings back a crash, a hang or a non-lamina exception on the
targets' seeds or their nearest mutations fails here. Needs atheris (the `fuzz` extra);
skipped without it. The long runs are in tests/fuzz/README.md."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("atheris")

FUZZ = pathlib.Path(__file__).resolve().parent / "fuzz"
TARGETS = sorted(p.stem for p in FUZZ.glob("fuzz_*.py"))
RUNS = 500


def test_every_target_is_here():
    assert TARGETS == ["fuzz_caffe_binary", "fuzz_data_readers", "fuzz_net", "fuzz_ops", "fuzz_safetensors",
                       "fuzz_solver", "fuzz_solver_state"]


@pytest.mark.parametrize("target", TARGETS)
def test_target_survives_a_short_run(target, tmp_path):
    p = subprocess.run([sys.executable, str(FUZZ / f"{target}.py"), f"-atheris_runs={RUNS}", "-seed=1",
                        "-timeout=20", str(tmp_path)], capture_output=True, text=True, errors="backslashreplace",
                       timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-6000:]
