"""How the CLI reports problems: exit codes 2/3/130/143, `error:` + `hint:` lines, signals."""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

from privaudit.errors import ExitCode, Interrupted, PrivauditError, Terminated

__all__ = ["HouseGroup", "internal_repr", "interrupt_signals", "own_process", "print_problem",
           "reported_errors"]

# NOTE: click's UsageError, found through typer's public BadParameter (typer vendors click).
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)
_FALLBACK_HINT = "check the value named above ('privaudit COMMAND --help' lists the options)"
_INTERNAL_REPR_CHARS = 300  # an internal error's repr can hold a whole file's bytes


def print_problem(message: str, hint: str | None) -> None:
    """The house format: one `error:` line and one `hint:` line on stderr, never wrapped.

    User data (names, paths) goes in as plain text: rich markup in it is not interpreted, and
    control characters (a newline in a file name) are escaped, so the message stays one line.
    """
    from rich.text import Text

    from privaudit.cli.console import err_console, printable

    err_console.print(Text.assemble(("error:", "bold red"), " ", printable(message)),
                      soft_wrap=True)
    if hint:
        err_console.print(Text.assemble(("hint:", "dim"), " ", printable(hint)), soft_wrap=True)


def _usage_exit(error: Exception) -> typer.Exit:
    """Print a click usage error (bad flag or value) in the house format; exit code 2."""
    ctx = getattr(error, "ctx", None)
    where = f"'{ctx.command_path} --help'" if ctx is not None else "'privaudit --help'"
    message = getattr(error, "format_message", lambda: str(error))()
    print_problem(message, f"see {where} for the options and their values")
    return typer.Exit(ExitCode.USAGE_ERROR)


class HouseGroup(TyperGroup):
    """The command group, with click's parse errors printed as `error:` + `hint:` (exit 2)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the group's own options (a bare `privaudit` still shows the help)."""
        try:
            return super().parse_args(ctx, args)
        except _USAGE_ERROR as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `privaudit`: show the help
                raise
            raise _usage_exit(e) from e

    def invoke(self, ctx: Any) -> Any:
        """Run the subcommand; its parse errors (bad flag or value) arrive here."""
        try:
            return super().invoke(ctx)
        except _USAGE_ERROR as e:  # NOTE: command bodies never raise it; this is parsing
            if type(e).__name__ == "NoArgsIsHelpError":  # a bare group (`privaudit hook`)
                raise
            raise _usage_exit(e) from e


# NOTE: resources the user runs out of (a full disk, a quota, too many open files) are user
# errors: exit 2 with a hint, never "please report".
_RESOURCE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EMFILE, errno.ENFILE,
                    errno.ENOMEM)
_MEMORY_HINT = ("use fewer or smaller samples (--limit, a smaller --input-shape), or a machine "
                "with more memory")


@contextmanager
def reported_errors(debug: bool = False) -> Iterator[None]:
    """Run a command body: user errors exit 2, Ctrl-C 130, SIGTERM 143, bugs 3; no traceback.

    Within the block SIGINT and SIGTERM unwind the command (see `interrupt_signals`), so the
    outputs are rolled back before the exit.
    """
    try:
        with interrupt_signals():
            yield
    except PrivauditError as e:
        print_problem(e.message, e.hint or _FALLBACK_HINT)
        raise typer.Exit(ExitCode.USAGE_ERROR) from e
    except KeyboardInterrupt as e:
        raise _interrupted(e) from e
    except MemoryError as e:
        print_problem("out of memory", _MEMORY_HINT)
        raise typer.Exit(ExitCode.USAGE_ERROR) from e
    except OSError as e:
        if e.errno not in _RESOURCE_ERRNOS:
            raise _internal(e, debug) from e
        where = f" ({e.filename})" if e.filename else ""
        print_problem(f"{e.strerror or e}{where}", "free some disk space or memory, or write "
                      "to another folder (--output-dir)")
        raise typer.Exit(ExitCode.USAGE_ERROR) from e
    except Exception as e:  # NOTE: deliberate top-level boundary; bugs exit 3, never 1
        raise _internal(e, debug) from e


def _interrupted(error: KeyboardInterrupt) -> typer.Exit:
    """Say that nothing was written; exit 143 for SIGTERM, 130 for Ctrl-C."""
    from privaudit.cli.console import err_console

    terminated = isinstance(error, Terminated)
    what = "terminated" if terminated else "interrupted"
    err_console.print(f"[bold red]{what}[/]: no report or model was written")
    return typer.Exit(ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED)


def internal_repr(error: Exception) -> str:
    """An internal error as its repr, cut to `_INTERNAL_REPR_CHARS` (it may hold a file)."""
    shown = repr(error)
    return shown if len(shown) <= _INTERNAL_REPR_CHARS else shown[:_INTERNAL_REPR_CHARS] + "..."


def _internal(error: Exception, debug: bool) -> typer.Exit:
    """Print an internal error (a bug) on one line, with the traceback under --debug; exit 3."""
    from rich.text import Text

    from privaudit.cli.console import err_console

    err_console.print(
        Text.assemble(("internal error", "bold red"), " (please report): ", internal_repr(error)),
        soft_wrap=True,
    )
    if debug:
        err_console.print_exception(show_locals=False)
    return typer.Exit(ExitCode.INTERNAL_ERROR)


@contextmanager
def interrupt_signals() -> Iterator[None]:
    """Within the block, Ctrl-C raises `Interrupted` and SIGTERM `Terminated`.

    Both are KeyboardInterrupts and unwind the command like an error, so `restore_on_failure`
    takes partial outputs away. The first signal makes the process ignore both for the rest
    of its life.

    # NOTE: a second Ctrl-C (users often press twice) or a SIGTERM right after a Ctrl-C must
    # not interrupt the cleanup that removes partial outputs, nor kill the process during
    # shutdown (exit -2 instead of 130). Handlers can only be set in the main thread; in
    # another thread the block runs with the process's handlers as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        received.append(signum)
        raise Terminated if signum == signal.SIGTERM else Interrupted

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        if not received:
            for sig, handler in previous.items():
                # NOTE: the `privaudit` process has done its work (its outputs are written or
                # rolled back): a signal now would exit 130 or 143, which promise that
                # nothing was written, over the reports just written. It is ignored.
                signal.signal(sig, signal.SIG_IGN if _PROCESS["owned"] else handler)


# NOTE: True in the `privaudit` console script (`own_process`), whose process ends with its
# command; False in-process (typer's CliRunner, a host program), whose handlers come back.
_PROCESS = {"owned": False}


def own_process() -> None:
    """Say that this process is the `privaudit` command's own (the console-script entry)."""
    _PROCESS["owned"] = True
