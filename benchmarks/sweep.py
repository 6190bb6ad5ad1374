"""`privaudit sweep` on the demo: workers, Ray against local, memory per point, accuracy cost.

    python -m benchmarks.sweep [--limit N] [--quick]

The workload is the embedded demo, 3 cuts x 3 sigmas, the decoder at the smoke budget
(``--quick``: 300 samples and one cut instead of 2,000 and three). Every
sweep runs as the real command (``python -m privaudit sweep``, fresh shards), side by side in
one run, as these machines are shared and noisy:

- ``--jobs 2`` against ``--jobs 1`` (goal: at least 1.6x faster on 2 cores), and beside them
  ``--jobs 1 --threads 1``, whose ratio to ``--jobs 1`` says how much two workers can gain
  over one that already has both cores' threads (printed as the ceiling);
- the Ray executor on an already running local cluster (2 CPUs) against the local executor,
  both with 2 workers (goal: at most 1.15x the local time; the cluster's start is not timed);
- the peak memory (largest resident set of the driver and its workers) of 1, 3 and 9 points
  (goal: the 9-point sweep within 1.10x the 1-point one);
- per cut, the cost of all its accuracies (the server's predictions at every sigma, which
  give each noisy accuracy with an interval, and the cut's share of the whole model's one
  clean pass) against its feature extraction, each timed in this process as the median of
  ``--repeats`` runs after a warm-up (goal: at most 1x); beside it, what `assess`'s way would
  cost, how much of the predictions is drawing and scaling the noise (the draw the label
  reference and the attacks see), and the same ratio from the sweep's own single timings,
  which a first call's start-up can swing either way.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Goal, Result, Table, main_of

ROOT = Path(__file__).resolve().parents[1]
TITLE = "`privaudit sweep`: workers, Ray vs local, memory per point, accuracy cost"
SIGMAS = "0.05,0.1,0.2"
FULL: dict[str, Any] = {"limit": 0, "cuts": "layer1,layer2,layer3", "repeats": 5}
QUICK: dict[str, Any] = {"limit": 300, "cuts": "layer3", "repeats": 1}


def sweep_args(out: Path, limit: int | None, cuts: str, sigmas: str, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "privaudit", "sweep", "--splits", cuts, "--noise", sigmas,
            "--attacks", "decoder", "--budget", "smoke", "--device", "cpu", "-q", "--fresh",
            "-o", str(out), *extra]
    return args + (["--limit", str(limit)] if limit else [])


def run_measured(args: list[str]) -> tuple[float, float, dict[str, object]]:
    """Run a sweep in a child that reports the largest resident set of it and its workers.

    Returns:
        Wall seconds, peak MiB, and the sweep.json.
    """
    out = Path(args[args.index("-o") + 1])
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-m", "benchmarks.sweep", "--measure", "--", *args],
                           cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"sweep failed ({child.returncode}):\n{child.stderr[-3000:]}")
    peak_mib = float(child.stdout.strip().splitlines()[-1]) / 1024
    return wall, peak_mib, json.loads((out / "sweep.json").read_text())


def measure_child(args: list[str]) -> None:
    """`--measure -- CMD`: run CMD, print its (and its children's) largest resident set, KiB."""
    code = subprocess.run(args, cwd=ROOT).returncode
    if code not in (0, 1):
        raise SystemExit(code)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


@dataclass(frozen=True)
class CutCost:
    """What a cut's accuracies cost, each part timed here (2 threads, median of repeats)."""

    extraction: float  # the features of every sample (aux and eval)
    predictions: float  # the sweep's way: `server_classes` at every sigma, eval samples
    noise: float  # of which: the eval noise drawn once and scaled per sigma, alone
    clean: float  # the whole model over every sample: the sweep's clean accuracy, once
    assess_way: float  # clean, and 3 draws over all samples per sigma (`audit.utility`)


def cut_cost(cut: str, sigmas: list[float], limit: int | None, repeats: int) -> CutCost:
    """`CutCost` at `cut`, each part the median of `repeats` runs after one warm-up run."""
    from privaudit.attacks import noise_stream
    from privaudit.audit import encode, extract_features, prepare
    from privaudit.audit.references import server_classes
    from privaudit.audit.utility import accuracy, noisy_accuracy
    from privaudit.config import load_config
    from privaudit.model import make_session
    from privaudit.noise import add_drawn_noise

    cfg = load_config(None, {"split": cut, "noise": 0.1, "limit": limit}, search=False)
    prep = prepare(cfg)
    audit = prep.audit
    assert prep.split.head is not None and prep.model is not None
    encoder, head = make_session(prep.split.encoder), make_session(prep.split.head)
    model = make_session(prep.model)
    y = np.concatenate([audit.aux.y, audit.eval.y])
    feats = extract_features(audit, prep.feed, encoder, cfg.batch_size)

    def assess_way() -> None:
        accuracy(head, feats.all, y, feats.shape)
        for s in sigmas:
            noisy_accuracy(head, feats.all, y, s, cfg.seed, feats.shape)

    def noise(rows: int = 256) -> None:  # NOTE: `server_classes`'s draw, without the head
        stream = noise_stream(cfg.seed, "eval")
        data = feats.evaluation.reshape(len(feats.evaluation), -1)
        for start in range(0, len(data), rows):
            block = data[start : start + rows]
            draw = stream.rows(start, start + len(block), block.shape[1])
            for s in sigmas:
                add_drawn_noise(block, s, draw)

    parts = {
        "extraction": lambda: extract_features(audit, prep.feed, encoder, cfg.batch_size),
        "predictions": lambda: server_classes(head, feats.evaluation, feats.shape, sigmas,
                                              cfg.seed),  # fmt: skip
        "noise": noise,
        "clean": lambda: encode(model, prep.feed, audit.aux.x, audit.eval.x,
                                batch=cfg.batch_size),  # fmt: skip
        "assess_way": assess_way,
    }
    return CutCost(**{k: median_seconds(f, repeats) for k, f in parts.items()})


def median_seconds(run: Any, repeats: int) -> float:
    """The median wall time of `repeats` calls of `run`, after one untimed call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def accuracy_rows(doc: dict[str, Any], limit: int | None,
                  repeats: int) -> tuple[list[tuple[str, ...]], float]:  # fmt: skip
    """Per cut, timed here: its accuracies' cost (the server's predictions at every sigma,
    and its share of the whole model's clean pass) against its extraction, beside what
    `assess`'s way would cost; the same ratio from the sweep's own timings (one run each);
    and the worst cut's ratio timed here."""
    cuts, timings = doc["cuts"], doc["provenance"]["timings"]
    sweep_clean = float(timings["clean_accuracy"]) / len(cuts)
    sigmas = [float(s) for s in SIGMAS.split(",")]
    rows: list[tuple[str, ...]] = []
    worst = 0.0
    for cut in cuts:
        seconds = cut["seconds"]
        in_sweep = (float(seconds.get("accuracy", 0.0)) + sweep_clean) / float(seconds["features"])
        here = cut_cost(cut["name"], sigmas, limit, repeats)
        clean = here.clean / len(cuts)
        ratio = (here.predictions + clean) / here.extraction
        worst = max(worst, ratio)
        rows.append((str(cut["name"]), f"{here.predictions:.3f}",
                     f"{here.noise / here.predictions:.0%}", f"{clean:.3f}",
                     f"{here.extraction:.3f}", f"{ratio:.2f}", f"{here.assess_way:.3f}",
                     f"{here.assess_way / here.extraction:.2f}", f"{in_sweep:.2f}"))
    return rows, worst


def ray_wall(base: Path, limit: int | None, cuts: str) -> float | None:
    """The sweep with the Ray executor (2 workers) on a running local cluster, or None."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from ray_cluster import local_ray_cluster

    temp = Path(tempfile.mkdtemp(prefix="pa-ray-"))
    try:
        with local_ray_cluster(temp, cpus=2) as address:
            args = sweep_args(base / "ray", limit, cuts, SIGMAS, "--jobs", "2", "--executor",
                              "ray", "--ray-address", address)  # fmt: skip
            return run_measured(args)[0]
    finally:
        shutil.rmtree(temp, ignore_errors=True)



def parser() -> argparse.ArgumentParser:
    """The options (sizes) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=FULL["limit"], help="samples (0: all 2,000)")
    ap.add_argument("--cuts", default=FULL["cuts"], help="comma-separated cuts of the demo")
    ap.add_argument("--repeats", type=int, default=FULL["repeats"],
                    help="runs of each part timed here (their median)")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    return ap


def run(args: argparse.Namespace) -> Result:
    """The sweeps side by side, their peak memory, and the accuracies' cost per cut."""
    limit, cuts = args.limit or None, args.cuts
    first = cuts.split(",")[0]
    n_cuts, n_sigmas = len(cuts.split(",")), len(SIGMAS.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        base = Path(tmp)
        one, _, _ = run_measured(sweep_args(base / "j1", limit, cuts, SIGMAS, "--jobs", "1"))
        # NOTE: one worker of one thread: how much a second thread gives one worker, which
        # bounds what a second worker can add on these cores
        single, _, _ = run_measured(sweep_args(base / "t1", limit, cuts, SIGMAS, "--jobs", "1",
                                               "--threads", "1"))  # fmt: skip
        two, peak_all, doc = run_measured(sweep_args(base / "j2", limit, cuts, SIGMAS, "--jobs",
                                                     "2"))  # fmt: skip
        ray = ray_wall(base, limit, cuts)
        _, peak1, _ = run_measured(sweep_args(base / "m1", limit, first, "0.1", "--jobs", "2"))
        _, peak_cuts, _ = run_measured(sweep_args(base / "m3", limit, cuts, "0.1", "--jobs", "2"))
        rows, worst = accuracy_rows(doc, limit, args.repeats)
    points = n_cuts * n_sigmas
    walls = Table(
        f"wall time of the sweep, {n_cuts} cut(s) x {n_sigmas} sigmas, decoder (smoke)",
        ("executor", "workers", "seconds", "vs --jobs 2"),
        (("local, 1 thread", "1", f"{single:.1f}", f"{single / two:.2f}"),
         ("local", "1", f"{one:.1f}", f"{one / two:.2f}"),
         ("local", "2", f"{two:.1f}", "1.00"),
         ("ray (local cluster)", "2", "n/a" if ray is None else f"{ray:.1f}",
          "n/a" if ray is None else f"{ray / two:.2f}")),
    )
    memory = Table(
        "peak memory (driver and workers) by points",
        ("points", "peak MiB", "vs 1 point"),
        (("1", f"{peak1:.0f}", "1.00"), (str(n_cuts), f"{peak_cuts:.0f}",
                                         f"{peak_cuts / peak1:.2f}"),
         (str(points), f"{peak_all:.0f}", f"{peak_all / peak1:.2f}")),
    )
    cost = Table(
        f"accuracy cost per cut (timed here, median of {args.repeats} after a warm-up; the "
        "sweep's own single timings in the last column)",
        ("cut", "predictions (s)", "of which noise", "clean share (s)", "extraction (s)",
         "ratio", "assess's way (s)", "ratio", "ratio in the sweep"),
        tuple(rows),
    )
    goals = (
        Goal("--jobs 2 speed-up over --jobs 1", one / two, ">=", 1.6, " x"),
        Goal("ray / local time, 2 workers each", float("nan") if ray is None else ray / two,
             "<=", 1.15, " x"),
        Goal("peak memory of the whole sweep / 1 point", peak_all / peak1, "<=", 1.10, " x"),
        Goal("accuracies of a cut / its feature extraction (worst cut)", worst, "<=", 1.0,
             " x"),
    )
    cores = len(os.sched_getaffinity(0))
    notes: tuple[str, ...] = (
        f"The ceiling of --jobs 2 here: one worker ran {single / one:.2f}x as fast with "
        f"{cores} threads as with 1 ({one:.1f} s against {single:.1f} s), so "
        f"two 1-thread workers can gain at most 2 / {single / one:.2f} = "
        f"{2 * one / single:.2f}x over --jobs 1, with no start-up and no idle worker at the end.",
    )
    if ray is None:
        notes += ("Ray is not installed (pip install 'privaudit[ray]'): its goal is missed.",)
    settings = (f"the demo, cuts {cuts} x sigmas {SIGMAS}, decoder at the smoke budget, "
                f"{limit or 2000} samples, {cores} cores; every sweep "
                "is the real command with fresh shards")
    return Result("sweep", TITLE, settings, (walls, memory, cost), goals, notes,
                  quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown (or, inside, measure a child)."""
    opts = parser().parse_known_args(argv)[0]
    if opts.measure:
        measure_child(opts.command)
        return 0
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
