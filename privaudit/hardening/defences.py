"""The defences `harden` can train, one registry: what each adds to the task loss.

Every defence fine-tunes the encoder (and the head) on the task loss at the deployment's
noise; each adds its own terms:

- `cem`: + lambda * the CEM loss (method.md §5, form `harden.loss`).
- `adversarial`: - mu * the reconstruction loss of a decoder trained alongside (adversary).
- `noise-allocation`: learned per-channel noise stds at the same total noise power, + lambda
  * the leakage bound (L) with those stds (allocation; always the bound form).
- `cem+adversarial`: both CEM and adversarial terms.

`--max-accuracy-drop` searches each defence's `grid` parameter (lambda or mu) and keeps the
most private model within the budget, across all defences.
"""

from __future__ import annotations

from dataclasses import dataclass

from privaudit.config import CemLoss, Defence

__all__ = ["DEFENCES", "MU_GRID", "DefenceSpec", "lam_grid"]


@dataclass(frozen=True)
class DefenceSpec:
    """What one defence trains with.

    Attributes:
        name: the `harden.defence` value.
        summary: one line for reports and --help.
        cem: adds lambda * the CEM loss (needs cells: off in the first epoch).
        adversarial: subtracts mu * an adversary decoder's loss.
        allocation: learns per-channel noise stds (written into the model's metadata).
        grid: the parameter `--max-accuracy-drop` searches: "lam" or "mu".
    """

    name: str
    summary: str
    cem: bool
    adversarial: bool
    allocation: bool
    grid: str


DEFENCES: dict[str, DefenceSpec] = {
    d.name: d
    for d in (
        DefenceSpec(Defence.CEM.value, "conditional entropy maximization (lambda * CEM loss)",
                    cem=True, adversarial=False, allocation=False, grid="lam"),
        DefenceSpec(Defence.ADVERSARIAL.value, "against a decoder trained alongside (mu)",
                    cem=False, adversarial=True, allocation=False, grid="mu"),
        DefenceSpec(Defence.NOISE_ALLOCATION.value,
                    "learned per-channel noise stds at equal noise power (lambda * bound)",
                    cem=True, adversarial=False, allocation=True, grid="lam"),
        DefenceSpec(Defence.CEM_ADVERSARIAL.value, "CEM and adversarial together",
                    cem=True, adversarial=True, allocation=False, grid="lam"),
    )
}

# NOTE: lambda grids per loss form for --max-accuracy-drop (method.md §5: the forms need
# different ranges). Bound form on the demo (sigma 0.1, 10 epochs, k 5): lambda 4 costs about
# 1 point of noisy accuracy, 16 about 3, 32 about 7 (benchmarks/defences.py); the hinge form
# spans a similar range at 0.25-2.
_LAM_GRIDS = {CemLoss.BOUND.value: (2.0, 4.0, 8.0, 16.0),
              CemLoss.HINGE.value: (0.25, 0.5, 1.0, 2.0)}
MU_GRID = (0.25, 0.5, 1.0, 2.0)


def lam_grid(loss: str) -> tuple[float, ...]:
    """The lambda grid of a CEM loss form."""
    return _LAM_GRIDS[loss]
