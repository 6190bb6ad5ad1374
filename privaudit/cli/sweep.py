"""`privaudit sweep`: cuts x sigmas, the frontier and the recommendation; exit 0 met, 1 not."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from privaudit.cli.errors import reported_errors
from privaudit.cli.options import (
    AttacksOpt,
    BudgetOpt,
    ColumnsOpt,
    ConfigOpt,
    CovOpt,
    DataOpt,
    DataRangeOpt,
    DebugOpt,
    DeviceOpt,
    DomainOpt,
    EntropyOpt,
    EntropyUnitOpt,
    ExecutorOpt,
    FormatOpt,
    FreshOpt,
    GpusPerTaskOpt,
    JobsOpt,
    JobThreadsOpt,
    LabelColumnOpt,
    LabelsOpt,
    LayoutOpt,
    LimitOpt,
    MaxDataOpt,
    MaxRecoveredOpt,
    MeanOpt,
    MinAccuracyOpt,
    MinAttackMseOpt,
    ModelArg,
    NoAttacksOpt,
    OutOpt,
    QuietOpt,
    RayAddressOpt,
    ResizeOpt,
    SeedOpt,
    SeedsOpt,
    ShapeOpt,
    SigmasOpt,
    SplitsOpt,
    StdOpt,
    VerboseOpt,
    sweep_overrides,
)
from privaudit.errors import ExitCode

__all__ = ["sweep", "sweep_exit_code"]


def sweep(
    model: ModelArg = None,
    data: DataOpt = None,
    splits: SplitsOpt = None,
    noise: SigmasOpt = None,
    attacks: AttacksOpt = None,
    no_attacks: NoAttacksOpt = False,
    budget: BudgetOpt = None,
    seeds: SeedsOpt = None,
    jobs: JobsOpt = None,
    threads: JobThreadsOpt = None,
    executor: ExecutorOpt = None,
    ray_address: RayAddressOpt = None,
    gpus_per_task: GpusPerTaskOpt = None,
    min_accuracy: MinAccuracyOpt = None,
    min_attack_mse: MinAttackMseOpt = None,
    max_recovered: MaxRecoveredOpt = None,
    fresh: FreshOpt = False,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    limit: LimitOpt = None,
    max_data_gb: MaxDataOpt = None,
    mean: MeanOpt = None,
    std: StdOpt = None,
    input_shape: ShapeOpt = None,
    resize: ResizeOpt = None,
    domain: DomainOpt = None,
    layout: LayoutOpt = None,
    label_column: LabelColumnOpt = None,
    columns: ColumnsOpt = None,
    data_range: DataRangeOpt = None,
    labels: LabelsOpt = None,
    covariance: CovOpt = None,
    input_entropy: EntropyOpt = None,
    entropy_unit: EntropyUnitOpt = None,
    output_dir: OutOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Where to cut and how much noise: every (cut, sigma), the frontier, one recommendation."""
    flags = dict(locals())
    with reported_errors(debug):
        from privaudit.cli.console import set_logging

        set_logging(verbose)
        code = _run(sweep_overrides(**flags), config, quiet, fresh)
    raise typer.Exit(code)


def _run(overrides: dict[str, Any], config: Path | None, quiet: bool, fresh: bool) -> ExitCode:
    """Guard the outputs, run the sweep with progress, write every format, print the answer."""
    # NOTE: imported here, so that --help and --version never load torch.
    from privaudit.cli.console import RichProgress, err_console, print_wrote
    from privaudit.cli.run import input_files, note_stale_reports
    from privaudit.cli.sweep_console import print_sweep
    from privaudit.config import load_config
    from privaudit.outputs import (
        check_writable_dir,
        lock_folders,
        refuse_overwrite,
        remove_new_folders_on_failure,
        restore_on_failure,
    )
    from privaudit.reports import get_sweep_reporter, write_report
    from privaudit.sweeping import SHARDS, run_sweep

    cfg = load_config(config, overrides)
    reporters = [get_sweep_reporter(f) for f in cfg.formats]
    paths = [cfg.output_dir / f"sweep{r.suffix}" for r in reporters]
    shards = cfg.output_dir / SHARDS
    # NOTE: the reports are all or nothing; the shards are kept whatever happens (resume),
    # and folders this run made are removed only while empty (no finished job in them).
    with ExitStack() as stack:
        stack.enter_context(remove_new_folders_on_failure([shards]))
        check_writable_dir(cfg.output_dir)
        refuse_overwrite(paths, input_files(cfg), flag="--output-dir")
        stack.enter_context(lock_folders([cfg.output_dir]))
        stack.enter_context(restore_on_failure(paths))
        try:
            with RichProgress(enabled=not quiet) as progress:
                report = run_sweep(cfg, progress=progress, shards=shards, fresh=fresh)
        except KeyboardInterrupt:
            again = "the same command again" if not fresh else "the command again without --fresh"
            err_console.print(f"finished jobs are kept in {shards}: run {again} to resume",
                              highlight=False, markup=False, soft_wrap=True)  # fmt: skip
            raise
        texts = [r.render(report) for r in reporters]
        for path, text in zip(paths, texts, strict=True):
            write_report(text, path)
    print_sweep(report)
    print_wrote(paths)
    note_stale_reports(cfg, sweep=True)
    return sweep_exit_code(report)


def sweep_exit_code(report: Any) -> ExitCode:
    """0 when a point meets the constraints (or none are set) and the gate passes, else 1."""
    unmet = report.recommendation.status == "unmet"
    return ExitCode.GATE_FAILED if unmet or not report.gate.passed else ExitCode.OK
