"""The `privaudit` app: thin typer commands (parse, config, run, write, exit) and their order."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from privaudit import __version__
from privaudit.cli.errors import HouseGroup, own_process, reported_errors
from privaudit.cli.harden import harden
from privaudit.cli.hook import hook_app
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
    EncoderOpt,
    EntropyOpt,
    EntropyUnitOpt,
    FormatOpt,
    GateAttackOpt,
    GateBoundOpt,
    GateDfilOpt,
    GateFloorOpt,
    GateLeakOpt,
    GateRecoveredOpt,
    HeadOpt,
    LabelColumnOpt,
    LabelsOpt,
    LayoutOpt,
    LimitOpt,
    MaxDataOpt,
    MeanOpt,
    ModelArg,
    NoAttacksOpt,
    NoiseOpt,
    OutOpt,
    QuietOpt,
    ResizeOpt,
    SeedOpt,
    ShapeOpt,
    SplitOpt,
    StdOpt,
    StrictOpt,
    SweepOpt,
    ThreadsOpt,
    VerboseOpt,
    assess_overrides,
)
from privaudit.cli.run import execute
from privaudit.cli.saved import check, compare, list_attacks, report, schema
from privaudit.cli.sweep import sweep
from privaudit.config import Budget
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


@app.command()
def layers(
    model: Annotated[
        Path | None, typer.Argument(help="ONNX model (default: the embedded demo).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Also constants and shape computations (hidden by default)."),
    ] = False,
    clean_only: Annotated[
        bool, typer.Option("--clean-only", help="Only the clean cuts (where --split works).")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """List the tensors a model can be split at (module, tensor, shape, depth, clean cut)."""
    with reported_errors(debug):
        from privaudit import demo
        from privaudit.model import ACTIVATION, list_cut_points, load_model

        if fmt not in ("table", "json"):
            raise ConfigError(f"unknown --format {fmt!r}", hint="choose table or json")
        points = [
            p for p in list_cut_points(load_model(model or demo.demo_model_path()))
            if (show_all or p.kind == ACTIVATION) and (p.clean or not clean_only)
        ]  # fmt: skip
        if fmt == "json":
            from privaudit.results import dumps

            sys.stdout.write(dumps(points))
        else:
            from privaudit.cli.console import layers_table

            layers_table(points)


def _run_assess(
    overrides: dict[str, Any], config: Path | None, quiet: bool, search: bool = True
) -> ExitCode:
    from privaudit.audit import run_assess  # NOTE: here, so --help/--version never load torch
    from privaudit.cli.console import print_summary, print_wrote

    def run(cfg: Any, progress: Any, source: str | None) -> Any:
        return run_assess(cfg, progress=progress, noise_source=source)

    report, paths = execute(overrides, config, quiet, run, search=search)
    print_summary(report)
    print_wrote(paths)
    return ExitCode.OK if report.gate.passed else ExitCode.GATE_FAILED


@app.command()
def assess(
    model: ModelArg = None,
    split: SplitOpt = None,
    encoder: EncoderOpt = None,
    head: HeadOpt = None,
    data: DataOpt = None,
    domain: DomainOpt = None,
    layout: LayoutOpt = None,
    label_column: LabelColumnOpt = None,
    labels: LabelsOpt = None,
    columns: ColumnsOpt = None,
    data_range: DataRangeOpt = None,
    noise: NoiseOpt = None,
    noise_sweep: SweepOpt = None,
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
    covariance: CovOpt = None,
    input_entropy: EntropyOpt = None,
    entropy_unit: EntropyUnitOpt = None,
    fail_under_bound: GateBoundOpt = None,
    fail_under_floor: GateFloorOpt = None,
    fail_over_leakage: GateLeakOpt = None,
    fail_under_attack_mse: GateAttackOpt = None,
    fail_over_recovered: GateRecoveredOpt = None,
    fail_under_dfil_mse: GateDfilOpt = None,
    strict: StrictOpt = None,
    output_dir: OutOpt = None,
    fmt: FormatOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Bound the reconstruction error of any attack, run the attack battery, and gate."""
    flags = dict(locals())
    with reported_errors(debug):
        from privaudit.cli.console import set_logging

        set_logging(verbose)
        code = _run_assess(assess_overrides(**flags), config, quiet)
    raise typer.Exit(code)


# NOTE: harden and sweep live in their own modules; registered here in the help's order.
app.command()(harden)
app.command()(sweep)


@app.command()
def demo(
    tabular: Annotated[
        bool, typer.Option("--tabular", help="The Wine table and its split MLP instead.")
    ] = False,
    budget: Annotated[
        str, typer.Option(help="Attack compute: smoke | standard | thorough.")
    ] = Budget.SMOKE.value,
    threads: ThreadsOpt = None,
    output_dir: OutOpt = None,
    fmt: FormatOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
    debug: DebugOpt = False,
) -> None:
    """Assess an embedded demo: MNIST CNN cut at layer3, or (--tabular) a Wine MLP; sigma 0.1.

    The demo reads no pyproject.toml: a project's thresholds, noise or data are its own.
    """
    overrides: dict[str, Any] = {"attacks.budget": budget, "output_dir": output_dir,
                                 "formats": fmt, "threads": threads}
    if tabular:
        from privaudit import demo as shipped  # NOTE: light; no torch

        overrides |= {"model": shipped.tabular_model_path(), "data": shipped.tabular_data_path()}
    with reported_errors(debug):
        from privaudit.cli.console import set_logging

        set_logging(verbose)
        # NOTE: a project's config (its gate, noise, data) is for its model, not the demo's
        code = _run_assess(overrides, None, quiet, search=False)
    raise typer.Exit(code)


# NOTE: the commands that read saved reports or list a registry live in `cli_saved`.
app.command()(check)
app.command(name="attacks")(list_attacks)
app.command()(report)
app.command()(compare)
app.command()(schema)
app.add_typer(hook_app)


def main() -> None:
    """Console-script entry point; click usage errors exit 2, as documented."""
    own_process()
    app()
