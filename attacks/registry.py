"""The attack registry: name -> Attack class, and lookup with "did you mean" suggestions."""

from __future__ import annotations

import difflib
from typing import Any

from privaudit.attacks.base import Attack
from privaudit.attacks.decoder import DecoderAttack
from privaudit.attacks.gan import GanAttack
from privaudit.attacks.knn import KnnAttack
from privaudit.attacks.linear import LinearAttack
from privaudit.attacks.optimization import OptimizationAttack
from privaudit.errors import ConfigError

__all__ = ["ATTACKS", "get_attack"]

ATTACKS: dict[str, type[Attack[Any]]] = {
    c.name: c for c in (KnnAttack, LinearAttack, DecoderAttack, OptimizationAttack, GanAttack)
}


def get_attack(name: str) -> type[Attack[Any]]:
    """The Attack class registered under `name`.

    Raises:
        ConfigError: no attack has that name; the hint suggests close names.
    """
    try:
        return ATTACKS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ATTACKS), n=3)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ConfigError(
            f"unknown attack {name!r}",
            hint=f"{hint}available attacks: {', '.join(ATTACKS)}",
        ) from None
