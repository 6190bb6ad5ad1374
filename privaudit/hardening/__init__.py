"""Hardening (`privaudit harden`): fine-tune against a defence, write the model, re-audit.

`run_harden` composes the run (audit before; the defences with their noise-only baselines
and grids; write the winner; audit after); `defences` is the registry of what can be
trained; `finetune` the training loop through the ONNX-to-torch interpreter; `cem_loss` the
CEM losses (docs/method.md §5); `adversary` the adversarial defence's decoder; `allocation`
the learned per-channel noise; `frontier` aggregates the variants and compares each defence
with noise-only at equal sigma and at matched accuracy.
"""

from privaudit.hardening.cem_loss import (
    ClusterTable,
    bound_loss,
    cem_loss,
    fit_clusters,
    hinge_loss,
)
from privaudit.hardening.defences import DEFENCES, MU_GRID, DefenceSpec, lam_grid
from privaudit.hardening.finetune import Finetuned, FinetuneSettings, fine_tune
from privaudit.hardening.frontier import (
    MATCH_POINTS,
    NO_LOSS,
    NOISE_ONLY,
    choose,
    closest,
    compare,
    sigma_for_accuracy,
    variant_of,
    winner,
    within_budget,
    written_accuracy,
)
from privaudit.hardening.run import (
    MATCH_TRIES,
    HardenRun,
    Trained,
    feature_stats,
    hold_out,
    run_harden,
    train_variant,
)

__all__ = [
    "DEFENCES",
    "MATCH_POINTS",
    "MATCH_TRIES",
    "MU_GRID",
    "NOISE_ONLY",
    "NO_LOSS",
    "ClusterTable",
    "DefenceSpec",
    "FinetuneSettings",
    "Finetuned",
    "HardenRun",
    "Trained",
    "bound_loss",
    "cem_loss",
    "choose",
    "closest",
    "compare",
    "feature_stats",
    "fine_tune",
    "fit_clusters",
    "hinge_loss",
    "hold_out",
    "lam_grid",
    "run_harden",
    "sigma_for_accuracy",
    "train_variant",
    "variant_of",
    "winner",
    "within_budget",
    "written_accuracy",
]
