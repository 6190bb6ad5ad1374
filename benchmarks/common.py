"""What every benchmark shares: full and quick settings, results, their Markdown, provenance.

A benchmark module defines `TITLE`, `FULL` and `QUICK` (its sizes: option -> value), a
`parser()` with those options, `run(args) -> Result` and `main(argv)`. `Result` holds the
measured tables and goals; `render` prints them as the Markdown the README shows, with the
command, date and machine that produced them. Quick mode (`--quick`) only changes the
defaults of the size options (explicit flags still win): tiny sizes, one repeat, the same
lines as the full mode, figures that mean nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

QUICK_NOTE = "quick mode: tiny sizes, one repeat; checks that it runs, the figures mean nothing"

# NOTE: the one format of a goal line; tests/test_benchmarks.py parses it with GOAL_LINE.
GOAL_LINE = re.compile(
    r"^- goal (?P<verdict>met|missed): (?P<what>.+) = (?P<value>[-+]?[\d.]+(?:e[-+]?\d+)?|nan|inf)"
    r"(?P<unit> %| s| x| MiB)? \(goal (?P<op><=|>=) (?P<limit>[-+]?[\d.]+)(?P=unit)?\)$"
)


@dataclass(frozen=True)
class Goal:
    """A promise with its measurement: `value op limit`, e.g. overhead <= +10 %."""

    what: str
    value: float
    op: str  # "<=" | ">="
    limit: float
    unit: str = ""  # "", " %", " s", " x", " MiB"
    fmt: str = ".2f"

    @property
    def met(self) -> bool:
        """Whether the measured value keeps the promise (NaN never does)."""
        if not math.isfinite(self.value):
            return False
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    @property
    def verdict(self) -> str:
        """`met` or `missed`."""
        return "met" if self.met else "missed"

    def show(self, value: float) -> str:
        """A value of this goal with its unit, e.g. `+1.8 %` (`nan` when not measured)."""
        if math.isnan(value):
            return f"nan{self.unit}"
        return f"{value:{self.fmt}}{self.unit}"

    def precise(self) -> Goal:
        """This goal with enough digits that its printed value agrees with its verdict."""
        goal = self
        while (goal.fmt[-1] == "f" and math.isfinite(goal.value)
               and not _agrees(goal) and int(goal.fmt[-2]) < 8):  # fmt: skip
            goal = replace(goal, fmt=f"{goal.fmt[:-2]}{int(goal.fmt[-2]) + 1}f")
        return goal

    def line(self) -> str:
        """The fixed, parseable goal line (see GOAL_LINE).

        A value that rounds onto its limit gets more digits, so the printed numbers always
        agree with the verdict (1.1004 against <= 1.100 prints 1.1004, missed).
        """
        goal = self.precise()
        return (f"- goal {goal.verdict}: {goal.what} = {goal.show(goal.value)} "
                f"(goal {goal.op} {goal.show(goal.limit)})")


def _agrees(goal: Goal) -> bool:
    """Whether the printed value, read back, gives the goal's verdict."""
    shown = float(goal.show(goal.value).removesuffix(goal.unit))
    limit = float(goal.show(goal.limit).removesuffix(goal.unit))
    return (shown <= limit if goal.op == "<=" else shown >= limit) == goal.met


@dataclass(frozen=True)
class Table:
    """A Markdown table: a caption, a header and rows of already formatted cells."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        """The table as Markdown, under its caption in bold."""
        lines = [f"**{self.caption}**", "", "| " + " | ".join(self.header) + " |",
                 "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True)
class Result:
    """What one benchmark measured: settings, free-text notes, tables and goals."""

    name: str  # module name, e.g. "bound"
    title: str
    settings: str
    tables: tuple[Table, ...]
    goals: tuple[Goal, ...] = ()
    notes: tuple[str, ...] = ()
    quick: bool = False
    seconds: float = field(default=0.0, compare=False)
    host: str = field(default="", compare=False)  # the machine, as it was at the start

    @property
    def command(self) -> str:
        """The command that runs this benchmark alone (full mode)."""
        return f"python -m benchmarks.{self.name}"


def parse(
    build: Callable[[], argparse.ArgumentParser], quick: dict[str, Any],
    argv: Sequence[str] | None,
) -> argparse.Namespace:
    """Parse `argv`; with `--quick` the `quick` values become the defaults."""
    parser = build()
    parser.add_argument("--quick", action="store_true", help=QUICK_NOTE)
    known, _ = parser.parse_known_args(argv)
    if known.quick:
        parser.set_defaults(**quick)
    return parser.parse_args(argv)


def machine() -> str:
    """CPU model and cores, GPU, load, and the versions that matter for the figures."""
    import numpy
    import onnxruntime
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = f", load {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {cores} cores{load}, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
            f"numpy {numpy.__version__}")


def today() -> str:
    """Today's date (UTC), ISO format."""
    return datetime.now(UTC).date().isoformat()


def render(result: Result, *, via: str | None = None) -> str:
    """One benchmark's Markdown: heading, provenance, notes, tables, goal lines."""
    mode = "quick mode" if result.quick else "full mode"
    by = f"`{result.command}`" + (f" (run by `{via}`)" if via else "")
    parts = [
        f"### `{result.command}`: {result.title}",
        f"_{by}, {mode}, {today()}, {result.seconds:.0f} s; {result.host}._",
        f"Settings: {result.settings}." + (f" {QUICK_NOTE.capitalize()}." if result.quick else ""),
    ]
    if result.notes:
        parts.append("\n".join(result.notes))
    parts += [table.markdown() for table in result.tables]
    if result.goals:
        parts.append("\n".join(goal.line() for goal in result.goals))
    return "\n\n".join(parts)


def summary(results: Sequence[Result]) -> Table:
    """Every goal of every benchmark in one table (the README's benchmark table)."""
    rows = tuple(
        (f"`{r.command}`", g.what, f"{g.op} {g.show(g.limit)}",
         f"**{g.show(g.value)}, {g.verdict}**")
        for r in results for g in (goal.precise() for goal in r.goals)
    )
    return Table("Goals", ("command", "measures", "goal", "measured"), rows)


def timed(run: Callable[[argparse.Namespace], Result], args: argparse.Namespace) -> Result:
    """`run(args)` with the machine (its load at the start) and the wall time recorded."""
    host, start = machine(), time.perf_counter()
    result = run(args)
    return replace(result, host=host, seconds=time.perf_counter() - start)


def main_of(
    run: Callable[[argparse.Namespace], Result], build: Callable[[], argparse.ArgumentParser],
    quick: dict[str, Any], argv: Sequence[str] | None = None,
) -> int:
    """A benchmark's command line: parse, run, print its Markdown (and the goals table)."""
    result = timed(run, parse(build, quick, argv))
    print(render(result))
    sys.stdout.flush()
    return 0


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The shortest of `repeats` timed calls of `fn`, and the last call's return value."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def mean_std(values: Sequence[float], scale: float = 1.0, fmt: str = ".4f") -> str:
    """`mean ± std` of `values` times `scale` (the mean alone for a single value)."""
    mean = sum(values) / len(values) * scale
    if len(values) < 2:
        return f"{mean:{fmt}}"
    var = sum((v * scale - mean) ** 2 for v in values) / (len(values) - 1)
    return f"{mean:{fmt}} ± {math.sqrt(var):{fmt.lstrip('+')}}"


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """y at `x` on the line through the two `(x, y)` points around it; None outside them.

    Nothing is extrapolated: the benchmarks place a defence on the noise-only frontier with
    it (noisy accuracy -> attack MSE).
    """
    ordered = sorted(points)
    for (x0, y0), (x1, y1) in zip(ordered, ordered[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def plural(n: int, word: str) -> str:
    """`1 seed`, `3 seeds`."""
    return f"{n} {word}{'' if n == 1 else 's'}"
