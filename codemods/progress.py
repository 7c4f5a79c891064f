"""The progress bar long runs show on a terminal (`diff`, `apply`, `check`): stages and counts on stderr."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    """A one-line bar on stderr: only on a terminal, and only once the run has taken over a second."""

    def __init__(self, stream: TextIO, delay: float = 1.0) -> None:
        self.stream, self.delay, self.start = stream, delay, time.monotonic()
        self.shown = False

    def __call__(self, stage: str, total: int) -> Callable[[int], None]:
        done = 0
        last = 0.0

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = time.monotonic()
            if now - self.start < self.delay or (now - last < 0.1 and done < total):
                return
            last = now
            width = 30
            filled = int(width * done / total) if total else width
            self.stream.write(f"\r{stage:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            self.stream.flush()
            self.shown = True

        return advance

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
