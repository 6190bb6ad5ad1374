"""Does CEM work? Measured on the demo CNN (cut at layer3, sigma 0.1), several fine-tune seeds.

    python -m benchmarks.harden_demo [--seeds 3] [--epochs 10] [--budget standard] [--quick]

Every configuration is fine-tuned through `privaudit.hardening.train_variant` (the code
`privaudit harden` runs) on the demo's 1600 training images and audited with the decoder
attack and the leakage bound. The attacker's auxiliary set is the 1600 training images, the
private evaluation set the 400 held-out test images; the noisy accuracy reported here is on
those 400 test images (mean of 10 noise draws). Printed:

- one row per configuration (the untouched original; noise-only at sigma x 1, 1.5, 2, 3 =
  the frontier; CEM forms and lambdas), mean ± std over the seeds;
- per CEM configuration: the decoder-MSE gain over noise-only at equal sigma (paired by
  seed), the accuracy difference, the leakage change, and the gain over the noise-only
  frontier at CEM's accuracy (linear interpolation; nothing extrapolated).

Goal (the default, CEM bound lambda 4): at least +15 % decoder MSE over noise-only at equal
sigma, for at most 1.5 points of noisy test accuracy.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from benchmarks.common import Goal, Result, Table, interpolate, main_of, mean_std, plural
from privaudit import demo
from privaudit.audit import Timer, measure_prepared, prepare
from privaudit.config import AttacksConfig, Config, HardenConfig
from privaudit.data import AuditPartition, Dataset
from privaudit.hardening import (
    DEFENCES,
    HardenRun,
    Trained,
    feature_stats,
    train_variant,
    variant_of,
)
from privaudit.model import make_session, run_batched, split_model
from privaudit.progress import NullProgress
from privaudit.results import Status, Variant

TITLE = "CEM vs noise-only fine-tuning and the noise-only frontier, demo CNN"
SIGMA = 0.1
GOAL_GAIN, GOAL_DROP = 15.0, 1.5  # percent decoder MSE, accuracy points
DEFAULT = HardenConfig()
FULL: dict[str, Any] = {"seeds": 3, "epochs": 10, "budget": "standard", "share": 1.0}
QUICK: dict[str, Any] = {"seeds": 1, "epochs": 2, "budget": "smoke", "share": 0.1}

Row = tuple[Trained, dict[str, list[float]]]


def parser() -> argparse.ArgumentParser:
    """The options (sizes, configurations) of this benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=FULL["seeds"])
    ap.add_argument("--epochs", type=int, default=FULL["epochs"])
    ap.add_argument("--cem", default="hinge:1,hinge:2,bound:4,bound:8", help="form:lambda,...")
    ap.add_argument("--scales", default="1,1.5,2,3", help="noise-only sigma scales")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", default=FULL["budget"], help="decoder attack budget")
    ap.add_argument("--share", type=float, default=FULL["share"],
                    help="share of the demo's train and test images, per class")
    return ap


def per_class_head(ds: Dataset, index: np.ndarray, share: float) -> np.ndarray:
    """The first `share` of each class's members of `index` (all of them for share 1)."""
    if share >= 1:
        return index
    assert ds.y is not None
    labels = ds.y[index]
    keep = [index[labels == c][: max(2, round(share * np.sum(labels == c)))]
            for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def harden_run(args: argparse.Namespace) -> HardenRun:
    """What `harden` shares between fine-tunes, with the demo's train/test split as the audit."""
    cfg = Config(
        noise=SIGMA, device="cpu",
        attacks=AttacksConfig(enabled=("decoder",), budget=args.budget),
        harden=HardenConfig(epochs=args.epochs, seeds=args.seeds),
    )
    return demo_split_run(cfg, args.share)


def demo_split_run(cfg: Config, share: float) -> HardenRun:
    """`cfg`'s HardenRun on the demo's data, split as the demo model was trained.

    The first `share` of each class of the demo's training images is the fine-tuning data
    and the attacker's auxiliary set; of its test images, the private evaluation set.
    """
    prep = prepare(cfg)
    ds = prep.dataset
    train, test = (per_class_head(ds, i, share) for i in demo.demo_split_indices(0))
    audit = AuditPartition(aux=ds.subset(train, "demo train"), eval=ds.subset(test, "demo test"))
    # NOTE: the defender fine-tunes on the training images only; the test images stay private.
    return HardenRun(cfg, replace(prep, dataset=audit.aux, audit=audit), NullProgress(),
                     "bench", audit.aux)


def test_accuracy(run: HardenRun, model: Any, sigma: float, draws: int = 10) -> float:
    """The head's accuracy on the test images' noisy features (mean of `draws` noise draws)."""
    split = split_model(model, run.prep.split_name)
    assert split.head is not None
    enc, head = make_session(split.encoder), make_session(split.head)
    x, y = run.prep.audit.eval.x, run.prep.audit.eval.y
    z = run_batched(enc, run.prep.feed.apply(x), 256)
    rng = np.random.default_rng(123)
    accs = []
    for _ in range(draws):
        noisy = (z + sigma * rng.standard_normal(z.shape)).astype(np.float32)
        accs.append(np.mean(run_batched(head, noisy, 256).argmax(1) == y))
    return float(np.mean(accs))


def original(run: HardenRun) -> Trained:
    """The untouched model, audited like the variants (one measurement, no fine-tune)."""
    report, feats = measure_prepared(run.variant_cfg, run.prep, NullProgress(), Timer(), "bench")
    stats = [feature_stats(feats, run.prep)]
    variant = variant_of("original", 0.0, "none", SIGMA, [report], stats)
    assert run.prep.model is not None
    return Trained(variant, (run.prep.model,), ((),), (report,))


def per_seed(run: HardenRun, t: Trained) -> dict[str, list[float]]:
    """Test accuracy, decoder MSE and leakage of each seed's model."""
    mses = [next(a.mse for a in r.attacks if a.attack == "decoder" and a.status is Status.OK)
            for r in t.reports]
    assert None not in mses, "the decoder attack did not run"
    return {
        "acc": [test_accuracy(run, m, t.variant.noise_sigma) for m in t.models],
        "mse": [float(m or 0) for m in mses],
        "leak": [float(r.bound.leakage_bits_per_dim or 0) for r in t.reports if r.bound],
    }


def label(v: Variant) -> str:
    """The README's name of a configuration, the default CEM in bold."""
    if v.label == "original":
        return "original (no fine-tune)"
    if v.lam == 0:
        return f"noise-only, sigma {v.noise_sigma:g}"
    name = f"CEM {v.loss}, lambda {v.lam:g}"
    return f"**{name}** (default)" if (v.loss, v.lam) == (DEFAULT.loss, DEFAULT.lam) else name


def models_table(rows: list[Row], seeds: int) -> Table:
    """One row per configuration: test accuracy, decoder MSE, leakage, feature spread."""
    cells = tuple(
        (label(t.variant), mean_std(s["acc"], 100, ".2f"), mean_std(s["mse"]),
         mean_std(s["leak"]), f"{t.variant.feature_std:.3f}",
         f"{t.variant.within_class_share or float('nan'):.2f}")
        for t, s in rows
    )
    header = ("model", "noisy test accuracy %", "decoder MSE", "leakage (bits/dim)",
              "feature std", "within-class share")
    return Table(f"each configuration, mean ± std over {plural(seeds, 'fine-tune seed')}",
                 header, cells)


def comparison(base: dict[str, list[float]], frontier: list[Variant], s: dict[str, list[float]]
               ) -> tuple[list[float], list[float], list[float], float | None]:
    """Per seed MSE gain (%), accuracy change (points), leakage change (%); frontier gain (%)."""
    gains = [100 * (c / b - 1) for c, b in zip(s["mse"], base["mse"], strict=True)]
    dacc = [100 * (c - b) for c, b in zip(s["acc"], base["acc"], strict=True)]
    dleak = [100 * (c / b - 1) for c, b in zip(s["leak"], base["leak"], strict=True)]
    at = interpolate([(v.noisy_accuracy, v.decoder_mse) for v in frontier
                      if v.decoder_mse is not None], statistics.fmean(s["acc"]))
    vs = None if at is None else 100 * (statistics.fmean(s["mse"]) / at - 1)
    return gains, dacc, dleak, vs


def run(args: argparse.Namespace) -> Result:
    """Fine-tune and audit every configuration; the tables and the default CEM's goals."""
    torch.set_num_threads(args.threads)
    hrun = harden_run(args)
    first = original(hrun)
    rows: list[Row] = [(first, per_seed(hrun, first))]
    for scale in (float(s) for s in args.scales.split(",")):
        t = train_variant(hrun, f"noise-only x{scale:.1f}", None, 0.0, 0.0, SIGMA * scale)
        rows.append((t, per_seed(hrun, t)))
    for spec in args.cem.split(","):
        form, lam = spec.split(":")
        h = replace(hrun.cfg.harden, loss=form)
        t = train_variant(replace(hrun, cfg=replace(hrun.cfg, harden=h)), f"cem {form} {lam}",
                          DEFENCES["cem"], float(lam), 0.0, SIGMA)
        rows.append((t, per_seed(hrun, t)))
    base = next(s for t, s in rows if t.variant.lam == 0 and t.variant.noise_sigma == SIGMA
                and t.variant.label != "original")
    frontier = [replace(t.variant, noisy_accuracy=statistics.fmean(s["acc"]),
                        decoder_mse=statistics.fmean(s["mse"]))
                for t, s in rows if t.variant.label.startswith("noise-only")]
    compared, goals = [], []
    for t, s in rows:
        if t.variant.lam == 0:
            continue
        gains, dacc, dleak, vs = comparison(base, frontier, s)
        compared.append((label(t.variant), f"{mean_std(gains, 1, '+.1f')} %",
                         mean_std(dacc, 1, "+.2f"), f"{mean_std(dleak, 1, '+.1f')} %",
                         "outside its accuracy range" if vs is None else f"{vs:+.1f} %"))
        if (t.variant.loss, t.variant.lam) == (DEFAULT.loss, DEFAULT.lam):
            name = f"CEM {DEFAULT.loss}, lambda {DEFAULT.lam:g}"
            goals = [Goal(f"{name}: decoder MSE gain over noise-only at equal sigma",
                          statistics.fmean(gains), ">=", GOAL_GAIN, " %", "+.1f"),
                     Goal(f"{name}: noisy test accuracy change vs noise-only",
                          statistics.fmean(dacc), ">=", -GOAL_DROP, "", "+.2f")]
    versus = Table(
        "CEM vs noise-only at equal sigma (paired by seed) and vs the noise-only frontier",
        ("CEM configuration", "decoder MSE vs noise-only", "accuracy (points)",
         "leakage vs noise-only", "decoder MSE vs the frontier at matched accuracy"),
        tuple(compared),
    )
    aux, test = len(hrun.prep.audit.aux), len(hrun.prep.audit.eval)
    settings = (f"demo CNN cut at layer3, sigma {SIGMA}, {plural(args.seeds, 'seed')}, "
                f"{plural(args.epochs, 'epoch')} on {aux} training images, decoder attack at "
                f"the {args.budget} budget inverting {test} test images, "
                f"{plural(torch.get_num_threads(), 'torch thread')}")
    return Result("harden_demo", TITLE, settings, (models_table(rows, args.seeds), versus),
                  tuple(goals), quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    """Run alone: parse, measure, print the Markdown."""
    return main_of(run, parser, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
