"""A user's input entropy h(x): never more than the data can have, and refuted by an attack.

A tester passed `--input-entropy 5` for standardised columns (at most 1.42 nats each, a
Gaussian's), and a conditional-entropy gate passed on it while an attack's MSE showed it
false; and `--entropy-unit bits`, a density model's bits per dimension of 8-bit pixels,
was read for a table as if it were one.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import privaudit
from privaudit.demo import tabular_data_path, tabular_model_path
from privaudit.errors import ConfigError
from privaudit.results import AuditReport


def _table(**bound: Any) -> AuditReport:
    gate = bound.pop("gate", {})
    return privaudit.assess(tabular_model_path(), data=tabular_data_path(), split="layer2",
                            noise=0.1, attacks=["linear"], budget="smoke", device="cpu",
                            bound={"dfil": False, **bound}, gate=gate)  # fmt: skip


def _images(**bound: Any) -> AuditReport:
    return privaudit.assess(None, split="layer3", noise=0.1, attacks=False, limit=300,
                            bound={"dfil": False, **bound})  # fmt: skip


def test_more_input_entropy_than_the_data_can_have_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"more than these inputs can have: at most 1\.4"):
        _table(input_entropy=5.0)
    with pytest.raises(ConfigError, match=r"at most 0 nats \(the uniform distribution on"):
        _images(input_entropy=8.5, input_entropy_unit="bits")  # 8.5 bits: above 0 nats
    ok = _images(input_entropy=7.5, input_entropy_unit="bits")
    assert ok.bound is not None
    assert ok.bound.input_entropy_per_dim == pytest.approx(-0.5 * math.log(2))


def test_bits_per_dimension_are_for_8_bit_pixels_only() -> None:
    with pytest.raises(ConfigError, match="bits per dimension of 8-bit pixels"):
        _table(input_entropy=1.0, input_entropy_unit="bits")


def test_an_attack_below_the_papers_floor_refutes_the_conditional_entropy() -> None:
    """An error of MSE m leaves h(x|z)/d at most log(2 pi e m) / 2: below (T), h(x) was
    overstated, and a gate on the conditional entropy must fail whatever its threshold."""
    report = _table(input_entropy=1.41, gate={"min_cond_entropy": -10.0})
    bound, (linear,) = report.bound, report.attacks
    assert bound is not None and linear.mse is not None and bound.mse_floor is not None
    assert bound.mse_floor < linear.mse < bound.paper_floor  # (S) holds, (T) does not
    assert any(w.startswith("the paper's floor (T) does not hold: the linear attack reaches")
               for w in report.warnings)  # fmt: skip
    assert not report.gate.passed
    (violation,) = report.gate.violations
    assert violation.rule == "min_cond_entropy" and "does not hold" in violation.message
    below = _table(input_entropy=1.0, gate={"min_cond_entropy": -10.0})
    assert below.bound is not None and below.bound.paper_floor < below.attacks[0].mse
    assert below.gate.passed and not any("(T) does not hold" in w for w in below.warnings)
