"""The answer of a sweep, from its points alone: seeds summarised, the frontier, the pick.

Pure functions. The privacy of a point is its strongest reconstruction: the lowest MSE of
any attack run, whatever its seed (`mse`, more is more private), or the largest recovered
share of any run (`recovered`, less is more private), and of the reference reconstructions:
the worst seed, as the gate judges each run. The label
reference is what the server gets for free, the prior what anyone gets: a point whose attacks
are weaker than these is only as private as these. The frontier is the Pareto set of (noisy
accuracy, privacy); the recommendation is the point that meets the constraints with the
highest accuracy.
"""

from __future__ import annotations

import math
import shlex
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from privaudit.results import (
    AttackRun,
    AttackSummary,
    Constraints,
    GridPoint,
    Recommendation,
    Status,
    lowest_reference,
)
from privaudit.results.verdict import unusable_reason

__all__ = [
    "MSE",
    "RECOVERED",
    "assess_options",
    "frontier_metric",
    "mark_pareto",
    "privacy",
    "recommend",
    "summarize",
    "with_strongest",
]

MSE, RECOVERED = "mse", "recovered"
IN_MEMORY = "<in-memory"


def summarize(runs: Sequence[AttackRun], attacks: Sequence[str]) -> tuple[AttackSummary, ...]:
    """One summary per attack over its seeds: means and spreads of the successful runs."""
    out = []
    for name in attacks:
        mine = [r.result for r in runs if r.result.attack == name]
        ok = [r for r in mine if r.status is Status.OK and r.mse is not None]
        if not ok:
            status = mine[0].status if mine else Status.SKIPPED
            reason = mine[0].reason if mine else "not run"
            out.append(AttackSummary(name, status, 0, reason=reason))
            continue
        out.append(AttackSummary(
            attack=name, status=Status.OK, seeds=len(ok),
            mse=_mean([r.mse for r in ok]), mse_std=_std([r.mse for r in ok]),
            psnr=_mean([r.psnr for r in ok]), ssim=_mean([r.ssim for r in ok]),
            recovered=_mean([r.recovered for r in ok]),
            recovered_std=_std([r.recovered for r in ok]),
            beats_label=None if any(r.beats_label is None for r in ok)
            else all(r.beats_label for r in ok),
            below_floor=any(r.below_floor for r in ok),
        ))  # fmt: skip
    return tuple(out)


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.fmean(known) if known else None


def _std(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.stdev(known) if len(known) > 1 else None


def with_strongest(point: GridPoint) -> GridPoint:
    """`point` with its strongest reconstruction and recovered share over runs and references.

    The strongest is the attack run with the lowest MSE, whatever its seed (a mean over seeds
    let one seed's run beat `--min-attack-mse` while the gate, which judges each run, failed
    it), and the recovered share the largest of any run. A reference with a lower MSE becomes
    the strongest ("label reference", "prior reference"; on a tie the attack stays), and a
    larger recovered share replaces the point's. Idempotent, so that an older sweep.json is
    answered by the same rule as a new one.
    """
    name, mse, recovered = point.strongest, point.strongest_mse, point.recovered
    ok = [r.result for r in point.runs if r.result.status is Status.OK and _finite(r.result.mse)]
    if ok:
        best = min(ok, key=lambda a: float(a.mse or 0.0))
        name, mse = best.attack, best.mse
        recovered = max((float(a.recovered) for a in ok if a.recovered is not None
                         and math.isfinite(a.recovered)), default=None)  # fmt: skip
    ref = lowest_reference(point.references)
    if ref is not None and ref.mse is not None and (mse is None or ref.mse < mse):
        name, mse = f"{ref.name} reference", ref.mse
    shares = [float(r.recovered) for r in point.references
              if _finite(r.mse) and r.recovered is not None and math.isfinite(r.recovered)]
    if shares and (recovered is None or max(shares) > recovered):
        recovered = max(shares)
    return replace(point, strongest=name, strongest_mse=mse, recovered=recovered)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def frontier_metric(constraints: Constraints) -> str:
    """`recovered` when the constraint is on the recovered share alone, else `mse`."""
    only_share = constraints.max_recovered is not None and constraints.min_attack_mse is None
    return RECOVERED if only_share else MSE


def privacy(point: GridPoint, metric: str) -> float | None:
    """How private a point is, larger is more private (the recovered share is negated)."""
    if metric == RECOVERED:
        return None if point.recovered is None else -point.recovered
    return point.strongest_mse


def mark_pareto(points: Sequence[GridPoint], metric: str) -> tuple[GridPoint, ...]:
    """The points, `pareto` set where no other point is as accurate and as private, and more.

    "More": strictly more accurate or strictly more private.
    """
    scored = [(p, p.noisy_accuracy.value, privacy(p, metric)) for p in points]
    known = [(a, v) for _, a, v in scored if a is not None and v is not None]

    def dominated(a: float, v: float) -> bool:
        return any(a2 >= a and v2 >= v and (a2 > a or v2 > v) for a2, v2 in known)

    return tuple(
        replace(p, pareto=a is not None and v is not None and not dominated(a, v))
        for p, a, v in scored
    )


def recommend(
    points: Sequence[GridPoint], constraints: Constraints, metric: str, model: str, data: str,
    options: str = "",
) -> tuple[tuple[GridPoint, ...], Recommendation]:
    """The point to deploy: meets every constraint, then the highest accuracy.

    Ties go to the more private point, then to the higher floor (S), then to the larger sigma.
    With only an accuracy constraint, the most private point that meets it. Without any
    constraint there is no pick (the frontier is the answer). When nothing meets them, the
    closest point (the fewest unmeasured constraints, then the least total relative shortfall)
    is named with what it misses by.

    Args:
        points: the sweep's points.
        constraints: the constraints.
        metric: the frontier's privacy metric (`frontier_metric`).
        model: the model's path, for the command that audits the pick in full.
        data: the data's source, likewise.
        options: the command's other flags (`assess_options`).

    Returns:
        The points with `meets` set, and the recommendation.
    """
    given = [v for v in (constraints.min_accuracy, constraints.min_attack_mse,
                         constraints.max_recovered) if v is not None]  # fmt: skip
    if not given:
        pareto = [p for p in points if p.pareto]
        return tuple(points), Recommendation(
            status="unconstrained",
            headline=f"No constraints given: the frontier holds {len(pareto)} of "
            f"{len(points)} points. Give --min-accuracy with --min-attack-mse or "
            "--max-recovered for a recommendation.")
    marked = tuple(replace(p, meets=not _shortfalls(p, constraints)) for p in points)
    feasible = [p for p in marked if p.meets]
    if feasible:
        best = max(feasible, key=lambda p: _rank(p, constraints, metric))
        return marked, _met(best, constraints, model, data, options)
    closest = min(marked, key=lambda p: _distance(_shortfalls(p, constraints)))
    return marked, _unmet(closest, constraints, model, data, options)


def _distance(shortfalls: Sequence[tuple[float, str]]) -> tuple[int, float]:
    """How far a point is from the constraints: its unmeasured ones, then the rest's sum.

    Every point of a `--no-attacks` sweep misses `--min-attack-mse` by an infinite amount; a
    plain sum made them all equal, and the first in grid order was named, whatever its
    accuracy's shortfall.
    """
    unmeasured = sum(1 for s, _ in shortfalls if math.isinf(s))
    return unmeasured, sum(s for s, _ in shortfalls if not math.isinf(s))


def _rank(p: GridPoint, c: Constraints, metric: str) -> tuple[float, float, float, float]:
    """Larger is better: accuracy and privacy (in the constraints' order), then the rest.

    Then the higher floor (S) that holds (weak attacks tie on a reference, and the bound
    still tells the points apart), then the larger sigma.
    """
    accuracy = p.noisy_accuracy.value or 0.0
    private = privacy(p, metric)
    private = -math.inf if private is None else private
    only_accuracy = c.min_attack_mse is None and c.max_recovered is None
    first = (private, accuracy) if only_accuracy else (accuracy, private)
    return (*first, _holding_floor(p), p.noise_sigma)


def _holding_floor(p: GridPoint) -> float:
    """The point's floor (S), or -inf when it is unknown, vacuous or refuted."""
    b = p.bound
    if b is None or b.mse_floor is None or b.vacuous or b.floor_vacuous:
        return -math.inf
    return -math.inf if p.floor_refuted_by() is not None else float(b.mse_floor)


def _shortfalls(p: GridPoint, c: Constraints) -> list[tuple[float, str]]:
    """(relative shortfall, words) for each constraint `p` misses."""
    # NOTE: the references alone do not bound what an attacker recovers: a privacy
    # constraint needs an attack's result, as the gate's attack thresholds do
    attacked = any(a.status == Status.OK and a.mse is not None for a in p.attacks)
    # NOTE: and, as the gate's, none may be a run that cannot speak for the features (it
    # learned nothing, or was scored on too few samples): a decoder at -168% recovered let
    # a label reference meet --min-attack-mse where `assess`'s gate failed the same point
    unusable = next(((r.result.attack, why) for r in p.runs if r.result.status == Status.OK
                     for why in [unusable_reason(r.result)] if why is not None), None)  # fmt: skip
    checks = [
        (c.min_accuracy, p.noisy_accuracy.value, True, "noisy accuracy", True, "min_accuracy"),
        (c.min_attack_mse, p.strongest_mse, True, "strongest reconstruction's MSE", attacked,
         "min_attack_mse"),
        (c.max_recovered, p.recovered, False, "recovered share", attacked, "max_recovered"),
    ]
    out = []
    for threshold, value, at_least, what, measured, rule in checks:
        if threshold is None:
            continue
        if not measured:
            out.append((math.inf, f"{what} not measured: no attack ran"))
            continue
        if rule != "min_accuracy" and unusable is not None:
            name, why = unusable
            out.append((math.inf, f"{what} not measured: {name} {why.format(rule=rule)}"))
            continue
        if value is None:
            out.append((math.inf, f"{what} not measured"))
            continue
        gap = threshold - value if at_least else value - threshold
        if gap > 0:
            word = "below" if at_least else "above"
            out.append((gap / (abs(threshold) or 1.0),
                        f"{what} {_apart(value, threshold)} is {gap:.3g} {word} "
                        f"{_apart(threshold, value)}"))  # fmt: skip
    return out


def _apart(x: float, other: float) -> str:
    """`x` with the fewest significant digits (4 at least) that tell it from `other`.

    'MSE 0.03626 is 3.15e-06 below 0.03626' said nothing; now '0.036257 ... 0.03626'.
    """
    for digits in range(4, 17):
        shown = f"{x:.{digits}g}"
        if shown != f"{other:.{digits}g}":
            return shown
    return f"{x:.17g}"


def _met(p: GridPoint, c: Constraints, model: str, data: str, options: str) -> Recommendation:
    acc = p.noisy_accuracy.value
    where = f"Cut at {p.cut} with sigma {p.noise_sigma:g}: noisy accuracy {_pct(acc)}"
    reached = (f"at MSE {_num(p.strongest_mse)}, recovering {_pct(p.recovered)} of the input's "
               "variance")
    if any(a.status is Status.OK and _finite(a.mse) for a in p.attacks):
        words = f"{where}, the strongest reconstruction ({p.strongest or 'none'}) {reached}."
    else:
        # NOTE: "the strongest reconstruction (prior reference) ... recovering 0.0%" read as if
        # nothing could be recovered, where no attack had even tried (--no-attacks)
        why = "no attack ran" if not p.attacks else "no attack gave a result"
        words = (f"{where}. No attack measured this point ({why}): only the reference "
                 f"reconstructions did, the best ({p.strongest or 'none'}) {reached}; an "
                 "attacker may recover more.")
    caveats = " ".join(_caveats(p))
    return Recommendation("met", f"{words} {caveats}" if caveats else words, p.cut,
                          p.noise_sigma, (), _command(p, model, data, options))  # fmt: skip


def _caveats(p: GridPoint) -> list[str]:
    """What the pick's numbers cannot show: no noise, attacks that learned nothing, no labels."""
    out = []
    if p.noise_sigma == 0:
        out.append("Caution: no noise, so the features are deterministic and no floor holds; "
                   "only these attacks speak for its privacy.")
    ok = [a for a in p.attacks if a.status is Status.OK and _finite(a.mse)]
    weak = ok and p.strongest is not None and p.strongest.endswith(" reference")
    if weak:
        out.append(f"No attack beat the {p.strongest}: they may be too weak to show what an "
                   "attacker recovers; confirm with its assess command at --budget thorough.")
    if p.noisy_accuracy.value is None:
        out.append("The accuracy was not measured (no labels, or no logits): the pick rests "
                   "on privacy alone.")
    return out


def _unmet(p: GridPoint, c: Constraints, model: str, data: str, options: str) -> Recommendation:
    misses = tuple(words for _, words in _shortfalls(p, c))
    words = (f"No point meets the constraints ({_constraint_words(c)}). The closest is "
             f"{p.cut} at sigma {p.noise_sigma:g}: {'; '.join(misses)}.")
    return Recommendation("unmet", words, p.cut, p.noise_sigma, misses,
                          _command(p, model, data, options))  # fmt: skip


def _constraint_words(c: Constraints) -> str:
    parts = []
    if c.min_accuracy is not None:
        parts.append(f"noisy accuracy >= {c.min_accuracy:g}")
    if c.min_attack_mse is not None:
        parts.append(f"strongest reconstruction's MSE >= {c.min_attack_mse:g}")
    if c.max_recovered is not None:
        parts.append(f"recovered share <= {c.max_recovered:g}")
    return ", ".join(parts)


def _command(p: GridPoint, model: str, data: str, options: str) -> str:
    """`privaudit assess` of the point (its run seed): reconstructions, dFIL and intervals."""
    m = "MODEL" if model.startswith(IN_MEMORY) else shlex.quote(model)
    d = "DATA" if data.startswith(IN_MEMORY) else shlex.quote(data)
    command = (f"privaudit assess {m} --split {shlex.quote(p.cut)} --data {d} "
               f"--noise {p.noise_sigma:g}")
    return f"{command} {options}" if options else command


# NOTE: (config key, assess flag) of the settings that change what a point measures
_FLAGS = (("limit", "--limit"), ("domain", "--domain"), ("label_column", "--label-column"),
          ("columns", "--columns"), ("data_range", "--data-range"), ("mean", "--mean"),
          ("std", "--std"), ("input_shape", "--input-shape"))  # fmt: skip


def assess_options(config: Mapping[str, Any]) -> str:
    """The `assess` flags that measure a point as the sweep did, from its recorded config.

    The config file, the seed, the data's options, the attacks and their budget, and the
    bound's settings where they differ from the defaults; "" for an empty config.
    """
    flags: list[str] = []
    if config.get("config_path"):
        flags += ["--config", str(config["config_path"])]
    if config.get("seed") not in (None, 0):
        flags += ["--seed", str(config["seed"])]
    for key, flag in _FLAGS:
        value = config.get(key)
        if value is not None and value != []:
            many = isinstance(value, list | tuple)
            flags += [flag, ",".join(f"{v:g}" if isinstance(v, float) else str(v)
                                     for v in value) if many else str(value)]  # fmt: skip
    if config.get("layout") not in (None, "auto"):
        flags += ["--layout", str(config["layout"])]
    if config.get("resize"):
        flags.append("--resize")
    if config.get("labels") is False:
        flags.append("--no-labels")
    attacks = config.get("attacks") or {}
    if attacks.get("enabled") is not None:
        enabled = list(attacks["enabled"])
        flags += ["--attacks", ",".join(enabled)] if enabled else ["--no-attacks"]
    if attacks.get("budget"):
        flags += ["--budget", str(attacks["budget"])]
    bound = config.get("bound") or {}
    for key, flag, default in (("covariance", "--covariance", "diagonal"),
                               ("input_entropy", "--input-entropy", "gaussian"),
                               ("input_entropy_unit", "--entropy-unit", "nats")):  # fmt: skip
        if bound.get(key) not in (None, default):
            flags += [flag, str(bound[key])]
    return " ".join(shlex.quote(f) for f in flags)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"
