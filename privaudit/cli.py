"""The `privaudit` command line: thin typer commands (parse, config, pipeline, write, exit)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from privaudit import __version__
from privaudit.cli_errors import HouseGroup, reported_errors, sigint_as_keyboardinterrupt
from privaudit.cli_options import (
    AttacksOpt,
    BudgetOpt,
    ConfigOpt,
    CovOpt,
    DataOpt,
    DebugOpt,
    DeviceOpt,
    EncoderOpt,
    EntropyOpt,
    EntropyUnitOpt,
    FormatOpt,
    GateAttackOpt,
    GateBoundOpt,
    GateFloorOpt,
    GateLeakOpt,
    HeadOpt,
    LimitOpt,
    MeanOpt,
    ModelArg,
    NoAttacksOpt,
    NoiseOpt,
    OutOpt,
    QuietOpt,
    ReportDirOpt,
    ResizeOpt,
    SeedOpt,
    ShapeOpt,
    SplitOpt,
    StdOpt,
    StrictOpt,
    SweepOpt,
    VerboseOpt,
    parse_floats,
    parse_ints,
)
from privaudit.cli_saved import check, compare, list_attacks, report
from privaudit.errors import ConfigError, ExitCode

__all__ = ["app", "main", "reported_errors"]

app = typer.Typer(
    cls=HouseGroup,
    name="privaudit",
    help="Audit how much of a split model's input its features leak, and harden it.",
    pretty_exceptions_show_locals=False,  # NOTE: locals hold user data; never print them
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"privaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Audit how much of a split model's input its features leak, and harden it."""


def _logging(verbose: int) -> None:
    from rich.logging import RichHandler

    from privaudit.console import err_console

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, handlers=[RichHandler(console=err_console)], format="%(message)s"
    )


def _inputs(cfg: Any) -> dict[str, Path | None]:
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
    reports = [cfg.output_dir / f"report{_suffix(f)}" for f in cfg.formats]
    refuse_overwrite(reports, _inputs(cfg), flag="--output-dir")
    if model_output is None:
        return reports
    check_model_output(model_output, reports)
    refuse_overwrite([model_output], _inputs(cfg), flag="-o")
    return [model_output, *reports]


def _suffix(name: str) -> str:
    from reports import get_reporter

    return get_reporter(name).suffix


def _write_reports(report: Any, cfg: Any) -> list[Path]:
    """Render every format first, then write each atomically (the caller rolls back on failure)."""
    from reports import get_reporter, write_report

    texts = {f: get_reporter(f).render(report) for f in cfg.formats}  # render all, then write
    paths = []
    for fmt, text in texts.items():
        path = cfg.output_dir / f"report{get_reporter(fmt).suffix}"
        write_report(text, path)
        paths.append(path)
    return paths


@app.command()
def layers(
    model: Annotated[
        Path | None, typer.Argument(help="ONNX model (default: the embedded demo).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    debug: DebugOpt = False,
) -> None:
    """List the tensors a model can be split at (module, tensor, shape, depth, clean cut)."""
    with reported_errors(debug):
        from privaudit import demo
        from privaudit.model import load_model
        from privaudit.split import list_cut_points

        if fmt not in ("table", "json"):
            raise ConfigError(f"unknown --format {fmt!r}", hint="choose table or json")
        points = list_cut_points(load_model(model or demo.demo_model_path()))
        if fmt == "json":
            from privaudit.serialize import dumps

            sys.stdout.write(dumps(points))
        else:
            from privaudit.console import layers_table

            layers_table(points)


def _assess_overrides(**flags: Any) -> dict[str, Any]:
    """Flag values keyed by dotted config key; None means "not given"."""
    enabled = flags["attacks"]
    if flags["no_attacks"]:
        enabled = ()
    return {
        "model": flags["model"],
        "split": flags["split"],
        "encoder": flags["encoder"],
        "head": flags["head"],
        "data": flags["data"],
        "noise": flags["noise"],
        "noise_sweep": parse_floats(flags["noise_sweep"], "noise_sweep"),
        "mean": parse_floats(flags["mean"], "mean"),
        "std": parse_floats(flags["std"], "std"),
        "input_shape": parse_ints(flags["input_shape"], "input_shape"),
        "resize": flags["resize"],
        "limit": flags["limit"],
        "seed": flags["seed"],
        "device": flags["device"],
        "output_dir": flags["output_dir"],
        "formats": flags["fmt"],
        "attacks.enabled": enabled,
        "attacks.budget": flags["budget"],
        "bound.covariance": flags["covariance"],
        "bound.input_entropy": flags["input_entropy"],
        "bound.input_entropy_unit": flags["entropy_unit"],
        "gate.min_cond_entropy": flags["fail_under_bound"],
        "gate.min_mse_floor": flags["fail_under_floor"],
        "gate.max_leakage": flags["fail_over_leakage"],
        "gate.min_attack_mse": flags["fail_under_attack_mse"],
        "gate.strict": flags["strict"],
    }


def _execute(
    overrides: dict[str, Any],
    config: Path | None,
    quiet: bool,
    run: Callable[[Any, Any, str | None], Any],
    model_output: Path | None = None,
) -> tuple[Any, list[Path]]:
    """Load the config, guard the outputs, run with progress bars, write every report.

    Everything written is all-or-nothing: on an error or Ctrl-C, `restore_on_failure` takes
    new files (and temp files) away again and puts overwritten ones back.
    """
    from privaudit.config import load_config
    from privaudit.console import RichProgress
    from privaudit.outputs import restore_on_failure

    cfg = load_config(config, overrides)
    outputs = _check_output(cfg, model_output=model_output)
    source = "flag" if overrides.get("noise") is not None else None
    with (
        sigint_as_keyboardinterrupt(),
        restore_on_failure(outputs),
        RichProgress(enabled=not quiet) as progress,
    ):
        report = run(cfg, progress, source)
        paths = _write_reports(report, cfg)
    return report, paths


def _run_assess(overrides: dict[str, Any], config: Path | None, quiet: bool) -> ExitCode:
    from privaudit import pipeline  # NOTE: imported here so --help/--version never load torch
    from privaudit.console import err_console, print_summary

    def run(cfg: Any, progress: Any, source: str | None) -> Any:
        return pipeline.run_assess(cfg, progress=progress, sigma_source=source)

    report, paths = _execute(overrides, config, quiet, run)
    print_summary(report)
    for p in paths:
        err_console.print(f"wrote {p}", highlight=False, markup=False)
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


@app.command()
def assess(
    model: ModelArg = None,
    split: SplitOpt = None,
    encoder: EncoderOpt = None,
    head: HeadOpt = None,
    data: DataOpt = None,
    noise: NoiseOpt = None,
    noise_sweep: SweepOpt = None,
    mean: MeanOpt = None,
    std: StdOpt = None,
    input_shape: ShapeOpt = None,
    resize: ResizeOpt = None,
    limit: LimitOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    budget: BudgetOpt = None,
    attacks: AttacksOpt = None,
    no_attacks: NoAttacksOpt = False,
    covariance: CovOpt = None,
    input_entropy: EntropyOpt = None,
    entropy_unit: EntropyUnitOpt = None,
    fail_under_bound: GateBoundOpt = None,
    fail_under_floor: GateFloorOpt = None,
    fail_over_leakage: GateLeakOpt = None,
    fail_under_attack_mse: GateAttackOpt = None,
    strict: StrictOpt = None,
    output_dir: OutOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Bound the reconstruction error of any attack, run the attack battery, and gate."""
    _logging(verbose)
    flags = dict(locals())
    with reported_errors(debug):
        code = _run_assess(_assess_overrides(**flags), config, quiet)
    raise typer.Exit(code)


def _run_harden(
    overrides: dict[str, Any], config: Path | None, output: Path, quiet: bool
) -> ExitCode:
    from privaudit import harden_pipeline  # NOTE: lazy, keeps --help free of torch
    from privaudit.console import err_console, print_summary

    def run(cfg: Any, progress: Any, source: str | None) -> Any:
        # NOTE: run_harden writes the model before the after-audit; _execute's
        # restore_on_failure takes it away again if anything later fails or is interrupted.
        return harden_pipeline.run_harden(
            cfg, output=output, progress=progress, sigma_source=source
        )

    report, paths = _execute(overrides, config, quiet, run, model_output=output)
    assert report.harden is not None
    err_console.print("[bold]original model[/]")
    print_summary(report)
    err_console.print("[bold]hardened model[/]")
    print_summary(report.harden.after)
    for p in (output, *paths):
        err_console.print(f"wrote {p}", highlight=False, markup=False)
    return ExitCode.OK if report.harden.after.gate.passed else ExitCode.GATE_FAILED


@app.command()
def harden(
    model: ModelArg = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the hardened ONNX model.")
    ] = Path("hardened.onnx"),
    split: SplitOpt = None,
    data: DataOpt = None,
    noise: NoiseOpt = None,
    lam: Annotated[float | None, typer.Option("--lambda", help="Weight of the CEM loss.")] = None,
    loss: Annotated[
        str | None, typer.Option(help="CEM loss form: bound | hinge (official surrogate).")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="k-means centroids per class.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Fine-tuning epochs.")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (cosine decay).")] = None,
    freeze_head: Annotated[
        bool | None, typer.Option("--freeze-head/--train-head", help="Train only the encoder.")
    ] = None,
    embed_noise: Annotated[
        bool | None,
        typer.Option(
            "--embed-noise/--no-embed-noise",
            help="Add the noise inside the hardened encoder graph.",
        ),
    ] = None,
    baseline: Annotated[
        bool | None,
        typer.Option(
            "--baseline/--no-baseline", help="Also fine-tune noise-only models (the frontier)."
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            help="Try a lambda grid; keep the most private model within this many points."
        ),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Fine-tune seeds (mean and spread reported).")
    ] = None,
    baseline_scales: Annotated[
        str | None, typer.Option(help="Noise-only sigmas as multiples of --noise, e.g. 1.5,2,3.")
    ] = None,
    train_batch_size: Annotated[int | None, typer.Option(help="Fine-tuning batch size.")] = None,
    mean: MeanOpt = None,
    std: StdOpt = None,
    input_shape: ShapeOpt = None,
    resize: ResizeOpt = None,
    limit: LimitOpt = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    budget: BudgetOpt = None,
    attacks: AttacksOpt = None,
    no_attacks: NoAttacksOpt = False,
    fail_under_bound: GateBoundOpt = None,
    fail_under_floor: GateFloorOpt = None,
    fail_over_leakage: GateLeakOpt = None,
    fail_under_attack_mse: GateAttackOpt = None,
    output_dir: ReportDirOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Fine-tune the encoder with CEM + noise, write a hardened ONNX model, report before/after."""
    _logging(verbose)
    flags = dict(locals())
    with reported_errors(debug):
        overrides = _assess_overrides(
            **flags,
            encoder=None,
            head=None,
            noise_sweep=None,
            covariance=None,
            input_entropy=None,
            entropy_unit=None,
            strict=None,
        )
        overrides |= {
            "harden.lam": lam,
            "harden.loss": loss,
            "harden.k": k,
            "harden.epochs": epochs,
            "harden.lr": lr,
            "harden.freeze_head": freeze_head,
            "harden.embed_noise": embed_noise,
            "harden.baseline": baseline,
            "harden.max_accuracy_drop": max_accuracy_drop,
            "harden.seeds": seeds,
            "harden.baseline_scales": parse_floats(baseline_scales, "harden.baseline_scales"),
            "harden.batch_size": train_batch_size,
        }
        code = _run_harden(overrides, config, output, quiet)
    raise typer.Exit(code)


@app.command()
def demo(
    budget: BudgetOpt = "smoke",
    output_dir: OutOpt = None,
    fmt: FormatOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Assess the embedded demo model (MNIST CNN cut at layer3, sigma 0.1)."""
    overrides = {"attacks.budget": budget, "output_dir": output_dir, "formats": fmt}
    with reported_errors(debug):
        code = _run_assess(overrides, None, quiet)
    raise typer.Exit(code)


# NOTE: the commands that read saved reports or list a registry live in `cli_saved`.
app.command()(check)
app.command(name="attacks")(list_attacks)
app.command()(report)
app.command()(compare)


def main() -> None:
    """Console-script entry point; click usage errors exit 2, as documented."""
    app()
