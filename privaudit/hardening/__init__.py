"""Hardening (`privaudit harden`): fine-tune with CEM plus noise, write the model, re-audit.

`run_harden` composes the run (audit before, fine-tunes with their noise-only baselines and
lambda grid, write, audit after); `finetune` is the training loop through the ONNX-to-torch
interpreter; `cem_loss` the CEM losses (docs/method.md §5); `frontier` aggregates the
variants and compares CEM with the noise-only frontier at matched accuracy.
"""

from privaudit.hardening.cem_loss import (
    ClusterTable,
    bound_loss,
    cem_loss,
    fit_clusters,
    hinge_loss,
)
from privaudit.hardening.finetune import Finetuned, FinetuneSettings, fine_tune
from privaudit.hardening.frontier import NO_LOSS, against_frontier, choose, frontier_mse, variant_of
from privaudit.hardening.run import (
    GRIDS,
    HardenRun,
    Trained,
    feature_stats,
    hold_out,
    run_harden,
    train_variant,
)

__all__ = [
    "GRIDS",
    "NO_LOSS",
    "ClusterTable",
    "FinetuneSettings",
    "Finetuned",
    "HardenRun",
    "Trained",
    "bound_loss",
    "cem_loss",
    "feature_stats",
    "choose",
    "against_frontier",
    "fine_tune",
    "fit_clusters",
    "frontier_mse",
    "hinge_loss",
    "hold_out",
    "run_harden",
    "train_variant",
    "variant_of",
]
