"""UI-agnostic progress reporting protocol and its silent implementation."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol


class ProgressTask(Protocol):
    """One running task (an epoch loop, an attack, feature extraction)."""

    def advance(self, amount: float = 1.0) -> None:
        """Move the task forward by `amount` units of its total."""

    def set_info(self, info: str) -> None:
        """Show a short status string next to the bar (e.g. ``loss 0.031``)."""


class Progress(Protocol):
    """Factory of progress tasks; the CLI passes a rich implementation, tests the null one."""

    def task(
        self, description: str, total: float | None = None
    ) -> AbstractContextManager[ProgressTask]:
        """Open a task with a description and an optional total (None = indeterminate)."""


class _NullTask:
    def advance(self, amount: float = 1.0) -> None:
        """Do nothing."""

    def set_info(self, info: str) -> None:
        """Do nothing."""

    def __enter__(self) -> _NullTask:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class NullProgress:
    """A Progress that shows nothing (library use and tests)."""

    def task(self, description: str, total: float | None = None) -> _NullTask:
        """Return a task that ignores every update."""
        return _NullTask()
