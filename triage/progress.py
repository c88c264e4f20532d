"""Progress on a terminal, and nothing at all without one (cron stays quiet).

tqdm rather than rich: one small pure-Python dependency that draws a bar on stderr, clears it
when done and leaves stdout to the results; rich would bring a rendering stack (pygments,
markdown-it) for one bar. Bars are drawn only when stderr is a terminal: under cron, systemd,
a pipe into a file or `--json`, every function here is silent.
"""

from __future__ import annotations

import sys
from typing import Generic, Iterable, Iterator, TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def on_terminal(stream: TextIO | None = None) -> bool:
    """True when progress may be drawn on `stream` (default: stderr)."""
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


class FolderBars:
    """One bar per folder of a run, fed `(folder, done, total)` after each batch."""

    def __init__(self, account: str, enabled: bool) -> None:
        self.account, self.enabled = account, enabled
        self.bars: dict[str, tqdm] = {}

    def __call__(self, folder: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        bar = self.bars.get(folder)
        if bar is None:
            bar = self.bars[folder] = tqdm(total=total, desc=f"{self.account} {folder}",
                                           unit="msg", leave=False, file=sys.stderr)
        bar.update(max(0, min(done, total) - bar.n))

    def write(self, line: str) -> None:
        """Print a line to stdout without tearing a bar that is being drawn."""
        if self.bars:
            tqdm.write(line, file=sys.stdout)
        else:
            print(line)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


class Stages:
    """A callback for a job reported in named stages (training): the stage and the time so far."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name = name
        self.bar = (tqdm(total=None, desc=name, bar_format="{desc} ({elapsed})", leave=False,
                         file=sys.stderr) if enabled else None)

    def __call__(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(f"{self.name}: {text}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Items(Generic[T]):
    """Iterate over `things` with a bar on a terminal; `write` prints results beside it."""

    def __init__(self, things: Iterable[T], what: str, enabled: bool) -> None:
        self.things = list(things)
        self.bar = (tqdm(total=len(self.things), desc=what, unit="file", leave=False,
                         file=sys.stderr) if enabled else None)

    def __iter__(self) -> Iterator[T]:
        for thing in self.things:
            yield thing
            if self.bar is not None:
                self.bar.update(1)
        self.close()

    def write(self, line: str) -> None:
        if self.bar is not None:
            tqdm.write(line, file=sys.stdout)
        else:
            print(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
