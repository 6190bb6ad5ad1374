"""Audits of tabular and signal split models, end to end: assess, harden, reports, the demo.

Issue 15: a model of input rank 2 (N, F) or 3 (N, C, T) is audited like an image model, its
data in its own units; MSEs are standardised, per-feature scores and plots are reported.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

import privaudit
from privaudit.errors import ModelError
from privaudit.reports import get_reporter
from privaudit.results import AuditReport, Status, feature_table, from_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMOKE = {"budget": "smoke", "noise": 0.1, "seed": 0}


@pytest.fixture(scope="module")
def tabular_report(
    tiny_mlp_legacy: Path, vectors_like: tuple[np.ndarray, np.ndarray]
) -> AuditReport:
    return privaudit.assess(tiny_mlp_legacy, data=vectors_like, split="layer2", **SMOKE)


@pytest.fixture(scope="module")
def signal_report(
    tiny_cnn1d_legacy: Path, signals_like: tuple[np.ndarray, np.ndarray]
) -> AuditReport:
    return privaudit.assess(tiny_cnn1d_legacy, data=signals_like, split="layer2", **SMOKE)


def test_tabular_audit(tabular_report: AuditReport) -> None:
    r = tabular_report
    assert r.model.domain == "tabular" and r.model.input_shape == (12,)
    assert r.data.feature_names == tuple(f"x{i}" for i in range(12))
    assert r.data.data_range is None  # columns in different units have no common range
    assert max(r.data.feature_std) / min(r.data.feature_std) > 100  # columns in own units
    prior = next(ref for ref in r.references if ref.name == "prior")
    assert prior.mse == pytest.approx(1.0, abs=0.15) and prior.psnr is None and prior.ssim is None
    assert r.bound is not None and r.bound.certified_mse_floor is None
    assert r.bound.mse_floor is not None and 0 < r.bound.mse_floor < 1
    assert [a.status for a in r.attacks] == [Status.OK] * 5
    for a in r.attacks:
        assert a.psnr is None and a.ssim is None and len(a.features) == 12
        assert all(f.mse_raw == pytest.approx(f.mse * s**2, rel=1e-6)
                   for f, s in zip(a.features, r.data.feature_std, strict=True))
    assert any("a small audit" in w for w in r.warnings)  # 48 evaluation rows


def test_small_audit_warning_only_when_an_attack_ran(
    tiny_mlp_legacy: Path, vectors_like: tuple[np.ndarray, np.ndarray]
) -> None:
    """The warning is about the attacks' training: `--no-attacks` gets none (48 eval rows)."""
    r = privaudit.assess(tiny_mlp_legacy, data=vectors_like, split="layer2", noise=0.1,
                         attacks=False)
    assert r.attacks == () and r.data.n_eval < 100
    assert not any("a small audit" in w or "attacks learn" in w for w in r.warnings)


def test_an_attacker_starved_of_auxiliary_samples_gets_a_warning() -> None:
    """A tester's `eval_fraction = 0.98` left the attacker 6 of 300 rows; its attacks
    scored worse and an attack gate passed, with no warning."""
    from privaudit.demo import tabular_data_path, tabular_model_path

    def audit(share: float) -> AuditReport:
        return privaudit.assess(tabular_model_path(), data=tabular_data_path(), split="layer2",
                                noise=0.1, attacks=["linear"], budget="smoke",
                                eval_fraction=share, bound={"dfil": False})  # fmt: skip

    starved, usual = audit(0.98), audit(0.2)
    assert starved.data.n_aux < starved.data.n_eval
    assert any(w.startswith("the attacker holds few auxiliary samples") for w in starved.warnings)
    assert not any("few auxiliary" in w for w in usual.warnings)
    assert starved.attacks[0].mse > usual.attacks[0].mse  # why it matters: a weaker attack


def test_signal_audit(signal_report: AuditReport) -> None:
    r = signal_report
    assert r.model.domain == "signal" and r.model.input_shape == (2, 32)
    assert r.data.feature_names == ("ch0", "ch1") and r.data.data_range is not None
    ok = [a for a in r.attacks if a.status is Status.OK]
    assert len(ok) == 5 and all(a.ssim is None and a.psnr is not None for a in ok)
    assert all(len(a.features) == 2 and a.features[0].correlation is not None for a in ok)
    knn = next(a for a in ok if a.attack == "knn")
    assert knn.recovered is not None and knn.recovered > 0.1  # a random encoder still leaks


def test_reports_round_trip_and_render(
    tabular_report: AuditReport, signal_report: AuditReport
) -> None:
    for r in (tabular_report, signal_report):
        back = from_dict(json.loads(r.to_json()))
        assert back == r
        for name in ("markdown", "csv", "html"):
            assert get_reporter(name).render(back)
    html = get_reporter("html").render(tabular_report)
    assert 'id="columns"' in html and "Per-column leakage" in html
    assert html.count(" true</th>") == 4  # the 4 most leaking columns' sample values
    md = get_reporter("markdown").render(tabular_report)
    assert "## Per-column leakage" in md and "| R² knn |" in md
    csv = pd.read_csv(pd.io.common.StringIO(get_reporter("csv").render(tabular_report)))
    assert {"feature", "mse_raw", "r2", "exact_match"} <= set(csv.columns)
    per_feature = csv[csv["feature"].notna()]
    assert len(per_feature) == 12 * (5 + 3)  # 5 attacks and 3 references, 12 columns each
    assert len(feature_table(tabular_report)) == len(per_feature)
    signal_html = get_reporter("html").render(signal_report)
    assert 'id="channels"' in signal_html and signal_html.count("<polyline") >= 4 * 2 * 4


def test_leakage_table_is_sorted(tabular_report: AuditReport) -> None:
    from privaudit.reports.features import leakage_table

    table = leakage_table(tabular_report)
    attacks = [c for c in table.columns if c.startswith("R² ") and "reference" not in c]
    best = table[attacks].max(axis=1).to_numpy()
    assert list(table["feature"])[:1] and np.all(np.diff(best) <= 1e-12)


def test_dynamo_exports_and_the_white_box(
    tiny_mlp_dynamo: Path, tiny_cnn1d_dynamo: Path, vectors_like: tuple[np.ndarray, np.ndarray],
    signals_like: tuple[np.ndarray, np.ndarray],
) -> None:
    for model, data in ((tiny_mlp_dynamo, vectors_like), (tiny_cnn1d_dynamo, signals_like)):
        r = privaudit.assess(model, data=data, split="layer2", attacks=["optimization"],
                             **SMOKE)
        assert r.model.torch_conversion == "ok" and r.attacks[0].status is Status.OK
        assert r.dfil is not None and r.dfil.status is Status.OK


def test_domain_override(tiny_mlp_legacy: Path, signals_like: tuple[np.ndarray, np.ndarray],
                         vectors_like: tuple[np.ndarray, np.ndarray]) -> None:
    # the 12 columns of the MLP read as one signal of 12 steps
    r = privaudit.assess(tiny_mlp_legacy, data=vectors_like[0], split="layer2", domain="signal",
                         attacks=["knn"], **SMOKE)
    assert r.model.domain == "signal" and r.model.input_shape == (1, 12)
    assert r.attacks[0].features[0].name == "ch0"


def test_harden_a_tabular_and_a_signal_model(
    tmp_path: Path, tiny_mlp_legacy: Path, tiny_cnn1d_legacy: Path,
    vectors_like: tuple[np.ndarray, np.ndarray], signals_like: tuple[np.ndarray, np.ndarray],
) -> None:
    for model, data, name in ((tiny_mlp_legacy, vectors_like, "mlp"),
                              (tiny_cnn1d_legacy, signals_like, "cnn1d")):
        out = tmp_path / f"{name}.onnx"
        report = privaudit.harden(model, output=out, data=data, split="layer2", attacks=["knn"],
                                  harden={"epochs": 2, "k": 2}, **SMOKE)
        assert report.harden is not None and out.is_file()
        after = report.harden.after
        assert after.model.domain == report.model.domain and after.attacks[0].features
        tuned = onnx.load(str(out))
        before = {t.name: t for t in onnx.load(str(model)).graph.initializer}
        assert any(t.raw_data != before[t.name].raw_data for t in tuned.graph.initializer
                   if t.name in before)


def test_integer_input_of_a_tabular_model_is_refused(
    vectors_like: tuple[np.ndarray, np.ndarray],
) -> None:
    nodes = [helper.make_node("Cast", ["x"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Relu", ["f"], ["z"]), helper.make_node("Neg", ["z"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 12])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelError, match="audits tabular models with a float input"):
        privaudit.assess(model, data=vectors_like[0], split="z", attacks=False, noise=0.1)


def test_tabular_demo() -> None:
    from privaudit import demo

    card = demo.tabular_card()
    assert card["test_accuracy"] >= 0.9 and card["split"] == "layer2"
    train, test = demo.tabular_split_indices()
    assert (len(train), len(test)) == (142, 36) and not set(train) & set(test)
    report = privaudit.assess(demo.tabular_model_path(), data=demo.tabular_data_path(),
                              budget="smoke", attacks=["knn", "decoder"])
    assert report.model.domain == "tabular" and report.model.noise_source == "model metadata"
    assert report.data.feature_names[-1] == "proline" and report.data.n_total == 178
    assert report.utility.clean_accuracy is not None and report.utility.clean_accuracy > 0.9
    assert report.data.mean[-1] == pytest.approx(card["mean"][-1])  # privaudit.mean, per column
