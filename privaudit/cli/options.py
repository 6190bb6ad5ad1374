"""Command-line option types shared by the `privaudit` commands, flag parsers, flags to keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from privaudit.errors import ConfigError

ModelArg = Annotated[Path | None, typer.Argument(help="ONNX model (default: the embedded demo).")]
SplitOpt = Annotated[
    str | None, typer.Option("--split", "-s", help="Module, node or tensor name to cut at.")
]
EncoderOpt = Annotated[
    Path | None, typer.Option(help="Pre-split encoder ONNX (instead of MODEL --split).")
]
HeadOpt = Annotated[
    Path | None, typer.Option(help="Pre-split head ONNX (optional, with --encoder).")
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="CSV/Parquet table, .npz (x[, y]), .npy, or image folder."),
]
DomainOpt = Annotated[
    str | None,
    typer.Option(help="tabular | signal | image (default: from the model input's rank 2, 3, 4)."),
]
LabelColumnOpt = Annotated[
    str | None,
    typer.Option(help="A table's label column (default: label, y or target when present)."),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(help="A table's feature columns, comma-separated (default: all but the label)."),
]
DataRangeOpt = Annotated[
    str | None,
    typer.Option(help="LOW,HIGH of the stored values: float images outside [0, 1], signals."),
]
NoiseOpt = Annotated[
    float | None,
    typer.Option("--noise", help="Std of the feature noise (default: model metadata)."),
]
SweepOpt = Annotated[str | None, typer.Option(help="Comma-separated sigmas, e.g. 0,0.05,0.1,0.2.")]
MeanOpt = Annotated[
    str | None, typer.Option(help="Per-channel normalization mean, e.g. 0.485,0.456,0.406.")
]
StdOpt = Annotated[str | None, typer.Option(help="Per-channel normalization std.")]
ShapeOpt = Annotated[
    str | None,
    typer.Option(help="Per-sample model input shape for dynamic dims: C,H,W; C,T; or F."),
]
ResizeOpt = Annotated[
    bool | None, typer.Option("--resize/--no-resize", help="Resize data to the model's input size.")
]
LimitOpt = Annotated[int | None, typer.Option(help="Use at most N samples (seeded subset).")]
MaxDataOpt = Annotated[
    float | None,
    typer.Option(help="Largest size of the data in memory, in GB (default 4); checked first."),
]
SeedOpt = Annotated[int | None, typer.Option(help="Run seed (every component derives its own).")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto | cpu | cuda.")]
OutOpt = Annotated[
    Path | None,
    typer.Option("--output-dir", "-o", help="Folder for the reports (default privaudit-out)."),
]
ReportDirOpt = Annotated[
    Path | None,
    typer.Option("--output-dir", help="Folder for the reports (default privaudit-out)."),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Report formats, comma-separated: json,markdown,csv,html,junit (default json).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML file with [tool.privaudit] (default: nearest pyproject.toml)."
    ),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug logging.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
BudgetOpt = Annotated[str | None, typer.Option(help="Attack compute: smoke | standard | thorough.")]
AttacksOpt = Annotated[
    str | None, typer.Option("--attacks", help="Attacks to run, e.g. decoder,optimization.")
]
NoAttacksOpt = Annotated[
    bool, typer.Option("--no-attacks", help="Only the bound; skip the attack battery.")
]
CovOpt = Annotated[
    str | None, typer.Option(help="diagonal (valid bound) | full (tighter estimate).")
]
EntropyOpt = Annotated[
    str | None, typer.Option(help="h(x) source: gaussian | certified | a number.")
]
EntropyUnitOpt = Annotated[
    str | None, typer.Option(help="Unit of a numeric --input-entropy: nats | bits (per dim).")
]
GateBoundOpt = Annotated[float | None, typer.Option(help="Fail if h(x|z)/d (nats) is below this.")]
GateFloorOpt = Annotated[float | None, typer.Option(help="Fail if the MSE floor is below this.")]
GateLeakOpt = Annotated[
    float | None, typer.Option(help="Fail if leakage (bits/dim) is above this.")
]
GateRecoveredOpt = Annotated[
    float | None,
    typer.Option(help="Fail if any attack recovers more than this share of the variance (0-1)."),
]
GateDfilOpt = Annotated[
    float | None,
    typer.Option(help="Fail if 1/dFIL (5th percentile over samples) is below this MSE."),
]
GateAttackOpt = Annotated[
    float | None, typer.Option(help="Fail if any attack's MSE is below this.")
]
StrictOpt = Annotated[
    bool | None, typer.Option("--strict/--no-strict", help="Skipped attacks fail the gate too.")
]


SplitsOpt = Annotated[
    str | None,
    typer.Option("--splits", help="Cuts to sweep, comma-separated (e.g. layer1,layer2), or auto."),
]
SigmasOpt = Annotated[
    str | None,
    typer.Option("--noise", help="Noise sigmas to sweep, comma-separated (e.g. 0,0.05,0.1,0.2)."),
]
SeedsOpt = Annotated[int | None, typer.Option(help="Attack seeds per point (seed, seed+1, ...).")]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", help="Jobs at once (default: the cores this process may use)."),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(help="Threads per job (default: the cores divided among the jobs; Ray: 1)."),
]
ExecutorOpt = Annotated[
    str | None, typer.Option(help="local (worker processes) | ray (a Ray cluster).")
]
RayAddressOpt = Annotated[
    str | None, typer.Option(help="Ray cluster address, e.g. 10.0.0.5:6379 (default: RAY_ADDRESS).")
]
GpusPerTaskOpt = Annotated[
    float | None, typer.Option(help="GPUs per attack task on a Ray cluster with GPUs (0.25).")
]
MinAccuracyOpt = Annotated[
    float | None, typer.Option(help="Constraint: noisy accuracy at least this (0-1).")
]
MinAttackMseOpt = Annotated[
    float | None, typer.Option(help="Constraint: the strongest attack's MSE at least this.")
]
MaxRecoveredOpt = Annotated[
    float | None,
    typer.Option(help="Constraint: no attack recovers more than this share of the variance."),
]
FreshOpt = Annotated[
    bool, typer.Option("--fresh", help="Ignore finished jobs in OUTPUT_DIR/shards; redo all.")
]


def parse_floats(text: str | None, key: str) -> tuple[float, ...] | None:
    """Comma-separated numbers from a flag (None when the flag was not given)."""
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise ConfigError(
            f"{key}: expected comma-separated numbers, got {text!r}",
            hint=f"e.g. --{key.replace('_', '-')} 0,0.05,0.1",
        ) from None


def parse_ints(text: str | None, key: str) -> tuple[int, ...] | None:
    """Comma-separated positive integers from a flag (None when the flag was not given)."""
    values = parse_floats(text, key)
    if values is None:
        return None
    if any(v != int(v) or v <= 0 for v in values):
        raise ConfigError(
            f"{key}: expected positive integers, got {text!r}",
            hint=f"e.g. --{key.replace('_', '-')} 1,28,28 (the per-sample input shape)",
        )
    return tuple(int(v) for v in values)


def sweep_overrides(**flags: Any) -> dict[str, Any]:
    """The `sweep` command's flag values keyed by dotted config key; None means "not given"."""
    return {
        "model": flags["model"],
        "data": flags["data"],
        "mean": parse_floats(flags["mean"], "mean"),
        "std": parse_floats(flags["std"], "std"),
        "input_shape": parse_ints(flags["input_shape"], "input_shape"),
        "resize": flags["resize"],
        "limit": flags["limit"],
        "max_data_gb": flags["max_data_gb"],
        "seed": flags["seed"],
        "device": flags["device"],
        "output_dir": flags["output_dir"],
        "formats": flags["fmt"],
        "attacks.enabled": () if flags["no_attacks"] else flags["attacks"],
        "attacks.budget": flags["budget"],
        "bound.covariance": flags["covariance"],
        "bound.input_entropy": flags["input_entropy"],
        "bound.input_entropy_unit": flags["entropy_unit"],
        "sweep.splits": flags["splits"],
        "sweep.noise": parse_floats(flags["noise"], "noise"),
        "sweep.seeds": flags["seeds"],
        "sweep.jobs": flags["jobs"],
        "sweep.threads": flags["threads"],
        "sweep.executor": flags["executor"],
        "sweep.ray_address": flags["ray_address"],
        "sweep.gpus_per_task": flags["gpus_per_task"],
        **constraint_overrides(flags["min_accuracy"], flags["min_attack_mse"],
                               flags["max_recovered"]),
    }


def constraint_overrides(
    min_accuracy: float | None, min_attack_mse: float | None, max_recovered: float | None
) -> dict[str, Any]:
    """The recommendation's constraints keyed by config key (for `check` of a sweep)."""
    return {"sweep.min_accuracy": min_accuracy, "sweep.min_attack_mse": min_attack_mse,
            "sweep.max_recovered": max_recovered}  # fmt: skip


def assess_overrides(**flags: Any) -> dict[str, Any]:
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
        "domain": flags["domain"],
        "label_column": flags["label_column"],
        "columns": flags["columns"],
        "data_range": parse_floats(flags["data_range"], "data_range"),
        "noise": flags["noise"],
        "noise_sweep": parse_floats(flags["noise_sweep"], "noise_sweep"),
        "mean": parse_floats(flags["mean"], "mean"),
        "std": parse_floats(flags["std"], "std"),
        "input_shape": parse_ints(flags["input_shape"], "input_shape"),
        "resize": flags["resize"],
        "limit": flags["limit"],
        "max_data_gb": flags["max_data_gb"],
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
        "gate.max_recovered": flags["fail_over_recovered"],
        "gate.min_dfil_mse": flags["fail_under_dfil_mse"],
        "gate.strict": flags["strict"],
    }

