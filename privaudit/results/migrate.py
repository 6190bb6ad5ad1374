"""Upgrade the JSON of older report schemas to the current one, before it is parsed.

Version 3 moved the theorem's unconditional floor from `mse_floor` to `paper_floor` and made
`mse_floor` the conditional spectral floor (S), which older reports do not have: it reads as
unknown (None), so a floor gate fails on them rather than pass on a floor that can overstate
privacy. The reference reconstructions, recovered shares, dFIL and the verdict are absent too
(the verdict is rebuilt from what the report holds).
"""

from __future__ import annotations

from typing import Any

__all__ = ["upgrade"]

_NO_FLOOR = {
    "mse_floor": None,
    "mse_floor_estimate": None,
    "mse_floor_interval": None,
    "floor_clustering": None,
    "floor_prior": None,
    "floor_vacuous": False,
}


def upgrade(data: dict[str, Any], version: int) -> dict[str, Any]:
    """A copy of a report's JSON of schema `version` in the current schema's shape."""
    out = dict(data)
    if version < 3:
        out = _to_3(out)
    return out


def _to_3(report: dict[str, Any]) -> dict[str, Any]:
    out = dict(report)
    if isinstance(out.get("bound"), dict):
        out["bound"] = _paper_floor(out["bound"], interval=True)
    if isinstance(out.get("sweep"), list):
        out["sweep"] = [_paper_floor(p) if isinstance(p, dict) else p for p in out["sweep"]]
    harden = out.get("harden")
    if isinstance(harden, dict):
        harden = dict(harden)
        if isinstance(harden.get("after"), dict):
            harden["after"] = _to_3(harden["after"])
        for key in ("variants", "grid"):
            if isinstance(harden.get(key), list):
                harden[key] = [_paper_floor(v) if isinstance(v, dict) else v for v in harden[key]]
        out["harden"] = harden
    return out


def _paper_floor(part: dict[str, Any], *, interval: bool = False) -> dict[str, Any]:
    """Rename the old floor to the paper's; the conditional floor is unknown."""
    out = dict(part)
    out["paper_floor"] = out.pop("mse_floor", None)
    if interval:
        out["paper_floor_interval"] = out.pop("mse_floor_interval", None)
        out.update(_NO_FLOOR)
    else:
        out["mse_floor"] = None
    return out
