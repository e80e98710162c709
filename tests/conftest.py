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
