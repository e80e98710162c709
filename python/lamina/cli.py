"""The ``lamina`` command line.

    lamina --version        the installed version
    lamina --cmake-dir      where laminaConfig.cmake is, for find_package(lamina)
    lamina demo             a smoke demo: a GEMM on lamina tensors, checked against NumPy
"""

from __future__ import annotations

import argparse
import sys

import lamina


def _demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(size=args.size, repeats=args.repeats, threads=args.threads)


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
