"""Bound cost vs feature extraction on the demo encoder (goals: the bound adds <= 20 %, memory ~ m).

    python -m benchmarks.bound [--n 10000] [--repeats 3] [--quick]

Times feature extraction (onnxruntime) and the bound as `assess` computes it, side by side in
one run (best of the repeats), with their ratio; then where the bound's time goes (each stage
alone), and the bound's peak memory for growing feature sizes m (it must grow like m, not m^2).
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from benchmarks.common import Goal, Result, Table, best_of, main_of
from privaudit import bound, demo
from privaudit.bound import clustering, entropy, moments, resample
from privaudit.data import Normalization
from privaudit.model import load_model, make_session, run_batched, split_model

TITLE = "bound cost vs feature extraction, demo encoder"
GOAL_ADDED = 20.0  # percent of the feature extraction's time
GOAL_GROWTH = 4.0  # peak memory growth when m grows 4x: linear in m at most
SIZES = (392, 1568, 6272)
FULL: dict[str, Any] = {"n": 10_000, "repeats": 3}
QUICK: dict[str, Any] = {"n": 1000, "repeats": 1}


def parser() -> argparse.ArgumentParser:
    """The options (sizes) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=FULL["n"], help="inputs (demo images, tiled)")
    ap.add_argument("--repeats", type=int, default=FULL["repeats"], help="best of N")
    return ap


def demo_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n demo images in [0, 1] (the 2000-image subset, tiled with 1-px shifts)."""
    d = np.load(demo.demo_data_path())
    x = d["x"].astype(np.float32)[:, None] / 255.0
    reps = -(-n // len(x))
    tiles = [np.roll(x, shift=(r % 3) - 1, axis=3) for r in range(reps)]
    return np.concatenate(tiles)[:n], np.tile(d["y"].astype(np.int64), reps)[:n]


def run(args: argparse.Namespace) -> Result:
    """Measure the bound against feature extraction, its stages and its memory."""
    split = split_model(load_model(demo.demo_model_path()), "layer3")
    session = make_session(split.encoder)
    norm = Normalization(mean=(0.1307,), std=(0.3081,))
    x, y = demo_inputs(args.n)
    t_feat, z = best_of(lambda: run_batched(session, norm.apply(x), 256), args.repeats)
    z = np.asarray(z).reshape(len(x), -1)
    h = entropy.input_entropy_gaussian(x.reshape(len(x), -1))

    def estimate(group_size: int = bound.DEFAULT_GROUP_SIZE, k: int = 5) -> Any:
        """The bound as assess runs it; group_size=1 is the per-row bootstrap (reference)."""
        return bound.estimate_bound(
            z, y, 0.1, input_dim=784, input_entropy=h, input_entropy_source="gaussian",
            bootstrap=200, seed=0, group_size=group_size, k=k,
        )

    t_bound, result = best_of(estimate, args.repeats)
    t_rows, _ = best_of(lambda: estimate(group_size=1), args.repeats)
    t_k1, loose = best_of(lambda: estimate(k=1), args.repeats)
    t_k2, middle = best_of(lambda: estimate(k=2), args.repeats)
    t_h, _ = best_of(lambda: entropy.input_entropy_gaussian(x.reshape(len(x), -1)), args.repeats)
    times = Table(
        f"time, {len(x):,} inputs, m = {z.shape[1]} features (best of {args.repeats})",
        ("what", "time (s)", "× extraction"),
        tuple((what, f"{t:.3f}", f"{t / t_feat:.3f}") for what, t in (
            ("feature extraction (onnxruntime)", t_feat),
            ("bound (diagonal mixture, bootstrap 200)", t_bound),
            ("bound with the per-row bootstrap (group size 1)", t_rows),
            ("bound with k = 1 (the class mixture alone, looser)", t_k1),
            ("bound with k = 2 (looser)", t_k2),
            ("input entropy h(x) (gaussian, d = 784)", t_h),
            ("bound + h(x)", t_bound + t_h),
        )),
    )
    blas = ", ".join(f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info()
                     if i["user_api"] == "blas")
    def num(x: float | None, fmt: str) -> str:
        return "n/a" if x is None else f"{x:{fmt}}"

    notes = (
        f"BLAS outside the bound: {blas}. Leakage {num(result.leakage_bits_per_dim, '.4f')} "
        f"bits/dim, floor {num(result.mse_floor, '.3g')}; I_up "
        f"{num(result.leakage_nats, '.1f')} nats at k = 5, {num(middle.leakage_nats, '.1f')} "
        f"at k = 2, {num(loose.leakage_nats, '.1f')} at k = 1.",
    )
    stages = breakdown(z, y, args.repeats, t_feat)
    memory, growth = memory_scaling(len(x))
    goals = (
        Goal("time the bound adds to the feature extraction", 100 * t_bound / t_feat, "<=",
             GOAL_ADDED, " %", "+.0f"),
        Goal("bound peak memory growth for 4x m", max(growth), "<=", GOAL_GROWTH, " x", ".2f"),
    )
    settings = (f"demo encoder cut at layer3, {len(x):,} inputs (the demo images tiled), sigma "
                f"0.1, best of {args.repeats}")
    return Result("bound", TITLE, settings, (times, stages, memory), goals, notes,
                  quick=args.quick)


def breakdown(z: np.ndarray, y: np.ndarray, repeats: int, t_feat: float) -> Table:
    """Where the bound's time goes: its three costly stages, timed alone (1 BLAS thread)."""
    data = moments.check_rows(z, what="features")
    stages = {}
    with threadpool_limits(limits=1, user_api="blas"):
        stages["k-means inside each class (k = 5)"], labels = best_of(
            lambda: clustering.cluster_labels(data, y, scheme="class-kmeans", k=5, seed=0),
            repeats,
        )
        fine = np.asarray(labels)
        stages["cluster and group moments"], groups = best_of(
            lambda: moments.group_stats(data, fine, group_size=bound.DEFAULT_GROUP_SIZE, seed=1),
            repeats,
        )

        def replicates() -> Any:
            weights = resample.resample_groups(groups, 200, seed=2)
            return resample.replicate_logdets(groups, weights, [0.1])

        stages["bootstrap, 200 grouped replicates"], _ = best_of(replicates, repeats)
    rows = tuple((name, f"{s * 1e3:.1f}", f"{s / t_feat:.3f}") for name, s in stages.items())
    return Table("where the bound's time goes (each stage alone, 1 BLAS thread)",
                 ("stage", "time (ms)", "× extraction"), rows)


def memory_scaling(n: int) -> tuple[Table, list[float]]:
    """Peak memory of the bound (tracemalloc) for feature sizes m, and its growth per 4x m."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), n // 10)
    rows, growth, previous = [], [], None
    for m in SIZES:
        z = rng.random((len(y), m), dtype=np.float32)
        tracemalloc.start()
        bound.estimate_bound(z, y, 0.1, input_dim=784, input_entropy=-2.0,
                             input_entropy_source="user", bootstrap=200, seed=0)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        if previous is not None:
            growth.append(peak / previous)
        rows.append((f"{m}", f"{z.nbytes / 2**20:.1f}", f"{peak:.1f}",
                     "–" if previous is None else f"{peak / previous:.2f}"))
        previous = peak
    table = Table(f"bound peak memory vs feature size m ({len(y):,} inputs, tracemalloc)",
                  ("m", "features (MiB)", "bound peak (MiB)", "growth for 4x m"), tuple(rows))
    return table, growth


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown."""
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
