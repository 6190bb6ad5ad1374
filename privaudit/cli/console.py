"""Rich output on stderr: progress (bars, or lines off a terminal), logging, the summary."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from privaudit.config import Budget
from privaudit.model import CutPoint, readable_shape
from privaudit.results import (
    AuditReport,
    BoundResult,
    GateResult,
    below_floor,
    build_verdict,
    cluster_words,
    floor_refuted_by,
)

PIPED_WIDTH = 200  # columns of stderr off a terminal (CI logs): tables are not cut at 80


def _stderr_console() -> Console:
    """Stderr console; off a terminal as wide as PIPED_WIDTH unless COLUMNS says otherwise."""
    probe = Console(stderr=True)
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(stderr=True, width=PIPED_WIDTH)


err_console = _stderr_console()

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object) -> str:
    r"""`text` with every non-printable character escaped, so that it prints as one line.

    Newlines, other control characters, Unicode line separators, invisible format characters
    (bidi overrides) and lone surrogates (undecodable bytes of a file name) are written as
    Python writes them in a repr (``\n``, ``\x1b``, ``\u202e``, ``\udcff``): a file
    named ``a\nerror: b.png`` cannot forge a second `error:` line or move the cursor.
    """
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else _escape(c) for c in value)


def _escape(char: str) -> str:
    code = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class _RichTask:
    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar = bar
        self._task = task

    def advance(self, amount: float = 1.0) -> None:
        self._bar.advance(self._task, amount)

    def set_info(self, info: str) -> None:
        self._bar.update(self._task, info=info)


class _LineTask:
    """A task off a terminal: no bar, only its last info, for the line printed at its end."""

    def __init__(self) -> None:
        self.info = ""

    def advance(self, amount: float = 1.0) -> None:
        """Nothing to redraw."""

    def set_info(self, info: str) -> None:
        """Keep `info` for the task's closing line."""
        self.info = info


class RichProgress:
    """Progress on stderr: on a terminal one bar per task with ETA, kept when done.

    Off a terminal (a CI log, a file) no bar is drawn, redrawn or reprinted: each task
    prints one line when it ends, ``features ... done in 1.2 s``.
    """

    def __init__(self, console: Console = err_console, *, enabled: bool = True) -> None:
        self._console = console
        self._lines = enabled and not console.is_terminal
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            disable=not enabled or self._lines,
            transient=False,
        )

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[_RichTask | _LineTask]:
        """Open a bar, completed when the block ends (off a terminal: one line at the end)."""
        if self._lines:
            with self._line(description) as line:
                yield line
            return
        task_id = self._bar.add_task(description, total=total, info="")
        try:
            yield _RichTask(self._bar, task_id)
        finally:
            done = self._bar.tasks[task_id].total
            self._bar.update(task_id, total=done or 1, completed=done or 1)

    @contextmanager
    def _line(self, description: str) -> Iterator[_LineTask]:
        """A task printed as one line when it ends: done (or stopped) after how long."""
        task, start, ended = _LineTask(), time.perf_counter(), False
        try:
            yield task
            ended = True
        finally:
            how = "done in" if ended else "stopped after"
            info = f" ({task.info})" if task.info else ""
            self._console.print(
                Text(f"{printable(description)} ... {how} {time.perf_counter() - start:.1f} s"
                     f"{printable(info)}"), soft_wrap=True, highlight=False)


def _stdout_console() -> Console:
    """Stdout console; wide when piped so long tensor names stay on one line."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=200)


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "n/a" if value is None else format(value, spec)


def bound_table(bound: BoundResult, refuted_by: str | None = None) -> Table:
    """The bound's numbers, one per row, with units (`refuted_by`: what lies below the floor)."""
    t = Table(title="Reconstruction bound", show_header=False, title_justify="left")
    t.add_column("quantity", style="bold")
    t.add_column("value")
    t.add_row("noise sigma", _fmt(bound.noise_sigma))
    if bound.vacuous:
        t.add_row("leakage", "unbounded (sigma = 0): no guarantee, floor 0")
    else:
        interval = bound.leakage_interval
        ci = f"  [{_fmt(interval.low)}, {_fmt(interval.high)}]" if interval else ""
        leak = f"{_fmt(bound.leakage_nats)} nats/sample{ci}  ({bound.clustering})"
        t.add_row("leakage I_up", leak)
        t.add_row("leakage", f"{_fmt(bound.leakage_bits_per_dim)} bits per input dim")
    source = f"{_fmt(bound.input_entropy_per_dim)} nats ({bound.input_entropy_source})"
    t.add_row("input entropy h(x)/d", source)
    t.add_row("cond. entropy h(x|z)/d", f"{_fmt(bound.cond_entropy_per_dim)} nats")
    cell = _floor_cell(bound)
    if refuted_by is not None:
        cell = f"{_fmt(bound.mse_floor)}  (does not hold: the {refuted_by} lies below it)"
    t.add_row("MSE floor (any attack)", cell)
    t.add_row("paper's floor (T)", f"{_fmt(bound.paper_floor)}  (can overstate on classes)")
    t.add_row("certified MSE floor", _fmt(bound.certified_mse_floor))
    t.add_row("floor ratio exp(-2I/d)", _fmt(bound.floor_ratio))
    return t


def _floor_cell(bound: BoundResult) -> str:
    if bound.mse_floor is None:
        return "n/a (report older than schema 3)"
    if bound.floor_vacuous and not bound.vacuous:
        return f"{_fmt(bound.mse_floor)}  (vacuous at this cut)"
    interval = bound.mse_floor_interval
    ci = f"  [{_fmt(interval.low)}, {_fmt(interval.high)}]" if interval else ""
    cells = bound.floor_clustering
    given = f", Gaussian within each {cluster_words(cells)}" if cells else ""
    return f"{_fmt(bound.mse_floor)}{ci}  (conditional spectral{given})"


BELOW_FLOOR = "below the floor: not Gaussian within a cluster"  # an attacks table note


def attacks_table(report: AuditReport) -> Table:
    """One row per reference and attack: status, MSE/PSNR/SSIM, recovered share and time."""
    t = Table(title="Inversion attacks (evaluation set)", title_justify="left")
    for col in ("attack", "status", "MSE", "PSNR dB", "SSIM", "recovered", "time s", "note"):
        t.add_column(col)
    for r in report.references:
        note = r.reason or (BELOW_FLOOR if below_floor(report.bound, r) else "")
        recovered = "" if r.recovered is None else f"{100 * r.recovered:.0f}%"
        t.add_row(Text(f"{r.name} (reference)", style="dim"), "ok" if r.mse is not None else
                  "n/a", _fmt(r.mse), _fmt(r.psnr, ".2f"), _fmt(r.ssim, ".3f"), recovered, "",
                  Text(note))  # fmt: skip
    for a in report.attacks:
        below = BELOW_FLOOR if a.below_floor else ""
        label = "" if a.beats_label is None else (
            "beats label" if a.beats_label else "not beyond label")
        note = a.reason or "; ".join(n for n in (label, below) if n)
        recovered = "" if a.recovered is None else f"{100 * a.recovered:.0f}%"
        t.add_row(
            Text(printable(a.attack)),
            a.status.value,
            _fmt(a.mse),
            _fmt(a.psnr, ".2f"),
            _fmt(a.ssim, ".3f"),
            recovered,
            f"{a.seconds:.1f}",
            Text(printable(note)),
        )
    return t


def print_verdict(report: AuditReport, console: Console = err_console) -> None:
    """The plain-words verdict, its next step and the command to run."""
    v = report.verdict or build_verdict(report)
    console.print(Text.assemble(("verdict: ", "bold"), v.headline), soft_wrap=True)
    for sentence in v.sentences:
        console.print(Text("  " + sentence), soft_wrap=True)
    console.print(Text.assemble(("next step: ", "bold"), v.next_step), soft_wrap=True)
    console.print(Text("  " + v.command), soft_wrap=True)


def print_summary(report: AuditReport, console: Console = err_console) -> None:
    """Print the verdict, the bound, utility, attacks, dFIL and the gate."""
    m = report.model
    console.print(
        f"[bold]model[/] {escape(printable(m.path))}  [bold]split[/] "
        f"{escape(printable(m.split))} -> {escape(printable(m.cut_tensor))} "
        f"features {list(m.feature_shape)}",
        markup=True,
        highlight=False,
    )
    print_verdict(report, console)
    if m.layout == "channels-last":  # NOTE: the Transpose privaudit added, said aloud
        shape = ", ".join(str(d) for d in m.input_shape)
        console.print(f"input: {printable(m.input_name)!r} keeps its channels last; fed through "
                      f"a Transpose, audited as (N, {shape})", highlight=False, markup=False)
    if m.noise_stds:
        stds = ", ".join(f"{s:.3g}" for s in m.noise_stds)
        console.print(f"noise per channel (stds, RMS = sigma): {stds}", highlight=False,
                      markup=False)
    if report.bound is not None:
        refuted = floor_refuted_by(report.bound, report.attacks, report.references)
        console.print(bound_table(report.bound, None if refuted is None else refuted.name))
    u = report.utility
    if u.clean_accuracy is not None:
        noisy = "n/a" if u.noisy_accuracy is None else f"{u.noisy_accuracy:.2%}"
        console.print(f"accuracy: clean {u.clean_accuracy:.2%}, with noise {noisy}")
    for p in report.sweep:
        acc = "n/a" if p.accuracy is None else f"{p.accuracy:.2%}"
        console.print(
            f"  sigma {p.noise_sigma:<6g} leakage {_fmt(p.leakage_bits_per_dim)} bits/dim  "
            f"floor {_fmt(p.mse_floor)}  accuracy {acc}"
        )
    if report.attacks or report.references:
        console.print(attacks_table(report))
    leaking = feature_line(report)
    if leaking:
        console.print(Text(leaking), soft_wrap=True)
    d = report.dfil
    if d is not None:
        text = (f"dFIL: median {_fmt(d.median)}, 1/dFIL >= {_fmt(d.inverse_p05)} for 95% of "
                "inputs (unbiased attackers only)") if d.mean is not None else (
                f"dFIL: skipped ({d.reason})")  # fmt: skip
        console.print(Text(text), soft_wrap=True)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(printable(w))}", highlight=False)
    print_gate(report.gate, console)


FEATURES_SHOWN = 5  # columns (channels) named on the console, most leaking first


def feature_line(report: AuditReport) -> str:
    """The most leaking columns (tabular) or channels (signals), in the report's order.

    The order is the report's per-feature table (`leakage_table`: by the best score any
    attack reaches), and each is shown with that score and the attack that reaches it.
    """
    from privaudit.reports.features import feature_metric, leakage_table  # NOTE: pandas, lazily

    table = leakage_table(report)
    if table.empty:
        return ""
    _, label = feature_metric(report)
    prefix = f"{label} "
    attacks = [c for c in table.columns
               if c.startswith(prefix) and not c.endswith("(reference)")]  # fmt: skip
    shown = []
    for _, row in table.head(FEATURES_SHOWN).iterrows():
        scores = [(float(row[c]), c.removeprefix(prefix)) for c in attacks
                  if isinstance(row[c], float) and math.isfinite(row[c])]  # fmt: skip
        if scores:
            value, attack = max(scores)
            shown.append(f"{printable(str(row['feature']))} {_fmt(value, '.2f')} ({attack})")
    what = "columns" if report.model.domain == "tabular" else "channels"
    return f"most leaking {what} ({label}, best attack): {', '.join(shown)}" if shown else ""


def print_gate(gate: GateResult, console: Console = err_console) -> None:
    """The verdict line, and a table of violations when the gate failed."""
    if not gate.active:
        console.print("[dim]gate: no thresholds configured[/]")
        return
    if gate.passed:
        console.print("[bold green]gate passed[/]")
        return
    t = Table(title="[bold red]gate failed[/]", title_justify="left")
    for col in ("rule", "subject", "message"):
        t.add_column(col)
    for v in gate.violations:
        t.add_row(v.rule, Text(printable(v.subject)), Text(printable(v.message)))
    console.print(t)


def layers_table(points: Sequence[CutPoint], console: Console | None = None) -> None:
    """Print cut points as a table on stdout."""
    console = console or _stdout_console()
    t = Table(title="Cut points", title_justify="left")
    for col in ("module", "tensor", "op", "shape", "depth", "clean"):
        t.add_column(col, overflow="fold", no_wrap=col in ("module", "op", "shape", "depth"))
    for p in points:
        shape = readable_shape(p.shape)
        clean = "yes" if p.clean else f"no: {p.reason}" if p.reason else "no"
        cells = (p.module or "", p.tensor or "", p.op_type or "", shape, f"{p.depth:.2f}", clean)
        t.add_row(*(Text(printable(c)) for c in cells))
    console.print(t, highlight=False)


def attacks_list_table(rows: list[dict[str, object]], console: Console | None = None) -> None:
    """Print the attack registry: name, needs, summary, params per budget.

    A parameter that differs between budgets reads `epochs=2/20/50` (smoke / standard /
    thorough), one that does not `k=1`.
    """
    console = console or _stdout_console()
    budgets = [b.value for b in Budget]
    t = Table(title="Attacks", title_justify="left")
    for col in ("name", "needs", "summary", f"params ({' / '.join(budgets)})"):
        t.add_column(col, overflow="fold")
    for r in rows:
        params = r["params"]
        assert isinstance(params, dict)
        cells = []
        for key in params[Budget.STANDARD]:
            values = [str(params[b][key]) for b in budgets]
            cells.append(f"{key}={values[0] if len(set(values)) == 1 else '/'.join(values)}")
        needs = r["needs"]
        assert isinstance(needs, list)
        t.add_row(*(Text(c) for c in (str(r["name"]), ", ".join(needs), str(r["summary"]),
                                      ", ".join(cells))))
    console.print(t, highlight=False)


def print_wrote(paths: Sequence[object], console: Console = err_console) -> None:
    """One `wrote PATH` line per written file (control characters in names escaped)."""
    for path in paths:
        console.print(f"wrote {printable(path)}", highlight=False, markup=False, soft_wrap=True)


LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"  # e.g. 12:03:04 INFO stage bound ...


class _StderrHandler(logging.StreamHandler):
    """Writes to the current `sys.stderr`: a live progress display redirects it above its bars."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write `record` to stderr as it is now."""
        self.stream = sys.stderr
        super().emit(record)


def set_logging(verbose: int) -> None:
    """Log privaudit's messages to stderr, one concise line each: warnings, -v info, -vv debug.

    -v: each stage's start and end with its duration; -vv also the details (cluster sizes,
    attack and fine-tuning epochs with their losses, the chosen lambda or sweep point). Only
    the `privaudit` loggers are set, never other libraries'; stdout is never written.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logger = logging.getLogger("privaudit")
    for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(old)  # NOTE: a second command in one process (tests) sets anew
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level)
