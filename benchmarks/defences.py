"""Defences against "just add more noise": every defence on two models, judged on the frontier.

    python -m benchmarks.defences [--models demo,resnet] [--seeds 3] [--epochs 10]
        [--budget standard] [--workers 1] [--cache PATH] [--max-minutes M] [--quick]

Two models, both trained by scripts in `scripts/` from the shipped MNIST subset: the demo
CNN cut at its sigmoid bottleneck (`layer3`, sigma 0.1) and the residual CNN with BatchNorm
cut at a ReLU (`benchmarks/models/resnet_mnist.onnx`, `block2`, sigma 2). Per model, every
configuration is fine-tuned through `privaudit.hardening.train_variant` (the code
`privaudit harden` runs) on the 1,600 training images, once per seed, and audited on the
400 held-out test images with every attack at the standard budget, trained from scratch on
the fine-tuned model; a configuration is judged by its **strongest** attack (lowest MSE).

Configurations: noise-only fine-tuning at sigma x 1, 1.5, 1.8, 2, 3 and 4 (the noise-only
frontier; 1.8 and 4 added with the k 1 rows below), CEM (bound, lambda 16), adversarial (mu 1),
noise-allocation (lambda 16) and cem+adversarial (lambda 16, mu 1); then, tried when those
missed the goal, CEM (bound, lambda 64) and adversarial (mu 10); then, tried when those missed
it too, CEM (bound, lambda 16) and noise-allocation (lambda 16) with one k-means cell per class
(k 1, the default is 5). Per defence: the gain of the strongest attack's MSE over noise-only at
equal sigma (paired by seed), and over the noise-only frontier at the defence's noisy accuracy
(linear interpolation between the two frontier points around it, never extrapolated). Goal:
some defence at least +30 % over the frontier, on each model.

Each (model, configuration, seed) is one job; finished jobs are kept in a JSON cache
(`--cache`), so an interrupted run resumes where it stopped. `--workers N` runs N jobs at
once in separate processes (one torch thread each). `--max-minutes` stops starting jobs
after that long (default: `$PRIVAUDIT_BENCH_MAX_MINUTES`, else no limit; 0 renders the
cache and starts nothing): the tables then say which rows are incomplete.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Goal, Result, Table, interpolate, main_of, mean_std, plural
from privaudit.config import HardenConfig

ROOT = Path(__file__).resolve().parents[1]
TITLE = "defences vs the noise-only frontier, strongest attack, two models"
GOAL_GAIN = 30.0  # percent over the frontier at matched accuracy
MAX_MINUTES_ENV = "PRIVAUDIT_BENCH_MAX_MINUTES"
FULL: dict[str, Any] = {"seeds": 3, "epochs": 10, "budget": "standard", "share": 1.0,
                        "attacks": "knn,decoder,optimization,gan"}
QUICK: dict[str, Any] = {"seeds": 1, "epochs": 2, "budget": "smoke", "share": 0.05,
                         "attacks": "knn,decoder"}


@dataclass(frozen=True)
class ModelSpec:
    """A benchmark model: file (None: the demo), data, cut and deployment sigma."""

    name: str
    path: str | None
    split: str
    sigma: float


DEFAULT_K = HardenConfig().k  # cells per class by default (5, the official code's)


@dataclass(frozen=True)
class Config:
    """One row: a defence (None: noise-only) with lambda, mu, k-means cells per class (k)
    and a sigma scale."""

    label: str
    defence: str | None
    lam: float = 0.0
    mu: float = 0.0
    scale: float = 1.0
    k: int = DEFAULT_K


MODELS = {
    "demo": ModelSpec("demo", None, "layer3", 0.1),
    "resnet": ModelSpec("resnet", "benchmarks/models/resnet_mnist.onnx", "block2", 2.0),
}
CONFIGS = (
    Config("noise-only, sigma x1", None),
    Config("noise-only, sigma x1.5", None, scale=1.5),
    # NOTE: x1.8 and x4 were added with the k 1 rows, which land near 88.7 % (demo) and at
    # the x3 point's 97.5 % (resnet): a measured point beside each, as the MSE bends against
    # the accuracy, so a chord across a wide gap understates the frontier
    Config("noise-only, sigma x1.8", None, scale=1.8),
    Config("noise-only, sigma x2", None, scale=2.0),
    Config("noise-only, sigma x3", None, scale=3.0),
    Config("noise-only, sigma x4", None, scale=4.0),
    Config("CEM (bound, lambda 16)", "cem", lam=16.0),
    Config("adversarial (mu 1)", "adversarial", mu=1.0),
    Config("noise-allocation (lambda 16)", "noise-allocation", lam=16.0),
    Config("cem+adversarial (lambda 16, mu 1)", "cem+adversarial", lam=16.0, mu=1.0),
    # NOTE: tried after the rows above missed the goal (+23 to +25 %): a 4x stronger CEM term,
    # and an adversary weighted 10x (at mu 1 its term is small beside the task loss)
    Config("CEM (bound, lambda 64)", "cem", lam=64.0),
    Config("adversarial (mu 10)", "adversarial", mu=10.0),
    # NOTE: tried after those missed too: one cell per class (k 1), so the CEM term counts
    # every difference between two samples of a class as leakage, not only the spread inside
    # each of 5 cells (which leaves the cell a sample falls in free to carry its style)
    Config("CEM (bound, lambda 16, k 1)", "cem", lam=16.0, k=1),
    Config("noise-allocation (lambda 16, k 1)", "noise-allocation", lam=16.0, k=1),
)
FRONTIER = tuple(c for c in CONFIGS if c.defence is None)
METRICS = ("acc", "mse", "recovered", "leak")


def parser() -> argparse.ArgumentParser:
    """The options (models, sizes, parallelism, cache) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="demo,resnet", help=f"of {', '.join(MODELS)}")
    ap.add_argument("--seeds", type=int, default=FULL["seeds"])
    ap.add_argument("--epochs", type=int, default=FULL["epochs"])
    ap.add_argument("--budget", default=FULL["budget"], help="the attacks' budget")
    ap.add_argument("--attacks", default=FULL["attacks"], help="the attacks that judge")
    ap.add_argument("--share", type=float, default=FULL["share"],
                    help="share of the train and test images, per class")
    ap.add_argument("--workers", type=int, default=1, help="jobs at once (1 thread each)")
    ap.add_argument("--cache", type=Path, default=ROOT / ".bench-cache" / "defences.json",
                    help="finished jobs (resumable)")
    ap.add_argument("--max-minutes", type=float,
                    default=float(os.environ.get(MAX_MINUTES_ENV, "-1")),
                    help=f"start no job after this long (negative: no limit; default from "
                         f"${MAX_MINUTES_ENV}, as `python -m benchmarks` passes no options)")
    return ap


def job_key(model: ModelSpec, config: Config, seed: int, args: argparse.Namespace) -> str:
    """The cache key of one job: everything that changes its numbers."""
    fields = dict(config.__dict__)
    if fields["k"] == DEFAULT_K:
        del fields["k"]  # NOTE: rows from before k was a field keep their cached results
    what = json.dumps([model.__dict__, fields, seed, args.epochs, args.budget, args.attacks,
                       args.share], sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()[:20]


_RUNS: dict[tuple[str, str], Any] = {}


def harden_run(model: ModelSpec, args: argparse.Namespace, seed: int) -> Any:
    """The HardenRun of `model`: fine-tune on the demo's train images, audit its test images."""
    from benchmarks.harden_demo import demo_split_run
    from privaudit import demo
    from privaudit.config import AttacksConfig
    from privaudit.config import Config as RunConfig

    path = None if model.path is None else ROOT / model.path
    data = None if model.path is None else demo.demo_data_path()
    cfg = RunConfig(
        model=path, data=data, split=model.split, noise=model.sigma, device="cpu", seed=seed,
        attacks=AttacksConfig(enabled=tuple(args.attacks.split(",")), budget=args.budget),
        harden=HardenConfig(epochs=args.epochs, seeds=1),
    )
    return demo_split_run(cfg, args.share)


def run_job(model: ModelSpec, config: Config, seed: int,
            args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune and audit one configuration at one seed; its per-seed numbers."""
    import torch

    from privaudit.hardening import DEFENCES, train_variant

    torch.set_num_threads(1)
    hrun = harden_run(model, args, seed)
    harden = replace(hrun.cfg.harden, k=config.k)
    if config.defence is not None and "cem" in config.defence:
        harden = replace(harden, loss="bound")
    hrun = replace(hrun, cfg=replace(hrun.cfg, harden=harden))
    spec = None if config.defence is None else DEFENCES[config.defence]
    start = time.perf_counter()
    trained = train_variant(hrun, config.label, spec, config.lam, config.mu,
                            model.sigma * config.scale)
    (report,) = trained.reports
    verdict = report.verdict
    assert verdict is not None and verdict.best_mse is not None, "no attack ran"
    return {
        "acc": float(report.utility.noisy_accuracy or 0.0) if report.utility else float("nan"),
        "mse": float(verdict.best_mse),
        "strongest": verdict.strongest,
        "recovered": float(verdict.recovered if verdict.recovered is not None else np.nan),
        "leak": float(report.bound.leakage_bits_per_dim or 0.0) if report.bound else np.nan,
        "seconds": time.perf_counter() - start,
    }


def _job(item: tuple[str, str, int, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    model, label, seed, options = item
    args = argparse.Namespace(**options)
    config = next(c for c in CONFIGS if c.label == label)
    spec = MODELS[model]
    return job_key(spec, config, seed, args), run_job(spec, config, seed, args)


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    """The finished jobs, by key (empty when there is no cache yet)."""
    if not path.is_file():
        return {}
    loaded: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def save_cache(path: Path, done: dict[str, dict[str, Any]]) -> None:
    """Write the cache atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(done, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def run_jobs(models: list[ModelSpec], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every job not in the cache, seed-major (all rows get seed 0 first), saved as it ends."""
    done = load_cache(args.cache) if not args.quick else {}
    options = {k: v for k, v in vars(args).items() if k != "cache"}
    todo = [(m.name, c.label, s, options) for s in range(args.seeds) for m in models
            for c in CONFIGS if job_key(m, c, s, args) not in done]
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes >= 0 else None
    workers = max(1, args.workers)
    if deadline is not None and args.max_minutes == 0:
        return done  # NOTE: 0 minutes: render what the cache holds, start nothing
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = iter(todo)
        running = {pool.submit(_job, item) for item in todo[:workers]}
        for _ in range(len(running)):
            next(pending)
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                key, value = future.result()
                done[key] = value
                if not args.quick:
                    save_cache(args.cache, done)
                if deadline is None or time.monotonic() < deadline:
                    nxt = next(pending, None)
                    if nxt is not None:
                        running.add(pool.submit(_job, nxt))
    return done


def model_table(model: ModelSpec, done: dict[str, dict[str, Any]],
                args: argparse.Namespace) -> tuple[Table, float | None]:
    """One model's rows and its best defence's mean gain over the frontier (percent)."""
    per: dict[str, dict[int, dict[str, Any]]] = {
        c.label: {s: done[k] for s in range(args.seeds)
                  if (k := job_key(model, c, s, args)) in done}
        for c in CONFIGS
    }
    # NOTE: a partial run places defences on the frontier of the seeds it has (flagged in the
    # rows); the goal counts only complete rows on a complete frontier
    frontier = [(statistics.fmean(r["acc"] for r in per[c.label].values()),
                 statistics.fmean(r["mse"] for r in per[c.label].values()))
                for c in FRONTIER if per[c.label]]
    complete = all(len(per[c.label]) == args.seeds for c in FRONTIER)
    equal = per[FRONTIER[0].label]
    rows: list[tuple[str, ...]] = []
    best: float | None = None
    for c in CONFIGS:
        by_seed = per[c.label]
        runs = list(by_seed.values())
        if not runs:
            rows.append((c.label, *(["not measured"] * 6)))
            continue
        seeds = f" ({len(runs)} of {args.seeds} seeds)" if len(runs) < args.seeds else ""
        attacks = sorted({r["strongest"] for r in runs})
        cells = [c.label + seeds, mean_std([r["acc"] for r in runs], 100, ".2f"),
                 mean_std([r["mse"] for r in runs]) + f" ({', '.join(attacks)})",
                 mean_std([r["recovered"] for r in runs], 100, ".1f"),
                 mean_std([r["leak"] for r in runs])]
        if c.defence is None:
            rows.append((*cells, "frontier", "frontier"))
            continue
        gains = [100 * (r["mse"] / equal[i]["mse"] - 1) for i, r in by_seed.items()
                 if i in equal]
        at = interpolate(frontier, statistics.fmean(r["acc"] for r in runs))
        vs = [100 * (r["mse"] / at - 1) for r in runs] if at else []
        cells.append(f"{mean_std(gains, 1, '+.1f')} %" if gains else "n/a")
        cells.append(f"{mean_std(vs, 1, '+.1f')} %" if vs else "outside the frontier")
        if vs and len(runs) == args.seeds and complete:
            best = max(best if best is not None else -np.inf, statistics.fmean(vs))  # noqa: PLW3301
        rows.append(tuple(cells))
    header = ("configuration", "noisy acc. %", "strongest MSE (attack)", "recovered %",
              "leakage (bits/dim)", "gain vs noise-only (same sigma)",
              "gain vs the frontier (matched accuracy)")
    caption = (f"{model.name}: cut {model.split}, sigma {model.sigma:g}, mean ± std over "
               f"{plural(args.seeds, 'seed')}")
    return Table(caption, header, tuple(rows)), best


def run(args: argparse.Namespace) -> Result:
    """Run (or resume) every job; one table per model and the goal per model."""
    models = [MODELS[m] for m in args.models.split(",")]
    done = run_jobs(models, args)
    tables, goals = [], []
    for model in models:
        table, best = model_table(model, done, args)
        tables.append(table)
        goals.append(Goal(f"{model.name}: best defence's strongest-attack MSE gain over the "
                          "noise-only frontier at matched accuracy",
                          float("nan") if best is None else best, ">=", GOAL_GAIN, " %",
                          "+.1f"))
    keys = {job_key(m, c, s, args) for m in models for c in CONFIGS for s in range(args.seeds)}
    seconds = [done[k]["seconds"] for k in keys if k in done]
    settings = (f"models {args.models}, {plural(args.seeds, 'seed')}, {args.epochs} epochs "
                f"on the demo's training images (share {args.share:g}), audited on its test "
                f"images by {args.attacks} at the {args.budget} budget (the strongest judges), "
                f"{plural(args.workers, 'worker')} x 1 torch thread; "
                f"{len(seconds)} of {len(keys)} jobs measured, {sum(seconds) / 60:.0f} min of "
                "job time")
    notes = ("Gains are of the strongest attack's MSE (higher: more private). Against the "
             "frontier: the defence's mean noisy accuracy placed between the two noise-only "
             "points around it, their MSE interpolated linearly; outside their range, no "
             "number.",)
    return Result("defences", TITLE, settings, tuple(tables), tuple(goals), notes,
                  quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown."""
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
