"""The sweep on the console (stderr): the table of points, the answer, and the gate."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from privaudit.cli.console import err_console, print_gate, printable
from privaudit.results import Accuracy, GridPoint, SweepReport

__all__ = ["print_sweep", "sweep_table"]


def _acc(a: Accuracy) -> str:
    if a.value is None:
        return "n/a"
    if a.interval is None:
        return f"{100 * a.value:.1f}%"
    return f"{100 * a.value:.1f}% [{100 * a.interval.low:.0f}-{100 * a.interval.high:.0f}]"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _floor(p: GridPoint) -> str:
    """The point's floor (S), said not to hold when a reconstruction lies below it."""
    value = _num(None if p.bound is None else p.bound.mse_floor)
    return f"{value} (void)" if p.floor_refuted_by() is not None else value


def sweep_table(report: SweepReport) -> Table:
    """One row per (cut, sigma); Pareto points starred, the recommended point marked."""
    rec = report.recommendation
    t = Table(title="Sweep (* = Pareto point, > = recommended)", title_justify="left")
    for col in ("", "cut", "sigma", "noisy acc. [95%]", "leakage bits/dim", "floor (S)",
                "label MSE", "strongest", "its MSE", "recovered"):  # fmt: skip
        t.add_column(col)
    for p in report.points:
        chosen = rec.met and (rec.cut, rec.noise_sigma) == (p.cut, p.noise_sigma)
        mark = (">" if chosen else " ") + ("*" if p.pareto else " ")
        label = next((r.mse for r in p.references if r.name == "label"), None)
        share = "n/a" if p.recovered is None else f"{100 * p.recovered:.0f}%"
        bound = p.bound
        t.add_row(mark, Text(printable(p.cut)), f"{p.noise_sigma:g}", _acc(p.noisy_accuracy),
                  "unbounded" if p.noise_sigma == 0 else _num(
                      None if bound is None else bound.leakage_bits_per_dim),
                  _floor(p), _num(label),
                  Text(printable(p.strongest or "-")), _num(p.strongest_mse),
                  share)  # fmt: skip
    return t


def print_sweep(report: SweepReport, console: Console = err_console, *, ran: bool = True) -> None:
    """The points, the clean accuracy, the answer (with its command), warnings and the gate.

    `ran`: the sweep just ran here, so its jobs are said too (False for a saved sweep that
    `check` answers again: it runs nothing).
    """
    console.print(sweep_table(report))
    clean = report.points[0].clean_accuracy if report.points else Accuracy(None)
    console.print(f"clean accuracy (the model's, every cut): {_acc(clean)}", highlight=False)
    e = report.execution
    if ran:
        each = f"{_count(e.workers, 'worker')} x {_count(e.threads_per_job, 'thread')}"
        console.print(f"[dim]{e.executor}: {_count(e.ran, 'job')} ran, {e.reused} reused from "
                      f"shards, {each}[/]", highlight=False)
    for w in report.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), printable(w)), soft_wrap=True)
    rec = report.recommendation
    style = {"met": "bold green", "unmet": "bold red"}.get(rec.status, "bold")
    console.print(Text.assemble(("answer: ", style), printable(rec.headline)), soft_wrap=True)
    if rec.command:
        console.print(Text("  " + printable(rec.command)), soft_wrap=True)
    print_gate(report.gate, console)


def _count(n: int, noun: str) -> str:
    """'1 worker', '2 workers'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
