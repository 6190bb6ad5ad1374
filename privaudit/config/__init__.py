"""Settings of a run: the frozen Config, its layered loading and the project's vocabularies.

Defaults < `[tool.privaudit]` in the nearest pyproject.toml < command-line flags (or the
Python API's keyword arguments). Unknown keys and wrong types are errors, never ignored.
"""

from privaudit.config.choices import (
    ATTACK_NAMES,
    DOMAIN_BY_RANK,
    AttackName,
    Budget,
    CemLoss,
    Covariance,
    Defence,
    Device,
    Domain,
    EntropySource,
    EntropySpec,
    EntropyUnit,
    Executor,
    NoiseSource,
    ReportFormat,
    values,
)
from privaudit.config.load import find_pyproject, load_config
from privaudit.config.settings import (
    ATTACK_RULES,
    AUTO_SPLITS,
    PATH_KEYS,
    AttacksConfig,
    BoundConfig,
    Config,
    GateConfig,
    HardenConfig,
    SweepConfig,
    as_dict,
    check_positive,
    check_share,
    choice,
)

__all__ = [
    "ATTACK_NAMES",
    "ATTACK_RULES",
    "DOMAIN_BY_RANK",
    "AUTO_SPLITS",
    "PATH_KEYS",
    "AttackName",
    "AttacksConfig",
    "BoundConfig",
    "Budget",
    "CemLoss",
    "Config",
    "Covariance",
    "Defence",
    "Device",
    "Domain",
    "EntropySource",
    "EntropySpec",
    "EntropyUnit",
    "Executor",
    "GateConfig",
    "HardenConfig",
    "NoiseSource",
    "ReportFormat",
    "SweepConfig",
    "as_dict",
    "check_positive",
    "check_share",
    "choice",
    "find_pyproject",
    "load_config",
    "values",
]
