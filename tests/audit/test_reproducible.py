"""Issue 7: two CPU runs with the same seed give the same report, apart from clocks and timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from privaudit.cli.app import app

runner = CliRunner()
TIME_KEYS = frozenset({"created_at", "timings", "seconds"})  # wall clock, nothing else


def _without_time(value: Any) -> Any:
    """`value` with every clock reading and duration removed, at any depth."""
    if isinstance(value, dict):
        return {k: _without_time(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [_without_time(v) for v in value]
    return value


def _twice(args: list[str], out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `assess ARGS -o OUT` twice in this process (so global RNG state would show)."""
    reports = []
    for _ in range(2):
        result = runner.invoke(app, ["assess", *args, "-q", "-o", str(out)])
        assert result.exit_code == 0, result.stderr
        reports.append(json.loads((out / "report.json").read_text()))
    return reports[0], reports[1]


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in _differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {str(a)[:60]} != {str(b)[:60]}"]


def test_time_keys_are_the_only_ones_removed(tmp_path: Path) -> None:
    first, _ = _twice(["--attacks", "knn", "--limit", "200"], tmp_path)
    assert first["provenance"]["created_at"] and first["provenance"]["timings"]
    assert "sweep" not in first["provenance"]["timings"]  # no noise sweep, no "sweep (s) 0"
    kept = _without_time(first)
    assert kept["bound"] == first["bound"] and kept["data"] == first["data"]
    assert set(first["attacks"][0]) - set(kept["attacks"][0]) == {"seconds"}


def test_bound_sweep_and_knn_are_reproducible(tmp_path: Path) -> None:
    first, second = _twice(
        ["--attacks", "knn", "--limit", "300", "--noise-sweep", "0,0.05,0.2",
         "-f", "json"], tmp_path,
    )
    assert _differences(_without_time(first), _without_time(second)) == []
    assert "sweep" in first["provenance"]["timings"]
    assert first["attacks"][0]["attack"] == "knn" and first["sweep"]


@pytest.mark.slow
def test_every_attack_is_reproducible_on_the_cpu(tmp_path: Path) -> None:
    first, second = _twice(["--budget", "smoke", "--limit", "300", "--device", "cpu"], tmp_path)
    names = {a["attack"] for a in first["attacks"]}
    assert names == {"knn", "linear", "decoder", "optimization", "gan"}
    assert all(a["status"] == "ok" for a in first["attacks"]), first["attacks"]
    assert _differences(_without_time(first), _without_time(second)) == []
