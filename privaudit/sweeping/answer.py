"""The sweep's answer from its points: frontier, recommendation and gate, for a run or a check.

`privaudit sweep` answers with its constraints; `privaudit check sweep.json` answers again,
without recomputing anything, under the constraints and gate given to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from privaudit.config import GateConfig, SweepConfig
from privaudit.gate import evaluate_gate
from privaudit.results import (
    Constraints,
    GateResult,
    GridPoint,
    Recommendation,
    SweepReport,
    Violation,
)
from privaudit.sweeping.frontier import (
    assess_options,
    frontier_metric,
    mark_pareto,
    recommend,
    with_strongest,
)

__all__ = ["Answer", "answer", "constraints_of", "regate"]


@dataclass(frozen=True)
class Answer:
    """The frontier measure, the points (Pareto and `meets` marked), the pick and the gate."""

    metric: str
    points: tuple[GridPoint, ...]
    recommendation: Recommendation
    gate: GateResult


def constraints_of(sweep: SweepConfig) -> Constraints:
    """The recommendation's constraints in `sweep`'s settings."""
    return Constraints(sweep.min_accuracy, sweep.min_attack_mse, sweep.max_recovered)


def answer(
    points: Sequence[GridPoint], constraints: Constraints, gate: GateConfig, model: str, data: str,
    config: Mapping[str, Any] | None = None,
) -> Answer:
    """Mark the frontier, pick the point, and gate the pick.

    Args:
        points: the sweep's points (their `pareto` and `meets` are recomputed).
        constraints: the recommendation's constraints.
        gate: the gate's thresholds, applied to the recommended point.
        model: the model's path (for the pick's `assess` command).
        data: the data's source, likewise.
        config: the sweep's settings (`Provenance.config`), for the pick's other flags.
    """
    metric = frontier_metric(constraints)
    fresh = [replace(with_strongest(p), pareto=False, meets=None) for p in points]
    marked, pick = recommend(mark_pareto(fresh, metric), constraints, metric, model, data,
                             assess_options(config or {}))
    return Answer(metric, marked, pick, gate_pick(gate, marked, pick))


def gate_pick(gate: GateConfig, points: Sequence[GridPoint], pick: Recommendation) -> GateResult:
    """The gate on the recommended point (a gate with no point to check fails)."""
    if not gate.active:
        return GateResult(active=False)
    chosen = next((p for p in points if pick.met and p.cut == pick.cut
                   and p.noise_sigma == pick.noise_sigma), None)  # fmt: skip
    if chosen is None:
        why = Violation("recommendation", "sweep", None, None,
                        "no recommended point to gate: " + pick.headline)
        return GateResult(active=True, violations=(why,))
    return evaluate_gate(gate, chosen.bound, tuple(r.result for r in chosen.runs),
                         references=chosen.references)


def regate(report: SweepReport, sweep: SweepConfig, gate: GateConfig) -> SweepReport:
    """A saved sweep answered again, with `gate` on the pick.

    The constraints are `sweep`'s when any is set (flags or config), else the sweep's own.
    """
    constraints = constraints_of(sweep) if sweep.constrained else report.constraints
    a = answer(report.points, constraints, gate, report.model.path, report.data.source,
               report.provenance.config)
    return replace(report, constraints=constraints, frontier_metric=a.metric, points=a.points,
                   recommendation=a.recommendation, gate=a.gate)
