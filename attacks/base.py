"""The attack contract: Attack ABC, per-attack params, attack data and the run context."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, Self, TypeVar

import torch
from torch import Tensor

from privaudit.attacks.target import Capability, Target
from privaudit.config.choices import Budget
from privaudit.errors import ConfigError
from privaudit.progress import Progress

__all__ = [
    "Attack",
    "AttackData",
    "AttackParams",
    "Capability",
    "RunContext",
    "Target",
]


@dataclass(frozen=True)
class AttackParams:
    """Base for per-attack settings; subclasses add defaulted fields and validate them."""

    @classmethod
    def for_budget(cls, budget: Budget) -> Self:
        """Defaults for a compute budget; subclasses override to scale epochs/steps."""
        return cls()

    @classmethod
    def from_table(cls, budget: Budget, table: dict[str, Any], attack: str) -> Self:
        """Budget defaults overridden by a `[tool.privaudit.attacks.<name>]` table.

        Raises:
            ConfigError: a key is not a field of this params class.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - names)
        if unknown:
            raise ConfigError(
                f"unknown key attacks.{attack}.{unknown[0]}",
                hint=f"valid keys for '{attack}': {', '.join(sorted(names)) or '(none)'}",
            )
        base = cls.for_budget(budget)
        values = {f.name: getattr(base, f.name) for f in fields(cls)} | table
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON view of the resolved parameters."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_positive(attack: str, name: str, value: float, *, integer: bool = False) -> None:
    """Raise ConfigError in expected-vs-got wording unless `value` is a finite positive number."""
    kind = "int" if integer else "number"
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or not (value > 0 and math.isfinite(value)):
        raise ConfigError(
            f"{attack}.{name}: expected a positive {kind}, got {value!r}",
            hint=f"set attacks.{attack}.{name} to a positive {kind}",
        )


@dataclass(frozen=True)
class AttackData:
    """What the attacker holds. The private evaluation inputs are deliberately absent.

    Attributes:
        aux_x: (N_aux, *input_shape) the attacker's auxiliary inputs, measured (pixels in
            [0, 1]; tabular vectors and signals standardised).
        aux_z: (N_aux, *feature_shape) their *noisy* features (deployment sigma).
        target_z: (N_eval, *feature_shape) noisy features of the private inputs.
        aux_y: (N_aux,) int64 labels, or None.
        aux_clean: (N_aux, *feature_shape) clean features of `aux_x` (the attacker can
            query the encoder), computed once by the battery; None: attacks query them.
        nearest: (N_eval,) int64, the index of the auxiliary sample whose clean features lie
            nearest each row of `target_z` (the `nearest` reference's search, handed over by
            a caller that made it); None: the `knn` attack searches itself.
    """

    aux_x: Tensor
    aux_z: Tensor
    target_z: Tensor
    aux_y: Tensor | None = None
    aux_clean: Tensor | None = None
    nearest: Tensor | None = None


@dataclass(frozen=True)
class RunContext:
    """Execution settings handed to an attack by the battery."""

    device: torch.device
    seed: int  # already derived per attack by the battery
    progress: Progress
    mixed_precision: bool = False


P = TypeVar("P", bound=AttackParams)


class Attack(ABC, Generic[P]):
    """A model-inversion attack: from noisy features, reconstruct inputs.

    Generic over its params class, so `self.params` is typed in every attack.
    """

    name: ClassVar[str]
    params_type: ClassVar[type[AttackParams]]
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.QUERY})
    summary: ClassVar[str] = ""

    def __init__(self, params: P) -> None:
        self.params: P = params

    @abstractmethod
    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        """Return x_hat, shape (N_eval, *input_shape), measured (images: in [0, 1]), on the CPU."""
