"""Fault injection under load (issue 8): `make chaos` runs every fault (`python -m tests.chaos`);
`make test` runs the short version (tests/chaos/test_faults_short.py)."""
