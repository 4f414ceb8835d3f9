"""A rich progress bar on stderr for long runs (appears only after 1 s; never on --json)."""
from __future__ import annotations

import contextlib
import time


@contextlib.contextmanager
def progress_bar(label: str, quiet: bool = False):
    """Yield ``tick(done, total)``; the bar starts once the run has taken more than a second
    (``total`` None: a count without an end, the bar pulses)."""
    if quiet:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    start = time.monotonic()
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=True)
    task = None

    def tick(done, total):
        nonlocal task
        if task is None:
            if time.monotonic() - start < 1.0:
                return
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield tick
    finally:
        if task is not None:
            bar.stop()
