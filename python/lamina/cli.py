"""The ``lamina`` command line.

    lamina --version        the installed version
    lamina --cmake-dir      where laminaConfig.cmake is, for find_package(lamina)
    lamina demo             a smoke demo: a GEMM on lamina tensors, checked against NumPy
    lamina time --model M   per-layer forward/backward milliseconds of a prototxt net (like caffe time)
"""

from __future__ import annotations

import argparse
import sys

import lamina


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(size=args.size, repeats=args.repeats, threads=args.threads)


def _shape_arg(text: str) -> tuple[str, tuple[int, ...]]:
    name, _, dims = text.partition("=")
    try:
        return name, tuple(int(d) for d in dims.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=D1,D2,..., got {text!r}") from None


def _time(args: argparse.Namespace) -> int:
    import statistics
    import time

    if args.threads:
        lamina.set_num_threads(args.threads)
    net = lamina.Net(args.model, phase=args.phase, stages=args.stage or (), level=args.level,
                     input_shapes=dict(args.input_shape or ()))
    iterations = max(1, args.iterations)
    rows = net.time(iterations)
    training = args.phase == "train"
    whole = []
    for _ in range(iterations):
        start = time.perf_counter()
        net.forward()
        if training:
            net.backward()
        whole.append((time.perf_counter() - start) * 1e3)
    width = max(len(name) for name, *_ in rows)
    print(f"net {net.name!r}, phase {args.phase}, {iterations} iterations, {lamina.num_threads()} thread(s); medians")
    for name, kind, fwd, bwd in rows:
        line = f"{name:>{width}}  {kind:<22} forward: {fwd:9.3f} ms"
        print(line + (f"   backward: {bwd:9.3f} ms" if training else ""))
    print(f"{'layers, summed':>{width}}  {'':<22} forward: {sum(r[2] for r in rows):9.3f} ms"
          + (f"   backward: {sum(r[3] for r in rows):9.3f} ms" if training else ""))
    print(f"whole net {'forward+backward' if training else 'forward'}: {statistics.median(whole):.3f} ms")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lamina", description="lamina deep-learning engine")
    parser.add_argument("--version", action="version", version=f"lamina {lamina.__version__}")
    parser.add_argument("--cmake-dir", action="store_true",
                        help="print the folder holding laminaConfig.cmake and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="multiply matrices with lamina and check against NumPy")
    demo.add_argument("--size", type=int, default=512, help="matrix size N for N x N @ N x N")
    demo.add_argument("--repeats", type=int, default=5, help="timed repetitions")
    demo.add_argument("--threads", type=int, default=None, help="threads for lamina's kernels")
    demo.set_defaults(func=_demo)
    timing = sub.add_parser("time", help="per-layer forward and backward time of a prototxt net")
    timing.add_argument("--model", required=True, help="the net's prototxt file")
    timing.add_argument("--phase", choices=("train", "test"), default="train")
    timing.add_argument("--iterations", type=int, default=10)
    timing.add_argument("--stage", action="append", help="a stage for include/exclude rules (repeatable)")
    timing.add_argument("--level", type=int, default=0)
    timing.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME=D1,D2,...",
                        help="shape of a data layer's top (repeatable), e.g. data=64,1,28,28")
    timing.add_argument("--threads", type=int, default=None)
    timing.set_defaults(func=_time)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmake_dir:
        print(lamina.cmake_dir())
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except lamina.Error as e:  # a user's mistake: one clear line, no traceback
        print(f"lamina: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
