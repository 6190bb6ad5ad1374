"""The published JSON Schemas: current with the dataclasses, valid, and true of real reports."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from typer.testing import CliRunner

from privaudit.cli.app import app
from privaudit.results import to_dict
from privaudit.results.published import SCHEMA_KINDS, build_schema, schema_text, shipped_schema
from privaudit.results.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "reports" / "golden"
runner = CliRunner()


def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(shipped_schema(kind)))


def _kind(data: dict[str, Any]) -> str:
    return "sweep" if data.get("kind") == "sweep" else "report"


def _reporter_fixtures() -> ModuleType:
    """tests/reports/test_reports.py, for its report builders (harden, defences)."""
    # NOTE: test modules are not importable under --import-mode=importlib; load it by path.
    spec = importlib.util.spec_from_file_location(
        "report_fixtures", ROOT / "tests" / "reports" / "test_reports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
def test_shipped_schema_is_current(kind: str) -> None:
    assert shipped_schema(kind) == schema_text(kind), \
        "stale schema: run python scripts/make_schemas.py"


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
def test_schema_is_valid_draft_2020_12(kind: str) -> None:
    schema = build_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.name)
def test_every_golden_json_validates(golden: Path) -> None:
    data = json.loads(golden.read_text(encoding="utf-8"))
    _validator(_kind(data)).validate(data)


@pytest.mark.parametrize("builder", ["make_harden_report", "make_defences_report"])
def test_harden_reports_validate(builder: str) -> None:
    data = to_dict(getattr(_reporter_fixtures(), builder)())
    assert data["harden"]["after"]["schema_version"] == SCHEMA_VERSION
    _validator("report").validate(data)


def test_a_real_demo_report_validates(tmp_path: Path) -> None:
    result = runner.invoke(app, ["assess", "--attacks", "knn", "--budget", "smoke", "--limit",
                                 "300", "-q", "-o", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["attacks"] and data["bound"]
    _validator("report").validate(data)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(("path", "value"), [
    (("bound", "input_dim"), "64"),  # a string where an integer belongs
    (("attacks", 0, "status"), "done"),  # not one of the statuses
    (("schema_version",), 2),  # another schema
    (("model", "input_shape"), [1, 8.5, 8]),  # a float in a shape
    (("gate", "active"), "yes"),
    (("provenance", "timings", "attacks"), "slow"),  # timings are numbers
    (("model", "unknown_field"), 1),  # no field outside the schema
])  # fmt: skip
def test_wrong_types_fail_validation(path: tuple[Any, ...], value: Any) -> None:
    data = json.loads((GOLDEN / "report.json").read_text(encoding="utf-8"))
    _validator("report").validate(data)
    with pytest.raises(ValidationError):
        _validator("report").validate(_set(data, path, value))


def test_a_missing_required_field_fails_and_a_sweep_is_not_a_report() -> None:
    sweep = json.loads((GOLDEN / "sweep.json").read_text(encoding="utf-8"))
    with pytest.raises(ValidationError):
        _validator("report").validate(sweep)
    del sweep["points"][0]["cut"]
    with pytest.raises(ValidationError, match="'cut' is a required property"):
        _validator("sweep").validate(sweep)


def test_schema_command_prints_the_shipped_schema() -> None:
    for kind in SCHEMA_KINDS:
        args = ["schema"] if kind == "report" else ["schema", "--kind", kind]
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and result.stdout == shipped_schema(kind)
    bad = runner.invoke(app, ["schema", "--kind", "audit"])
    assert bad.exit_code == 2 and "unknown --kind 'audit'" in bad.stderr
    assert "choose from: report, sweep" in bad.stderr and "Traceback" not in bad.stderr
