"""Shared steps of the commands that run a model: guard the outputs, run, write the reports.

`privaudit.cli.app` (assess, demo) and `privaudit.cli.harden` (harden) build on these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["execute", "input_files"]


def input_files(cfg: Any) -> dict[str, Path | None]:
    """Every file a run reads, by what it is (the demo model when no model is given)."""
    from privaudit import demo

    is_demo = cfg.model is None and cfg.encoder is None
    return {
        "model": demo.demo_model_path() if is_demo else cfg.model,
        "encoder": cfg.encoder,
        "head": cfg.head,
        "data": cfg.data,
        "config": cfg.config_path,
    }


def _check_output(cfg: Any, model_output: Path | None = None) -> list[Path]:
    """Fail before any work if an output is unusable or would overwrite an input.

    Returns:
        Every file the command will write: the reports (and the hardened model).
    """
    from privaudit.outputs import check_model_output, check_writable_dir, refuse_overwrite

    check_writable_dir(cfg.output_dir)
    reports = [_report_path(cfg, f) for f in cfg.formats]
    refuse_overwrite(reports, input_files(cfg), flag="--output-dir")
    if model_output is None:
        return reports
    check_model_output(model_output, reports)
    refuse_overwrite([model_output], input_files(cfg), flag="-o")
    return [model_output, *reports]


def _report_path(cfg: Any, fmt: str) -> Path:
    """Where the report in format `fmt` goes: report.<suffix> in the output folder."""
    from privaudit.reports import get_reporter

    path: Path = cfg.output_dir / f"report{get_reporter(fmt).suffix}"
    return path


def _write_reports(report: Any, cfg: Any) -> list[Path]:
    """Render every format first, then write each atomically (the caller rolls back on failure)."""
    from privaudit.reports import get_reporter, write_report

    texts = {f: get_reporter(f).render(report) for f in cfg.formats}  # render all, then write
    paths = []
    for fmt, text in texts.items():
        path = _report_path(cfg, fmt)
        write_report(text, path)
        paths.append(path)
    return paths


def execute(
    overrides: dict[str, Any],
    config: Path | None,
    quiet: bool,
    run: Callable[[Any, Any, str | None], Any],
    model_output: Path | None = None,
    search: bool = True,
) -> tuple[Any, list[Path]]:
    """Load the config, guard the outputs, run with progress bars, write every report.

    Everything written is all-or-nothing: on an error, Ctrl-C or SIGTERM, `restore_on_failure`
    takes new files (and temp files) away again and puts overwritten ones back, and an output
    folder the run created is removed again while empty. Each output folder is locked for the
    whole run, so a second run into it stops at once (exit 2) instead of overwriting, or on
    failure removing, the first one's files. `search`: read the project's pyproject.toml
    (False: the defaults and `overrides` alone, as the demo does).
    """
    from privaudit.cli.console import RichProgress
    from privaudit.config import NoiseSource, load_config
    from privaudit.outputs import lock_folders, remove_new_folders_on_failure, restore_on_failure

    cfg = load_config(config, overrides, search=search)
    folders = [cfg.output_dir, *([model_output.parent] if model_output is not None else [])]
    source = NoiseSource.FLAG.value if overrides.get("noise") is not None else None
    with remove_new_folders_on_failure(folders):
        outputs = _check_output(cfg, model_output=model_output)
        with (
            lock_folders([p.parent for p in outputs]),
            restore_on_failure(outputs),
            RichProgress(enabled=not quiet) as progress,
        ):
            report = run(cfg, progress, source)
            paths = _write_reports(report, cfg)
    note_stale_reports(cfg)
    return report, paths


def note_stale_reports(cfg: Any, sweep: bool = False) -> None:
    """Say which report files beside the new ones are an earlier run's (other formats).

    A report.html of sigma 0.1 beside a new report.json of sigma 0.3 would be read as one run;
    likewise a sweep.md beside a new sweep.json.
    """
    from privaudit.cli.console import err_console, printable
    from privaudit.reports import REPORTERS, SWEEP_REPORTERS

    registry: dict[str, Any] = dict(SWEEP_REPORTERS if sweep else REPORTERS)
    stem = "sweep" if sweep else "report"
    for fmt, reporter in registry.items():
        path = cfg.output_dir / f"{stem}{reporter.suffix}"
        if fmt not in cfg.formats and path.is_file():
            err_console.print(f"note: {printable(path)} is from an earlier run (this run wrote "
                              f"-f {','.join(cfg.formats)})", highlight=False, markup=False,
                              soft_wrap=True)  # fmt: skip
