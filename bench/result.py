"""What a benchmark process hands back to bench.run: one JSON line, the last on stdout.

Imports nothing heavy, so both the eventlet-patched and the asyncio benchmark processes use it.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field

RESULT_KEY = "shuangjian_bench"


@dataclass
class Figure:
    name: str  # what was measured, e.g. "reporting: institution_registered applied"
    value: float
    unit: str  # "msg/s", "calls/s", "workflows/s"
    n: int  # how many operations the value was measured over
    seconds: float
    baseline: str | None = None  # name of the baseline figure it is compared with (same run)
    note: str = ""


@dataclass
class Results:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def emit(self) -> None:
        """The last line on stdout (service logs go to stdout before it)."""
        sys.stdout.flush()
        print(json.dumps({RESULT_KEY: self.bench, "figures": [asdict(f) for f in self.figures],
                          "notes": self.notes}, ensure_ascii=False), flush=True)


@dataclass
class Tally:
    """A baseline measured in rounds (before and after the figure it is compared with, so that
    drift in the machine's load during the run hits both alike): total n over total seconds."""

    n: int = 0
    seconds: float = 0.0

    def add(self, n: int, seconds: float) -> None:
        self.n += n
        self.seconds += seconds

    def figure(self, name: str, unit: str, note: str = "") -> Figure:
        return rate(name, self.n, self.seconds, unit, note=note)


def halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def rate(name: str, n: int, seconds: float, unit: str, baseline: str | None = None, note: str = "") -> Figure:
    return Figure(name, n / seconds if seconds > 0 else float("inf"), unit, n, seconds, baseline, note)


_T0 = time.monotonic()


def progress(message: str) -> None:
    """Progress goes to stderr, which bench.run passes through to the terminal."""
    print(f"  [{time.monotonic() - _T0:5.1f}s] {message}", file=sys.stderr, flush=True)


def parse_results(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and RESULT_KEY in data:
            return data
    return None


def parse_parts(prog: str, parts: tuple | list, sizes: dict, argv: list[str] | None) -> tuple[list[str], dict]:
    """A benchmark module's command line: which parts to run and their sizes (full or --quick)."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("parts", nargs="*", help=f"{', '.join(parts)} (default: all)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    chosen = args.parts or list(parts)
    unknown = set(chosen) - set(parts)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(parts)}")
    return chosen, {k: v[1] if args.quick else v[0] for k, v in sizes.items()}
