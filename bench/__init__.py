"""Benchmarks: `make bench` (python -m bench.run). Each figure is printed next to a baseline
measured in the same run (raw kombu, a bare Temporal workflow, raw SQL) as a ratio."""
