"""How the CLI reports problems: exit codes 2/3/130, `error:` + `hint:` lines, usage errors."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

from privaudit.errors import ExitCode, PrivauditError

__all__ = ["HouseGroup", "print_problem", "reported_errors", "sigint_as_keyboardinterrupt"]

# NOTE: click's UsageError, found through typer's public BadParameter (typer vendors click).
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)
_FALLBACK_HINT = "check the value named above ('privaudit COMMAND --help' lists the options)"
_INTERNAL_REPR_CHARS = 300  # an internal error's repr can hold a whole file's bytes


def print_problem(message: str, hint: str | None) -> None:
    """The house format: one `error:` line and one `hint:` line on stderr, never wrapped.

    User data (names, paths) goes in as plain text: rich markup in it is not interpreted.
    """
    from rich.text import Text

    from privaudit.cli.console import err_console

    err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    if hint:
        err_console.print(Text.assemble(("hint:", "dim"), " ", hint), soft_wrap=True)


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
            raise _usage_exit(e) from e


@contextmanager
def reported_errors(debug: bool = False) -> Iterator[None]:
    """Map exceptions to exit codes: user errors 2, Ctrl-C 130, bugs 3; never a traceback."""
    from rich.text import Text

    from privaudit.cli.console import err_console

    try:
        yield
    except PrivauditError as e:
        print_problem(e.message, e.hint or _FALLBACK_HINT)
        raise typer.Exit(ExitCode.USAGE_ERROR) from e
    except KeyboardInterrupt as e:
        err_console.print("[bold red]interrupted[/]: no report or model was written")
        raise typer.Exit(ExitCode.INTERRUPTED) from e
    except Exception as e:  # NOTE: deliberate top-level boundary; bugs exit 3, never 1
        shown = repr(e)
        if len(shown) > _INTERNAL_REPR_CHARS:
            shown = shown[:_INTERNAL_REPR_CHARS] + "..."
        err_console.print(
            Text.assemble(("internal error", "bold red"), " (please report): ", shown),
            soft_wrap=True,
        )
        if debug:
            err_console.print_exception(show_locals=False)
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from e


@contextmanager
def sigint_as_keyboardinterrupt() -> Iterator[None]:
    """Within the block, the first Ctrl-C raises KeyboardInterrupt; later ones are ignored.

    # NOTE: a second Ctrl-C (users often press twice) must not interrupt the cleanup that
    # removes partial outputs, nor kill the process during shutdown (exit -2 instead of
    # 130), so the first one switches SIGINT to "ignore" for the rest of the process.
    """

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    interrupted = False
    try:
        yield
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if not interrupted:
            signal.signal(signal.SIGINT, previous)
