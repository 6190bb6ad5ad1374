"""`privaudit hook`: the pre-commit entries, one command over many files (.pre-commit-hooks.yaml).

pre-commit passes the matching files at the end of the command line. `hook check` applies the
gate ([tool.privaudit.gate], or flags) to each saved report.json/sweep.json; `hook audit` runs
a bound-only `assess` (`--no-attacks`) of each ONNX model, reports written to a temporary
folder (a hook must not change the work tree). Each file gets one line; the exit code is the
worst of the files' (2 for an unreadable one, else 1 when a gate failed, else 0).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from privaudit.cli.errors import HouseGroup, internal_repr, print_problem, reported_errors
from privaudit.cli.options import ConfigOpt, DataOpt, LimitOpt, NoiseOpt, SplitOpt
from privaudit.config import ATTACK_RULES
from privaudit.errors import ExitCode, PrivauditError

__all__ = ["hook_app"]

hook_app = typer.Typer(
    cls=HouseGroup,
    name="hook",
    help="pre-commit hooks: gate committed reports, or audit changed ONNX models (bound only).",
    no_args_is_help=True,
    add_completion=False,
)
FilesArg = Annotated[
    list[Path], typer.Argument(metavar="FILES", help="The files pre-commit passes.")
]


def _each(files: list[Path], one: Callable[[Path], tuple[ExitCode, str]]) -> ExitCode:
    """Run `one` on every file, each file's outcome on its line; the worst code is the hook's.

    A file's user error is exit 2, an internal error (a bug) exit 3; the other files go on.
    """
    from privaudit.cli.console import err_console

    worst = ExitCode.OK
    for path in files:
        try:
            code, words = one(path)
        except PrivauditError as e:
            print_problem(f"{path}: {e.message}", e.hint)
            code = ExitCode.USAGE_ERROR
        except Exception as e:  # noqa: BLE001  # NOTE: a bug in one file; the others go on
            err_console.print(f"{path}: internal error (please report): {internal_repr(e)}",
                              markup=False, highlight=False, soft_wrap=True)  # fmt: skip
            code = ExitCode.INTERNAL_ERROR
        else:
            err_console.print(f"{path}: {words}", markup=False, highlight=False, soft_wrap=True)
        worst = max(worst, code)
    return ExitCode(worst)


@hook_app.command("check")
def hook_check(files: FilesArg, config: ConfigOpt = None) -> None:
    """Gate every saved report (report.json, sweep.json) with the configured gate."""
    with reported_errors():
        from privaudit.cli.sweep import sweep_exit_code
        from privaudit.config import load_config
        from privaudit.gate import evaluate_report
        from privaudit.results import SweepReport, read_saved
        from privaudit.sweeping import regate

        cfg = load_config(config, {})

        def one(path: Path) -> tuple[ExitCode, str]:
            saved = read_saved(path)
            if isinstance(saved, SweepReport):
                checked = regate(saved, cfg.sweep, cfg.gate)
                code = sweep_exit_code(checked)
                said = "gate failed" if code == ExitCode.GATE_FAILED else "passed"
                return code, f"{said}: {checked.recommendation.headline}"
            return _gated(evaluate_report(cfg.gate, saved))

        code = _each(files, one)
    raise typer.Exit(code)


@hook_app.command("audit")
def hook_audit(
    files: FilesArg,
    split: SplitOpt = None,
    data: DataOpt = None,
    noise: NoiseOpt = None,
    limit: LimitOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Bound-only audit (assess --no-attacks) of every ONNX model, gated; nothing is written."""
    with reported_errors():
        from privaudit.audit import run_assess  # NOTE: here, so --help never loads torch
        from privaudit.cli.run import execute

        skipped: list[str] = []

        def run(cfg: Any, progress: Any, source: str | None) -> Any:
            # NOTE: no attack runs here, so the attack thresholds (which fail when nothing was
            # measured) are left to `hook check` on the reports of full audits
            rules = [r for r in ATTACK_RULES if getattr(cfg.gate, r) is not None]
            skipped[:] = rules
            gate = dataclasses.replace(cfg.gate, **dict.fromkeys(rules))
            return run_assess(dataclasses.replace(cfg, gate=gate), progress=progress,
                              noise_source=source)  # fmt: skip

        def one(path: Path) -> tuple[ExitCode, str]:
            with tempfile.TemporaryDirectory(prefix="privaudit-hook-") as out:
                overrides = {"model": path, "split": split, "data": data, "noise": noise,
                             "limit": limit, "attacks.enabled": (), "output_dir": Path(out),
                             "formats": "json"}  # fmt: skip
                report, _ = execute(overrides, config, True, run)
            code, words = _gated(report.gate)
            if skipped and not report.gate.active:  # NOTE: a gate is configured, all skipped
                words = "no bound threshold configured"
            if skipped:
                words += (f" (bound only: {', '.join(skipped)} not checked, no attack runs "
                          "here; 'hook check' gates them on full reports)")
            return code, words

        code = _each(files, one)
    raise typer.Exit(code)


def _gated(gate: Any) -> tuple[ExitCode, str]:
    """A file's exit code and line; the violations' table when the gate failed."""
    from privaudit.cli.console import print_gate

    if not gate.active:
        return ExitCode.OK, "no gate configured (set [tool.privaudit.gate] or gate flags)"
    if gate.passed:
        return ExitCode.OK, "gate passed"
    print_gate(gate)
    n = len(gate.violations)
    return ExitCode.GATE_FAILED, f"gate failed ({n} violation{'' if n == 1 else 's'})"
