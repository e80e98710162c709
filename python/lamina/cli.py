"""The ``lamina`` command line.

    lamina --version        the installed version
    lamina --cmake-dir      where laminaConfig.cmake is, for find_package(lamina)
    lamina demo             a smoke demo: a GEMM on lamina tensors, checked against NumPy
    lamina time --model M   per-layer forward/backward milliseconds of a prototxt net (like caffe time)
    lamina train --solver S train with a Caffe solver.prototxt (Ctrl-C snapshots and stops);
                            under mpirun -n K data-parallel on K processes (README)
    lamina test --model M --weights W   mean output scores over iterations
    lamina draw --model M out.svg       the net as a graph (needs the graphviz package)
    lamina convert-imageset ROOT LIST DB  an LMDB of Caffe Datum records from an image list
"""

from __future__ import annotations

import argparse
import os
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
                     input_shapes=dict(args.input_shape or ()), python_layers=args.allow_python_layers)
    iterations = max(1, args.iterations)
    rows = net.time(iterations)
    # A net without a loss (a deploy file) has nothing to backpropagate as a whole; its
    # per-layer backward times above seed each layer's outputs with ones instead.
    has_loss = any(w for layer in net.layers for w in layer.loss_weights)
    training = args.phase == "train" and has_loss
    whole = []
    for _ in range(iterations):
        start = time.perf_counter()
        net.forward()
        if training:
            net.backward()
        whole.append((time.perf_counter() - start) * 1e3)
    width = max(len(name) for name, *_ in rows)
    print(f"net {net.name!r}, phase {args.phase}, {iterations} iterations, {lamina.num_threads()} thread(s); medians")
    fused = {layer.name for layer in net.layers if layer.fused}
    for name, kind, fwd, bwd in rows:
        line = f"{name:>{width}}  {kind:<22} forward: {fwd:9.3f} ms"
        line += f"   backward: {bwd:9.3f} ms" if training else ""
        print(line + ("   (fused: its forward runs inside the layer its run starts with)" if name in fused else ""))
    print(f"{'layers, summed':>{width}}  {'':<22} forward: {sum(r[2] for r in rows):9.3f} ms"
          + (f"   backward: {sum(r[3] for r in rows):9.3f} ms" if training else ""))
    print(f"whole net {'forward+backward' if training else 'forward'}: {statistics.median(whole):.3f} ms"
          + (" (no loss layer: the net as a whole has no backward)" if args.phase == "train" and not has_loss else ""))
    return 0


def _train(args: argparse.Namespace) -> int:
    if args.example:
        from .examples import run_lenet

        if args.example != "lenet":
            raise lamina.InvalidValueError(f"no example {args.example!r}; examples: lenet")
        run_lenet(plot=args.plot, threads=args.threads)
        return 0
    if not args.solver:
        raise lamina.InvalidValueError("lamina train needs --solver S (or --example lenet)")
    if args.threads:
        lamina.set_num_threads(args.threads)
    solver = lamina.Solver(args.solver, net=args.net, input_shapes=dict(args.input_shape) if args.input_shape else None,
                           python_layers=args.allow_python_layers)
    if args.weights and args.snapshot:
        raise lamina.InvalidValueError("give --weights (to fine-tune) or --snapshot (to resume), not both")
    if args.weights:
        _load_weights(solver.net, args.weights)
    if args.snapshot:
        solver.restore(args.snapshot)
    total = (solver.max_iter - solver.iter) if args.iterations is None else args.iterations
    progress = _progress_bar(total) if lamina.distributed.rank() == 0 else None

    def after_iteration(s: lamina.Solver) -> None:
        # Runs Python every iteration, which is also where a Ctrl-C surfaces.
        if progress is not None:
            progress.set_postfix(loss=f"{s.smoothed_loss:.4g}", lr=f"{s.learning_rate:.3g}", refresh=False)
            progress.update(1)

    solver.add_callback(after_iteration)
    try:
        if args.iterations is None:
            solver.solve()  # Caffe's Solve: to max_iter, then the final snapshot and test
        else:
            solver.step(args.iterations)
    except KeyboardInterrupt:  # Caffe's sigint_effect "stop": keep what was learned
        if progress is not None:
            progress.close()
        state = solver.snapshot()
        if lamina.distributed.rank() == 0:
            print(f"lamina: interrupted at iteration {solver.iter}; snapshot {state}", file=sys.stderr)
        return 130
    if progress is not None:
        progress.close()
    return 0


def _load_weights(net: lamina.Net, weights: str) -> None:
    """Caffe's --weights: comma-separated files (safetensors or caffemodel), applied in order."""
    for path in weights.split(","):
        skipped = net.load(path)
        if skipped:
            print(f"lamina: {path}: ignoring layers the net lacks: {', '.join(skipped)}", file=sys.stderr)


def _progress_bar(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are an optional extra; Caffe's log lines still print
        return None
    return tqdm(total=total, unit="it", dynamic_ncols=True, file=sys.stderr)


def _test(args: argparse.Namespace) -> int:
    import numpy as np

    net = lamina.Net(args.model, phase="test", stages=args.stage or (), input_shapes=dict(args.input_shape or ()),
                     python_layers=args.allow_python_layers)
    if args.weights:
        _load_weights(net, args.weights)
    totals: dict = {}
    for _ in range(args.iterations):
        for name, value in net.forward().items():
            totals[name] = totals.get(name, 0.0) + np.asarray(value, np.float64)
    for name, total in totals.items():
        mean = total / args.iterations
        print(f"{name} = {np.array2string(mean, precision=6) if mean.ndim else f'{float(mean):.6g}'}")
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    net = lamina.Net(args.model, phase="test", stages=args.stage or (), input_shapes=dict(args.input_shape or ()))
    if args.weights:
        _load_weights(net, args.weights)
    net.to_onnx(args.output, opset=args.opset)
    print(f"wrote {args.output}")
    return 0


def _import_onnx(args: argparse.Namespace) -> int:
    net = lamina.Net.from_onnx(args.model, input_shapes=dict(args.input_shape or ()))
    tmp = f"{args.prototxt}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(net.to_prototxt())
    os.replace(tmp, args.prototxt)
    net.save(args.weights, format="caffemodel" if args.weights.endswith(".caffemodel") else "safetensors")
    print(f"wrote {args.prototxt} ({len(net.layers)} layers) and {args.weights}")
    return 0


def _convert_imageset(args: argparse.Namespace) -> int:
    from .data import convert_imageset

    n = convert_imageset(args.root, args.list_file, args.db, args.resize_height, args.resize_width, args.gray,
                         args.shuffle, args.encoded)
    print(f"wrote {n} records to {args.db}")
    return 0


def _draw(args: argparse.Namespace) -> int:
    from .draw import draw

    draw(args.model, args.output, phase=args.phase)
    print(f"wrote {args.output}")
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
    timing.add_argument("--allow-python-layers", action="store_true",
                        help="let the net's type: \"Python\" layers import and run their modules")
    timing.set_defaults(func=_time)
    train = sub.add_parser("train", help="train with a Caffe solver.prototxt")
    train.add_argument("--solver", help="the solver.prototxt")
    train.add_argument("--example", help="train a shipped example instead: lenet")
    train.add_argument("--plot", default="lenet_curves.png", help="where --example writes its curves (PNG)")
    train.add_argument("--net", default=None, help="the net prototxt, overriding the solver's net:")
    train.add_argument("--weights", default=None, help="initial weights to fine-tune from: .safetensors or .caffemodel files, comma-separated, applied in order")
    train.add_argument("--snapshot", default=None, help="a .solverstate to resume from")
    train.add_argument("--iterations", type=int, default=None, help="iterations to run (default: to max_iter)")
    train.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME=D1,D2,...")
    train.add_argument("--threads", type=int, default=None)
    train.add_argument("--allow-python-layers", action="store_true",
                        help="let the net's type: \"Python\" layers import and run their modules")
    train.set_defaults(func=_train)
    test = sub.add_parser("test", help="mean output scores of a net over iterations")
    test.add_argument("--model", required=True)
    test.add_argument("--weights", default=None)
    test.add_argument("--iterations", type=int, default=50)
    test.add_argument("--stage", action="append")
    test.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME=D1,D2,...")
    test.add_argument("--allow-python-layers", action="store_true",
                        help="let the net's type: \"Python\" layers import and run their modules")
    test.set_defaults(func=_test)
    export = sub.add_parser("export-onnx", help="write a deploy net (TEST phase) as an ONNX model")
    export.add_argument("--model", required=True, help="the net's prototxt file")
    export.add_argument("--weights", default=None, help=".safetensors or .caffemodel files, comma-separated, applied in order")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 to 21")
    export.add_argument("--stage", action="append", help="a stage for include/exclude rules (repeatable)")
    export.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME=D1,D2,...",
                        help="shape of an input (repeatable), e.g. data=1,3,227,227")
    export.add_argument("output", help="the .onnx file to write")
    export.set_defaults(func=_export_onnx)
    imp = sub.add_parser("import-onnx", help="write an ONNX model as a prototxt net and its weights")
    imp.add_argument("model", help="the .onnx file")
    imp.add_argument("--prototxt", required=True, help="the net definition to write")
    imp.add_argument("--weights", required=True, help="the weights to write: .caffemodel, else safetensors")
    imp.add_argument("--input-shape", action="append", type=_shape_arg, metavar="NAME=D1,D2,...",
                     help="shape of an input (repeatable) where the file's is symbolic, e.g. input=8,3,224,224")
    imp.set_defaults(func=_import_onnx)
    convert = sub.add_parser("convert-imageset", help="write an LMDB of Caffe Datum records from an image list")
    convert.add_argument("root", help="folder the list's paths are relative to")
    convert.add_argument("list_file", help="lines of 'path label'")
    convert.add_argument("db", help="the LMDB folder to create")
    convert.add_argument("--resize_height", type=int, default=0)
    convert.add_argument("--resize_width", type=int, default=0)
    convert.add_argument("--gray", action="store_true")
    convert.add_argument("--shuffle", action="store_true")
    convert.add_argument("--encoded", action="store_true", help="store the image files' bytes (decoded when read)")
    convert.set_defaults(func=_convert_imageset)
    draw = sub.add_parser("draw", help="draw a net (svg, png or pdf, by the output's extension)")
    draw.add_argument("--model", required=True)
    draw.add_argument("--phase", choices=("train", "test"), default="train")
    draw.add_argument("output")
    draw.set_defaults(func=_draw)
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
