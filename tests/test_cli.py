"""The lamina console script, run as a user would."""

import subprocess
import sys

import lamina


def run(*args):
    return subprocess.run([sys.executable, "-m", "lamina", *args], capture_output=True, text=True, timeout=300)


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"lamina {lamina.__version__}"


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("lamina")
    assert exe, "the `lamina` console script is not on PATH"
    r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and lamina.__version__ in r.stdout


def test_demo_does_real_work_and_checks_it():
    r = run("demo", "--size", "96", "--repeats", "2", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "shares memory with NumPy: True" in r.stdout
    assert "matmul 96x96x96 on 1 thread(s)" in r.stdout and "demo: OK" in r.stdout


def test_user_mistake_is_one_line_without_traceback():
    r = run("demo", "--size", "0")
    assert r.returncode == 1
    assert r.stderr.strip() == "lamina: error: demo: size and repeats must be >= 1, got 0 and 5"
