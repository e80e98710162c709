"""lamina.prototxt from Python: Caffe's real files, round trips, and errors that name
file:line:column as lamina.PrototxtError (a ValueError)."""

from pathlib import Path

import pytest

import lamina
from lamina import prototxt

# shared/ sits beside the checkout on developer machines and in CI; a source tree
# without it cannot run these tests (a real absence, reported as a skip).
MODELS = Path(__file__).resolve().parents[2] / "shared" / "caffe-models"
FILES = sorted(MODELS.glob("*.prototxt"))
needs_models = pytest.mark.skipif(not MODELS.is_dir(), reason=f"{MODELS} is not beside this checkout")


def tree(m):
    return [(f.name, f.kind, tree(f.value) if f.kind == "message" else f.value) for f in m.fields]


@needs_models
def test_the_shared_models_are_beside_the_checkout():
    assert len(FILES) == 64, f"expected the 64 Caffe files in {MODELS}"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_caffe_file_parses_and_round_trips(path):
    m = prototxt.parse_file(str(path))
    assert len(m) > 0
    assert tree(prototxt.parse(prototxt.print(m))) == tree(m)


@needs_models
def test_lenet_structure():
    m = prototxt.parse_file(str(MODELS / "mnist_lenet_train_test.prototxt"))
    assert m.all("name")[0].value == "LeNet"
    layers = m.all("layer")
    assert [l.value.all("type")[0].value for l in layers][:3] == ["Data", "Data", "Convolution"]
    conv = layers[2].value.all("convolution_param")[0].value
    assert conv.all("num_output")[0].value == "20" and conv.all("num_output")[0].kind == "number"
    assert layers[2].line > 1 and layers[2].column == 1


@pytest.mark.parametrize("text,line,column,reason", [
    ("layer {\n  name \"x\"\n}", 2, 8, "expected ':' or '{' after field name 'name'"),
    ("layer {\n  type: \"Convolution\"\n", 3, 1, "expected '}' before end of input"),
    ("a: 1.5e", 1, 4, "malformed exponent"),
])
def test_malformed_text_raises_prototxt_error_with_position(text, line, column, reason):
    with pytest.raises(lamina.PrototxtError) as info:
        prototxt.parse(text, "bad.prototxt")
    e = info.value
    assert isinstance(e, ValueError)
    assert (e.file, e.line, e.column) == ("bad.prototxt", line, column)
    assert reason in e.reason and str(e).startswith(f"bad.prototxt:{line}:{column}: ")


def test_missing_file_is_a_file_error(tmp_path):
    with pytest.raises(lamina.FileError, match="cannot open prototxt file"):
        prototxt.parse_file(str(tmp_path / "missing.prototxt"))
