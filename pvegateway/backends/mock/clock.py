"""Time for the mock: the real clock, or a deterministic one (a seed's start time, one second per read)."""

from __future__ import annotations

import time


class Clock:
    def __init__(self, start: int | None = None) -> None:
        self._fixed = start
        self._offset = 0.0

    @property
    def deterministic(self) -> bool:
        return self._fixed is not None

    @property
    def fixed(self) -> int | None:
        """A deterministic clock's current value, without reading it (None: real time): what a dump keeps."""
        return self._fixed

    def now(self) -> int:
        if self._fixed is not None:
            self._fixed += 1
            return self._fixed
        return int(time.time() + self._offset)

    def monotonic(self) -> float:
        return float(self._fixed) if self._fixed is not None else time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move time forward (control API): tasks with a delay and ticket ages follow."""
        if self._fixed is not None:
            self._fixed += int(seconds)
        else:
            self._offset += seconds
