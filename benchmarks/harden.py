"""Cost of hardening: epoch time of each defence vs a noise-only epoch (lambda = mu = 0).

    python -m benchmarks.harden [--epochs 4] [--repeats 3] [--threads 1] [--quick]

Fine-tunes the demo CNN (cut at layer3, sigma 0.1) on the demo's 1600 training images,
alternating noise-only and defence runs so that all see the same machine load, and prints
the per-epoch times and their ratio. Epoch 1 has no CEM term (no clusters yet), so the goals
are on epochs >= 2; the ratio over whole runs is shown too. Goals: a CEM epoch <= 1.10x, an
adversarial epoch (mu 1; its light decoder takes one update every 2 encoder steps) <= 2x, a
noise-allocation epoch (lambda 4, learned per-channel stds) <= 1.2x a noise-only epoch.

One torch thread by default: on a shared 2-core machine, 2 OpenMP threads make epoch times
swing by 10x or more whenever another process takes a core, which swamps the ratio.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from benchmarks.common import Goal, Result, Table, main_of, plural
from privaudit import demo
from privaudit.data import Feed, Normalization
from privaudit.hardening import FinetuneSettings, fine_tune
from privaudit.model import Split, load_model, split_model
from privaudit.progress import NullProgress

TITLE = "defence epoch times vs a noise-only epoch, demo CNN"
# name, lambda, loss, mu, allocate, goal (ratio to noise-only; None for the baseline)
VARIANTS: tuple[tuple[str, float, str, float, bool, float | None], ...] = (
    ("noise-only", 0.0, "bound", 0.0, False, None),
    ("cem hinge", 1.0, "hinge", 0.0, False, 1.10),
    ("cem bound", 4.0, "bound", 0.0, False, 1.10),
    ("adversarial", 0.0, "bound", 1.0, False, 2.0),
    ("noise-allocation", 4.0, "bound", 0.0, True, 1.2),
)
FULL: dict[str, Any] = {"epochs": 4, "repeats": 3, "images": 0}
QUICK: dict[str, Any] = {"epochs": 2, "repeats": 1, "images": 256}


def parser() -> argparse.ArgumentParser:
    """The options (sizes, threads) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=FULL["epochs"], help="at least 2")
    ap.add_argument("--repeats", type=int, default=FULL["repeats"])
    ap.add_argument("--images", type=int, default=FULL["images"],
                    help="training images (0: all 1600)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    return ap


def training_data(images: int) -> tuple[np.ndarray, np.ndarray]:
    """The demo's training images in [0, 1] and their labels (the first `images`; 0: all)."""
    with np.load(demo.demo_data_path()) as d:
        x = (d["x"][:, None] / 255.0).astype(np.float32)
        y = d["y"].astype(np.int64)
    train, _ = demo.demo_split_indices(0)
    if images:
        train = train[:images]
    return x[train], y[train]


def epoch_seconds(split: Split, x: np.ndarray, y: np.ndarray, lam: float, loss: str,
                  epochs: int, seed: int, mu: float = 0.0,
                  allocate: bool = False) -> tuple[float, ...]:
    """One fine-tune (batch 64, k = 5), as `harden` runs it: the time of each epoch."""
    settings = FinetuneSettings(lam=lam, loss=loss, k=5, epochs=epochs, lr=1e-3,
                                batch_size=64, freeze_head=False, noise_sigma=0.1, seed=seed,
                                mu=mu, allocate=allocate)
    feed = Feed.pixels(Normalization((0.1307,), (0.3081,)), tuple(x.shape[1:]))
    done = fine_tune(split, feed, x, y, settings, device=torch.device("cpu"),
                     progress=NullProgress(), label=f"{loss} {lam}")
    return done.epoch_seconds


def run(args: argparse.Namespace) -> Result:
    """Alternate the three fine-tunes `repeats` times; medians and ratios to noise-only."""
    if args.epochs < 2:
        raise SystemExit("--epochs must be at least 2 (epoch 1 has no CEM term)")
    if args.threads:
        torch.set_num_threads(args.threads)
    split = split_model(load_model(demo.demo_model_path()), "layer3")
    x, y = training_data(args.images)
    epoch_seconds(split, x[:256], y[:256], 1.0, "hinge", 2, 0)  # warm-up (first-call costs)
    times: dict[str, list[tuple[float, ...]]] = {v[0]: [] for v in VARIANTS}
    for r in range(args.repeats):
        for name, lam, loss, mu, allocate, _ in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            times[name].append(epoch_seconds(split, x, y, lam, loss, args.epochs, r, mu,
                                             allocate))

    def late(name: str) -> float:
        return statistics.median(t for run in times[name] for t in run[1:])

    def total(name: str) -> float:
        return statistics.median(sum(run) for run in times[name])

    rows = tuple(
        (name, f"{late(name):.4f}", f"{late(name) / late('noise-only'):.3f}",
         f"{total(name):.3f}", f"{total(name) / total('noise-only'):.3f}")
        for name, *_ in VARIANTS
    )
    table = Table(
        f"fine-tuning epoch times, {len(x)} images, median over {plural(args.repeats, 'repeat')}",
        ("run", "epoch ≥ 2 (s)", "ratio", "whole run (s)", "ratio"), rows,
    )
    goals = tuple(
        Goal(f"{name} epoch / noise-only epoch (epochs ≥ 2)",
             late(name) / late("noise-only"), "<=", limit, "", ".3f")
        for name, *_, limit in VARIANTS if limit is not None
    )
    settings = (f"demo CNN cut at layer3, sigma 0.1, {len(x)} training images, batch 64, "
                f"{args.epochs} epochs x {plural(args.repeats, 'repeat')}, hinge lambda 1, "
                f"bound lambda 4, adversarial mu 1, noise-allocation lambda 4, "
                f"{plural(torch.get_num_threads(), 'torch thread')}")
    return Result("harden", TITLE, settings, (table,), goals, quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown."""
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
