"""The answer from the points: seeds summarised, the Pareto frontier, the recommendation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from privaudit.config import GateConfig
from privaudit.results import (
    Accuracy,
    AttackResult,
    AttackRun,
    AttackSummary,
    Constraints,
    GridPoint,
    Reference,
    Status,
)
from privaudit.sweeping import answer, mark_pareto, recommend
from privaudit.sweeping.frontier import summarize, with_strongest


def _point(cut: str, sigma: float, acc: float | None, mse: float | None,
           recovered: float | None = None) -> GridPoint:  # fmt: skip
    summary = () if mse is None else (AttackSummary("decoder", Status.OK, 1, mse),)
    return GridPoint(cut, sigma, Accuracy(0.97), Accuracy(acc), None, (), (), summary,
                     "decoder" if mse is not None else None, mse, recovered)  # fmt: skip


POINTS = [
    _point("layer1", 0.0, 0.97, 0.010, 0.85),
    _point("layer1", 0.1, 0.95, 0.020, 0.70),
    _point("layer2", 0.1, 0.93, 0.030, 0.55),
    _point("layer2", 0.2, 0.90, 0.025, 0.60),  # dominated by layer2/0.1
    _point("layer3", 0.2, 0.85, 0.050, 0.20),
    _point("layer3", 0.4, None, 0.080, 0.10),  # no accuracy: never on the frontier
]


def test_pareto_marks_the_undominated_points() -> None:
    marked = mark_pareto(POINTS, "mse")
    assert [p.pareto for p in marked] == [True, True, True, False, True, False]
    by_share = mark_pareto(POINTS, "recovered")
    assert [p.pareto for p in by_share] == [True, True, True, False, True, False]


@pytest.mark.parametrize(("constraints", "status", "pick"), [
    (Constraints(0.9, 0.025, None), "met", ("layer2", 0.1)),  # the most accurate that qualifies
    (Constraints(None, 0.04, None), "met", ("layer3", 0.2)),  # privacy alone: most accurate
    (Constraints(0.94, None, None), "met", ("layer1", 0.1)),  # accuracy alone: most private
    (Constraints(0.9, None, 0.6), "met", ("layer2", 0.1)),
    (Constraints(0.96, 0.05, None), "unmet", ("layer3", 0.2)),  # the closest one
    (Constraints(), "unconstrained", (None, None)),
])  # fmt: skip
def test_recommendation(constraints: Constraints, status: str,
                        pick: tuple[str | None, float | None]) -> None:  # fmt: skip
    points, rec = recommend(mark_pareto(POINTS, "mse"), constraints, "mse", "m.onnx", "d.npz")
    assert rec.status == status
    assert (rec.cut, rec.noise_sigma) == pick
    if status == "met":
        assert rec.command == (f"privaudit assess m.onnx --split {pick[0]} --data d.npz "
                               f"--noise {pick[1]:g}")  # fmt: skip
        assert sum(bool(p.meets) for p in points) >= 1
    if status == "unmet":
        assert rec.shortfalls and "noisy accuracy 0.85 is 0.11 below 0.96" in rec.shortfalls[0]
        assert "No point meets the constraints" in rec.headline


def test_unmet_constraints_fail_an_active_gate_and_met_ones_are_gated() -> None:
    gate = GateConfig(max_leakage=0.5)
    unmet = answer(POINTS, Constraints(0.99, None, None), gate, "m", "d")
    assert not unmet.gate.passed and unmet.gate.violations[0].rule == "recommendation"
    met = answer(POINTS, Constraints(0.9, 0.02, None), gate, "m", "d")
    assert met.recommendation.met
    assert met.gate.violations[0].rule == "max_leakage"  # the pick has no bound: it fails
    assert answer(POINTS, Constraints(0.9, 0.02, None), GateConfig(), "m", "d").gate.passed


def _run(seed: int, mse: float | None, recovered: float | None = None,
         status: Status = Status.OK) -> AttackRun:  # fmt: skip
    return AttackRun(seed, AttackResult("decoder", status, mse=mse, recovered=recovered,
                                        beats_label=True, reason=None if mse else "failed"))


def test_summary_over_seeds() -> None:
    runs = [_run(0, 0.02, 0.5), _run(1, 0.04, 0.3), _run(2, None, status=Status.ERROR)]
    (s,) = summarize(runs, ["decoder"])
    assert s.seeds == 2 and s.mse == pytest.approx(0.03) and s.recovered == pytest.approx(0.4)
    assert s.mse_std == pytest.approx(0.0141421356) and s.beats_label is True
    (missing,) = summarize([_run(0, None, status=Status.SKIPPED)], ["decoder"])
    assert missing.status is Status.SKIPPED and missing.mse is None and missing.seeds == 0


def _with_label(p: GridPoint, mse: float, recovered: float) -> GridPoint:
    return replace(p, references=(Reference("prior", 0.08, recovered=0.0),
                                  Reference("label", mse, recovered=recovered)))  # fmt: skip


def test_a_label_reference_that_beats_the_attacks_is_the_points_privacy() -> None:
    """The server gets the label reference for free: a point is only as private as it."""
    weak = _with_label(POINTS[2], 0.02, 0.72)  # layer2/0.1: decoder 0.030, label 0.020
    points = [*POINTS[:2], weak, *POINTS[3:]]
    a = answer(points, Constraints(0.9, 0.025, None), GateConfig(min_attack_mse=0.025), "m", "d")
    judged = next(p for p in a.points if (p.cut, p.noise_sigma) == ("layer2", 0.1))
    assert (judged.strongest, judged.strongest_mse, judged.recovered) == (
        "label reference", 0.02, 0.72)
    assert judged.meets is False  # the decoder alone (0.030) would have met 0.025
    assert (a.recommendation.cut, a.recommendation.noise_sigma) == ("layer2", 0.2)
    share = answer(points, Constraints(0.9, None, 0.6), GateConfig(), "m", "d")
    assert (share.recommendation.cut, share.recommendation.noise_sigma) == ("layer2", 0.2)
    # the gate on a pick holds its references to the attack thresholds too
    ran = replace(weak, runs=(_run(0, 0.030, 0.55),))
    only = answer([ran], Constraints(0.9, None, None), GateConfig(min_attack_mse=0.025), "m",
                  "d")  # fmt: skip
    assert [(v.rule, v.subject) for v in only.gate.violations] == [
        ("min_attack_mse", "label reference")]


def test_with_strongest_keeps_a_stronger_attack_and_is_idempotent() -> None:
    strong = _with_label(POINTS[2], 0.05, 0.3)  # decoder 0.030 beats the label's 0.050
    kept = with_strongest(strong)
    assert (kept.strongest, kept.strongest_mse, kept.recovered) == ("decoder", 0.030, 0.55)
    tie = with_strongest(_with_label(POINTS[2], 0.030, 0.55))
    assert tie.strongest == "decoder"  # on a tie the attack is named
    once = with_strongest(_with_label(POINTS[2], 0.02, 0.72))
    assert with_strongest(once) == once
    # a point with no attack at all is as private as its references
    bare = with_strongest(_with_label(_point("layer3", 0.4, 0.8, None), 0.06, 0.25))
    assert (bare.strongest, bare.strongest_mse, bare.recovered) == ("label reference", 0.06,
                                                                   0.25)  # fmt: skip


@pytest.mark.parametrize("constraints", [Constraints(0.8, 0.05, None),
                                         Constraints(0.8, None, 0.3)])
def test_references_alone_meet_no_privacy_constraint(constraints: Constraints) -> None:
    """A tester's `sweep --no-attacks --min-attack-mse 0.05` recommended sigma 0 at the first
    cut, met by the label reference alone, where `assess` with the same gate fails."""
    bare = _with_label(_point("layer3", 0.4, 0.9, None), 0.06, 0.25)
    points, rec = recommend([with_strongest(bare)], constraints, "mse", "m.onnx", "d.npz")
    assert rec.status == "unmet" and points[0].meets is False
    assert rec.shortfalls and rec.shortfalls[0].endswith("not measured: no attack ran")


def test_the_worst_seed_judges_a_point_as_the_gate_does() -> None:
    """A tester's `--seeds 2 --min-attack-mse 0.011` recommended a point whose decoder
    averaged 0.01169, while `check --fail-under-attack-mse 0.011` failed its 0.01048 run."""
    two = replace(POINTS[1], runs=(_run(0, 0.01048, 0.9), _run(1, 0.0129, 0.8)))
    judged = with_strongest(two)
    assert (judged.strongest, judged.strongest_mse, judged.recovered) == ("decoder", 0.01048,
                                                                         0.9)  # fmt: skip
    a = answer([two], Constraints(0.9, 0.011, None), GateConfig(min_attack_mse=0.011), "m", "d")
    assert not a.recommendation.met and not a.points[0].meets
    assert "0.01048 is" in a.recommendation.shortfalls[0]


def test_a_shortfall_shows_the_digits_that_tell_value_and_threshold_apart() -> None:
    """A tester read 'MSE 0.03626 is 3.15e-06 below 0.03626'."""
    near = replace(POINTS[1], runs=(_run(0, 0.0362568, 0.7),))
    a = answer([near], Constraints(0.9, 0.03626, None), GateConfig(), "m", "d")
    assert "MSE 0.036257 is 3.2e-06 below 0.03626" in a.recommendation.shortfalls[0]


@pytest.mark.parametrize("constraints", [Constraints(0.8, 0.04, None),
                                         Constraints(0.8, None, 0.3)])
def test_an_attack_that_learned_nothing_meets_no_privacy_constraint(
    constraints: Constraints,
) -> None:
    """A tester's smoke decoder at -168% recovered left the label reference (0.054) to meet
    `--min-attack-mse 0.04`, exit 0, where `assess`'s gate fails the same point."""
    blind = replace(_with_label(_point("layer3", 0.1, 0.9, 0.176, -1.68), 0.054, 0.17),
                    runs=(_run(0, 0.176, -1.68),))  # fmt: skip
    points, rec = recommend([with_strongest(blind)], constraints, "mse", "m.onnx", "d.npz")
    assert rec.status == "unmet" and points[0].meets is False
    assert "decoder did worse than guessing the mean input" in rec.shortfalls[0]
    learned = replace(blind, runs=(_run(0, 0.176, -0.05),))  # a weak attack, but it trained
    points, rec = recommend([with_strongest(learned)], constraints, "mse", "m.onnx", "d.npz")
    assert rec.status == "met"


def test_a_tie_goes_to_the_larger_sigma_and_the_pick_says_what_it_cannot_show() -> None:
    """12 points tied on the label reference (weak attacks): the first, sigma 0, won, and
    nothing said that there was no noise or that no attack had beaten the reference."""
    runs = (_run(0, 0.09, -0.1),)
    tied = [_with_label(replace(_point(cut, sigma, 0.97, 0.09), runs=runs), 0.05, 0.3)
            for cut in ("layer1", "layer2") for sigma in (0.0, 0.1)]  # fmt: skip
    a = answer(tied, Constraints(0.9, 0.04, None), GateConfig(), "m", "d")
    assert (a.recommendation.cut, a.recommendation.noise_sigma) == ("layer1", 0.1)
    assert "No attack beat the label reference" in a.recommendation.headline
    assert "no noise" not in a.recommendation.headline
    zero = answer(tied[:1], Constraints(0.9, 0.04, None), GateConfig(), "m", "d")
    assert "Caution: no noise" in zero.recommendation.headline
    blind = replace(tied[1], noisy_accuracy=Accuracy(None))
    alone = answer([blind], Constraints(None, 0.04, None), GateConfig(), "m", "d")
    assert alone.recommendation.met and "rests on privacy alone" in alone.recommendation.headline
    strong = answer([replace(tied[1], references=())], Constraints(0.9, 0.04, None),
                    GateConfig(), "m", "d")  # fmt: skip
    assert strong.recommendation.headline.endswith("of the input's variance.")


def test_the_picks_command_measures_the_point_as_the_sweep_did() -> None:
    """The printed `assess` command left out the seed, the limit, the attacks and budget."""
    from privaudit.sweeping.frontier import assess_options

    config = {"seed": 3, "limit": 300, "labels": False, "data_range": [0.0, 255.0],
              "columns": ["a b", "c"], "config_path": None,
              "attacks": {"enabled": ["decoder", "knn"], "budget": "smoke"},
              "bound": {"covariance": "full", "input_entropy": "gaussian"}}  # fmt: skip
    flags = ("--seed 3 --limit 300 --columns 'a b,c' --data-range 0,255 --no-labels "
             "--attacks decoder,knn --budget smoke --covariance full")
    assert assess_options(config) == flags
    assert assess_options({"attacks": {"enabled": [], "budget": "standard"}}) == (
        "--no-attacks --budget standard")
    assert assess_options({}) == ""
    a = answer(POINTS, Constraints(0.9, 0.025, None), GateConfig(), "m.onnx", "d.npz", config)
    assert a.recommendation.command == ("privaudit assess m.onnx --split layer2 --data d.npz "
                                        f"--noise 0.1 {flags}")  # fmt: skip


def test_a_tie_on_the_attacks_goes_to_the_higher_floor_that_holds() -> None:
    """On the tabular demo every point tied on the label reference (smoke knn): the pick was
    the shallowest cut, a linear map the input is recovered from; the bound tells them apart."""
    from pathlib import Path

    from privaudit.results import SweepReport, read_saved

    golden = read_saved(Path(__file__).parents[1] / "reports" / "golden" / "sweep.json")
    assert isinstance(golden, SweepReport) and golden.points[0].bound is not None
    bound = golden.points[0].bound
    runs = (_run(0, 0.09, -0.1),)

    def tied(cut: str, floor: float) -> GridPoint:
        p = _with_label(replace(_point(cut, 0.1, 0.97, 0.09), runs=runs), 0.05, 0.3)
        return replace(p, bound=replace(bound, mse_floor=floor))

    points = [tied("layer1", 0.01), tied("layer2", 0.04), tied("layer3", 0.03)]
    a = answer(points, Constraints(0.9, 0.04, None), GateConfig(), "m", "d")
    assert a.recommendation.cut == "layer2"
    refuted = [tied("layer1", 0.01), tied("layer2", 0.06), tied("layer3", 0.03)]  # 0.05 < 0.06
    b = answer(refuted, Constraints(0.9, 0.04, None), GateConfig(), "m", "d")
    assert b.recommendation.cut == "layer3"


def test_a_pick_no_attack_measured_says_so() -> None:
    """A reviewer's `check sweep.json --min-accuracy 0.5` of a `--no-attacks` sweep read "the
    strongest reconstruction (prior reference) at MSE 1.025, recovering 0.0%", no caveat."""
    bare = replace(_point("layer2", 2.0, 0.58, None), references=(
        Reference("prior", 1.025, recovered=0.0), Reference("label", 1.1, recovered=-0.07)))
    a = answer([bare], Constraints(0.5, None, None), GateConfig(), "m", "d")
    assert a.recommendation.met
    assert "No attack measured this point (no attack ran): only the reference " in (
        a.recommendation.headline)
    assert "the best (prior reference) at MSE 1.025" in a.recommendation.headline
    assert "strongest reconstruction" not in a.recommendation.headline
    skipped = replace(bare, attacks=(AttackSummary("decoder", Status.SKIPPED, 0, reason="x"),))
    b = answer([skipped], Constraints(0.5, None, None), GateConfig(), "m", "d")
    assert "(no attack gave a result)" in b.recommendation.headline


def test_the_closest_point_counts_unmeasured_constraints_then_the_shortfalls() -> None:
    """With `--no-attacks --min-attack-mse`, every point missed by inf and the first in grid
    order was named (0.317 short on accuracy) over one 0.15 short."""
    points = [_with_label(_point(cut, sigma, acc, None), 1.0, 0.0)
              for cut, sigma, acc in (("layer2", 2.0, 0.583), ("layer1", 2.0, 0.75),
                                      ("layer1", 4.0, 0.583))]  # fmt: skip
    a = answer(points, Constraints(0.9, 0.5, None), GateConfig(), "m", "d")
    assert (a.recommendation.cut, a.recommendation.noise_sigma) == ("layer1", 2.0)
    assert a.recommendation.shortfalls[0] == "noisy accuracy 0.75 is 0.15 below 0.9"
    # one unmeasured constraint is farther than any finite shortfall
    measured = replace(points[0], attacks=(AttackSummary("decoder", Status.OK, 1, 0.6),),
                       runs=(_run(0, 0.6, 0.1),))  # fmt: skip
    b = answer([points[1], measured], Constraints(0.9, 0.5, None), GateConfig(), "m", "d")
    assert (b.recommendation.cut, b.recommendation.noise_sigma) == ("layer2", 2.0)
