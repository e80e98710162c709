"""A C++ project embeds the pip-installed lamina through find_package(lamina)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lamina

EXAMPLE = Path(__file__).resolve().parents[1] / "cpp" / "examples" / "embed"


@pytest.mark.skipif(shutil.which("cmake") is None and not os.environ.get("CI"), reason="cmake is not installed")
def test_embedding_example_builds_and_runs_against_installed_package(tmp_path):
    cmake_dir = subprocess.run([sys.executable, "-m", "lamina", "--cmake-dir"], capture_output=True,
                               text=True, check=True).stdout.strip()
    assert cmake_dir == lamina.cmake_dir() and Path(cmake_dir, "laminaConfig.cmake").is_file()
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(build), f"-Dlamina_DIR={cmake_dir}",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    r = subprocess.run([str(build / "embed_demo")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "c[1, 3] = 9" in r.stdout and "caught ShapeError: matmul: inner dimensions differ" in r.stdout
