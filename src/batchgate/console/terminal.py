"""Where console output goes, and how times, durations and numbers read on it.

On a terminal we use rich's colours and live displays; anywhere else (CI logs, pipes, files)
output is plain text: no escape codes, and wide enough that ids are not folded.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

from rich.console import Console

#: width used when stdout is not a terminal and COLUMNS says nothing
PLAIN_WIDTH = 220


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    interactive = stream.isatty()
    width = None if interactive or os.environ.get("COLUMNS") else PLAIN_WIDTH
    # Off a terminal long lines stay whole (soft wrap): logs and greps want one line per fact.
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=not interactive)


def out() -> Console:
    """The console for results: stdout."""
    return _console(stderr=False)


def err() -> Console:
    """The console for errors and hints that must not end up in piped output: stderr."""
    return _console(stderr=True)


def live(console: Console) -> bool:
    """Whether live displays (progress bars redrawn in place) belong on `console`: a real
    terminal that rich may draw on. FORCE_COLOR in a CI job colours the lines but does not make
    a log file a terminal; TERM=dumb and TTY_COMPATIBLE=0 turn live displays off."""
    try:
        isatty = console.file.isatty()
    except (AttributeError, ValueError):
        return False
    return isatty and console.is_terminal and not console.is_dumb_terminal


def local_time(timestamp: int | None) -> str:
    """Unix seconds as local wall-clock time, `-` for none."""
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """`42s`, `3m 05s`, `2h 10m`, `3d 4h`."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def when(timestamp: int | None) -> str:
    """Local time plus how long ago (or from now) it is: `2025-01-02 13:04:05 (3m 10s ago)`."""
    if not timestamp:
        return "-"
    delta = time.time() - timestamp
    relative = f"{duration(delta)} ago" if delta >= 0 else f"in {duration(-delta)}"
    return f"{local_time(timestamp)} ({relative})"


def size(num_bytes: int) -> str:
    """`812 B`, `1.4 MB` (decimal units, as rich's transfer columns show them)."""
    value = float(num_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
