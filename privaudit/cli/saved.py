"""`privaudit` commands that need no model: gate, re-render or compare saved reports, list attacks.

Plain functions with typer annotations; `privaudit.cli` registers them on the app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from privaudit.cli.errors import reported_errors
from privaudit.cli.options import (
    ConfigOpt,
    DebugOpt,
    GateAttackOpt,
    GateBoundOpt,
    GateDfilOpt,
    GateFloorOpt,
    GateLeakOpt,
    GateRecoveredOpt,
    OutOpt,
    StrictOpt,
)
from privaudit.errors import ConfigError, ExitCode

__all__ = ["check", "compare", "list_attacks", "report"]


def check(
    report: Annotated[Path, typer.Argument(help="A report.json written by assess or harden.")],
    fail_under_bound: GateBoundOpt = None,
    fail_under_floor: GateFloorOpt = None,
    fail_over_leakage: GateLeakOpt = None,
    fail_under_attack_mse: GateAttackOpt = None,
    fail_over_recovered: GateRecoveredOpt = None,
    fail_under_dfil_mse: GateDfilOpt = None,
    strict: StrictOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Apply the gate to a saved report without recomputing anything."""
    with reported_errors(debug):
        from privaudit.cli.console import print_gate
        from privaudit.config import load_config
        from privaudit.gate import evaluate_report
        from privaudit.results import read_report

        overrides = {
            "gate.min_cond_entropy": fail_under_bound,
            "gate.min_mse_floor": fail_under_floor,
            "gate.max_leakage": fail_over_leakage,
            "gate.min_attack_mse": fail_under_attack_mse,
            "gate.max_recovered": fail_over_recovered,
            "gate.min_dfil_mse": fail_under_dfil_mse,
            "gate.strict": strict,
        }
        cfg = load_config(config, overrides)
        result = evaluate_report(cfg.gate, read_report(report))
        print_gate(result)
    raise typer.Exit(ExitCode.OK if result.passed else ExitCode.GATE_FAILED)


def list_attacks(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
) -> None:
    """List the attacks, what each needs, and its parameters per budget."""
    with reported_errors():
        from privaudit.attacks import ATTACKS
        from privaudit.config import Budget

        if fmt not in ("table", "json"):
            raise ConfigError(f"unknown --format {fmt!r}", hint="choose table or json")
        rows: list[dict[str, object]] = [
            {
                "name": name,
                "needs": sorted(c.value for c in cls.requires),
                "summary": cls.summary,
                "params": {b.value: cls.params_type.for_budget(b).as_dict() for b in Budget},
            }
            for name, cls in ATTACKS.items()
        ]
        if fmt == "json":
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        else:
            from privaudit.cli.console import attacks_list_table

            attacks_list_table(rows)


def report(
    saved: Annotated[
        Path, typer.Argument(metavar="REPORT.json", help="A report.json to re-render.")
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Formats, comma-separated.")] = "html",
    output_dir: OutOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Re-render a saved report in other formats (html, markdown, csv, json)."""
    with reported_errors(debug):
        from privaudit.cli.console import print_wrote
        from privaudit.outputs import (
            check_writable_dir,
            lock_folders,
            refuse_overwrite,
            restore_on_failure,
        )
        from privaudit.reports import get_reporter, write_report
        from privaudit.results import read_report

        reporters = [get_reporter(f.strip()) for f in fmt.split(",") if f.strip()]
        if not reporters:
            raise ConfigError("--format: expected at least one report format, got none",
                              hint="e.g. -f html,markdown")
        audit = read_report(saved)
        folder = output_dir or saved.parent
        check_writable_dir(folder)
        texts = {folder / f"{saved.stem}{r.suffix}": r.render(audit) for r in reporters}
        refuse_overwrite(list(texts), {"report": saved}, flag="--output-dir")
        with lock_folders([folder]), restore_on_failure(list(texts)):
            for path, text in texts.items():
                write_report(text, path)
        print_wrote(list(texts))


def compare(
    first: Annotated[Path, typer.Argument(metavar="A.json", help="Baseline report.")],
    second: Annotated[Path, typer.Argument(metavar="B.json", help="Report to compare with A.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="markdown | html | csv | json")
    ] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Two runs side by side, with deltas (B - A)."""
    with reported_errors(debug):
        from privaudit.outputs import refuse_overwrite
        from privaudit.reports import write_report
        from privaudit.reports.compare import render_compare
        from privaudit.results import read_report

        text = render_compare(read_report(first), read_report(second), fmt)
        if output is not None:
            refuse_overwrite([output], {"report A": first, "report B": second}, flag="--output")
        write_report(text, output if output is not None else "-")
