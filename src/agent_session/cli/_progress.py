"""The progress bar of long operations: on a terminal only, on stderr."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["Meter", "progress_wanted"]


def progress_wanted(console: Console, enabled: bool | None) -> bool:
    """``--progress``/``--no-progress`` if given, else: is stderr a terminal."""
    if enabled is not None:
        return enabled
    return console.is_terminal and not console.is_dumb_terminal


class Meter:
    """Counts sessions; draws a bar of them when ``shown`` (else costs nothing).

    :param total: how many sessions there are, if known (else a spinner and the count)
    """

    def __init__(self, console: Console, description: str, total: int | None, shown: bool) -> None:
        self.done = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if not shown:
            return
        columns: list[ProgressColumn | str] = [TextColumn("{task.description}")]
        if total is None:
            columns += [SpinnerColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        else:
            columns += [
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
            ]
        # Our own writes go to stdout's buffer, never through rich: no redirection.
        self._progress = Progress(
            *columns, console=console, redirect_stdout=False, redirect_stderr=False
        )
        self._task = self._progress.add_task(description, total=total)

    def advance(self) -> None:
        self.done += 1
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def __enter__(self) -> Meter:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
