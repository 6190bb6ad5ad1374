"""What a run found: frozen result dataclasses, their versioned JSON form, and reading it back.

`AuditReport` is the canonical report (`to_dict`, `to_json`, `to_dataframe`, and an HTML view
in notebooks); `read_report` loads a saved `report.json`, refusing anything else.
"""

from privaudit.results.read import from_dict, read_report
from privaudit.results.schema import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    AttackResult,
    AuditReport,
    BoundResult,
    Comparison,
    DataInfo,
    Dfil,
    EpochStats,
    GateResult,
    HardenResult,
    Interval,
    MixtureTerm,
    ModelInfo,
    Provenance,
    Reference,
    Status,
    SweepPoint,
    Utility,
    Variant,
    Verdict,
    Violation,
    register_html_view,
    to_dict,
)
from privaudit.results.serialize import dumps, from_jsonable, to_jsonable
from privaudit.results.table import ATTACK_COLUMNS, attack_table, model_table
from privaudit.results.verdict import build_verdict, harden_verdict, regression, strongest_attack

__all__ = [
    "ATTACK_COLUMNS",
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "AttackResult",
    "AuditReport",
    "BoundResult",
    "Comparison",
    "DataInfo",
    "Dfil",
    "EpochStats",
    "GateResult",
    "HardenResult",
    "Interval",
    "MixtureTerm",
    "ModelInfo",
    "Provenance",
    "Reference",
    "Status",
    "SweepPoint",
    "Utility",
    "Variant",
    "Verdict",
    "Violation",
    "attack_table",
    "build_verdict",
    "dumps",
    "from_dict",
    "from_jsonable",
    "harden_verdict",
    "model_table",
    "read_report",
    "register_html_view",
    "regression",
    "strongest_attack",
    "to_dict",
    "to_jsonable",
]
