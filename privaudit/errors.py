"""User-facing error hierarchy (each with a one-sentence hint) and the process exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README table)."""

    OK = 0  # audit completed; gate passed (or no thresholds configured)
    GATE_FAILED = 1  # audit completed; at least one gate violation
    USAGE_ERROR = 2  # user-fixable: bad flag, config, model, split or data
    INTERNAL_ERROR = 3  # a bug in privaudit
    INTERRUPTED = 130  # Ctrl-C (SIGINT); no partial output is left behind
    TERMINATED = 143  # SIGTERM (128 + 15); treated like Ctrl-C


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) arrived: unwinds the command (outputs are rolled back), then exits 130.

    # NOTE: a subclass, never KeyboardInterrupt itself. Measured: under `python -m privaudit`,
    # 6 of 80 double Ctrl-Cs during the demo's decoder attack printed "interrupted" and then
    # ended by SIGINT (status -2, not 130) when the handler raised KeyboardInterrupt; 0 of 120
    # with this class. Our reading: CPython records an unhandled KeyboardInterrupt by its
    # exact type in some of the code it runs for C extensions, and `python -m` then re-kills
    # itself with SIGINT after the exit; a subclass is never recorded.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C (outputs are rolled back), then exits 143."""


class PrivauditError(Exception):
    """Base of every error the user can fix.

    Args:
        message: one line saying what is wrong and where.
        hint: one actionable sentence saying what to do about it.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PrivauditError):
    """Unknown config key, bad value, unknown attack or format name."""


class ModelError(PrivauditError):
    """Cannot load the ONNX model, split name not found, split not equivalent."""


class DataError(PrivauditError):
    """Unreadable data, or data whose shape does not match the model input."""


class ResourceError(PrivauditError):
    """The machine ran out of something a run needs: memory, or a worker process it lost."""


class AttackError(PrivauditError):
    """An attack failed in an expected way (diverged, NaN); becomes an ERROR result."""


class UnsupportedOpError(ModelError):
    """The ONNX graph uses ops the ONNX-to-torch interpreter does not implement."""

    def __init__(self, ops: list[str]) -> None:
        super().__init__(
            f"ONNX ops not supported by the torch interpreter: {sorted(set(ops))}",
            hint="black-box parts (bound, knn, decoder) still work; white-box attacks and "
            "harden need these ops",
        )
        self.ops = sorted(set(ops))
