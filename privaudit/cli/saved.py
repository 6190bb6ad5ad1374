"""`privaudit` commands that need no model: gate, re-render, compare saved reports; list, describe.

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
    StrictOpt,
    constraint_overrides,
)
from privaudit.errors import ConfigError, ExitCode

__all__ = ["check", "compare", "list_attacks", "report", "schema"]


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
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Also write the checked report in these formats, "
                     "comma-separated (e.g. junit), named after REPORT, in --output-dir.",
                     show_default="none: only the exit code and the console"),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Folder for --format.",
                     show_default="REPORT's folder"),
    ] = None,
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
        names = _format_names(fmt) if fmt is not None else []
        saved = read_saved(report)
        if names:  # NOTE: refused before the answer is printed, not after
            _outputs(saved, report, names, output_dir or report.parent)
        if isinstance(saved, SweepReport):
            checked, code = _check_sweep(cfg, saved)
        else:
            _refuse_sweep_flags(report, min_accuracy=min_accuracy, min_attack_mse=min_attack_mse,
                                max_recovered=max_recovered)  # fmt: skip
            result = evaluate_report(cfg.gate, saved)
            print_gate(result)
            checked = regated(saved, result, cfg.gate)
            code = ExitCode.OK if result.passed else ExitCode.GATE_FAILED
        if names:
            _write_rendered(checked, report, names, output_dir or report.parent)
    raise typer.Exit(code)


# NOTE: the gate flag that holds an audit report to what each sweep constraint asks
_AUDIT_FLAG = {"min_attack_mse": "--fail-under-attack-mse",
               "max_recovered": "--fail-over-recovered"}


def _refuse_sweep_flags(report: Path, **given: float | None) -> None:
    """A sweep's constraint flag given for an audit report: an error, never silently ignored.

    Raises:
        ConfigError: naming the audit report's gate flag that does the same, if any.
    """
    for name, value in given.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        instead = _AUDIT_FLAG.get(name)
        hint = (f"gate an audit report with {instead}" if instead else
                "an audit report has no accuracy gate; a sweep.json takes --min-accuracy")
        raise ConfigError(f"{flag} is a sweep constraint, and {report} is an audit report",
                          hint=hint)


def _check_sweep(cfg: Any, saved: Any) -> tuple[Any, ExitCode]:
    """A sweep's answer under the constraints (flags, config, else its own) and the gate."""
    from privaudit.cli.sweep import sweep_exit_code
    from privaudit.cli.sweep_console import print_sweep
    from privaudit.sweeping import regate

    checked = regate(saved, cfg.sweep, cfg.gate)
    print_sweep(checked, ran=False)
    return _with_thresholds(checked, cfg.gate), sweep_exit_code(checked)


def regated(saved: Any, result: Any, gate: Any) -> Any:
    """A saved audit with the gate `check` applied: its outcome and its thresholds.

    A `harden` report is gated on its hardened model, so that is where both go.
    """
    from dataclasses import replace

    if saved.harden is None:
        return _with_thresholds(replace(saved, gate=result), gate)
    after = _with_thresholds(replace(saved.harden.after, gate=result), gate)
    return replace(saved, harden=replace(saved.harden, after=after))


def _with_thresholds(report: Any, gate: Any) -> Any:
    """`report` with `gate`'s thresholds as its provenance's gate config (what it was gated on)."""
    from dataclasses import asdict, replace

    p = report.provenance
    return replace(report, provenance=replace(p, config={**p.config, "gate": asdict(gate)}))


def _format_names(fmt: str) -> list[str]:
    """The report formats of a comma-separated `--format`, each checked (before any work)."""
    from privaudit.reports import get_reporter

    names = [f.strip() for f in fmt.split(",") if f.strip()]
    if not names:
        raise ConfigError("--format: expected at least one report format, got none",
                          hint="e.g. -f html,markdown")
    for name in names:
        get_reporter(name)
    return names


def _outputs(audit: Any, saved: Path, names: list[str], folder: Path) -> list[tuple[Path, Any]]:
    """(file, reporter) of each `--format` for `audit`: `folder/<saved stem><suffix>`.

    Raises:
        ConfigError: an unknown format, or an output that would overwrite the saved report.
    """
    from privaudit.outputs import refuse_overwrite
    from privaudit.reports import get_reporter, get_sweep_reporter
    from privaudit.results import SweepReport

    sweep = isinstance(audit, SweepReport)
    reporters = [get_sweep_reporter(n) if sweep else get_reporter(n) for n in names]
    outputs = [(folder / f"{saved.stem}{r.suffix}", r) for r in reporters]
    refuse_overwrite([path for path, _ in outputs], {"report": saved}, flag="--output-dir")
    return outputs


def _write_rendered(audit: Any, saved: Path, names: list[str], folder: Path) -> None:
    """Render `audit` in every format of `names` and write each as `folder/<saved stem><suffix>`.

    All or nothing (a folder it created is removed again while empty); never over the saved
    report itself.
    """
    from privaudit.cli.console import print_wrote
    from privaudit.outputs import (
        check_writable_dir,
        lock_folders,
        remove_new_folders_on_failure,
        restore_on_failure,
    )
    from privaudit.reports import write_report

    with remove_new_folders_on_failure([folder]):
        check_writable_dir(folder)
        texts = {path: r.render(audit) for path, r in _outputs(audit, saved, names, folder)}
        with lock_folders([folder]), restore_on_failure(list(texts)):
            for path, text in texts.items():
                write_report(text, path)
    print_wrote(list(texts))


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
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Folder for the reports.",
                     show_default="the saved report's own folder"),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Re-render a saved report in other formats (html, markdown, csv, json, junit)."""
    with reported_errors(debug):
        from privaudit.results import read_saved

        names = _format_names(fmt)
        _write_rendered(read_saved(saved), saved, names, output_dir or saved.parent)


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
    fail_if_less_private: Annotated[
        bool, typer.Option("--fail-if-less-private", help="Exit 1 when B leaks more than A: "
                           "lower MSE floor or attack MSE, higher leakage, or no result for an "
                           "attack A measured (audit reports of the same kind of data).")
    ] = False,
    tolerance: Annotated[
        float | None, typer.Option(help="Relative slack for --fail-if-less-private.",
                                   show_default="0.05")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Two runs side by side, with deltas (B - A); optionally a regression gate."""
    with reported_errors(debug):
        from privaudit.outputs import (
            check_writable_dir,
            lock_folders,
            refuse_overwrite,
            remove_new_folders_on_failure,
        )
        from privaudit.regression import (
            DEFAULT_TOLERANCE,
            check_tolerance,
            measured_differently,
        )
        from privaudit.reports import write_report
        from privaudit.reports.compare import render_compare
        from privaudit.results import AuditReport, read_saved

        if tolerance is not None and not fail_if_less_private:
            raise ConfigError("--tolerance needs --fail-if-less-private",
                              hint="add --fail-if-less-private, or drop --tolerance")
        tol = check_tolerance(DEFAULT_TOLERANCE if tolerance is None else tolerance)
        a, b = read_saved(first), read_saved(second)
        if fail_if_less_private:
            _check_gateable(a, b)
        # NOTE: a harden report is shown, as it is gated, by its hardened model
        a, b = (r.judged if isinstance(r, AuditReport) else r for r in (a, b))
        # NOTE: before anything is written (exit 2 leaves no file); the gate refuses audits
        # measured differently (`check_comparable`), so only a plain comparison lists them
        findings = _less_private(a, b, tol) if fail_if_less_private else None
        measured: list[str] = []
        if findings is None and isinstance(a, AuditReport) and isinstance(b, AuditReport):
            measured = measured_differently(a, b)
        text = render_compare(a, b, fmt, findings, measured)
        if output is None:
            write_report(text, "-")
        else:
            refuse_overwrite([output], {"report A": first, "report B": second}, flag="--output")
            # NOTE: the folder's lock, as every command that writes into one takes it: a run
            # writing there would overwrite this file, or this file one of its reports
            with remove_new_folders_on_failure([output.parent]):
                check_writable_dir(output.parent)
                with lock_folders([output.parent]):
                    write_report(text, output,
                                 hint="give -o a writable file path, or leave -o out for stdout")
        code = ExitCode.OK if findings is None else _regression_gate(findings, tol)
    raise typer.Exit(code)


def _check_gateable(a: Any, b: Any) -> None:
    """Raise ConfigError unless `a` and `b` are audit reports (not sweeps).

    Whether their MSEs compare (`check_comparable`) `less_private` checks, on the reports it
    gates.
    """
    from privaudit.results import AuditReport

    if not (isinstance(a, AuditReport) and isinstance(b, AuditReport)):
        raise ConfigError("--fail-if-less-private compares two audit reports, not sweeps",
                          hint="pass two report.json files written by assess or harden")


def _less_private(a: Any, b: Any, tolerance: float) -> list[str]:
    """What makes B less private than A, one message each (none: not less private)."""
    from privaudit.regression import less_private

    return [r.message for r in less_private(a, b, tolerance)]


def _regression_gate(found: list[str], tolerance: float) -> ExitCode:
    """Print what makes B less private than A, one line each; 1 when anything does."""
    from privaudit.cli.console import err_console

    lines = [f"less private: {m}" for m in found] or [
        f"not less private: no floor, leakage or attack MSE worse beyond tolerance "
        f"{tolerance:.0%} or the intervals"]
    for line in lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    return ExitCode.GATE_FAILED if found else ExitCode.OK


def schema(
    kind: Annotated[
        str, typer.Option("--kind", help="report (report.json) | sweep (sweep.json).")
    ] = "report",
) -> None:
    """Print the JSON Schema (draft 2020-12) of report.json or sweep.json."""
    with reported_errors():
        from privaudit.results.published import SCHEMA_KINDS, shipped_schema

        if kind not in SCHEMA_KINDS:
            raise ConfigError(f"unknown --kind {kind!r}",
                              hint=f"choose from: {', '.join(SCHEMA_KINDS)}")
        sys.stdout.write(shipped_schema(kind))
