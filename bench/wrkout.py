"""Reading wrk's output: shared by the bench scripts (which run with bench/ on sys.path)."""

from __future__ import annotations

import re


def latency_ms(out: str, label: str) -> float:
    """The ``label`` percentile (e.g. ``50%``) of wrk's ``--latency`` table, in milliseconds."""
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
