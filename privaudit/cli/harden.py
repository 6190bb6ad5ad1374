"""`privaudit harden`: fine-tune the encoder with CEM + noise, write it, report before/after.

A plain function with typer annotations; `privaudit.cli` registers it on the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from privaudit.cli.errors import reported_errors
from privaudit.cli.options import (
    AttacksOpt,
    BudgetOpt,
    ColumnsOpt,
    ConfigOpt,
    DataOpt,
    DataRangeOpt,
    DebugOpt,
    DeviceOpt,
    DomainOpt,
    FormatOpt,
    GateAttackOpt,
    GateBoundOpt,
    GateDfilOpt,
    GateFloorOpt,
    GateLeakOpt,
    GateRecoveredOpt,
    LabelColumnOpt,
    LayoutOpt,
    LimitOpt,
    MaxDataOpt,
    MeanOpt,
    ModelArg,
    NoAttacksOpt,
    NoiseOpt,
    QuietOpt,
    ReportDirOpt,
    ResizeOpt,
    SeedOpt,
    ShapeOpt,
    SplitOpt,
    StdOpt,
    StrictOpt,
    ThreadsOpt,
    VerboseOpt,
    assess_overrides,
    default_of,
    parse_floats,
)
from privaudit.cli.run import execute
from privaudit.errors import ExitCode

__all__ = ["harden"]


def _run_harden(
    overrides: dict[str, Any], config: Path | None, output: Path, quiet: bool
) -> ExitCode:
    from privaudit.cli.console import err_console, print_summary, print_wrote
    from privaudit.hardening import run_harden  # NOTE: lazy, keeps --help free of torch
    from privaudit.reports import training_data_note

    def run(cfg: Any, progress: Any, source: str | None) -> Any:
        # NOTE: run_harden writes the model before the after-audit; execute's
        # restore_on_failure takes it away again if anything later fails or is interrupted.
        return run_harden(cfg, output=output, progress=progress, noise_source=source)

    report, paths = execute(overrides, config, quiet, run, model_output=output)
    assert report.harden is not None
    err_console.print("[bold]original model[/]")
    print_summary(report)
    err_console.print("[bold]hardened model[/]")
    print_summary(report.harden.after)
    err_console.print(
        f"note: {training_data_note(report.harden)}", highlight=False, markup=False
    )
    print_wrote([output, *paths])
    if report.harden.regression:
        # NOTE: said even when the gate passes (exit 0): a hardened model that leaks more than
        # the original must never go by silently.
        err_console.print(f"warning: {report.harden.regression}", style="bold yellow",
                          highlight=False, markup=False)
    if report.harden.accuracy_budget_met is False:
        # NOTE: a constraint the written model misses is exit 1, as a sweep's unmet ones are;
        # the hardened model's warnings (printed above) say which
        return ExitCode.GATE_FAILED
    return ExitCode.OK if report.harden.after.gate.passed else ExitCode.GATE_FAILED


def harden(
    model: ModelArg = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the hardened ONNX model.")
    ] = Path("hardened.onnx"),
    split: SplitOpt = None,
    data: DataOpt = None,
    domain: DomainOpt = None,
    layout: LayoutOpt = None,
    label_column: LabelColumnOpt = None,
    columns: ColumnsOpt = None,
    data_range: DataRangeOpt = None,
    noise: NoiseOpt = None,
    defence: Annotated[
        str | None,
        typer.Option(help="Defence(s), comma-separated: cem | adversarial | noise-allocation "
                     "| cem+adversarial; several: each trained, the best kept.",
                     show_default=default_of("harden.defence")),
    ] = None,
    lam: Annotated[
        float | None,
        typer.Option("--lambda", help="Weight of the CEM loss (cem, noise-allocation).",
                     show_default=default_of("harden.lam")),
    ] = None,
    mu: Annotated[
        float | None,
        typer.Option(help="Weight of the adversary decoder's loss (adversarial).",
                     show_default=default_of("harden.mu")),
    ] = None,
    loss: Annotated[
        str | None,
        typer.Option(help="CEM loss form: bound | hinge (official surrogate).",
                     show_default=default_of("harden.loss")),
    ] = None,
    k: Annotated[
        int | None,
        typer.Option("--k", help="k-means centroids per class.",
                     show_default=default_of("harden.k")),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(help="Fine-tuning epochs.", show_default=default_of("harden.epochs")),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(help="Adam learning rate (cosine decay).",
                     show_default=default_of("harden.lr")),
    ] = None,
    freeze_head: Annotated[
        bool | None, typer.Option("--freeze-head/--train-head", help="Train only the encoder.",
                                   show_default="train-head")
    ] = None,
    embed_noise: Annotated[
        bool | None,
        typer.Option(
            "--embed-noise/--no-embed-noise",
            help="Add the noise inside the hardened encoder graph.",
            show_default="as the model: embedded when the input model adds its noise itself",
        ),
    ] = None,
    baseline: Annotated[
        bool | None,
        typer.Option(
            "--baseline/--no-baseline", help="Also fine-tune noise-only models (the frontier).",
            show_default="no-baseline",
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            help="Try a lambda (or mu) grid per defence; keep the most private model within "
            "this many points.",
            show_default="off: one lambda",
        ),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(help="Fine-tune seeds (mean and spread reported).",
                     show_default=default_of("harden.seeds")),
    ] = None,
    baseline_scales: Annotated[
        str | None,
        typer.Option(help="Noise-only sigmas as multiples of --noise, comma-separated.",
                     show_default=default_of("harden.baseline_scales")),
    ] = None,
    train_batch_size: Annotated[
        int | None,
        typer.Option(help="Fine-tuning batch size.", show_default=default_of("harden.batch_size")),
    ] = None,
    holdout: Annotated[
        float | None,
        typer.Option(
            help="Hold this share of the data out of fine-tuning; audit on it alone (e.g. 0.3).",
            show_default=default_of("harden.holdout"),
        ),
    ] = None,
    mean: MeanOpt = None,
    std: StdOpt = None,
    input_shape: ShapeOpt = None,
    resize: ResizeOpt = None,
    limit: LimitOpt = None,
    max_data_gb: MaxDataOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    threads: ThreadsOpt = None,
    budget: BudgetOpt = None,
    attacks: AttacksOpt = None,
    no_attacks: NoAttacksOpt = False,
    fail_under_bound: GateBoundOpt = None,
    fail_under_floor: GateFloorOpt = None,
    fail_over_leakage: GateLeakOpt = None,
    fail_under_attack_mse: GateAttackOpt = None,
    fail_over_recovered: GateRecoveredOpt = None,
    fail_under_dfil_mse: GateDfilOpt = None,
    strict: StrictOpt = None,
    output_dir: ReportDirOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Fine-tune against a defence + noise, write a hardened ONNX model, report before/after."""
    flags = dict(locals())
    with reported_errors(debug):
        from privaudit.cli.console import set_logging

        set_logging(verbose)
        overrides = assess_overrides(
            **flags,
            encoder=None,
            head=None,
            noise_sweep=None,
            covariance=None,
            input_entropy=None,
            entropy_unit=None,
        )
        overrides |= {
            "harden.defence": defence,
            "harden.lam": lam,
            "harden.mu": mu,
            "harden.loss": loss,
            "harden.k": k,
            "harden.epochs": epochs,
            "harden.lr": lr,
            "harden.freeze_head": freeze_head,
            "harden.embed_noise": embed_noise,
            "harden.baseline": baseline,
            "harden.max_accuracy_drop": max_accuracy_drop,
            "harden.seeds": seeds,
            "harden.baseline_scales": parse_floats(baseline_scales, "harden.baseline_scales",
                                                   "--baseline-scales 1.5,2"),
            "harden.batch_size": train_batch_size,
            "harden.holdout": holdout,
        }
        # NOTE: absolute, as the input model's path is: the report names both
        code = _run_harden(overrides, config, output.expanduser().resolve(), quiet)
    raise typer.Exit(code)
