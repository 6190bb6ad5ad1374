"""`privaudit sweep` on the demo: workers, Ray against local, memory per point, accuracy cost.

Usage: ``python benchmarks/sweep.py [--quick]``. The workload is the embedded demo, 3 cuts x
3 sigmas, the decoder at the smoke budget (``--quick``: 600 samples instead of 2,000). Every
sweep runs as the real command (``python -m privaudit sweep``, fresh shards), side by side in
one run, as these machines are shared and noisy:

- ``--jobs 2`` against ``--jobs 1`` (goal: at least 1.6x faster on 2 cores);
- the Ray executor on an already running local cluster (2 CPUs) against the local executor,
  both with 2 workers (goal: at most 1.15x the local time; the cluster's start is not timed);
- the peak memory (largest resident set of the driver and its workers) of 1, 3 and 9 points
  (goal: the 9-point sweep within 1.10x the 1-point one);
- per cut, the cost of all its accuracies (clean, and every sigma with an interval) against
  its feature extraction (goal: at most 1x), next to what `assess`'s way would cost.
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CUTS = "layer1,layer2,layer3"
SIGMAS = "0.05,0.1,0.2"


def goal(what: str, value: float, limit: float, unit: str = "", at_least: bool = False) -> str:
    """One goal line in the benchmarks' common format."""
    met = value >= limit if at_least else value <= limit
    sign = ">=" if at_least else "<="
    return (f"- goal {'met' if met else 'missed'}: {what} = {value:.3g}{unit} "
            f"(goal {sign} {limit:g}{unit})")


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
    child = subprocess.run([sys.executable, __file__, "--measure", "--", *args], cwd=ROOT,
                           capture_output=True, text=True)
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


def assess_way_seconds(cut: str, sigmas: list[float], limit: int | None) -> tuple[float, float]:
    """What `assess`'s accuracies would cost at `cut`: clean, and 3 draws over all samples per
    sigma (`privaudit.audit.utility`), against the features' extraction; 2 threads."""
    from privaudit.audit import extract_features, prepare
    from privaudit.audit.utility import accuracy, noisy_accuracy
    from privaudit.config import load_config
    from privaudit.model import make_session

    cfg = load_config(None, {"split": cut, "noise": 0.1, "limit": limit}, search=False)
    prep = prepare(cfg)
    audit = prep.audit
    encoder, head = make_session(prep.split.encoder), make_session(prep.split.head)
    start = time.perf_counter()
    feats = extract_features(audit, prep.norm, encoder, cfg.batch_size)
    extraction = time.perf_counter() - start
    y = np.concatenate([audit.aux.y, audit.eval.y])
    start = time.perf_counter()
    accuracy(head, feats.all, y, feats.shape)
    for s in sigmas:
        noisy_accuracy(head, feats.all, y, s, cfg.seed, feats.shape)
    return time.perf_counter() - start, extraction


def accuracy_lines(doc: dict[str, object], limit: int | None) -> list[str]:
    """Per cut: its accuracies' cost against its extraction, from the sweep's own timings."""
    cuts, timings = doc["cuts"], doc["provenance"]["timings"]  # type: ignore[index]
    clean_share = float(timings["clean_accuracy"]) / len(cuts)  # type: ignore[arg-type]
    sigmas = [float(s) for s in SIGMAS.split(",")]
    lines, worst = [], 0.0
    for cut in cuts:  # type: ignore[union-attr]
        seconds = cut["seconds"]
        cost = float(seconds.get("accuracy", 0.0)) + clean_share
        ratio = cost / float(seconds["features"])
        worst = max(worst, ratio)
        old, extraction = assess_way_seconds(cut["name"], sigmas, limit)
        lines.append(f"  {cut['name']}: accuracies {cost:.3f} s (server predictions "
                     f"{float(seconds.get('accuracy', 0.0)):.3f} s + clean share "
                     f"{clean_share:.3f} s) vs features {float(seconds['features']):.3f} s = "
                     f"{ratio:.2f}x; assess's way (1 + 3 x {len(sigmas)} head passes over all "
                     f"samples) {old:.3f} s vs its extraction {extraction:.3f} s = "
                     f"{old / extraction:.2f}x")
    return [*lines, goal("accuracies of a cut / its feature extraction (worst cut)", worst, 1.0,
                         "x")]


def ray_wall(base: Path, limit: int | None) -> float | None:
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
            args = sweep_args(base / "ray", limit, CUTS, SIGMAS, "--jobs", "2", "--executor",
                              "ray", "--ray-address", address)  # fmt: skip
            return run_measured(args)[0]
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 samples instead of 2,000")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.measure:
        measure_child(opts.command)
        return
    limit = 600 if opts.quick else None
    print(f"privaudit sweep on the demo: {CUTS} x sigmas {SIGMAS}, decoder (smoke), "
          f"{limit or 2000} samples, {len(os.sched_getaffinity(0))} cores")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        base = Path(tmp)
        one, _, _ = run_measured(sweep_args(base / "j1", limit, CUTS, SIGMAS, "--jobs", "1"))
        two, peak9, doc = run_measured(sweep_args(base / "j2", limit, CUTS, SIGMAS, "--jobs", "2"))
        ray = ray_wall(base, limit)
        _, peak1, _ = run_measured(sweep_args(base / "m1", limit, "layer1", "0.1", "--jobs", "2"))
        _, peak3, _ = run_measured(sweep_args(base / "m3", limit, CUTS, "0.1", "--jobs", "2"))
        print(f"wall: --jobs 1 {one:.1f} s, --jobs 2 {two:.1f} s"
              + ("" if ray is None else f", ray (2 workers) {ray:.1f} s"))
        print(goal("--jobs 2 speed-up over --jobs 1", one / two, 1.6, "x", at_least=True))
        if ray is None:
            print("- goal skipped: ray / local time (Ray is not installed: "
                  "pip install 'privaudit[ray]')")
        else:
            print(goal("ray / local time, 2 workers each", ray / two, 1.15, "x"))
        print(f"peak memory (driver and workers): 1 point {peak1:.0f} MiB, 3 points "
              f"{peak3:.0f} MiB, 9 points {peak9:.0f} MiB")
        print(goal("peak memory of 9 points / 1 point", peak9 / peak1, 1.10, "x"))
        print("accuracy cost per cut (timings from sweep.json; assess's way timed here):")
        for line in accuracy_lines(doc, limit):
            print(line)


if __name__ == "__main__":
    main()
