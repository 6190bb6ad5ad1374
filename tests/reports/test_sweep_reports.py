"""The sweep's reporters: golden files, JSON round trip, purity, escaping, the frontier chart."""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from privaudit.config import GateConfig, SweepConfig
from privaudit.reports import REPORTERS, SWEEP_REPORTERS, get_sweep_reporter
from privaudit.reports.compare import render_compare
from privaudit.results import (
    Accuracy,
    AttackResult,
    AttackRun,
    BoundResult,
    Constraints,
    CutInfo,
    DataInfo,
    Execution,
    GateResult,
    GridPoint,
    Interval,
    Provenance,
    Reference,
    Status,
    SweepModel,
    SweepReport,
    read_saved,
    sweep_from_dict,
)
from privaudit.sweeping import answer, regate
from privaudit.sweeping.frontier import summarize

GOLDEN = Path(__file__).parent / "golden"
EVIL = "<script>alert(1)</script>"


def _bound(sigma: float, leakage: float, floor: float) -> BoundResult:
    return BoundResult(
        noise_sigma=sigma, input_dim=64, feature_dim=32, n_samples=200, covariance="diagonal",
        vacuous=False, leakage_nats=leakage, leakage_bits_per_dim=round(leakage / 64 / 0.6931, 4),
        leakage_interval=Interval(leakage * 0.95, leakage * 1.05), clustering="class-kmeans",
        terms=(), input_entropy_per_dim=-1.2, input_entropy_source="gaussian",
        cond_entropy_per_dim=round(-1.2 - leakage / 64, 4), mse_floor=floor,
        mse_floor_estimate=floor, mse_floor_interval=None, floor_clustering="class",
        floor_prior=0.06, floor_vacuous=False, paper_floor=floor / 5, paper_floor_interval=None,
        certified_mse_floor=floor / 50, floor_ratio=0.5,
    )  # fmt: skip


def _point(cut: str, sigma: float, noisy: float, mses: tuple[float, float]) -> GridPoint:
    runs = tuple(
        AttackRun(seed, AttackResult("decoder", Status.OK, mse=mse, psnr=round(-10 * 0.4343 *
                  __import__("math").log(mse), 3), ssim=0.5, n_samples=40, seconds=1.5,
                  recovered=round(1 - mse / 0.08, 4), beats_label=mse < 0.05))
        for seed, mse in zip((0, 1), mses, strict=True)
    )  # fmt: skip
    summaries = summarize(runs, ["decoder"])
    refs = (Reference("prior", 0.08, Interval(0.07, 0.09), 11.0, 0.1, None, 0.0),
            Reference("label", 0.05, Interval(0.045, 0.055), 13.0, 0.3, None, 0.375),
            Reference("nearest", 0.065, Interval(0.058, 0.072), 12.0, 0.25, None, 0.1875))
    # NOTE: no strongest reconstruction here: `answer` sets it from the runs and references
    return GridPoint(cut, sigma, Accuracy(0.97, Interval(0.95, 0.98), 200),
                     Accuracy(noisy, Interval(noisy - 0.05, min(1.0, noisy + 0.04)), 40),
                     _bound(sigma, 40 / (1 + 10 * sigma), 0.002 + 0.02 * sigma), refs, runs,
                     summaries)  # fmt: skip


MET = Constraints(0.9, 0.03, None)


def sweep_fixture(constraints: Constraints = MET) -> SweepReport:
    """A fixed sweep: 2 cuts x 2 sigmas, the decoder at 2 seeds, constraints met."""
    points = [_point("layer2", 0.1, 0.96, (0.020, 0.022)),
              _point("layer2", 0.2, 0.93, (0.03, 0.032)),
              _point(EVIL, 0.1, 0.92, (0.034, 0.036)), _point(EVIL, 0.2, 0.80, (0.05, 0.052))]
    a = answer(points, constraints, GateConfig(), "models/net.onnx", "data/audit.npz")
    cuts = tuple(CutInfo(name, f"/{name}/Relu_output_0", depth, (8, 2, 2), 1e-6, "ok",
                         {"features": 0.1, "bound": 0.2, "accuracy": 0.01, "references": 0.05})
                 for name, depth in (("layer2", 0.3), (EVIL, 0.6)))  # fmt: skip
    return SweepReport(
        model=SweepModel("models/net.onnx", "ab" * 32, "input", (1, 8, 8)),
        data=DataInfo("data/audit.npz", "cd" * 32, 200, 160, 40, 10, ("split",), (0.0,), (1.0,)),
        cuts=cuts, noise_sigmas=(0.1, 0.2), attacks=("decoder",), seeds=(0, 1), budget="smoke",
        frontier_metric=a.metric, points=a.points, constraints=constraints,
        recommendation=a.recommendation, gate=a.gate,
        provenance=Provenance("0.1.0", "2026-01-01T00:00:00+00:00", "sweep", 0, "cpu",
                              {"sweep": {"splits": ["layer2", EVIL]}}, {"python": "3.11"},
                              {"prepare": 1.0, "jobs": 9.5}, threads=2),
        execution=Execution("local", 2, 1, 10, 10, 0, "out/shards"),
        warnings=(f"a warning about {EVIL}",),
    )  # fmt: skip


def test_registry_has_every_report_format() -> None:
    assert list(SWEEP_REPORTERS) == list(REPORTERS)
    assert all(cls.name == name for name, cls in SWEEP_REPORTERS.items())


@pytest.mark.parametrize("fmt", list(SWEEP_REPORTERS))
def test_golden(fmt: str, request: pytest.FixtureRequest) -> None:
    reporter = get_sweep_reporter(fmt)
    text = reporter.render(sweep_fixture())
    path = GOLDEN / f"sweep{reporter.suffix}"
    if request.config.getoption("--update-golden"):
        path.write_text(text, encoding="utf-8", newline="")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if text != expected:
        diff = difflib.unified_diff(expected.splitlines(keepends=True),
                                    text.splitlines(keepends=True), n=2)  # fmt: skip
        pytest.fail("golden mismatch (rerun with --update-golden if intended):\n" + "".join(diff))


def test_json_round_trip_and_kind(tmp_path: Path) -> None:
    report = sweep_fixture()
    text = get_sweep_reporter("json").render(report)
    doc = json.loads(text)
    assert list(doc)[:2] == ["schema_version", "kind"] and doc["kind"] == "sweep"
    assert sweep_from_dict(doc) == report
    (tmp_path / "sweep.json").write_text(text)
    assert read_saved(tmp_path / "sweep.json") == report


def test_the_answer_is_in_every_format() -> None:
    report = sweep_fixture()
    rec = report.recommendation
    assert rec.met and (rec.cut, rec.noise_sigma) == ("layer2", 0.2)
    for fmt in ("markdown", "html"):
        text = get_sweep_reporter(fmt).render(report)
        assert "privaudit assess models/net.onnx --split layer2" in text
    csv = get_sweep_reporter("csv").render(report).splitlines()
    assert len(csv) == 1 + 4 * (3 + 2)  # header, then per point 3 references and 2 runs
    assert sum(",true,reference," in line or ",true,attack," in line for line in csv) == 5


def test_untrusted_text_is_escaped() -> None:
    report = sweep_fixture()
    html = get_sweep_reporter("html").render(report)
    assert EVIL not in html and "&lt;script&gt;" in html
    assert "<script" not in html.lower()
    md = get_sweep_reporter("markdown").render(report)
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; |" in md  # table cells: escaped
    # NOTE: only inside the fenced code block of a command is it left as is (shown as text)


def test_frontier_chart_marks_pareto_points_constraints_and_the_pick() -> None:
    html = get_sweep_reporter("html").render(sweep_fixture())
    svg = html[html.index("<svg"): html.index("</svg>")]
    assert svg.count('stroke="#222"') == 4 + 1  # every point here is Pareto; and the legend
    assert svg.count('r="11"') == 1  # the recommended point
    assert svg.count("stroke-dasharray") == 2  # min accuracy and min attack MSE


def test_unmet_and_regate() -> None:
    report = sweep_fixture(Constraints(0.99, 0.03, None))
    assert report.recommendation.status == "unmet" and "closest" in report.recommendation.headline
    again = regate(report, SweepConfig(min_accuracy=0.9, min_attack_mse=0.03), GateConfig())
    assert again.recommendation.met and again.points != report.points
    assert regate(report, SweepConfig(), GateConfig()).recommendation.status == "unmet"
    gated = regate(again, SweepConfig(), GateConfig(max_leakage=0.0))
    assert gated.gate.active and not gated.gate.passed
    assert isinstance(again.gate, GateResult)


def test_compare_two_sweeps() -> None:
    a, b = sweep_fixture(), sweep_fixture(Constraints(0.99, 0.03, None))
    md = render_compare(a, b, "markdown")
    assert "layer2 sigma 0.1 noisy\\_accuracy" in md
    rows = json.loads(render_compare(a, b, "json"))["rows"]
    assert all(r["delta"] == 0 for r in rows)


def test_a_floor_that_a_reconstruction_lies_below_is_void_in_the_sweep() -> None:
    """A tester's identity encoder over 8 blobs a class: the sweep showed (S) 0.1091 beside
    knn's 0.000398 with no warning, and the CSV said `below_floor=false` for every reference."""
    from privaudit.cli.sweep_console import sweep_table
    from privaudit.reports.sweep_table import runs_table
    from privaudit.sweeping.run import refuted_warnings

    report = sweep_fixture()
    held = report.points[0]
    assert held.floor_refuted_by() is None and not refuted_warnings(report.points)
    assert held.bound is not None and held.bound.mse_floor is not None
    floor = held.bound.mse_floor
    below = Reference("label", floor / 2, None, 13.0, 0.3, None, 0.9)
    void = replace(held, references=(held.references[0], below))
    assert void.floor_refuted_by() is not None
    (warning,) = refuted_warnings((void, *report.points[1:]))
    assert warning.startswith("the floor does not hold at layer2, sigma 0.1: the label "
                              f"reference reaches MSE {floor / 2:.3g}")
    points = (void, *report.points[1:])
    swept = replace(report, points=points)
    rows = runs_table(swept)
    refs = rows[(rows["kind"] == "reference") & (rows["cut"] == "layer2")
                & (rows["noise_sigma"] == 0.1)]  # fmt: skip
    assert refs.set_index("attack")["below_floor"].to_dict() == {"prior": False, "label": True}
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(sweep_table(swept))
    assert f"{floor:.4g} (void)" in console.export_text()


def test_compare_says_when_two_sweeps_measure_in_other_units_or_grids() -> None:
    """A tester compared an image sweep with a tabular one: deltas such as 'noisy_accuracy
    +11.1%' and no word that their MSEs are in other units; 1 seed against 2 passed too."""
    a = sweep_fixture()
    table = replace(a, model=replace(a.model, input_shape=(13,)), seeds=(0,))
    text = render_compare(a, table, "markdown")
    assert "(image data), B's per column, standardised (tabular data)" in text
    assert "their deltas mean nothing" in text
    assert "A ran decoder at the smoke budget, 2 seeds, B decoder at the smoke budget, 1 seed" \
        in text
    same = render_compare(a, a, "markdown")
    assert "mean nothing" not in same and "grids" not in same


def test_every_text_cell_of_the_sweeps_csvs_is_defused() -> None:
    """A reviewer's cut named '=HYPERLINK(...)' went into sweep.csv as a live formula (assess's
    report.csv and compare's CSV prefix it with ')."""
    import csv
    import io

    formula = '=HYPERLINK("http://x","y")'
    report = sweep_fixture()
    points = tuple(replace(
        p, cut=f"{formula}{i}", references=tuple(replace(r, name="+" + r.name, reason="@why")
                                                 for r in p.references),
        runs=tuple(replace(run, result=replace(run.result, attack="-decoder", reason="\tno"))
                   for run in p.runs)) for i, p in enumerate(report.points))  # fmt: skip
    evil = replace(report, points=points)
    texts = [get_sweep_reporter("csv").render(evil), render_compare(evil, report, "csv")]
    for text in texts:
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        assert any(c.startswith(f"'{formula}") for c in cells)
        live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        for cell in live:  # NOTE: only numbers may start so (a negative recovered share)
            float(cell)


def test_an_empty_frontier_chart_says_what_is_missing() -> None:
    """A `--no-labels` sweep whose attacks ran drew "no point has both an accuracy and an
    attack result": the accuracy was missing, not the attacks."""
    report = sweep_fixture(Constraints())
    blind = replace(report, points=tuple(replace(p, noisy_accuracy=Accuracy(None))
                                         for p in report.points))  # fmt: skip
    html = get_sweep_reporter("html").render(blind)
    assert "no accuracy was measured (no labels, or the model&#x27;s output is not logits)" in html
    assert "attack result" not in html
    bare = replace(report, points=tuple(replace(p, strongest_mse=None) for p in report.points))
    assert "no point has a reconstruction result" in get_sweep_reporter("html").render(bare)


def test_control_characters_in_names_are_shown_not_obeyed() -> None:
    """A model named "x\\nerror: fake\\x1b[31m.onnx" went raw into sweep.md and sweep.html:
    `cat sweep.md` ran the escape sequence and printed a forged line."""
    name = "/tmp/x\nerror: fake\x1b[31m\r\x07.onnx"
    report = sweep_fixture()
    a = answer(report.points, report.constraints, GateConfig(), name, "data/au\x1bdit.npz")
    evil = replace(report, model=replace(report.model, path=name),
                   points=tuple(replace(p, cut=p.cut + "\x1b[2J") for p in a.points),
                   recommendation=a.recommendation, warnings=(f"a warning about {name}",))
    assert "\n" in (evil.recommendation.command or "")
    for fmt in ("markdown", "html"):
        text = get_sweep_reporter(fmt).render(evil)
        assert not any(c in text for c in "\x1b\r\x07"), fmt
        assert "fake&lt;U+001B&gt;" in text and "&lt;U+000D&gt;&lt;U+0007&gt;.onnx" in text
        assert not any(line.startswith("error: fake") for line in text.splitlines()), fmt
