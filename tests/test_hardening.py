"""Hostile input gets a lamina.Error, never a signal, a hang, a memory bomb or a foreign
exception (issue #22). Each row runs in its own process, so a row that would kill the
interpreter fails as a row instead of taking the suite down.

A row is (id, code, expected): the code runs after `import lamina, numpy as np` with
`net(...)`, `solver_files(...)` and `rewrite_safetensors(...)` defined (PRELUDE); expected
is "ok" (the code finishes; its own asserts check the values) or the name of the
lamina.Error subclass it must raise, optionally with "|" and text its message contains."""

import subprocess
import sys
import textwrap

import pytest

PRELUDE = r'''
import gzip, json, os, struct, sys, tempfile
import numpy as np
import lamina
import lamina.data

def net(*layers, phase="test", **kw):
    return lamina.Net("\n".join(layers), phase=phase, **kw)

def inp(name, *dims):
    shape = " ".join(f"dim: {d}" for d in dims)
    return f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {shape} }} }} }}'

def layer(type_, bottoms, top="out", extra=""):
    b = " ".join(f'bottom: "{x}"' for x in bottoms)
    return f'layer {{ name: "{top}" type: "{type_}" {b} top: "{top}" {extra} }}'

def rewrite_safetensors(path, change):
    """Reads a safetensors file, lets change(header) edit its JSON header, writes it back."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    change(header)
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])

SOLVER_NET = """
layer { name: "x" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 }
                     data_filler { type: "constant" value: 1 } data_filler { type: "constant" value: -1 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "fc" inner_product_param { num_output: 2
        weight_filler { type: "constant" value: 0.1 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "y" top: "loss" }
"""

def gz_of_zeros(header, megabytes=200):
    """A .gz holding header, then megabytes of zeros (a few hundred KB on disk)."""
    path = os.path.join(tempfile.mkdtemp(), "zeros.idx.gz")
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        for _ in range(megabytes):
            f.write(bytes(1 << 20))
    return path

def read_idx_within(path, limit=32 << 20):
    """read_idx(path), asserting it never held more than limit bytes of Python memory."""
    import tracemalloc
    tracemalloc.start()
    try:
        return lamina.data.read_idx(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        assert peak < limit, f"read_idx held {peak} bytes"

def trained_solver(folder):
    """A solver stepped 3 times and snapshotted into folder: (solver, state path)."""
    text = 'base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: 100 random_seed: 7 snapshot_prefix: "%s/s"' % folder
    solver = lamina.Solver(text, net=SOLVER_NET, quiet=True)
    solver.step(3)
    return solver, solver.snapshot()

def restore_changes_nothing(change):
    """A snapshot edited by change(header) fails to restore, and the solver goes on exactly as
    a twin that never tried: weights, momentum history, iter and smoothed loss unchanged."""
    s, state = trained_solver(tempfile.mkdtemp())
    twin, _ = trained_solver(tempfile.mkdtemp())
    rewrite_safetensors(state, change)
    s.step(2)
    twin.step(2)
    try:
        s.restore(state)
    finally:
        s.step(1)
        twin.step(1)
        assert (s.iter, s.smoothed_loss) == (twin.iter, twin.smoothed_loss), (s.iter, twin.iter)
        for a, b in zip(s.net.params["fc"], twin.net.params["fc"]):
            np.testing.assert_array_equal(a.data, b.data)
'''


def _run(code: str, env: dict | None = None) -> tuple[str, str]:
    import os

    script = PRELUDE + "\ntry:\n" + textwrap.indent(textwrap.dedent(code), "    ") + r'''
except BaseException as e:
    mro = [c.__name__ for c in type(e).__mro__]
    print("RAISED", ",".join(mro), "|", str(e).replace("\n", " ")[:2000])
    sys.exit(0)
print("OK")
'''
    full_env = dict(os.environ, **(env or {}))
    try:
        p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                           env=full_env, errors="backslashreplace")
    except subprocess.TimeoutExpired:
        return "HANG", ""
    if p.returncode != 0:
        return f"DIED rc={p.returncode}", p.stderr[-2000:]
    return p.stdout.strip().splitlines()[-1] if p.stdout.strip() else "NO OUTPUT", p.stderr[-2000:]


def check(code: str, expected: str, env: dict | None = None) -> None:
    outcome, err = _run(code, env)
    if expected == "ok":
        assert outcome == "OK", f"{outcome}\n{err}"
        return
    error, _, text = expected.partition("|")
    assert outcome.startswith("RAISED "), f"expected {error}, got {outcome}\n{err}"
    mro, _, message = outcome[len("RAISED "):].partition(" | ")
    classes = mro.split(",")
    assert "Error" in classes and error in classes, f"expected lamina.{error}, got {mro}: {message}"
    assert text in message, f"{text!r} not in {message!r}"


# ---- 1. every size checked once, centrally -----------------------------------------------
SIZES = [
    ("zeros_2^31_squared", "lamina.zeros((2**31, 2**31))", "ShapeError|zeros: shape [2147483648, 2147483648]"),
    ("rand_2^62", "lamina.rand((2**62,))", "ShapeError|rand: shape [4611686018427387904]"),
    ("empty_2^58", "lamina.empty(2**58)", "ShapeError|LAMINA_MAX_ALLOC_MB"),
    ("ones_f64_bytes_wrap", "lamina.ones((2**61, 4), dtype='float64')", "ShapeError|ones: shape [2305843009213693952, 4]"),
    ("negative_dim", "lamina.zeros((3, -2))", "ShapeError|negative"),
    ("reshape_wraps_to_empty", "lamina.zeros(0).reshape(2**62, 4)", "ShapeError|reshape: shape [4611686018427387904, 4]"),
    ("view_wraps_to_empty", "lamina.zeros(0).view(2**62, 8, -1)", "ShapeError|too many elements"),
    ("input_2^31_squared_relu", "net(inp('data', 2**31, 2**31), layer('ReLU', ['data']))",
     "PrototxtError|shape [2147483648, 2147483648] (float32) needs more than 2^64 bytes"),
    ("input_negative_dim", "net(inp('data', 2, -3), layer('ReLU', ['data']))", "PrototxtError|negative"),
    ("inner_product_weights_too_big",
     "net(inp('data', 1, 2**16), layer('InnerProduct', ['data'], extra='inner_product_param { num_output: 1073741824 }'))",
     "PrototxtError|shape [1073741824, 65536] (float32) needs 281474976710656 bytes, over the limit"),
    ("limit_api",
     "lamina.set_max_alloc_mb(1)\nassert lamina.max_alloc_mb() == 1\nlamina.zeros(1000)\nlamina.zeros((1024, 1024))",
     "ShapeError|zeros: shape [1024, 1024] (float32) needs 4194304 bytes"),
    ("limit_env", "lamina.zeros(200000)\nlamina.zeros((1024, 1024))", "ShapeError|over the limit of 1048576 bytes"),
    ("limit_bad_value", "lamina.set_max_alloc_mb(0)", "InvalidValueError|set_max_alloc_mb"),
    ("limit_env_zero", "lamina.zeros((1024, 1024))", "InvalidValueError|LAMINA_MAX_ALLOC_MB must be a positive number"),
    ("cache_env_not_a_number", "lamina.zeros((1024, 1024))", "InvalidValueError|LAMINA_CACHE_MB must be a number"),
    ("cache_env_negative", "lamina.zeros((1024, 1024))", "InvalidValueError|got '-1'"),
    ("cache_env_overflows", "lamina.zeros((1024, 1024))", "InvalidValueError|LAMINA_CACHE_MB"),
    ("cache_env_zero_keeps_nothing", "for _ in range(3): assert float(lamina.ones((1024, 1024)).sum()) == 2**20", "ok"),
]
SIZE_ENV = {"limit_env": {"LAMINA_MAX_ALLOC_MB": "1"}, "limit_env_zero": {"LAMINA_MAX_ALLOC_MB": "0"},
            "cache_env_not_a_number": {"LAMINA_CACHE_MB": "lots"},
            "cache_env_negative": {"LAMINA_CACHE_MB": "-1"}, "cache_env_overflows": {"LAMINA_CACHE_MB": "99999999999999999999"},
            "cache_env_zero_keeps_nothing": {"LAMINA_CACHE_MB": "0"}}

# ---- 2. empty batches: a loss over zero items is 0 (Caffe's normaliser is at least 1) -------
LOSS_ZERO = "out = n.forward()\nassert float(np.asarray(out['out']).sum()) == 0.0, out"
EMPTY = [
    ("argmax", "n = net(inp('data', 0, 3), layer('ArgMax', ['data']))\nassert n.forward()['out'].shape == (0, 1, 1)", "ok"),
    ("hinge", "n = net(inp('data', 0, 3), inp('label', 0), layer('HingeLoss', ['data', 'label']))\n" + LOSS_ZERO, "ok"),
    ("multinomial_logistic",
     "n = net(inp('data', 0, 3), inp('label', 0), layer('MultinomialLogisticLoss', ['data', 'label']))\n" + LOSS_ZERO, "ok"),
    ("infogain",
     "n = net(inp('data', 0, 3), inp('label', 0), inp('H', 3, 3), layer('InfogainLoss', ['data', 'label', 'H']))\n" + LOSS_ZERO,
     "ok"),
    ("contrastive",
     "n = net(inp('a', 0, 3), inp('b', 0, 3), inp('y', 0), layer('ContrastiveLoss', ['a', 'b', 'y']))\n" + LOSS_ZERO, "ok"),
    ("euclidean", "n = net(inp('a', 0, 3), inp('b', 0, 3), layer('EuclideanLoss', ['a', 'b']))\n" + LOSS_ZERO, "ok"),
    ("softmax_with_loss",
     "n = net(inp('data', 0, 3), inp('label', 0), layer('SoftmaxWithLoss', ['data', 'label']))\n" + LOSS_ZERO, "ok"),
    ("softmax_with_loss_backward",
     "n = net(inp('data', 0, 3), inp('label', 0), layer('SoftmaxWithLoss', ['data', 'label']), phase='train', "
     "input_shapes=None)\nn.forward()\nn.backward()\nassert n.blobs['data'].diff.shape == (0, 3)", "ok"),
    ("accuracy", "n = net(inp('data', 0, 3), inp('label', 0), layer('Accuracy', ['data', 'label']))\n" + LOSS_ZERO, "ok"),
    ("lstm_T0",
     "n = net(inp('x', 0, 2, 3), inp('cont', 0, 2), layer('LSTM', ['x', 'cont'], extra='recurrent_param { num_output: 4 }'))\n"
     "assert n.forward()['out'].shape == (0, 2, 4)", "ok"),
    ("rnn_T0",
     "n = net(inp('x', 0, 2, 3), inp('cont', 0, 2), layer('RNN', ['x', 'cont'], extra='recurrent_param { num_output: 4 }'))\n"
     "assert n.forward()['out'].shape == (0, 2, 4)", "ok"),
    ("memory_data_defaults",
     "n = lamina.Net('layer { name: \"m\" type: \"MemoryData\" top: \"data\" top: \"label\" }\\n' + "
     "layer('InnerProduct', ['data'], extra='inner_product_param { num_output: 2 }'), phase='test')\n"
     "assert n.forward()['out'].shape == (0, 2)", "ok"),
]

# ---- 3. loops bounded by parameters ---------------------------------------------------------
LRN_REFERENCE = """
x = np.arange(16, dtype=np.float64).reshape(2, 2, 2, 2) / 10
size = {size}
y = np.asarray(lamina.ops.lrn(lamina.tensor(x), size=size, alpha=1e-2, beta=0.75, across_channels=False))
# every window covers the whole 2x2 plane: the mean of x^2 over size^2 cells, zeros outside
ref = x * (1 + 1e-2 * (x ** 2).sum(axis=(2, 3), keepdims=True) / size ** 2) ** -0.75
np.testing.assert_allclose(y, ref, rtol=1e-12)
"""
LOOPS = [
    ("lrn_within_huge_size", LRN_REFERENCE.format(size=2**31 - 1), "ok"),
    ("lrn_within_size_5_unchanged", LRN_REFERENCE.format(size=5), "ok"),
    ("lrn_across_huge_size",
     "x = lamina.ones((2, 2, 2, 2))\ny = np.asarray(lamina.ops.lrn(x, size=2**31 - 1, alpha=1.0, beta=1.0))\n"
     "np.testing.assert_allclose(y, 1 / (1 + 2 / (2**31 - 1)), rtol=1e-6)", "ok"),
    ("lrn_layer_within_uint32_max",
     "n = net(inp('data', 1, 1, 2, 2), layer('LRN', ['data'], extra='lrn_param { local_size: 4294967295 norm_region: WITHIN_CHANNEL }'))\n"
     "n.forward(data=np.ones((1, 1, 2, 2), np.float32))", "ok"),
    ("embed_empty_2^40_rows",
     "n = net(inp('data', 2**40, 0), layer('Embed', ['data'], extra='embed_param { input_dim: 10 num_output: 4 }'))\n"
     "assert n.forward()['out'].shape == (2**40, 0, 4)", "ok"),
    ("scale_shift_huge_axis",
     "lamina.ops.scale_shift(lamina.ones(()), lamina.ones(1), axis=2**63 - 1)", "ShapeError|scale_shift"),
    ("scale_shift_negative_axis",
     "lamina.ops.scale_shift(lamina.ones((2, 3)), lamina.ones(3), axis=-2**63)", "ShapeError|scale_shift"),
]

# ---- 4. memory bombs -------------------------------------------------------------------------
BOMBS = [
    ("read_idx_gz_of_zeros", "read_idx_within(gz_of_zeros(b''))", "FileFormatError|bad magic number"),
    ("read_idx_gz_longer_than_claimed",
     "read_idx_within(gz_of_zeros(bytes([0, 0, 8, 1]) + struct.pack('>I', 4) + b'abcd'))",
     "FileFormatError|more than the"),
    ("read_idx_claims_too_much",
     """
     path = os.path.join(tempfile.mkdtemp(), "big.idx")
     open(path, "wb").write(bytes([0, 0, 8, 3]) + struct.pack(">III", 2**31, 2**31, 2**31))
     lamina.data.read_idx(path)
     """, "FileFormatError|big.idx"),
    ("read_idx_empty_but_huge_axes",
     """
     path = os.path.join(tempfile.mkdtemp(), "empty.idx")
     open(path, "wb").write(bytes([0, 0, 8, 4]) + struct.pack(">IIII", 0, 2**32 - 1, 2**32 - 1, 2**32 - 1))
     lamina.data.read_idx(path)
     """, "FileFormatError|empty.idx"),
]

# ---- 5. every exception a lamina.Error -------------------------------------------------------
EXCEPTIONS = [
    ("shape_int_2^64", "lamina.zeros(2**64)", "ShapeError|zeros"),
    ("shape_entry_2^64", "lamina.zeros((2, 2**64))", "ShapeError|zeros"),
    ("seed_negative", "lamina.ops.dropout(lamina.ones(2), 0.5, True, seed=-1)", "InvalidValueError|seed"),
    ("rand_seed_2^64", "lamina.rand(2, seed=2**64)", "InvalidValueError|seed"),
    ("prototxt_non_utf8", 'lamina.Net("\\n\\xe9")', "PrototxtError"),
    ("prototxt_file_non_utf8_name",
     """
     path = os.path.join(tempfile.mkdtemp(), "n.prototxt")
     open(path, "wb").write(b'layer { name: "d\\xff" type: "Input" top: "d" input_param { shape { dim: 1 } } }')
     n = lamina.Net(path)
     [l.name for l in n.layers]
     """, "PrototxtError|UTF-8"),
    ("solver_net_message", "lamina.Solver('net { } base_lr: 0.1')", "PrototxtError"),
    ("restore_non_numeric_iter",
     """
     d = tempfile.mkdtemp()
     s, state = trained_solver(d)
     rewrite_safetensors(state, lambda h: h["__metadata__"].update(iter="abc"))
     s.restore(state)
     """, "FileFormatError|iter"),
    ("restore_out_of_range_seed",
     """
     d = tempfile.mkdtemp()
     s, state = trained_solver(d)
     rewrite_safetensors(state, lambda h: h["__metadata__"].update(rng_seed="1" * 40))
     s.restore(state)
     """, "FileFormatError|rng_seed"),
    ("read_idx_corrupt_gz",
     """
     path = os.path.join(tempfile.mkdtemp(), "bad.idx.gz")
     raw = bytearray(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 4000) + bytes(4000)))
     raw[20:30] = b"\\xff" * 10
     open(path, "wb").write(bytes(raw))
     lamina.data.read_idx(path)
     """, "FileFormatError|bad.idx.gz"),
    ("image_not_an_image",
     """
     from lamina.data import _load_image
     path = os.path.join(tempfile.mkdtemp(), "x.png")
     open(path, "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(100))
     _load_image(path, True, 0, 0, "list.txt line 1")
     """, "FileFormatError|x.png"),
    ("axis_0d_tensor", "lamina.ops.sum(lamina.ones((2, 3)), axis=lamina.tensor(1))", "DTypeError|len() of a 0-d tensor"),
    ("stride_0d_tensor", "lamina.ops.conv2d(lamina.ones((1, 1, 3, 3)), lamina.ones((1, 1, 2, 2)), stride=lamina.tensor(1))",
     "DTypeError|len() of a 0-d tensor"),
    ("safetensors_non_utf8_name",
     """
     path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
     header = b'{"\\xe9":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
     open(path, "wb").write(struct.pack("<Q", len(header)) + header + bytes(4))
     from lamina import _lamina
     _lamina.load_safetensors(path)
     """, "FileFormatError|not valid UTF-8"),
    ("load_a_directory", "net(inp('x', 1)).load(tempfile.mkdtemp())", "FileError|is a directory"),
    ("load_a_path_with_nul", "net(inp('x', 1)).load(tempfile.mkdtemp() + '/\\0')", "FileError|NUL byte"),
    ("restore_a_directory",
     "lamina.Solver('base_lr: 0.1 lr_policy: \"fixed\"', net=SOLVER_NET, quiet=True).restore(tempfile.mkdtemp())",
     "FileError|is a directory"),
    ("prototxt_a_directory", "lamina.Net(tempfile.mkdtemp())", "FileError|is a directory"),
    ("datum_encoded_not_an_image",
     "from lamina.caffe_proto import Datum\nDatum(3, 4, 4, b'\\x89PNG' + bytes(20), 0, encoded=True).array()",
     "FileFormatError|encoded image cannot be decoded"),
]

# ---- 6. atomic restores ------------------------------------------------------------------------
ATOMIC = [
    ("restore_bad_current_step_changes_nothing",
     "restore_changes_nothing(lambda h: h['__metadata__'].update(iter='1', current_step='x'))",
     "FileFormatError|current_step"),
    ("restore_bad_losses_dtype_changes_nothing",
     "restore_changes_nothing(lambda h: h['losses'].update(dtype='I64', data_offsets=[h['losses']['data_offsets'][0], "
     "h['losses']['data_offsets'][0] + 8 * (h['losses']['shape'][0])]))",
     "FileFormatError|losses"),
    ("restore_missing_weights_changes_nothing",
     "restore_changes_nothing(lambda h: h['__metadata__'].update(weights='gone.safetensors'))", "FileError|gone"),
    ("net_load_torn_file_changes_nothing",
     """
     d = tempfile.mkdtemp()
     n = net(inp('x', 2, 3), layer('InnerProduct', ['x'], extra='inner_product_param { num_output: 2 weight_filler { type: "gaussian" } }'))
     path = os.path.join(d, "w.safetensors")
     n.save(path)
     raw = open(path, "rb").read()
     open(path, "wb").write(raw[:-4])
     before = [p.data.copy() for p in n.params["out"]]
     try:
         n.load(path)
     except lamina.FileFormatError:
         pass
     for p, b in zip(n.params["out"], before):
         np.testing.assert_array_equal(p.data, b)
     """, "ok"),
]

# ---- 7. Python layers by consent --------------------------------------------------------------
PY_LAYER = ('layer { name: "evil" type: "Python" bottom: "x" top: "y" '
            'python_param { module: "os" layer: "abort" } }')
CONSENT = [
    ("python_layer_refused", f"net(inp('x', 2), '{PY_LAYER}')", "PrototxtError|python_layers=True"),
    ("python_layer_refused_in_solver",
     f"lamina.Solver('base_lr: 0.1 lr_policy: \"fixed\"', net=inp('x', 2) + '\\n' + '{PY_LAYER}')", "PrototxtError|python_layers=True"),
]

# ---- 8. byte order -------------------------------------------------------------------------------
BYTE_ORDER = [
    ("from_numpy_big_endian_f32",
     "t = lamina.from_numpy(np.arange(4, dtype='>f4'))\nnp.testing.assert_array_equal(np.asarray(t), [0, 1, 2, 3])", "ok"),
    ("from_numpy_big_endian_i64",
     "t = lamina.from_numpy(np.arange(4, dtype='>i8'))\nnp.testing.assert_array_equal(np.asarray(t), [0, 1, 2, 3])", "ok"),
    ("tensor_big_endian_f64",
     "t = lamina.tensor(np.arange(4, dtype='>f8'))\nnp.testing.assert_array_equal(np.asarray(t), [0, 1, 2, 3])", "ok"),
    ("read_idx_float_is_native",
     """
     path = os.path.join(tempfile.mkdtemp(), "f.idx")
     open(path, "wb").write(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 3) + struct.pack(">3f", 1.5, -2, 3))
     a = lamina.data.read_idx(path)
     assert a.dtype.isnative
     np.testing.assert_array_equal(np.asarray(lamina.from_numpy(a.copy())), [1.5, -2, 3])
     """, "ok"),
]

# ---- 9. arguments pybind11 cannot convert ---------------------------------------------------
# An int past its C++ type or a non-number for a typed parameter, which pybind11's overload
# dispatcher would reject with a plain TypeError: the binding converts it itself (args.hpp) and
# names the function and the argument. Int-likes (NumPy ints) are accepted wherever ints are.
ONES4 = "lamina.ones((1, 1, 2, 2))"
INT_ARGS = [
    ("int_arg_2^64", f"lamina.ops.lrn({ONES4}, size=2**64)", "InvalidValueError|lrn: size 18446744073709551616"),
    ("float_arg_string", f"lamina.ops.lrn({ONES4}, alpha='x')", "InvalidValueError|lrn: alpha must be a number"),
    ("conv2d_groups_2^64", f"lamina.ops.conv2d({ONES4}, lamina.ones((1, 1, 1, 1)), groups=2**64)",
     "InvalidValueError|conv2d: groups"),
    ("conv2d_stride_numpy_int",
     f"assert lamina.ops.conv2d({ONES4}, lamina.ones((1, 1, 1, 1)), stride=np.int64(2)).shape == (1, 1, 1, 1)", "ok"),
    ("max_axis_2^64", "lamina.ops.max(lamina.ones((2, 3)), 2**64)", "InvalidValueError|max: axis"),
    ("argmax_axis_string", "lamina.ops.argmax(lamina.ones((2, 3)), '0')", "InvalidValueError|argmax: axis must be an int"),
    ("sum_axes_entry_2^64", "lamina.ops.sum(lamina.ones((2, 3)), axis=[0, 2**64])", "InvalidValueError|sum: axis"),
    ("sum_axis_numpy_int", "assert lamina.ops.sum(lamina.ones((2, 3)), axis=np.int64(1)).shape == (2,)", "ok"),
    ("tensor_mean_axis_numpy_int", "assert lamina.ones((2, 3)).mean(axis=np.int32(0)).shape == (3,)", "ok"),
    ("transpose_perm_entry_2^64", "lamina.ops.transpose(lamina.ones((2, 3)), [1, 2**64])",
     "InvalidValueError|transpose: perm"),
    ("reshape_numpy_ints", "assert lamina.ones(6).reshape(np.int64(2), np.int64(3)).shape == (2, 3)", "ok"),
    ("dropout_p_string", "lamina.ops.dropout(lamina.ones(2), 'x')", "InvalidValueError|dropout: p"),
    ("manual_seed_negative", "lamina.manual_seed(-1)", "InvalidValueError|manual_seed: seed"),
    ("tensor_transpose_2^64", "lamina.ones((2, 3)).transpose(0, 2**64)", "InvalidValueError|Tensor.transpose: b"),
    ("tensor_softmax_axis_2^64", "lamina.ones((2, 3)).softmax(2**64)", "InvalidValueError|Tensor.softmax: axis"),
    ("tensor_fill_string", "lamina.ones(2).fill_('x')", "InvalidValueError|Tensor.fill_: value"),
    ("zeros_numpy_ints", "assert lamina.zeros(np.int64(2), np.int64(3)).shape == (2, 3)", "ok"),
    ("full_value_string", "lamina.full((2,), 'x')", "InvalidValueError|full: value"),
    ("nll_loss_ignore_index_2^64",
     "lamina.ops.nll_loss(lamina.ones((2, 3)), lamina.zeros(2, dtype='int64'), ignore_index=2**64)",
     "InvalidValueError|nll_loss: ignore_index"),
    ("softmax_cross_entropy_axis_2^64", "lamina.ops.softmax_cross_entropy(lamina.ones((2, 3)), lamina.zeros(2), axis=2**64)",
     "InvalidValueError|softmax_cross_entropy: axis"),
    ("conv1d_stride_2^64", "lamina.ops.conv1d(lamina.ones((1, 1, 4)), lamina.ones((1, 1, 2)), stride=2**64)",
     "InvalidValueError|conv1d: stride"),
    ("adaptive_pool_size_2^64", f"lamina.ops.adaptive_avg_pool2d({ONES4}, (1, 2**64))",
     "InvalidValueError|adaptive_avg_pool2d: output_size"),
    ("optimizer_iter_size_2^64",
     "p = lamina.ones(2)\np.requires_grad = True\np.grad = lamina.ones(2)\n"
     "lamina.optim.SGD([p], lr=0.1).step(iter_size=2**64)", "InvalidValueError|Optimizer.step: iter_size"),
    ("lr_scheduler_step_size_2^64",
     "p = lamina.ones(2)\np.requires_grad = True\n"
     "s = lamina.optim.lr_scheduler.StepLR(lamina.optim.SGD([p], lr=0.1), step_size=2**64)\ns.step()",
     "InvalidValueError|lr policy: stepsize"),
    ("dlpack_stream_2^64", "lamina.ones(2).__dlpack__(stream=2**64)", "InvalidValueError|__dlpack__: stream"),
    ("dlpack_max_version_2^64", "lamina.ones(2).__dlpack__(max_version=(2**64, 0))",
     "InvalidValueError|__dlpack__: max_version"),
    ("net_level_2^40", "net(inp('x', 1), level=2**40)", "InvalidValueError|Net: level"),
    ("net_time_layers_2^64", "net(inp('x', 1)).time(2**64)", "InvalidValueError|Net.time_layers: iterations"),
    ("net_onnx_opset_2^40", "net(inp('x', 1)).onnx_model(opset=2**40)", "InvalidValueError|Net.onnx_model: opset"),
    ("solver_step_2^64",
     "lamina.Solver('base_lr: 0.1 lr_policy: \"fixed\"', net=SOLVER_NET, quiet=True).step(2**64)",
     "InvalidValueError|Solver.step: iterations"),
    ("set_num_threads_2^64", "lamina.set_num_threads(2**64)", "InvalidValueError|set_num_threads: n"),
    ("broadcast_root_2^40", "import lamina.distributed as d\nd.broadcast_(lamina.ones(2), root=2**40)",
     "InvalidValueError|broadcast_: root"),
]

# ---- 10. arguments of a type no overload takes ------------------------------------------------
# pybind11 refuses them inside its dispatcher with a plain TypeError; every bound function,
# method, constructor and property setter turns that one into lamina.DTypeError (still a
# TypeError) with pybind11's message: the signatures with their argument names, and what the
# call gave. A TypeError raised by the user's own code called back from lamina passes unchanged.
REDUCER = "from lamina._lamina.distributed import GradientReducer\nGradientReducer"
CALLBACK_TYPE_ERROR = f"""
p = lamina.ones(2)
p.requires_grad = True
def callback():
    raise TypeError("the callback's own")
try:
    from lamina._lamina.distributed import GradientReducer
    GradientReducer([p], 1.0, 4.0).backward(callback)
except TypeError as e:
    assert type(e) is TypeError and str(e) == "the callback's own", repr(e)
else:
    raise AssertionError("no TypeError")
"""
TYPE_ARGS = [
    ("tensor_arg_list", "lamina.ops.relu([1.0, 2.0])", "DTypeError|relu(): incompatible function arguments"),
    ("tensor_arg_none", "lamina.ops.matmul(lamina.ones((2, 2)), None)", "DTypeError|(a: lamina._lamina.Tensor, b:"),
    ("tensor_keyword_string", f"lamina.ops.conv2d({ONES4}, weight='w')", "DTypeError|Invoked with: tensor("),
    ("tensor_method_arg", "lamina.ones(2).copy_('x')", "DTypeError|copy_(): incompatible function arguments"),
    ("property_setter", "t = lamina.ones(2)\nt.requires_grad = 'yes'", "DTypeError|Tensor.requires_grad(): incompatible"),
    ("constructor", f"{REDUCER}('x', 1.0, 4.0)", "DTypeError|__init__(): incompatible constructor arguments"),
    ("static_method", "from lamina._lamina import _Net\n_Net.from_onnx(5)", "DTypeError|from_onnx(): incompatible function arguments"),
    ("still_a_TypeError", "try:\n    lamina.ops.relu(None)\nexcept TypeError:\n    pass\nelse:\n    raise AssertionError", "ok"),
    ("callback_TypeError_passes", CALLBACK_TYPE_ERROR, "ok"),
]

ROWS = SIZES + EMPTY + LOOPS + BOMBS + EXCEPTIONS + ATOMIC + CONSENT + BYTE_ORDER + INT_ARGS + TYPE_ARGS


@pytest.mark.parametrize("name,code,expected", [pytest.param(*r, id=r[0]) for r in ROWS])
def test_hostile_input(name, code, expected):
    check(code, expected, SIZE_ENV.get(name))
