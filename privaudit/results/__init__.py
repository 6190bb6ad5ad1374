"""What a run found: frozen result dataclasses, their versioned JSON form, and reading it back.

`AuditReport` is the canonical report (`to_dict`, `to_json`, `to_dataframe`, and an HTML view
in notebooks); `read_report` loads a saved `report.json`, refusing anything else.
"""

from privaudit.results.read import read_report
from privaudit.results.schema import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    AttackResult,
    AuditReport,
    BoundResult,
    Comparison,
    DataInfo,
    EpochStats,
    GateResult,
    HardenResult,
    Interval,
    MixtureTerm,
    ModelInfo,
    Provenance,
    Status,
    SweepPoint,
    Utility,
    Variant,
    Violation,
    from_dict,
    register_html_view,
    to_dict,
)
from privaudit.results.serialize import dumps, from_jsonable, to_jsonable
from privaudit.results.table import ATTACK_COLUMNS, attack_table, model_table

__all__ = [
    "ATTACK_COLUMNS",
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "AttackResult",
    "AuditReport",
    "BoundResult",
    "Comparison",
    "DataInfo",
    "EpochStats",
    "GateResult",
    "HardenResult",
    "Interval",
    "MixtureTerm",
    "ModelInfo",
    "Provenance",
    "Status",
    "SweepPoint",
    "Utility",
    "Variant",
    "Violation",
    "attack_table",
    "dumps",
    "from_dict",
    "from_jsonable",
    "model_table",
    "read_report",
    "register_html_view",
    "to_dict",
    "to_jsonable",
]
