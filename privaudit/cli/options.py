"""Command-line option types shared by the `privaudit` commands, flag parsers, flags to keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from privaudit.config import Config
from privaudit.errors import ConfigError


def default_of(key: str) -> str:
    """How `--help` shows the built-in default of a dotted config key (e.g. ``bound.k``).

    The flags default to None ("not given", so `[tool.privaudit]` can set them); this names
    what applies when neither the flag nor the config does. Tuples are comma-separated.
    """
    value: Any = Config()
    for part in key.split("."):
        value = getattr(value, part)
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


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
    typer.Option(help="tabular | signal | image.",
                 show_default="from the model input's rank: 2, 3, 4"),
]
LayoutOpt = Annotated[
    str | None,
    typer.Option(help="Where an image or signal input keeps its channels: auto | "
                 "channels-first | channels-last (fed through a Transpose).",
                 show_default="auto: channels last when an image input's sizes say so"),
]
LabelColumnOpt = Annotated[
    str | None,
    typer.Option(help="A table's label column.",
                 show_default="label, y or target, when present"),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(help="A table's feature columns, comma-separated.",
                 show_default="all but the label"),
]
DataRangeOpt = Annotated[
    str | None,
    typer.Option(help="LOW,HIGH of the stored values: float images outside [0, 1], signals."),
]
NoiseOpt = Annotated[
    float | None,
    typer.Option("--noise", help="Std of the feature noise.", show_default="model metadata"),
]
SweepOpt = Annotated[str | None, typer.Option(help="Comma-separated sigmas, e.g. 0,0.05,0.1,0.2.")]
MeanOpt = Annotated[
    str | None,
    typer.Option(help="Per-channel normalization mean, e.g. 0.485,0.456,0.406.",
                 show_default="model metadata, else 0"),
]
StdOpt = Annotated[
    str | None,
    typer.Option(help="Per-channel normalization std.", show_default="model metadata, else 1"),
]
ShapeOpt = Annotated[
    str | None,
    typer.Option(help="Per-sample model input shape for dynamic dims, in the model's own order: "
                 "C,H,W; C,T; F (H,W,C or T,C when it keeps its channels last).",
                 show_default="the model's, where it is fixed"),
]
LabelsOpt = Annotated[
    bool | None,
    typer.Option("--labels/--no-labels", help="Use the data's labels (--no-labels: ignore "
                 "them: no accuracy, no label reference).", show_default="labels"),
]
ResizeOpt = Annotated[
    bool | None, typer.Option("--resize/--no-resize", help="Resize data to the model's input size.",
                 show_default="no-resize")
]
LimitOpt = Annotated[
    int | None, typer.Option(help="Use at most N samples (seeded subset).", show_default="all")
]
MaxDataOpt = Annotated[
    float | None,
    typer.Option(help="Largest size of the data in memory, in GB; checked first.",
                 show_default=default_of("max_data_gb")),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(help="Run seed (every component derives its own).",
                 show_default=default_of("seed")),
]
DeviceOpt = Annotated[
    str | None, typer.Option(help="auto | cpu | cuda.", show_default=default_of("device"))
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(help="CPU threads for torch, onnxruntime and BLAS.",
                 show_default="the CPUs this process may use"),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--output-dir", "-o", help="Folder for the reports.",
                 show_default=default_of("output_dir")),
]
ReportDirOpt = Annotated[
    Path | None,
    typer.Option("--output-dir", help="Folder for the reports.",
                 show_default=default_of("output_dir")),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="Report formats, comma-separated: json,markdown,csv,html,junit.",
        show_default=default_of("formats"),
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        # NOTE: the backslash keeps rich markup from taking [tool.privaudit] for a style tag
        help="TOML file with a \\[tool.privaudit] table.",
        show_default="the nearest pyproject.toml",
    ),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug logging.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
BudgetOpt = Annotated[
    str | None,
    typer.Option(help="Attack compute: smoke | standard | thorough.",
                 show_default=default_of("attacks.budget")),
]
AttacksOpt = Annotated[
    str | None,
    typer.Option("--attacks", help="Attacks to run, e.g. decoder,optimization.",
                 show_default=default_of("attacks.enabled")),
]
NoAttacksOpt = Annotated[
    bool, typer.Option("--no-attacks", help="Only the bound; skip the attack battery.")
]
CovOpt = Annotated[
    str | None,
    typer.Option(help="diagonal (valid bound) | full (tighter estimate).",
                 show_default=default_of("bound.covariance")),
]
EntropyOpt = Annotated[
    str | None,
    typer.Option(help="h(x) source: gaussian | certified | a number.",
                 show_default=default_of("bound.input_entropy")),
]
EntropyUnitOpt = Annotated[
    str | None,
    typer.Option(help="Unit of a numeric --input-entropy: nats | bits (per dim).",
                 show_default=default_of("bound.input_entropy_unit")),
]
GateBoundOpt = Annotated[float | None, typer.Option(help="Fail if h(x|z)/d (nats) is below this.")]
GateFloorOpt = Annotated[float | None, typer.Option(help="Fail if the MSE floor is below this.")]
GateLeakOpt = Annotated[
    float | None, typer.Option(help="Fail if leakage (bits/dim) is above this.")
]
GateRecoveredOpt = Annotated[
    float | None,
    typer.Option(help="Fail if any attack or reference reconstruction recovers more than this "
                      "share of the variance (0-1)."),
]
GateDfilOpt = Annotated[
    float | None,
    typer.Option(help="Fail if 1/dFIL (5th percentile over samples) is below this MSE."),
]
GateAttackOpt = Annotated[
    float | None,
    typer.Option(help="Fail if any attack's or reference reconstruction's MSE is below this."),
]
StrictOpt = Annotated[
    bool | None, typer.Option("--strict/--no-strict", help="Skipped attacks fail the gate too.",
                 show_default="no-strict")
]


SplitsOpt = Annotated[
    str | None,
    typer.Option("--splits", help="Cuts to sweep, comma-separated (e.g. layer1,layer2), or auto.",
                 show_default=default_of("sweep.splits")),
]
SigmasOpt = Annotated[
    str | None,
    typer.Option("--noise", help="Noise sigmas to sweep, comma-separated.",
                 show_default=default_of("sweep.noise")),
]
SeedsOpt = Annotated[
    int | None,
    typer.Option(help="Attack seeds per point (seed, seed+1, ...).",
                 show_default=default_of("sweep.seeds")),
]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", help="Jobs at once.",
                 show_default="the cores this process may use"),
]
JobThreadsOpt = Annotated[
    int | None,
    typer.Option("--threads", help="Threads per job.",
                 show_default="the run's `threads` divided among the jobs; Ray: 1"),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option(help="local (worker processes) | ray (a Ray cluster).",
                 show_default=default_of("sweep.executor")),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(help="Ray cluster address, e.g. 10.0.0.5:6379.",
                 show_default="$RAY_ADDRESS, else a local Ray instance"),
]
GpusPerTaskOpt = Annotated[
    float | None,
    typer.Option(help="GPUs per attack task on a Ray cluster with GPUs.",
                 show_default=default_of("sweep.gpus_per_task")),
]
MinAccuracyOpt = Annotated[
    float | None, typer.Option(help="Constraint: noisy accuracy at least this (0-1).")
]
MinAttackMseOpt = Annotated[
    float | None,
    typer.Option(help="Constraint: the strongest reconstruction's MSE (attacks and references) "
                      "at least this."),
]
MaxRecoveredOpt = Annotated[
    float | None,
    typer.Option(help="Constraint: no attack or reference recovers more than this share of the "
                      "variance (0-1)."),
]
FreshOpt = Annotated[
    bool, typer.Option("--fresh", help="Ignore finished jobs in OUTPUT_DIR/shards; redo all.")
]


def parse_floats(
    text: str | None, key: str, example: str | None = None
) -> tuple[float, ...] | None:
    """Comma-separated numbers from a flag (None when the flag was not given).

    Args:
        text: the flag's value.
        key: its config key (`harden.baseline_scales`); the flag is its last part.
        example: the hint's example flag and values (default: the flag, then 0,0.05,0.1).
    """
    if text is None:
        return None
    # NOTE: spaces around a comma are fine; a space inside a value is not: "1 1 1" once read
    # as 111 (a --std of 111 instead of three 1s: privacy overstated tenfold)
    parts = [v.strip() for v in text.split(",")]
    try:
        if not text.strip() or any(not v or any(c.isspace() for c in v) for v in parts):
            raise ValueError(text)
        return tuple(float(v) for v in parts)
    except ValueError:
        flag = "--" + key.rsplit(".", 1)[-1].replace("_", "-")
        raise ConfigError(
            f"{key}: expected comma-separated numbers, got {text!r}",
            hint=f"e.g. {example or flag + ' 0,0.05,0.1'} (commas between the values)",
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
        "domain": flags["domain"],
        "layout": flags["layout"],
        "label_column": flags["label_column"],
        "columns": flags["columns"],
        "data_range": parse_floats(flags["data_range"], "data_range"),
        "labels": flags["labels"],
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
        "layout": flags["layout"],
        "label_column": flags["label_column"],
        "labels": flags.get("labels"),  # NOTE: harden takes no --no-labels: it needs them
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
        "threads": flags["threads"],
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

