"""Writes the seed corpora of the native targets (build/fuzz/native-corpus/<target>) from the
Python targets' seeds, so both fuzzers start from the same valid files: the shared Caffe
zoo's nets and solvers, and files lamina itself wrote.
Usage: python tests/fuzz/native/seeds.py [corpus folder]"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import fuzz_caffe_binary  # noqa: E402
import fuzz_net  # noqa: E402
import fuzz_safetensors  # noqa: E402
import fuzz_solver  # noqa: E402

# fuzz_binary.cpp's first byte: 0 safetensors, 1 .caffemodel, 2 .binaryproto, 3 Datum, 4 .solverstate,
# 5 ONNX;
# fuzz_caffe_binary.py's: 0-1 caffemodel, 2-3 binaryproto, 4 solverstate, 5 Datum.
CAFFE_TO_NATIVE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 3}


def onnx_seeds() -> list[bytes]:
    """lamina's own exports of small shared deploy nets."""
    import lamina

    models = HERE.parents[3] / "shared" / "caffe-models"
    seeds = []
    for name, shape in [("mnist_lenet.prototxt", (1, 1, 28, 28)), ("cifar10_quick.prototxt", (1, 3, 32, 32)),
                        ("mnist_siamese.prototxt", (1, 1, 28, 28))]:
        if (models / name).exists():
            seeds.append(lamina.Net(models / name, phase="test", input_shapes={"data": shape}).onnx_model())
    return seeds


def corpora() -> dict[str, list[bytes]]:
    binary = [b"\x00" + s for s in fuzz_safetensors.seeds()]
    binary += [bytes([CAFFE_TO_NATIVE[s[0]]]) + s[1:] for s in fuzz_caffe_binary.seeds()]
    binary += [b"\x05" + s for s in onnx_seeds()]
    return {
        "net": fuzz_net.seeds(),  # the same first byte: bit 0 train, bit 1 forward
        "solver": [s[1:] for s in fuzz_solver.seeds()],
        "binary": binary,
    }


def main() -> None:
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "build" / "fuzz" / "native-corpus"
    for target, seeds in corpora().items():
        folder = root / target
        folder.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds):
            (folder / f"seed-{i:03d}").write_bytes(seed)
        print(f"{target}: {len(seeds)} seeds in {folder}")


if __name__ == "__main__":
    main()
