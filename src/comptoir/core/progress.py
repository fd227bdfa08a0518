"""A progress bar for long commands (``comptoir db copy``, ``comptoir search rebuild``).

One line per stage (a table, a kind of record), redrawn in place on a terminal; written out
every 10 % otherwise, so a log or a CI run keeps a readable trace.
"""

from __future__ import annotations

import time


class ProgressBar:
    """Called as ``bar(stage, done, total)``; ``close()`` ends the last line."""

    WIDTH = 30

    def __init__(self, out, *, label_width: int = 36, unit: str = "") -> None:
        self.out = out
        self.tty = out.isatty()
        self.label_width, self.unit = label_width, unit
        self.stage: str | None = None
        self.shown = -1
        self.started = time.monotonic()
        self.open_line = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.shown, self.started = stage, -1, time.monotonic()
        share = done / total if total else 1.0
        step = int(share * 10)
        if not self.tty:
            if step == self.shown or (done == 0 and total):
                return
            self.shown = step
        filled = int(share * self.WIDTH)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        unit = f" {self.unit}/s" if self.unit else "/s"
        line = (
            f"{stage:<{self.label_width}} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{done:,}/{total:,} {rate:,.0f}{unit}"
        )
        if self.tty:
            self.out.write("\r" + line, ending="")
            self.out.flush()
            self.open_line = True
            if done >= total:
                self.close()
        else:
            self.out.write(line)

    def close(self) -> None:
        if self.open_line:
            self.out.write("")
            self.open_line = False
