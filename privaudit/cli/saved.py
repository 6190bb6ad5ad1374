"""`privaudit` commands that need no model: gate, re-render or compare saved reports, list attacks.

Plain functions with typer annotations; `privaudit.cli` registers them on the app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

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
    MaxRecoveredOpt,
    MinAccuracyOpt,
    MinAttackMseOpt,
    OutOpt,
    StrictOpt,
    constraint_overrides,
)
from privaudit.errors import ConfigError, ExitCode

__all__ = ["check", "compare", "list_attacks", "report"]


def check(
    report: Annotated[
        Path, typer.Argument(help="A report.json (assess, harden) or sweep.json (sweep).")
    ],
    fail_under_bound: GateBoundOpt = None,
    fail_under_floor: GateFloorOpt = None,
    fail_over_leakage: GateLeakOpt = None,
    fail_under_attack_mse: GateAttackOpt = None,
    fail_over_recovered: GateRecoveredOpt = None,
    fail_under_dfil_mse: GateDfilOpt = None,
    strict: StrictOpt = None,
    min_accuracy: MinAccuracyOpt = None,
    min_attack_mse: MinAttackMseOpt = None,
    max_recovered: MaxRecoveredOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Apply the gate to a saved report, or a sweep's constraints, without recomputing."""
    with reported_errors(debug):
        from privaudit.cli.console import print_gate
        from privaudit.config import load_config
        from privaudit.gate import evaluate_report
        from privaudit.results import SweepReport, read_saved

        overrides = {
            "gate.min_cond_entropy": fail_under_bound,
            "gate.min_mse_floor": fail_under_floor,
            "gate.max_leakage": fail_over_leakage,
            "gate.min_attack_mse": fail_under_attack_mse,
            "gate.max_recovered": fail_over_recovered,
            "gate.min_dfil_mse": fail_under_dfil_mse,
            "gate.strict": strict,
            **constraint_overrides(min_accuracy, min_attack_mse, max_recovered),
        }
        cfg = load_config(config, overrides)
        saved = read_saved(report)
        if isinstance(saved, SweepReport):
            code = _check_sweep(cfg, saved)
        else:
            result = evaluate_report(cfg.gate, saved)
            print_gate(result)
            code = ExitCode.OK if result.passed else ExitCode.GATE_FAILED
    raise typer.Exit(code)


def _check_sweep(cfg: Any, saved: Any) -> ExitCode:
    """A sweep's answer under the constraints (flags, config, else its own) and the gate."""
    from privaudit.cli.sweep import sweep_exit_code
    from privaudit.cli.sweep_console import print_sweep
    from privaudit.sweeping import regate

    checked = regate(saved, cfg.sweep, cfg.gate)
    print_sweep(checked)
    return sweep_exit_code(checked)


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
        Path,
        typer.Argument(metavar="REPORT.json", help="A report.json or sweep.json to re-render."),
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
        from privaudit.reports import get_reporter, get_sweep_reporter, write_report
        from privaudit.results import SweepReport, read_saved

        names = [f.strip() for f in fmt.split(",") if f.strip()]
        if not names:
            raise ConfigError("--format: expected at least one report format, got none",
                              hint="e.g. -f html,markdown")
        audit = read_saved(saved)
        folder = output_dir or saved.parent
        check_writable_dir(folder)
        if isinstance(audit, SweepReport):
            sweeps = [get_sweep_reporter(n) for n in names]
            texts = {folder / f"{saved.stem}{r.suffix}": r.render(audit) for r in sweeps}
        else:
            reporters = [get_reporter(n) for n in names]
            texts = {folder / f"{saved.stem}{r.suffix}": r.render(audit) for r in reporters}
        refuse_overwrite(list(texts), {"report": saved}, flag="--output-dir")
        with lock_folders([folder]), restore_on_failure(list(texts)):
            for path, text in texts.items():
                write_report(text, path)
        print_wrote(list(texts))


def compare(
    first: Annotated[Path, typer.Argument(metavar="A.json", help="Baseline report or sweep.")],
    second: Annotated[
        Path, typer.Argument(metavar="B.json", help="Report or sweep to compare with A.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="markdown | html | csv | json")
    ] = "markdown",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write.", show_default="stdout"),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Two runs side by side, with deltas (B - A)."""
    with reported_errors(debug):
        from privaudit.outputs import refuse_overwrite
        from privaudit.reports import write_report
        from privaudit.reports.compare import render_compare
        from privaudit.results import read_saved

        text = render_compare(read_saved(first), read_saved(second), fmt)
        if output is not None:
            refuse_overwrite([output], {"report A": first, "report B": second}, flag="--output")
        write_report(text, output if output is not None else "-")
