"""The gate as a table: thresholds, equality, NaN, sigma = 0, missing quantities, statuses."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from privaudit.config import GateConfig
from privaudit.gate import evaluate_gate, evaluate_report
from privaudit.results import (
    AttackResult,
    BoundResult,
    Dfil,
    HardenResult,
    Reference,
    Status,
    read_report,
)

BOUND = BoundResult(
    noise_sigma=0.1,
    input_dim=784,
    feature_dim=392,
    n_samples=1000,
    covariance="diagonal",
    vacuous=False,
    leakage_nats=300.0,
    leakage_bits_per_dim=0.55,
    leakage_interval=None,
    clustering="class",
    terms=(),
    input_entropy_per_dim=-2.0,
    input_entropy_source="gaussian",
    cond_entropy_per_dim=-2.4,
    mse_floor=0.0015,
    mse_floor_estimate=0.0016,
    mse_floor_interval=None,
    floor_clustering="class",
    floor_prior=0.05,
    floor_vacuous=False,
    paper_floor=0.0003,
    paper_floor_interval=None,
    certified_mse_floor=1e-6,
    floor_ratio=0.46,
)
VACUOUS = replace(
    BOUND,
    noise_sigma=0.0,
    vacuous=True,
    leakage_nats=None,
    leakage_bits_per_dim=None,
    cond_entropy_per_dim=None,
    mse_floor=0.0,
    paper_floor=0.0,
    floor_ratio=0.0,
    certified_mse_floor=0.0,
)
OK = AttackResult("decoder", Status.OK, mse=0.02, psnr=17.0, ssim=0.5, recovered=0.4)
DFIL = Dfil(Status.OK, probes=8, relative_standard_error=0.01, mean=40.0, inverse_p05=0.02)
NO_DFIL = Dfil(Status.SKIPPED, reason="needs the encoder in torch: unsupported ops")
SKIP = AttackResult("optimization", Status.SKIPPED, reason="needs gradients")
ERR = AttackResult("gan", Status.ERROR, reason="diverged")


@pytest.mark.parametrize(
    ("gate", "bound", "attacks", "rules"),
    [
        (GateConfig(), BOUND, (OK, ERR), []),  # no thresholds: no gate, even with errors
        (GateConfig(min_mse_floor=0.0015), BOUND, (), []),  # equal passes
        (GateConfig(min_mse_floor=0.0016), BOUND, (), ["min_mse_floor"]),
        (GateConfig(min_cond_entropy=-2.4), BOUND, (), []),
        (GateConfig(min_cond_entropy=-2.0), BOUND, (), ["min_cond_entropy"]),
        (GateConfig(max_leakage=0.55), BOUND, (), []),
        (GateConfig(max_leakage=0.5), BOUND, (), ["max_leakage"]),
        (GateConfig(min_mse_floor=1e-4), replace(BOUND, mse_floor=math.nan), (), ["min_mse_floor"]),
        (GateConfig(min_mse_floor=1e-4), None, (), ["min_mse_floor"]),  # missing bound
        (GateConfig(max_leakage=1.0), VACUOUS, (), ["max_leakage"]),  # sigma = 0: unbounded
        (GateConfig(min_mse_floor=0.0), VACUOUS, (), []),  # floor 0 >= 0
        (GateConfig(min_cond_entropy=-10.0), VACUOUS, (), ["min_cond_entropy"]),
        (GateConfig(min_attack_mse=0.02), BOUND, (OK,), []),
        (GateConfig(min_attack_mse=0.03), BOUND, (OK,), ["min_attack_mse"]),
        (GateConfig(min_attack_mse=0.01), BOUND, (replace(OK, mse=math.nan),), ["min_attack_mse"]),
        (GateConfig(min_attack_mse=0.01), BOUND, (OK, SKIP), []),
        (GateConfig(min_attack_mse=0.01, strict=True), BOUND, (OK, SKIP), ["strict"]),
        (GateConfig(min_attack_mse=0.01), BOUND, (OK, ERR), ["attack_error"]),
        (GateConfig(min_attack_mse=0.01), BOUND, (), ["min_attack_mse"]),  # none ran: no pass
        (GateConfig(max_recovered=0.9), BOUND, (SKIP,), ["max_recovered"]),
        (GateConfig(min_attack_mse=0.01), BOUND, (ERR,), ["min_attack_mse", "attack_error"]),
        (GateConfig(max_leakage=1.0), BOUND, (), []),  # no attack threshold: attacks not needed
        (GateConfig(max_recovered=0.4), BOUND, (OK,), []),  # equal passes
        (GateConfig(max_recovered=0.3), BOUND, (OK,), ["max_recovered"]),
        (GateConfig(max_recovered=0.9), BOUND, (replace(OK, recovered=None),), ["max_recovered"]),
        (GateConfig(max_recovered=0.3), BOUND, (OK, SKIP), ["max_recovered"]),
        (GateConfig(min_mse_floor=1e-4), replace(BOUND, mse_floor=None), (), ["min_mse_floor"]),
        (
            GateConfig(min_mse_floor=0.01, max_leakage=0.1, min_attack_mse=0.05),
            BOUND,
            (OK,),
            ["min_mse_floor", "max_leakage", "min_attack_mse"],
        ),
    ],
)
def test_gate_table(
    gate: GateConfig, bound: BoundResult | None, attacks: tuple[AttackResult, ...], rules: list[str]
) -> None:
    result = evaluate_gate(gate, bound, attacks)
    assert [v.rule for v in result.violations] == rules
    assert result.passed == (not rules)
    assert result.active == gate.active


@pytest.mark.parametrize(
    ("threshold", "dfil", "failed"),
    [(0.02, DFIL, False), (0.03, DFIL, True), (0.01, NO_DFIL, True), (0.01, None, True),
     (None, None, False)],
)
def test_dfil_rule(threshold: float | None, dfil: Dfil | None, failed: bool) -> None:
    result = evaluate_gate(GateConfig(min_dfil_mse=threshold), BOUND, (), dfil)
    assert [v.rule for v in result.violations] == (["min_dfil_mse"] if failed else [])
    if dfil is NO_DFIL:
        assert "unsupported ops" in result.violations[0].message


def test_vacuous_message_explains_sigma_zero() -> None:
    result = evaluate_gate(GateConfig(max_leakage=1.0), VACUOUS, ())
    assert "sigma = 0" in result.violations[0].message


def test_a_harden_report_is_checked_on_its_hardened_model() -> None:
    saved = read_report(Path(__file__).parents[1] / "reports" / "golden" / "report.json")
    before = replace(saved, bound=replace(BOUND, mse_floor=1e-4), attacks=())
    after = replace(saved, bound=replace(BOUND, mse_floor=1e-2), attacks=())
    harden = HardenResult(
        output_path="h.onnx", output_sha256="", noise_sigma=0.1, lam=4.0, loss="bound", k=5,
        epochs=1, freeze_head=False, embed_noise=False, history=(), after=after,
    )
    gate = GateConfig(min_mse_floor=1e-3)
    assert not evaluate_report(gate, before).passed
    assert evaluate_report(gate, replace(before, harden=harden)).passed
    assert not evaluate_report(gate, replace(after, harden=replace(harden, after=before))).passed


PRIOR = Reference("prior", mse=0.05, recovered=0.0)
LABEL = Reference("label", mse=0.015, recovered=0.7)
NO_LABEL = Reference("label", mse=None, reason="no labels")


@pytest.mark.parametrize(
    ("gate", "references", "found"),
    [
        # the attack passes; the label reference, free to the server, does better: it fails
        (GateConfig(min_attack_mse=0.02), (PRIOR, LABEL), [("min_attack_mse", "label reference")]),
        (GateConfig(min_attack_mse=0.015), (PRIOR, LABEL), []),  # equal passes
        (GateConfig(max_recovered=0.5), (PRIOR, LABEL), [("max_recovered", "label reference")]),
        # guessing the mean already beats the threshold: no attack result can pass it
        (GateConfig(min_attack_mse=0.06), (PRIOR,),
         [("min_attack_mse", "decoder"), ("min_attack_mse", "prior reference")]),
        (GateConfig(min_attack_mse=0.02), (PRIOR, NO_LABEL), []),  # none measured: not checked
        (GateConfig(max_leakage=1.0), (PRIOR, LABEL), []),  # the attack rules only
    ],
)  # fmt: skip
def test_the_references_are_held_to_the_attack_thresholds(
    gate: GateConfig, references: tuple[Reference, ...], found: list[tuple[str, str]]
) -> None:
    result = evaluate_gate(gate, BOUND, (OK,), None, references)
    assert [(v.rule, v.subject) for v in result.violations] == found
    if ("min_attack_mse", "label reference") in found:
        assert result.violations[-1].message == (
            "label reference: min_attack_mse 0.015 is not >= 0.02")


def test_a_saved_report_is_checked_with_its_references() -> None:
    saved = read_report(Path(__file__).parents[1] / "reports" / "golden" / "report.json")
    label = next(r for r in saved.references if r.name == "label")
    assert label.mse is not None
    gate = GateConfig(min_attack_mse=label.mse * 1.01)
    subjects = {v.subject for v in evaluate_report(gate, saved).violations}
    assert "label reference" in subjects


@pytest.mark.parametrize(("floor", "threshold", "shown"),
                         [(0.26155, 0.2616, "0.26155"), (0.0015, 0.002, "0.0015"),
                          (0.123456789, 0.1234568, "0.12345679")])  # fmt: skip
def test_a_violation_never_shows_the_value_as_its_threshold(
    floor: float, threshold: float, shown: str
) -> None:
    """A tester's `--fail-under-floor 0.2616` read 'min_mse_floor 0.2616 is not >= 0.2616'."""
    result = evaluate_gate(GateConfig(min_mse_floor=threshold), replace(BOUND, mse_floor=floor),
                           ())  # fmt: skip
    assert [v.message for v in result.violations] == [
        f"bound: min_mse_floor {shown} is not >= {threshold!r}"]


def test_a_reconstruction_below_the_floor_fails_the_rules_that_rest_on_it() -> None:
    """An MSE under the floor shows its assumption failed: the floor and h(x|z) overstate."""
    gate = GateConfig(min_mse_floor=0.001, min_cond_entropy=-3.0, max_leakage=1.0)
    assert not evaluate_gate(gate, BOUND, (OK,), references=(PRIOR,)).violations
    below = replace(OK, attack="knn", mse=0.0009)
    found = evaluate_gate(gate, BOUND, (below,), references=(PRIOR,)).violations
    assert [v.rule for v in found] == ["min_cond_entropy", "min_mse_floor"]  # not the leakage
    assert all("the knn attack reaches MSE 0.0009, below the floor 0.0015" in v.message
               for v in found)  # fmt: skip
    label = Reference("label", mse=0.001, recovered=0.98)  # a reference refutes it as well
    found = evaluate_gate(gate, BOUND, (OK,), references=(PRIOR, label)).violations
    assert [v.rule for v in found] == ["min_cond_entropy", "min_mse_floor"]
    assert "the label reference reaches MSE 0.001" in found[0].message
    vacuous = evaluate_gate(gate, VACUOUS, (below,)).violations  # no floor to refute there
    assert vacuous and not any("below the floor" in v.message for v in vacuous)


def test_an_attack_scored_on_too_few_samples_fails_the_attack_thresholds() -> None:
    """A tester's audit of 2 rows passed `--fail-over-recovered 0.1` on one evaluation sample."""
    from privaudit.gate import MIN_GATED_SAMPLES

    one = AttackResult("knn", Status.OK, mse=0.5, recovered=0.01, n_samples=1)
    gate = GateConfig(max_recovered=0.1)
    (v,) = evaluate_gate(gate, None, (one,)).violations
    assert (v.rule, v.subject) == ("max_recovered", "knn")
    assert "scored on 1 evaluation sample, too few to gate max_recovered on" in v.message
    enough = replace(one, n_samples=MIN_GATED_SAMPLES)
    assert evaluate_gate(gate, None, (enough,)).passed
    assert evaluate_gate(GateConfig(max_leakage=9.0), BOUND, (one,)).passed  # bound only


def test_an_attack_that_learned_nothing_cannot_pass_the_attack_thresholds() -> None:
    """A smoke audit of a hardened model: decoder recovered -70%, and
    `--fail-under-attack-mse 0.04` passed on its MSE, which says only that it did not train."""
    from privaudit.gate import FAILED_TO_LEARN

    failed = AttackResult("decoder", Status.OK, mse=0.11, recovered=-0.7, n_samples=100)
    (v,) = evaluate_gate(GateConfig(min_attack_mse=0.04), None, (failed,)).violations
    assert (v.rule, v.subject) == ("min_attack_mse", "decoder")
    assert "did worse than guessing the mean input (recovered -70%)" in v.message
    near = replace(failed, recovered=FAILED_TO_LEARN / 2)  # about the mean: a private model
    assert evaluate_gate(GateConfig(min_attack_mse=0.04), None, (near,)).passed


def test_a_refutation_within_its_interval_names_chance_as_a_possible_cause() -> None:
    """A tester's exactly Gaussian classes were told 'the input is not Gaussian within each
    class', refuted by a label reference's luck on 60 rows; the floor is still not trusted."""
    from privaudit.results import Interval, read_report
    from privaudit.results.verdict import Reconstruction, refuted_floor_words

    golden = read_report(Path(__file__).parents[1] / "reports" / "golden" / "report.json")
    assert golden.bound is not None and golden.bound.mse_floor is not None
    floor = golden.bound.mse_floor
    lucky = Reconstruction("label reference", floor * 0.95, None,
                           Interval(floor * 0.8, floor * 1.1))  # fmt: skip
    words = refuted_floor_words(golden.bound, lucky)
    assert "by chance on these evaluation samples" in words and "no floor holds" in words
    apart = Reconstruction("knn attack", floor * 0.5, None, Interval(floor * 0.4, floor * 0.6))
    words = refuted_floor_words(golden.bound, apart)
    assert "chance" not in words and "is not Gaussian within each" in words


@pytest.mark.parametrize("value", [math.nan, -math.inf, math.inf, -0.5])
def test_a_dfil_threshold_that_gates_nothing_is_refused(value: float) -> None:
    """`--fail-under-dfil-mse -inf` passed every report, nan failed every one (exit 1)."""
    from privaudit.config import GateConfig
    from privaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="gate.min_dfil_mse"):
        GateConfig(min_dfil_mse=value)


def test_strict_alone_is_a_gate() -> None:
    """`--strict` with no threshold printed "no thresholds configured" and passed a report
    with a skipped attack."""
    from privaudit.config import GateConfig

    assert GateConfig(strict=True).active and not GateConfig().active


def test_the_leakage_gate_reads_a_bound_never_a_biased_estimate() -> None:
    """A reviewer (2026-12-08): `--covariance full` with clusters smaller than the features
    reported 0.043 bits/dim, which the tool itself called "not a valid bound", and the gate
    passed it at 0.09 while the diagonal bound read 0.159. A plug-in below its whole
    bootstrap interval is gated by the interval's upper end."""
    from privaudit.gate import gated_leakage
    from privaudit.results import Interval, MixtureTerm

    gate = GateConfig(max_leakage=0.6)
    thin = replace(BOUND, covariance="full", terms=(MixtureTerm("class", 10, 300.0, 50),))
    (violation,) = evaluate_gate(gate, thin, (), None).violations
    assert violation.rule == "max_leakage" and "--covariance diagonal" in violation.message
    wide = replace(thin, terms=(MixtureTerm("class", 10, 300.0, 500),))
    assert not evaluate_gate(gate, wide, (), None).violations
    bits = 1 / (784 * math.log(2))
    low = replace(BOUND, leakage_interval=Interval(320.0, 400.0, 0.95))
    assert gated_leakage(low) == (pytest.approx(400.0 * bits), None)
    (high,) = evaluate_gate(gate, low, (), None).violations
    assert high.value == pytest.approx(400.0 * bits)  # 0.736 bits/dim, where 300 nats is 0.55
    inside = replace(BOUND, leakage_interval=Interval(280.0, 330.0, 0.95))
    assert gated_leakage(inside) == (0.55, None)
