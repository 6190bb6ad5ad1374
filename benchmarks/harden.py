"""Cost of CEM hardening: epoch time with the CEM loss vs without it (lambda = 0).

Fine-tunes the demo CNN (cut at layer3, sigma 0.1) on the demo's 1600 training images,
alternating noise-only and CEM runs so that both see the same machine load, and prints
the per-epoch times and their ratio (goal: <= 1.10). Epoch 1 has no CEM term in either
run (no clusters yet), so the ratio is reported over epochs >= 2 and over all epochs.

    python -m benchmarks.harden [--epochs 4] [--repeats 3] [--threads 1]

One torch thread by default: on a shared 2-core machine, 2 OpenMP threads make epoch times
swing by 10x or more whenever another process takes a core, which swamps the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from privaudit import demo
from privaudit.data import Feed, Normalization
from privaudit.hardening import FinetuneSettings, fine_tune
from privaudit.model import Split, load_model, split_model
from privaudit.progress import NullProgress


def _data() -> tuple[np.ndarray, np.ndarray]:
    with np.load(demo.demo_data_path()) as d:
        x = (d["x"][:, None] / 255.0).astype(np.float32)
        y = d["y"].astype(np.int64)
    train, _ = demo.demo_split_indices(0)
    return x[train], y[train]


def _run(split: Split, x: np.ndarray, y: np.ndarray, lam: float, loss: str,
         epochs: int, seed: int) -> tuple[float, ...]:
    settings = FinetuneSettings(lam=lam, loss=loss, k=5, epochs=epochs, lr=1e-3,
                                batch_size=64, freeze_head=False, noise_sigma=0.1, seed=seed)
    feed = Feed.pixels(Normalization((0.1307,), (0.3081,)), tuple(x.shape[1:]))
    done = fine_tune(split, feed, x, y, settings, device=torch.device("cpu"),
                     progress=NullProgress(), label=f"{loss} {lam}")
    return done.epoch_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    split = split_model(load_model(demo.demo_model_path()), "layer3")
    x, y = _data()
    variants = [("noise-only", 0.0, "bound"), ("cem hinge", 1.0, "hinge"),
                ("cem bound", 4.0, "bound")]
    _run(split, x[:256], y[:256], 1.0, "hinge", 2, 0)  # warm-up (first-call costs)
    times: dict[str, list[tuple[float, ...]]] = {name: [] for name, _, _ in variants}
    start = time.perf_counter()
    for r in range(args.repeats):
        order = variants if r % 2 == 0 else variants[::-1]
        for name, lam, loss in order:
            times[name].append(_run(split, x, y, lam, loss, args.epochs, r))
    print(f"demo CNN, {len(x)} images, batch 64, {args.epochs} epochs x {args.repeats} repeats, "
          f"{torch.get_num_threads()} torch threads, {time.perf_counter() - start:.0f} s in all")
    base_late = statistics.median(t for run in times["noise-only"] for t in run[1:])
    base_all = statistics.median(sum(run) for run in times["noise-only"])
    print(f"{'run':<12} {'epoch>=2 median (s)':>20} {'ratio':>7} {'run total median (s)':>21} "
          f"{'ratio':>7}")
    for name, _, _ in variants:
        late = statistics.median(t for run in times[name] for t in run[1:])
        total = statistics.median(sum(run) for run in times[name])
        print(f"{name:<12} {late:>20.4f} {late / base_late:>7.3f} {total:>21.3f} "
              f"{total / base_all:>7.3f}")


if __name__ == "__main__":
    main()
