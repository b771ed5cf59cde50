"""Run pytest with eventlet monkey-patched first, as nameko services need (`nameko test` does the
same); the Temporal suites run in separate, unpatched processes."""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import sys  # noqa: E402

import pytest  # noqa: E402

if __name__ == "__main__":
    sys.exit(pytest.main(sys.argv[1:]))
