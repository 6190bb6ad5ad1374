"""The attack battery: model-inversion attacks, their registry, and the one scoring rule.

Each attack is one module implementing `Attack` (`base`); `registry.ATTACKS` maps the names of
`privaudit.config.choices.AttackName` to them. `battery.run_battery` runs the chosen ones on
the same noisy features and scores them uniformly (`scoring`, `metrics`: MSE, PSNR, SSIM on
images; MSE and per-feature scores on standardised tabular vectors and signals). `target`
defines what an attacker holds: the `Target` (the encoder under attack) and its capabilities.
"""

from privaudit.attacks.base import Attack, AttackData, AttackParams, RunContext
from privaudit.attacks.battery import (
    as_images,
    check_params,
    noise_stream,
    noisy_features,
    run_battery,
    scoring_seed,
)
from privaudit.attacks.knn import nearest_neighbours
from privaudit.attacks.registry import ATTACKS, get_attack
from privaudit.attacks.scoring import Measure, Scorer
from privaudit.attacks.target import Capability, Target

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackData",
    "AttackParams",
    "Capability",
    "Measure",
    "RunContext",
    "Scorer",
    "Target",
    "as_images",
    "check_params",
    "get_attack",
    "nearest_neighbours",
    "noise_stream",
    "noisy_features",
    "run_battery",
    "scoring_seed",
]
