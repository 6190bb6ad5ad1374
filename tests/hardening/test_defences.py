"""Defences beside CEM: the registry, adversary, allocation, guard rails and their judgement."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from privaudit.config import Defence, HardenConfig, values
from privaudit.data import Normalization
from privaudit.errors import ConfigError
from privaudit.hardening import (
    DEFENCES,
    FinetuneSettings,
    choose,
    compare,
    fine_tune,
    sigma_for_accuracy,
    winner,
)
from privaudit.hardening.adversary import Adversary
from privaudit.hardening.allocation import NoiseAllocation
from privaudit.model import split_model
from privaudit.progress import NullProgress
from privaudit.results import (
    AttackResult,
    AuditReport,
    BoundResult,
    Interval,
    Reference,
    Status,
    Variant,
    read_report,
    regression,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_defence_is_registered_and_described() -> None:
    assert list(DEFENCES) == list(values(Defence))
    assert all(d.summary and d.grid in ("lam", "mu") for d in DEFENCES.values())
    assert DEFENCES["cem+adversarial"].cem and DEFENCES["cem+adversarial"].adversarial
    assert DEFENCES["noise-allocation"].allocation and not DEFENCES["cem"].allocation


def test_config_refuses_unknown_or_repeated_defences() -> None:
    assert HardenConfig(defence=("adversarial", "cem")).defence == ("adversarial", "cem")
    with pytest.raises(ConfigError, match="harden.defence"):
        HardenConfig(defence=("dropout",))
    with pytest.raises(ConfigError, match="named twice"):
        HardenConfig(defence=("cem", "cem"))
    with pytest.raises(ConfigError, match="at least one"):
        HardenConfig(defence=())


@pytest.mark.parametrize("defence", ["cem", "noise-allocation", "cem+adversarial"])
def test_one_epoch_with_cem_is_refused_because_cem_would_never_run(defence: str) -> None:
    with pytest.raises(ConfigError, match="never run") as info:
        HardenConfig(epochs=1, defence=(defence,))
    assert "--epochs 2" in (info.value.hint or "")


def test_one_epoch_is_fine_without_cem() -> None:
    assert HardenConfig(epochs=1, defence=("adversarial",)).epochs == 1
    assert HardenConfig(epochs=1, lam=0.0).lam == 0.0  # noise-only: nothing is off


def test_allocation_keeps_the_total_noise_power() -> None:
    alloc = NoiseAllocation(4, 3, initial=np.array([0.5, 1.0, 1.0, np.sqrt(1.75)]))
    a = alloc().detach()
    assert a.shape == (1, 4, 1, 1)
    assert float((a**2).mean()) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(alloc.values(), [0.5, 1.0, 1.0, np.sqrt(1.75)], rtol=1e-5)
    with torch.no_grad():
        alloc.theta.add_(torch.randn(4))
    assert float((alloc().detach() ** 2).mean()) == pytest.approx(1.0, abs=1e-6)
    assert NoiseAllocation(6, 1)().shape == (1, 6)


def test_adversary_learns_and_restarts_on_schedule() -> None:
    torch.manual_seed(0)
    adv = Adversary((4, 7, 7), (1, 28, 28), steps=2, reset=3, seed=5,
                    device=torch.device("cpu"))
    z, x = torch.randn(16, 4, 7, 7), torch.rand(16, 1, 28, 28)
    first = adv.fit(z, x)
    for _ in range(5):
        last = adv.fit(z, x)
    assert last < first  # it learns the (fixed) batch
    weights = [p.detach().clone() for p in adv.decoder.parameters()]
    for _ in range(3):
        adv.encoder_stepped()
    assert adv.restarts == 1
    assert any(not torch.equal(a, b) for a, b in zip(weights, adv.decoder.parameters(),
                                                     strict=True))
    z.requires_grad_(True)
    adv.loss(z, x).backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0  # the encoder gets a gradient


def _settings(**kw: object) -> FinetuneSettings:
    base = {"lam": 1.0, "loss": "bound", "k": 2, "epochs": 2, "lr": 1e-2, "batch_size": 32,
            "freeze_head": False, "noise_sigma": 0.05, "seed": 0}
    return FinetuneSettings(**(base | kw))  # type: ignore[arg-type]


def test_noise_allocation_learns_scales_at_equal_power(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    split = split_model(onnx.load(tiny_cnn_legacy), "layer3")
    x, y = digits_like[0][:96], digits_like[1][:96]
    done = fine_tune(split, Normalization(), x, y, _settings(lam=4.0, allocate=True),
                     device=torch.device("cpu"), progress=NullProgress(), label="t")
    a = np.asarray(done.noise_scales)
    assert a.shape == (4,) and np.mean(a**2) == pytest.approx(1.0, abs=1e-5)
    assert np.ptp(a) > 1e-3  # the bound moved noise between channels
    assert done.history[-1].noise_scales == pytest.approx(tuple(a))
    fixed = fine_tune(split, Normalization(), x, y, _settings(noise_scales=tuple(a)),
                      device=torch.device("cpu"), progress=NullProgress(), label="t")
    assert fixed.noise_scales == tuple(a)  # not learned: carried through


def test_adversarial_fine_tune_records_the_adversary(
    tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    split = split_model(onnx.load(tiny_cnn_legacy), "layer3")
    done = fine_tune(split, Normalization(), digits_like[0][:64], digits_like[1][:64],
                     _settings(lam=0.0, mu=1.0, epochs=1, adversary_reset=3),
                     device=torch.device("cpu"), progress=NullProgress(), label="t")
    stats = done.history[0]
    assert stats.adversary_loss is not None and 0 < stats.adversary_loss < 1
    assert stats.cem_loss == 0.0 and done.noise_scales is None


def _variant(label: str, acc: tuple[float, ...], mse: tuple[float, ...], *, sigma: float = 0.1,
             defence: str = "noise-only", leak: float = 0.1) -> Variant:
    return Variant(
        label=label, lam=0.0, loss="none", noise_sigma=sigma, seeds=len(acc),
        clean_accuracy=0.99, noisy_accuracy=float(np.mean(acc)), noisy_accuracy_std=0.0,
        decoder_mse=float(np.mean(mse)), decoder_mse_std=0.0, leakage_bits_per_dim=leak,
        mse_floor=0.0, paper_floor=0.0, feature_mean=0.5, feature_std=0.1,
        within_class_share=0.5, defence=defence, strongest_attack="decoder",
        strongest_mse=float(np.mean(mse)), strongest_mse_std=0.0,
        seed_noisy_accuracy=acc, seed_strongest_mse=mse,
    )


def test_sigma_for_accuracy_interpolates_in_log_sigma_and_extends_with_a_clamp() -> None:
    frontier = [_variant("a", (0.95,), (0.02,), sigma=0.1),
                _variant("b", (0.85,), (0.03,), sigma=0.4)]
    assert sigma_for_accuracy(frontier, 0.90) == pytest.approx(0.2)  # geometric midpoint
    assert sigma_for_accuracy(frontier, 0.75) == pytest.approx(1.6)  # one more step
    assert sigma_for_accuracy(frontier, 0.10) == pytest.approx(1.6)  # clamped at 4x
    assert sigma_for_accuracy(frontier[:1], 0.9) is None


def test_compare_pairs_seeds_and_only_claims_a_matched_frontier() -> None:
    equal = _variant("noise-only x1.0", (0.95, 0.93), (0.020, 0.025))
    matched = _variant("noise-only sigma 0.2", (0.905, 0.895), (0.025, 0.030), sigma=0.2)
    far = _variant("noise-only x3.0", (0.80, 0.80), (0.040, 0.040), sigma=0.3)
    cem = _variant("cem", (0.90, 0.90), (0.030, 0.036), defence="cem")
    c = compare(cem, equal, [equal, matched, far])
    assert c.defence == "cem" and c.attack == "strongest"
    gains = [0.030 / 0.020 - 1, 0.036 / 0.025 - 1]
    assert c.equal_sigma_mse_gain == pytest.approx(np.mean(gains))
    assert c.equal_sigma_mse_gain_std == pytest.approx(np.std(gains, ddof=1))
    assert c.equal_sigma_accuracy_delta == pytest.approx(-4.0)
    assert c.frontier_label == matched.label and c.frontier_accuracy_delta == pytest.approx(0.0)
    assert c.frontier_mse_gain == pytest.approx(np.mean([0.2, 0.2]))
    assert c.frontier_mse_gain_std == pytest.approx(0.0, abs=1e-12)
    assert c.frontier_mse_at_cem_accuracy == pytest.approx(0.0275)
    alone = compare(cem, equal, [equal, far])  # nearest: equal, 4 points away
    assert alone.frontier_mse_gain is None and alone.frontier_label is None
    assert "no frontier gain is claimed" in alone.note and "4.0 points away" in alone.note


@pytest.mark.parametrize(("mse", "spread", "said"), [
    ((0.0306,), None, "is above the noise-only frontier at matched accuracy (m) on 1 seed, "
                      "too few to tell a gain from seed noise"),
    ((0.0310, 0.0330, 0.0350), 0.0667, "beats the noise-only frontier at matched accuracy (m), "
                                     "by more than the seeds' spread"),
    ((0.0250, 0.0310, 0.0390), 0.234, "is above the noise-only frontier at matched accuracy "
                                      "(m), but within the seeds' spread"),
    ((0.0270, 0.0290), 0.047, "does not beat the noise-only frontier"),
])  # fmt: skip
def test_the_frontier_claim_weighs_the_gain_against_its_spread(
    mse: tuple[float, ...], spread: float | None, said: str
) -> None:
    # NOTE: one seed has no spread: None, so no report prints "± 0.0%" for it
    n = len(mse)
    frontier = _variant("m", (0.9,) * n, (0.03,) * n)
    c = compare(_variant("cem", (0.9,) * n, mse, defence="cem"), None, [frontier])
    assert c.frontier_mse_gain == pytest.approx(np.mean(mse) / 0.03 - 1)
    if spread is None:
        assert c.frontier_mse_gain_std is None
    else:
        assert c.frontier_mse_gain_std == pytest.approx(spread, abs=1e-3)
    assert c.note.startswith(f"cem {said}")


def test_choose_and_winner_weigh_privacy_within_the_budget() -> None:
    a = _variant("cem", (0.95,), (0.03,), defence="cem")
    b = _variant("adversarial", (0.94,), (0.04,), defence="adversarial")
    c = _variant("cem+adversarial", (0.80,), (0.09,), defence="cem+adversarial")
    index, why = choose([a, b, c], 2.0, 0.955)
    assert index == 1 and "adversarial" in why and "within 2 points" in why
    index, why = choose([a, b, c], 0.1, 0.999)
    assert index == 0 and "no candidate" in why
    comparisons = [compare(v, None, [_variant("m", v.seed_noisy_accuracy, (0.03,))])
                   for v in (a, b, c)]
    index, why = winner([a, b, c], comparisons)
    assert index == 2 and "matched accuracy (+200.0%)" in why
    index, why = winner([a, b], [dataclasses.replace(comparisons[0], frontier_mse_gain=None),
                                 comparisons[1]])
    assert index == 1 and "accuracy was not weighed" in why


GOLDEN = Path(__file__).parents[1] / "reports" / "golden" / "report.json"


def _report(mse: float, leak: float) -> AuditReport:
    base = read_report(GOLDEN)
    attack = AttackResult(attack="decoder", status=Status.OK, mse=mse)
    assert base.bound is not None
    bound: BoundResult = dataclasses.replace(base.bound, leakage_bits_per_dim=leak,
                                             noise_sigma=0.1)
    return dataclasses.replace(base, attacks=(attack,), bound=bound)


def test_regression_names_what_got_worse() -> None:
    before = _report(0.030, 0.20)
    assert regression(before, _report(0.035, 0.15)) is None
    text = regression(before, _report(0.025, 0.25))
    assert text is not None and text.startswith("The hardened model is LESS private")
    assert "0.025" in text and "0.03" in text and "leakage bound" in text
    only_leak = regression(before, _report(0.031, 0.22))
    assert only_leak is not None and "strongest attack" not in only_leak
    # within compare's 5% tolerance: not "LESS private" (a tester's -0.0003% and +0.3% were)
    assert regression(before, _report(0.0299, 0.205)) is None


def test_regression_compares_the_best_reconstructions_references_included() -> None:
    def label(report: AuditReport, mse: float, low: float, high: float) -> AuditReport:
        ref = Reference("label", mse, mse_interval=Interval(low, high))
        return dataclasses.replace(report, references=(ref,))

    # the attacks (0.060, 0.065) are weaker than the label references: these decide
    before = label(_report(0.060, 0.20), 0.050, 0.047, 0.053)
    worse = label(_report(0.065, 0.15), 0.040, 0.038, 0.042)
    text = regression(before, worse) or ""
    assert text.startswith("The hardened model is LESS private")
    assert ("its best reconstruction reaches MSE 0.04 (label reference), below the original's "
            "0.05 (label reference), beyond both 95% intervals") in text
    close = label(_report(0.065, 0.15), 0.049, 0.046, 0.052)
    assert regression(before, close) is None  # within both intervals: noise, as compare says
    # an attack weaker than both labels got weaker still: the label decides, and it held
    assert regression(before, label(_report(0.070, 0.15), 0.050, 0.047, 0.053)) is None
    # a better attack that stays above the label reference changes nothing the server can do
    assert regression(before, label(_report(0.055, 0.15), 0.050, 0.047, 0.053)) is None


def test_regression_without_attacks_and_on_the_floor() -> None:
    """Harden's "LESS private" saw only the strongest attack and the leakage: with no attack
    (--no-attacks) a better reference, and a lower floor (S), passed unsaid."""
    def bare(report: AuditReport, nearest: float, floor: float) -> AuditReport:
        assert report.bound is not None
        return dataclasses.replace(
            report, attacks=(), references=(Reference("nearest", nearest),),
            bound=dataclasses.replace(report.bound, mse_floor=floor))  # fmt: skip

    before = bare(_report(0.03, 0.20), 0.050, 0.0040)
    assert regression(before, bare(_report(0.03, 0.20), 0.052, 0.0039)) is None  # within 5%
    text = regression(before, bare(_report(0.03, 0.20), 0.030, 0.0040)) or ""
    assert "MSE 0.03 (nearest reference), below the original's 0.05" in text
    text = regression(before, bare(_report(0.03, 0.20), 0.050, 0.0030)) or ""
    assert "its MSE floor (S) is 0.003, below the original's 0.004" in text


def test_a_defence_is_judged_by_a_reference_that_beats_its_attacks() -> None:
    from privaudit.results.verdict import strongest_reconstruction

    def best(report: AuditReport) -> tuple[str, float] | None:
        found = strongest_reconstruction(report)
        return None if found is None else (found.name, found.mse)

    report = _report(0.030, 0.20)  # the golden's references: prior 0.0833, label 0.0523
    assert best(report) == ("decoder", 0.030)
    weak = _report(0.070, 0.20)  # an attack worse than the label reference
    assert best(weak) == ("label reference", 0.0523)
    found = strongest_reconstruction(weak)
    assert found is not None and found.recovered is not None and found.interval is not None
    useless = _report(0.090, 0.20)  # worse than guessing the mean: the label still wins
    assert best(useless) == ("label reference", 0.0523)
    no_label = dataclasses.replace(useless, references=tuple(
        r for r in useless.references if r.name == "prior"))
    assert best(no_label) == ("prior reference", 0.0833)
    assert best(dataclasses.replace(weak, attacks=())) is None


def test_the_comparison_says_reconstruction_when_a_reference_judged_a_variant() -> None:
    from privaudit.results import Comparison, compared_mse_words

    c = Comparison(0.0, 0.0, None, None, "", defence="cem", attack="strongest")
    by_attack = _variant("cem", (0.9,), (0.03,))
    assert compared_mse_words(c, [by_attack]) == "the strongest attack's"
    by_label = dataclasses.replace(by_attack, strongest_attack="decoder/label reference")
    assert compared_mse_words(c, [by_attack, by_label]) == (
        "the strongest reconstruction's (attack or reference)")
    assert compared_mse_words(dataclasses.replace(c, attack="decoder"), [by_label]) == (
        "the decoder's")


def test_every_variant_reads_the_floors_point_estimate() -> None:
    """The original (an interval: its lower end in `mse_floor`) and the trained variants (no
    interval) were put side by side as if both were one quantity."""
    from pathlib import Path

    from privaudit.hardening.frontier import variant_of
    from privaudit.results import read_report

    golden = read_report(Path(__file__).parents[1] / "reports" / "golden" / "report.json")
    assert golden.bound is not None and golden.bound.mse_floor_estimate is not None
    assert golden.bound.mse_floor < golden.bound.mse_floor_estimate  # the lower end
    variant = variant_of("original", 0.0, "none", 0.1, [golden], [(0.0, 1.0, None)])
    assert variant.mse_floor == golden.bound.mse_floor_estimate
