"""What the bench scripts share (they run with bench/ on sys.path): reading wrk, recording results."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

LAST = Path(__file__).resolve().parent / "last.json"


def latency_ms(out: str, label: str) -> float:
    """The ``label`` percentile (e.g. ``50%``) of wrk's ``--latency`` table, in milliseconds."""
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def record(key: str, summary: object) -> None:
    """Keep ``summary`` under ``key`` in bench/last.json (git-ignored), beside the other scripts' results."""
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads(LAST.read_text()) if LAST.exists() else {}
        LAST.write_text(json.dumps({**saved, key: summary}, indent=2) + "\n")


def main_printing(run: Callable[[], list[str]]) -> int:
    """A wrk-driven script's main: its lines, or why it cannot run."""
    if shutil.which("wrk") is None:
        print("wrk is needed for the load (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    for line in run():
        print(line, flush=True)
    return 0
