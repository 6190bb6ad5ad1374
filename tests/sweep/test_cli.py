"""`privaudit sweep` and the saved-report commands on sweep.json, exit code by exit code."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from typer.testing import CliRunner

from privaudit.cli.app import app

runner = CliRunner()


def _numbers(doc: dict[str, object]) -> list[object]:
    """Every attack result of a sweep.json, without its timing."""
    points = doc["points"]
    assert isinstance(points, list)
    return [{**r["result"], "seconds": None} for p in points for r in p["runs"]]


@pytest.fixture(scope="module")
def base_args(tiny_cnn_legacy: Path, sweep_data: Path) -> list[str]:
    return ["sweep", str(tiny_cnn_legacy), "--data", str(sweep_data), "--splits", "layer2,layer3",
            "--noise", "0,0.1", "--attacks", "knn", "--budget", "smoke", "--jobs", "1", "-q",
            "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def swept(base_args: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sweep with every format, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("swept")
    result = runner.invoke(app, [*base_args, "-o", str(out), "-f",
                                 "json,markdown,csv,html,junit"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


def test_writes_every_format_and_a_shard_per_job(swept: Path) -> None:
    doc = json.loads((swept / "sweep.json").read_text())
    assert (doc["schema_version"], doc["kind"]) == (1, "sweep")
    assert [(p["cut"], p["noise_sigma"]) for p in doc["points"]] == [
        ("layer2", 0.0), ("layer2", 0.1), ("layer3", 0.0), ("layer3", 0.1)]
    assert doc["provenance"]["command"] == "sweep" and doc["provenance"]["versions"]
    assert doc["provenance"]["config"]["sweep"]["splits"] == ["layer2", "layer3"]
    assert "<svg" in (swept / "sweep.html").read_text()
    assert (swept / "sweep.md").read_text().startswith("# privaudit sweep")
    assert (swept / "sweep.csv").read_text().startswith("cut,noise_sigma,")
    shards = sorted(p.name.split("--")[0] for p in (swept / "shards").glob("*.json"))
    assert shards == ["attack"] * 4 + ["clean"] + ["point"] * 4
    assert not list(swept.glob(".privaudit.lock")) and not list((swept / "shards").glob(".*"))


def test_rerun_resumes_from_shards_and_fresh_redoes(swept: Path, base_args: list[str],
                                                   tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "again"
    shutil.copytree(swept, out)
    (out / "sweep.json").unlink()
    for path in sorted((out / "shards").glob("attack--*"))[:2]:
        path.unlink()  # as if interrupted before these two jobs finished
    resumed = runner.invoke(app, [*base_args, "-o", str(out)])
    assert resumed.exit_code == 0, resumed.stderr
    # NOTE: the first run's other formats stay beside the new sweep.json: said, as assess does
    assert f"note: {out / 'sweep.html'} is from an earlier run" in " ".join(
        resumed.stderr.split())
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["execution"]["ran"] == 1 + 2 and doc["execution"]["reused"] == 1 + 2
    before = json.loads((swept / "sweep.json").read_text())
    assert _numbers(doc) == _numbers(before)
    fresh = runner.invoke(app, [*base_args, "-o", str(out), "--fresh"])
    assert fresh.exit_code == 0
    assert json.loads((out / "sweep.json").read_text())["execution"]["ran"] == 2 + 4


def test_unmet_constraints_exit_1_name_the_closest_point(swept: Path, base_args: list[str],
                                                        tmp_path: Path) -> None:  # fmt: skip
    shutil.copytree(swept / "shards", tmp_path / "shards")
    result = runner.invoke(app, [*base_args, "-o", str(tmp_path), "--min-accuracy", "0.5",
                                 "--min-attack-mse", "10"])  # fmt: skip
    assert result.exit_code == 1
    assert "No point meets the constraints" in result.stderr and "closest" in result.stderr
    doc = json.loads((tmp_path / "sweep.json").read_text())  # still written
    assert doc["recommendation"]["status"] == "unmet" and doc["recommendation"]["cut"]


def test_met_constraints_exit_0_with_the_command_of_the_pick(
    swept: Path, base_args: list[str], tmp_path: Path
) -> None:
    shutil.copytree(swept / "shards", tmp_path / "shards")
    result = runner.invoke(app, [*base_args, "-o", str(tmp_path), "--min-accuracy", "0",
                                 "--max-recovered", "1"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "privaudit assess" in result.stderr and "--split" in result.stderr


@pytest.mark.parametrize(("extra", "message"), [
    (["--splits", "layer9"], "not found"),
    (["--noise", "0,x"], "comma-separated numbers"),
    (["--encoder", "enc.onnx"], "No such option"),
    (["--executor", "dask"], "unknown executor"),
    # NOTE: a reviewer's --seeds 100000000000 was accepted and exhausted the memory
    (["--seeds", "100000000000"], "sweep.seeds: at most 1,000 seeds per point, got "
                                  "100,000,000,000"),
])  # fmt: skip
def test_user_errors_exit_2(base_args: list[str], tmp_path: Path, extra: list[str],
                            message: str) -> None:  # fmt: skip
    result = runner.invoke(app, [*base_args, "-o", str(tmp_path / "out"), *extra])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "out" / "sweep.json").exists()


def test_ray_executor_without_ray_exits_2_with_the_install_command(
    base_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # NOTE: `import ray` fails as if absent
    result = runner.invoke(app, [*base_args, "-o", str(tmp_path), "--executor", "ray"])
    assert result.exit_code == 2
    assert "pip install 'privaudit[ray]'" in result.stderr


def test_an_unreachable_ray_cluster_exits_2_at_once(base_args: list[str],
                                                    tmp_path: Path) -> None:  # fmt: skip
    """A reviewer's `--ray-address 127.0.0.1:1` hung 7 minutes, printing Ray's warnings."""
    import socket
    import time

    pytest.importorskip("ray", reason="the ray extra is not installed")
    with socket.socket() as s:  # NOTE: a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    result = runner.invoke(app, [*base_args, "-o", str(tmp_path), "--executor", "ray",
                                 "--ray-address", f"127.0.0.1:{port}"])  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert time.monotonic() - start < 20
    assert f"error: cannot reach the Ray cluster at 127.0.0.1:{port}: " in result.stderr
    assert "'ray status'" in result.stderr
    assert not (tmp_path / "sweep.json").exists()


def test_report_rerenders_a_sweep(swept: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(swept / "sweep.json"), "-f", "html,markdown",
                                 "--output-dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "sweep.html").read_text() == (swept / "sweep.html").read_text()
    assert (tmp_path / "sweep.md").read_text() == (swept / "sweep.md").read_text()


def test_check_gates_a_sweep_on_constraints(swept: Path) -> None:
    sweep = str(swept / "sweep.json")
    assert runner.invoke(app, ["check", sweep]).exit_code == 0
    unmet = runner.invoke(app, ["check", sweep, "--min-accuracy", "0.999",
                                "--min-attack-mse", "1"])  # fmt: skip
    assert unmet.exit_code == 1 and "closest" in unmet.stderr
    met = runner.invoke(app, ["check", sweep, "--min-accuracy", "0", "--max-recovered", "1",
                              "--fail-over-leakage", "1000000"])  # fmt: skip
    assert met.exit_code == 0, met.stderr
    gated = runner.invoke(app, ["check", sweep, "--min-accuracy", "0", "--max-recovered", "1",
                                "--fail-over-leakage", "0"])  # fmt: skip
    assert gated.exit_code == 1 and "gate failed" in gated.stderr


def _junit_cases(path: Path) -> dict[str, dict[str, ET.Element]]:
    """The JUnit file's test cases by suite and name, after validating it against junit.xsd."""
    xmlschema.XMLSchema(Path(__file__).parents[1] / "reports" / "junit.xsd").validate(str(path))
    root = ET.parse(path).getroot()
    return {s.get("name", ""): {c.get("name", ""): c for c in s.findall("testcase")}
            for s in root.findall("testsuite")}  # fmt: skip


def test_sweep_junit_and_its_schema(swept: Path, tmp_path: Path) -> None:
    doc = json.loads((swept / "sweep.json").read_text())
    jsonschema.validate(doc, json.loads(runner.invoke(app, ["schema", "--kind", "sweep"]).stdout))
    cases = _junit_cases(swept / "sweep.junit.xml")
    assert list(cases["privaudit sweep points"]) == [
        "layer2 sigma 0", "layer2 sigma 0.1", "layer3 sigma 0", "layer3 sigma 0.1"]
    assert cases["privaudit gate"] == {}  # no gate configured
    unmet = runner.invoke(app, ["check", str(swept / "sweep.json"), "--min-accuracy", "0",
                                "--min-attack-mse", "1", "--fail-over-leakage", "1000000",
                                "-f", "junit", "-o", str(tmp_path)])  # fmt: skip
    assert unmet.exit_code == 1, unmet.stderr
    cases = _junit_cases(tmp_path / "sweep.junit.xml")
    for case in cases["privaudit sweep points"].values():  # no point meets: all fail
        failure = case.find("failure")
        assert failure is not None and "is not >= 1 (min_attack_mse)" in failure.get("message", "")
    (gate,) = cases["privaudit gate"].values()  # no point to gate: that is the failure
    assert gate.get("name") == "sweep: recommendation"
    assert "no recommended point to gate" in gate.find("failure").get("message", "")
    met = runner.invoke(app, ["check", str(swept / "sweep.json"), "--min-accuracy", "0",
                              "--max-recovered", "1", "--fail-over-leakage", "1000000", "-f",
                              "junit", "-o", str(tmp_path)])  # fmt: skip
    assert met.exit_code == 0, met.stderr
    (gate,) = _junit_cases(tmp_path / "sweep.junit.xml")["privaudit gate"].values()
    assert gate.get("name") == "bound: max_leakage <= 1e+06" and gate.find("failure") is None
    assert "measured " in gate.findtext("system-out", "")


def test_compare_two_sweeps_and_refuse_a_mixed_pair(swept: Path, tmp_path: Path) -> None:
    sweep = str(swept / "sweep.json")
    result = runner.invoke(app, ["compare", sweep, sweep])
    assert result.exit_code == 0, result.stderr
    assert "layer3 sigma 0.1 noisy\\_accuracy" in result.stdout
    doc = json.loads(runner.invoke(app, ["compare", sweep, sweep, "-f", "json"]).stdout)
    assert doc["a"]["kind"] == "sweep" and all(r["delta"] in (0, None) for r in doc["rows"])
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"schema_version": 3}))
    mixed = runner.invoke(app, ["compare", sweep, str(report)])
    assert mixed.exit_code == 2


def test_a_table_with_its_own_label_column_sweeps_from_the_flags(tmp_path: Path) -> None:
    """`sweep` lacked assess's --label-column, --columns, --domain and --data-range."""
    import pandas as pd

    from privaudit.demo import tabular_data_path, tabular_model_path

    table = pd.read_csv(tabular_data_path()).rename(columns={"label": "kind"})
    table.to_csv(tmp_path / "wine.csv", index=False)
    result = runner.invoke(app, [
        "sweep", str(tabular_model_path()), "--data", str(tmp_path / "wine.csv"),
        "--label-column", "kind", "--domain", "tabular", "--splits", "layer2", "--noise", "0.1",
        "--no-attacks", "--device", "cpu", "-q", "-o", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert doc["points"][0]["clean_accuracy"]["value"] > 0.9  # the labels were found
