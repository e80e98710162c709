import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def _levels():
    import lamina

    return lamina.cpu_info()["available"]


@pytest.fixture(params=_levels())
def each_isa(request):
    """Runs a test once per CPU vector level this machine has (lamina.cpu_info()["available"]),
    with that level active, so every path the host can run is tested."""
    import lamina

    before = lamina.cpu_info()["isa"]
    lamina.set_isa(request.param)
    try:
        yield request.param
    finally:
        lamina.set_isa(before)


# Tests whose time goes to training runs or to nets of tens of millions of weights: they
# repeat, at scale, paths that quicker tests cover, and under the sanitizers (10x slower)
# they alone would take most of an hour. tests/run_sanitized.sh deselects them (-m "not
# heavy"); every ordinary run includes them.
HEAVY = ("lenet_learns_real_digits", "test_lenet_trains", "alexnet", "caffenet", "vgg", "googlenet", "resnet50",
         "flickr", "pascal", "coco_caption", "test_deprecated_input_header", "test_printer_round_trips_a_built_net",
         "reaches_the_single_process_accuracy")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(key in item.nodeid for key in HEAVY):
            item.add_marker(pytest.mark.heavy)
