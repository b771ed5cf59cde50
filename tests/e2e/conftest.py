"""One platform for the whole end-to-end session (starting one takes ~10 s)."""
import pytest

from tests.e2e.support import run_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    yield from run_platform(tmp_path_factory.mktemp("platform"))
