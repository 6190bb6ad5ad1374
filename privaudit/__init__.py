"""privaudit: privacy audit for split deep-learning models.

The public Python API (see README, "Python API"): `assess`, `harden`, `sweep`, `load_report`
and `load_sweep`, the report types they return, and the error types they raise. Importing
this package stays free of torch: the API's modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from privaudit.errors import (
    AttackError,
    ConfigError,
    DataError,
    ModelError,
    PrivauditError,
    UnsupportedOpError,
)

__version__ = "0.1.0"

__all__ = [
    "AttackError",
    "AttackResult",
    "AuditReport",
    "BoundResult",
    "ConfigError",
    "DataError",
    "HardenResult",
    "ModelError",
    "PrivauditError",
    "SweepReport",
    "UnsupportedOpError",
    "__version__",
    "assess",
    "harden",
    "load_report",
    "load_sweep",
    "sweep",
]

_LAZY = {
    "assess": "privaudit.api",
    "harden": "privaudit.api",
    "load_report": "privaudit.api",
    "load_sweep": "privaudit.api",
    "sweep": "privaudit.api",
    "SweepReport": "privaudit.results",
    "AuditReport": "privaudit.results",
    "AttackResult": "privaudit.results",
    "BoundResult": "privaudit.results",
    "HardenResult": "privaudit.results",
}


def __getattr__(name: str) -> Any:
    """Load the API's functions and report types on first use (keeps the import light)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'privaudit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
