"""Does CEM work? Measured on the demo CNN (cut at layer3, sigma 0.1), several fine-tune seeds.

Every configuration is fine-tuned through `privaudit.harden_pipeline.train_variant` (the code
`privaudit harden` runs) on the demo's 1600 training images and audited with the decoder
attack (standard budget) and the leakage bound. The attacker's auxiliary set is the 1600
training images, the private evaluation set the 400 held-out test images; the noisy
accuracy reported here is on those 400 test images (mean of 10 noise draws). Printed:

- one row per configuration (the untouched original; noise-only at sigma x 1, 1.5, 2, 3 =
  the frontier; CEM forms and lambdas), mean +- std over the seeds;
- per CEM configuration: the decoder-MSE gain over noise-only at equal sigma (paired by
  seed), the accuracy difference, the leakage change, and the gain over the noise-only
  frontier at CEM's accuracy (linear interpolation; nothing extrapolated).

    python -m benchmarks.harden_demo [--seeds 3] [--epochs 10] [--cem hinge:1,bound:4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

from privaudit import demo
from privaudit.audit import Timer, measure_prepared, prepare
from privaudit.config import AttacksConfig, Config, HardenConfig
from privaudit.data import AuditPartition
from privaudit.hardening import (
    HardenRun,
    Trained,
    feature_stats,
    frontier_mse,
    train_variant,
    variant_of,
)
from privaudit.model import make_session, run_batched, split_model
from privaudit.progress import NullProgress
from privaudit.results import Status

SIGMA = 0.1


def _run(seeds: int, epochs: int, budget: str) -> HardenRun:
    cfg = Config(
        noise=SIGMA, device="cpu", attacks=AttacksConfig(enabled=("decoder",), budget=budget),
        harden=HardenConfig(epochs=epochs, seeds=seeds),
    )
    prep = prepare(cfg)
    train, test = demo.demo_split_indices(0)
    ds = prep.dataset
    audit = AuditPartition(aux=ds.subset(train, "demo train"), eval=ds.subset(test, "demo test"))
    # NOTE: the defender fine-tunes on the training images only; the test images stay private.
    return HardenRun(cfg, replace(prep, dataset=audit.aux, audit=audit), NullProgress(), "bench")


def _test_accuracy(run: HardenRun, model: object, sigma: float, draws: int = 10) -> float:
    split = split_model(model, run.prep.split_name)  # type: ignore[arg-type]
    enc, head = make_session(split.encoder), make_session(split.head)
    x, y = run.prep.audit.eval.x, run.prep.audit.eval.y
    z = run_batched(enc, run.prep.norm.apply(x), 256)
    rng = np.random.default_rng(123)
    accs = []
    for _ in range(draws):
        noisy = (z + sigma * rng.standard_normal(z.shape)).astype(np.float32)
        accs.append(np.mean(run_batched(head, noisy, 256).argmax(1) == y))
    return float(np.mean(accs))


def _original(run: HardenRun) -> Trained:
    """The untouched model, audited like the variants (one measurement, no fine-tune)."""
    report, feats = measure_prepared(run.variant_cfg, run.prep, NullProgress(), Timer(), "bench")
    stats = [feature_stats(feats, run.prep)]
    variant = variant_of("original", 0.0, "none", SIGMA, [report], stats)
    assert run.prep.model is not None
    return Trained(variant, (run.prep.model,), ((),), (report,))


def _per_seed(run: HardenRun, t: Trained) -> dict[str, list[float]]:
    mses = [next(a.mse for a in r.attacks if a.attack == "decoder" and a.status is Status.OK)
            for r in t.reports]
    return {
        "acc": [_test_accuracy(run, m, t.variant.noise_sigma) for m in t.models],
        "mse": [float(m) for m in mses],
        "leak": [float(r.bound.leakage_bits_per_dim or 0) for r in t.reports if r.bound],
    }


def _ms(values: list[float], scale: float = 1.0, fmt: str = ".4f") -> str:
    mean = statistics.fmean(values) * scale
    std = (statistics.stdev(values) if len(values) > 1 else 0.0) * scale
    return f"{mean:{fmt}} +- {std:{fmt.lstrip('+')}}"


def _print_rows(rows: list[tuple[Trained, dict[str, list[float]]]]) -> None:
    print(f"\n{'configuration':<20} {'sigma':>5} {'test noisy acc %':>17} {'decoder MSE':>18} "
          f"{'leak bits/dim':>18} {'feat std':>8} {'within':>6}")
    for t, s in rows:
        v = t.variant
        print(f"{v.label:<20} {v.noise_sigma:>5.3g} {_ms(s['acc'], 100, '.2f'):>17} "
              f"{_ms(s['mse']):>18} {_ms(s['leak']):>18} {v.feature_std:>8.4f} "
              f"{v.within_class_share or float('nan'):>6.3f}")


def _frontier(rows: list[tuple[Trained, dict[str, list[float]]]]) -> list:
    return [replace(t.variant, noisy_accuracy=statistics.fmean(s["acc"]),
                    decoder_mse=statistics.fmean(s["mse"]))
            for t, s in rows if t.variant.label.startswith("noise-only")]


def _print_comparison(base: dict[str, list[float]], frontier: list, label: str,
                      s: dict[str, list[float]]) -> None:
    gains = [c / b - 1 for c, b in zip(s["mse"], base["mse"], strict=True)]
    dacc = [100 * (c - b) for c, b in zip(s["acc"], base["acc"], strict=True)]
    dleak = [c / b - 1 for c, b in zip(s["leak"], base["leak"], strict=True)]
    acc, mse = statistics.fmean(s["acc"]), statistics.fmean(s["mse"])
    at = frontier_mse(frontier, acc)
    vs = "outside the frontier's accuracy range" if at is None else f"{100 * (mse / at - 1):+.1f}%"
    print(f"{label:<20} MSE gain {_ms(gains, 100, '+.1f')} %   acc {_ms(dacc, 1, '+.2f')} pt   "
          f"leakage {_ms(dleak, 100, '+.1f')} %   vs frontier at matched acc: {vs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cem", default="hinge:1,hinge:2,bound:4,bound:8", help="form:lambda,...")
    parser.add_argument("--scales", default="1,1.5,2,3")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget", default="standard", help="decoder attack budget")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start, run = time.perf_counter(), _run(args.seeds, args.epochs, args.budget)
    original = _original(run)
    rows = [(original, _per_seed(run, original))]
    for scale in (float(s) for s in args.scales.split(",")):
        t = train_variant(run, f"noise-only x{scale:.1f}", 0.0, "none", SIGMA * scale)
        rows.append((t, _per_seed(run, t)))
    for spec in args.cem.split(","):
        form, lam = spec.split(":")
        t = train_variant(run, f"cem {form} {float(lam):g}", float(lam), form, SIGMA)
        rows.append((t, _per_seed(run, t)))
    print(f"demo CNN cut at layer3, sigma {SIGMA}, {args.seeds} seeds, {args.epochs} epochs, "
          f"train 1600 / test 400, decoder budget {args.budget}, "
          f"{time.perf_counter() - start:.0f} s")
    _print_rows(rows)
    base = next(s for t, s in rows if t.variant.label == "noise-only x1.0")
    print("\nCEM vs noise-only at equal sigma (paired by seed) and vs the frontier:")
    for t, s in rows:
        if t.variant.lam > 0:
            _print_comparison(base, _frontier(rows), t.variant.label, s)


if __name__ == "__main__":
    main()
