"""Read a saved report.json back, refusing anything that is not a privaudit report."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from privaudit.config import Domain
from privaudit.errors import DataError
from privaudit.results.migrate import upgrade
from privaudit.results.samples import unpack_samples
from privaudit.results.schema import READABLE_VERSIONS, SCHEMA_VERSION, AuditReport
from privaudit.results.serialize import from_jsonable
from privaudit.results.sweep import SWEEP_KIND, SWEEP_SCHEMA_VERSION, SweepReport
from privaudit.results.verdict import build_verdict, harden_verdict

__all__ = ["from_dict", "out_of_range", "read_report", "read_saved", "sweep_from_dict"]

VERDICT_VERSION = 3  # the first schema whose reports carry their verdicts
_REPORT_HINT = "pass the report.json written by 'privaudit assess' (or harden)"
_SAVED_HINT = "pass a report.json (assess, harden) or a sweep.json (sweep) written by privaudit"


def read_report(path: Path) -> AuditReport:
    """Load a report.json written by privaudit.

    Raises:
        DataError: missing, unreadable, not UTF-8 JSON, or not a privaudit report of this schema
            (a sweep.json included).
    """
    saved = read_saved(path, hint=_REPORT_HINT)
    if isinstance(saved, SweepReport):
        raise DataError(f"{path} is a sweep (sweep.json), not an audit report",
                        hint=_REPORT_HINT)
    return saved


def read_saved(path: Path, *, hint: str = _SAVED_HINT) -> AuditReport | SweepReport:
    """Load a report.json or a sweep.json written by privaudit (told apart by its `kind`).

    Raises:
        DataError: missing, unreadable, not UTF-8 JSON, or not a privaudit report or sweep of
            a readable schema.
    """
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise DataError(f"{path} is not a privaudit report: {size / 2**20:.0f} MiB, where "
                            f"privaudit writes reports of a few MiB (at most "
                            f"{MAX_REPORT_BYTES // 2**20} MiB are read)", hint=hint)
        text = path.read_text(encoding="utf-8-sig")  # NOTE: a BOM some editors add is no error
    except OSError as e:
        raise DataError(
            f"cannot read report {path}: {e.strerror or e}",
            hint="check the path to the report.json or sweep.json",
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a privaudit report (not UTF-8 text)", hint=hint) from None
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_int=_count,
                          object_pairs_hook=_unique_keys)  # fmt: skip
        sweep = isinstance(data, dict) and data.get("kind") == SWEEP_KIND
        report = sweep_from_dict(data) if sweep else from_dict(data)
    except RecursionError:
        raise DataError(
            f"{path} is not a privaudit report (JSON nested too deeply)", hint=hint
        ) from None
    except (ValueError, TypeError, KeyError) as e:
        raise DataError(f"{path} is not a privaudit report: {e}", hint=hint) from None
    _check_mappings(report, path)
    _check_ranges(report, path, hint)
    if isinstance(report, AuditReport):
        _check_consistent(report, path, hint)
    return report


def _check_consistent(report: AuditReport, path: Path, hint: str) -> None:
    """Refuse a report whose parts disagree, which renderers and gates would trip over.

    A domain privaudit does not have; per-feature scores of columns the data does not name.

    Raises:
        DataError: naming what disagrees.
    """
    for part in (report, *(() if report.harden is None else (report.harden.after,))):
        bad = _inconsistency(part)
        if bad is not None:
            raise DataError(f"{path} is not a privaudit report: {bad}", hint=hint)


def _inconsistency(report: AuditReport) -> str | None:
    domain = report.model.domain
    if domain not in {d.value for d in Domain}:
        return f"model.domain {domain!r} is none of {', '.join(d.value for d in Domain)}"
    data = report.data
    names = set(data.feature_names)
    for key in ("feature_mean", "feature_std", "discrete"):
        values = getattr(data, key)
        if values and len(values) != len(data.feature_names):
            return (f"data.{key} has {len(values)} entries for {len(data.feature_names)} "
                    "feature_names")
    scored = [(a.attack, a.features) for a in report.attacks]
    scored += [(r.name, r.features) for r in report.references]
    for who, features in scored:
        unnamed = [f.name for f in features if f.name not in names]
        if unnamed:
            return (f"the per-feature scores of {who} name features that data.feature_names "
                    f"does not hold: {', '.join(repr(n) for n in unnamed[:3])}")
    return None


MAX_REPORT_BYTES = 256 * 2**20  # a report holds a dozen stored samples: a few MiB at most


def _count(digits: str) -> int:
    """An integer of the JSON text; privaudit writes none beyond `MAX_DIGITS` (counts, seeds)."""
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(digits)} digits, larger than privaudit writes")
    return int(digits)


MAX_DIGITS = 20  # digits of the largest integer a report may hold (a 64-bit seed has 20)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice (readers disagree on which counts)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> float:
    """`json.loads` meets NaN or Infinity, which privaudit never writes (it writes null)."""
    raise ValueError(f"{name} is not a value privaudit writes (it writes null)")


# NOTE: what a tampered or corrupted report could use to pass a gate: an MSE or floor below
# 0 passes every minimum on it, an accuracy outside [0, 1] every accuracy constraint.
_NOT_NEGATIVE = frozenset({
    "mse", "mse_raw", "mse_std", "mse_floor", "mse_floor_estimate", "floor_prior",
    "paper_floor", "certified_mse_floor", "best_mse", "floor", "decoder_mse",
    "strongest_mse", "noise_sigma", "noise_sigmas", "noise_stds", "min_attack_mse",
    "leakage_nats", "leakage_bits_per_dim", "n_samples", "input_dim", "n_total", "n_aux",
    "n_eval",
})  # fmt: skip
_SHARES = frozenset({"clean_accuracy", "noisy_accuracy", "floor_ratio", "min_accuracy",
                     "max_recovered"})  # fmt: skip


def _check_ranges(report: AuditReport | SweepReport, path: Path, hint: str) -> None:
    """Refuse MSEs, floors and sigmas below 0 and accuracies outside [0, 1].

    Raises:
        DataError: naming the first field out of its range.
    """
    bad = out_of_range(report)
    if bad is not None:
        raise DataError(f"{path} is not a privaudit report: {bad}", hint=hint)


def out_of_range(value: object) -> str | None:
    """The first MSE, floor or sigma below 0, or accuracy outside [0, 1], in words, or None.

    For example 'AuditReport.references[0].mse is -0.5, below 0'.
    """
    bad = next(_out_of_range(value, type(value).__name__), None)
    return None if bad is None else f"{bad[0]} is {bad[1]!r}, {bad[2]}"


def _out_of_range(value: object, where: str) -> Iterator[tuple[str, float, str]]:
    if isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from _out_of_range(item, f"{where}[{i}]")
        return
    if not is_dataclass(value) or isinstance(value, type):
        return
    share = type(value).__name__ == "Accuracy"  # NOTE: its `value` is the accuracy itself
    for f in fields(value):
        item, at = getattr(value, f.name), f"{where}.{f.name}"
        named = f.name in _NOT_NEGATIVE or f.name in _SHARES or (share and f.name == "value")
        if named and not is_dataclass(item):  # NOTE: a sweep's accuracies are `Accuracy`s
            for number in item if isinstance(item, tuple) else (item,):
                if not isinstance(number, float | int) or math.isnan(number):
                    continue  # NOTE: None and null (NaN) mean "not measured"
                if math.isinf(number):
                    yield at, number, "not finite (privaudit writes null for that)"
                elif number < 0:
                    yield at, number, "below 0"
                elif f.name not in _NOT_NEGATIVE and number > 1:
                    yield at, number, "above 1 (a share)"
        else:
            yield from _out_of_range(item, at)


def sweep_from_dict(data: dict[str, Any]) -> SweepReport:
    """Rebuild a SweepReport from its JSON form.

    Raises:
        ValueError: not a sweep, an unknown sweep schema version, or a malformed document.
    """
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("kind") != SWEEP_KIND:
        raise ValueError("not a sweep (kind is not 'sweep')")
    if type(version) is not int or version != SWEEP_SCHEMA_VERSION:
        raise ValueError(f"unsupported sweep schema_version {version!r} "
                         f"(expected {SWEEP_SCHEMA_VERSION})")
    report = from_jsonable(SweepReport, data)
    if not report.points:
        raise ValueError("it holds no points")
    seen = {(p.cut, p.noise_sigma) for p in report.points}
    if len(seen) != len(report.points):
        raise ValueError("it holds a (cut, sigma) point twice")
    return report


def _check_mappings(report: AuditReport | SweepReport, path: Path) -> None:
    """Check the value types of the report's free-form mappings, which from_dict passes through.

    Raises:
        DataError: a timing that is not a number, or a version that is not a string.
    """
    p = report.provenance
    bad = [
        f"provenance.timings.{k}"
        for k, v in p.timings.items()
        if isinstance(v, bool) or not isinstance(v, int | float)
    ]
    bad += [f"provenance.versions.{k}" for k, v in p.versions.items() if not isinstance(v, str)]
    if bad:
        raise DataError(
            f"{path} is not a privaudit report: wrong value type at {', '.join(bad)}",
            hint=_REPORT_HINT,
        )


def from_dict(data: dict[str, Any]) -> AuditReport:
    """Rebuild an AuditReport from its JSON form, upgrading older schema versions.

    Raises:
        ValueError: unknown schema version or a malformed document.
    """
    version = data.get("schema_version") if isinstance(data, dict) else None
    if type(version) is not int or version not in READABLE_VERSIONS:
        expected = " or ".join(str(v) for v in READABLE_VERSIONS)
        raise ValueError(f"unsupported report schema_version {version!r} (expected {expected})")
    assert isinstance(data, dict) and isinstance(version, int)
    report = from_jsonable(AuditReport, upgrade(unpack_samples(data), version))
    if version == SCHEMA_VERSION:
        return report
    report = replace(report, schema_version=SCHEMA_VERSION)
    return report if version >= VERDICT_VERSION else _with_verdicts(report)


def _with_verdicts(report: AuditReport) -> AuditReport:
    """An older report with the verdicts it did not have (the hardened model's too)."""
    if report.harden is not None:
        after = replace(report.harden.after, verdict=harden_verdict(report))
        report = replace(report, harden=replace(report.harden, after=after))
    return replace(report, verdict=build_verdict(report))
