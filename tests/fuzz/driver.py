"""The one driver every fuzz target shares (issue #22): a target module defines
``TARGET`` (its name), ``seeds()`` (valid inputs to start from, as bytes) and
``one_input(data)``; ``main(module)`` writes the seeds into the corpus folder and hands
the target to atheris.

The contract under test: whatever the bytes, lamina either works or raises a
lamina.Error. Any other exception escapes ``guarded`` and atheris reports it (with the
input that caused it); a signal, a hang past -timeout or memory past -rss_limit_mb is
reported by libFuzzer itself.

Coverage guidance sees the Python code only (lamina's C++ core is not built with
-fsanitize=fuzzer); the C++ readers are reached through the seeds' mutations.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

# Hostile sizes must fail fast instead of allocating: a small central limit.
os.environ.setdefault("LAMINA_MAX_ALLOC_MB", "64")
# A small block cache: the default keeps up to 1 GiB of freed blocks of every size the inputs ask
# for, which libFuzzer's -rss_limit_mb cannot tell from a leak.
os.environ.setdefault("LAMINA_CACHE_MB", "256")

import atheris  # noqa: E402

with atheris.instrument_imports(include=["lamina"]):
    import lamina  # noqa: E402, F401
    import lamina.caffe_proto  # noqa: E402, F401
    import lamina.data  # noqa: E402, F401

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
CAFFE_MODELS = next((p for p in (REPO.parent / "shared" / "caffe-models", pathlib.Path("/work/shared/caffe-models"))
                     if p.is_dir()), None)
SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="lamina-fuzz-"))


def guarded(fn, *args, **kwargs):
    """fn(*args): a lamina.Error is the promised answer to bad input; anything else escapes."""
    try:
        return fn(*args, **kwargs)
    except lamina.Error:
        return None


def fails(fn, *args) -> bool:
    """Whether fn(*args) raised a lamina.Error (anything else escapes)."""
    try:
        fn(*args)
    except lamina.Error:
        return True
    return False


def text_of(data: bytes) -> str:
    """data as str: UTF-8 where it is, else Latin-1 (every byte a character, none lost)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def scratch_file(name: str, data: bytes) -> str:
    """data written to a file under this process's scratch folder (the readers take paths)."""
    path = SCRATCH / name
    path.write_bytes(data)
    return str(path)


def caffe_model_texts(kind: str) -> list[bytes]:
    """The shared Caffe model zoo's prototxts: kind "net" (layers) or "solver"."""
    if CAFFE_MODELS is None:
        return []
    files = sorted(CAFFE_MODELS.glob("*.prototxt"))
    solvers = [f for f in files if "solver" in f.name]
    return [f.read_bytes() for f in (solvers if kind == "solver" else [f for f in files if f not in solvers])]


def write_seeds(module, folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(module.seeds()):
        (folder / f"seed-{i:03d}").write_bytes(seed)


def main(module, argv: list[str] | None = None) -> None:
    """Runs module's target under atheris. The corpus folder (build/fuzz/corpus/<target>
    unless the arguments name folders) starts with the target's seeds; libFuzzer's flags
    (-atheris_runs=N, -max_total_time=S, -timeout=S) pass through."""
    argv = list(sys.argv if argv is None else argv)
    flags = [a for a in argv[1:] if a.startswith("-")]
    folders = [a for a in argv[1:] if not a.startswith("-")]
    if not folders:
        folders = [str(REPO / "build" / "fuzz" / "corpus" / module.TARGET)]
    if not pathlib.Path(folders[0]).is_file():  # a file: replaying one input
        write_seeds(module, pathlib.Path(folders[0]))
    if not any(f.startswith("-timeout=") for f in flags):
        flags.append("-timeout=20")  # a hang is a finding: any one input past 20 s
    if not any(f.startswith("-rss_limit_mb=") for f in flags):
        flags.append("-rss_limit_mb=3072")
    atheris.Setup([argv[0], *flags, *folders], module.one_input)
    atheris.Fuzz()
