"""Run the selected attacks against a Target: capability check, seeding, timing, uniform scoring."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from privaudit.attacks.base import Attack, AttackData, RunContext
from privaudit.attacks.nets import query_features
from privaudit.attacks.registry import get_attack
from privaudit.attacks.scoring import Scorer
from privaudit.attacks.target import Capability, Target
from privaudit.config.choices import Budget
from privaudit.errors import AttackError
from privaudit.noise import NoiseStream, add_drawn_noise
from privaudit.progress import Progress
from privaudit.results import AttackResult, Status
from privaudit.runtime import derive_seed, seed_everything, use_amp

__all__ = [
    "as_images",
    "check_params",
    "noise_stream",
    "noisy_features",
    "run_battery",
    "scoring_seed",
]

ArrayLike = np.ndarray | Tensor
_DEFAULT_MISSING = {
    Capability.GRADIENTS: "the encoder could not be converted to torch",
    Capability.LABELS: "the auxiliary data has no labels",
}


@dataclass(frozen=True)
class _Planned:
    """One attack, resolved before anything runs (so a config typo fails fast)."""

    name: str
    attack: Attack


def run_battery(
    target: Target,
    aux_x: ArrayLike,
    aux_y: ArrayLike | None,
    eval_x: ArrayLike,
    *,
    attacks: list[str],
    budget: Budget,
    params_tables: dict[str, dict[str, Any]],
    seed: int,
    device: torch.device,
    progress: Progress,
    floor: float | None,
    n_samples_stored: int = 12,
    missing_reasons: Mapping[Capability, str] | None = None,
    clean_features: tuple[np.ndarray, np.ndarray] | None = None,
    scorer: Scorer | None = None,
    nearest: np.ndarray | None = None,
) -> tuple[AttackResult, ...]:
    """Run each attack on the same noisy features and score it on the evaluation set.

    Noisy features of the auxiliary and evaluation images are computed once (clean
    query plus seeded Gaussian noise of the deployment sigma), so every attack inverts
    the very same `z`. The evaluation images go only into scoring, never to an attack.
    A caller that already extracted the clean features (as `assess` does for the bound)
    hands them over in `clean_features` instead of having them queried again.

    Args:
        target: the encoder under attack.
        aux_x: (N_aux, *input_shape) measured, the attacker's auxiliary inputs.
        aux_y: (N_aux,) labels of `aux_x`, or None.
        eval_x: (N_eval, *input_shape) measured, the private inputs to reconstruct.
        attacks: registry names, run in this order.
        budget: compute budget that sets each attack's default epochs/steps.
        params_tables: per-attack overrides, `{name: {field: value}}`.
        seed: the run seed; each attack derives its own from it and its name.
        device: where attacks compute.
        progress: progress sink handed to the attacks.
        floor: the MSE floor of the bound (estimated h(x)), or None.
        n_samples_stored: reconstructions kept for the report (the first eval indices).
        missing_reasons: why a capability is absent (e.g. the torch-conversion error),
            quoted in SKIPPED results.
        clean_features: (aux, eval) clean features of `aux_x` and `eval_x` through the
            target's own query (any shape with one row per image), or None to query them.
        scorer: the scorer of `eval_x` that already scored the reference reconstructions
            (for the recovered shares), or None for a fresh one (`floor`, `n_samples_stored`).
        nearest: (N_eval,) the auxiliary index nearest each evaluation sample's noisy
            features, by `clean_features`, at the target's sigma and this `seed`
            (`privaudit.audit.references.nearest_inputs`), when the caller searched already:
            the `knn` attack at k=1 on clean features returns those samples instead of
            searching again. Only with `clean_features`: they define the search.

    Returns:
        One AttackResult per name in `attacks`, in order.

    Raises:
        ConfigError: an unknown attack name, params key or bad params value.
        ValueError: `nearest` without `clean_features`, or not one auxiliary index per
            evaluation sample.
    """
    planned = [_plan(name, budget, params_tables.get(name, {})) for name in attacks]
    aux = as_images(aux_x)
    truth = as_images(eval_x)
    aux_clean, eval_clean = _clean(target, aux, truth, clean_features)
    found = None if nearest is None else _nearest(nearest, clean_features, len(aux), len(truth))
    noise_sigma = target.noise_sigma
    data = AttackData(
        aux_x=aux,
        aux_z=noisy_features(aux_clean, noise_sigma, seed, "aux"),
        target_z=noisy_features(eval_clean, noise_sigma, seed, "eval"),
        aux_y=None if aux_y is None else torch.as_tensor(np.asarray(aux_y), dtype=torch.int64),
        aux_clean=aux_clean,
        nearest=found,
    )
    reasons = {**_DEFAULT_MISSING, **(missing_reasons or {})}
    scoring = scorer or Scorer(truth, floor, n_samples_stored, scoring_seed(seed))
    results = []
    for plan in planned:
        missing = sorted(plan.attack.requires - target.capabilities)
        if missing:
            reason = "; ".join(
                f"needs {cap.value}; {reasons.get(cap, 'missing')}" for cap in missing
            )
            results.append(_skipped(plan, reason))
            continue
        ctx = RunContext(device, derive_seed(seed, plan.name), progress, use_amp(device))
        results.append(_run_one(plan, target, data, ctx, scoring))
    return tuple(results)


def check_params(params_tables: Mapping[str, Mapping[str, Any]], budget: Budget) -> None:
    """Check every `[attacks.<name>]` table, whether or not its attack runs.

    Raises:
        ConfigError: an unknown attack name, params key or bad params value.
    """
    for name, table in params_tables.items():
        _plan(name, budget, dict(table))


def _plan(name: str, budget: Budget, table: dict[str, Any]) -> _Planned:
    """Resolve an attack name and its params (budget defaults < table)."""
    cls = get_attack(name)
    return _Planned(name, cls(cls.params_type.from_table(budget, table, name)))


def _clean(
    target: Target, aux: Tensor, truth: Tensor, given: tuple[np.ndarray, np.ndarray] | None
) -> tuple[Tensor, Tensor]:
    """Clean features of the auxiliary and evaluation images: the given ones, else queried.

    Queried once either way: the attacks reuse the auxiliary ones instead of re-querying.
    """
    if given is None:
        return query_features(target, aux), query_features(target, truth)
    out = []
    for feats, images in zip(given, (aux, truth), strict=True):
        arr = np.ascontiguousarray(feats, dtype=np.float32)
        if arr.shape[0] != images.shape[0] or arr.size != images.shape[0] * int(
            np.prod(target.feature_shape)
        ):
            raise ValueError(
                f"clean features {arr.shape} do not match {images.shape[0]} images of "
                f"features {target.feature_shape}"
            )
        out.append(torch.from_numpy(arr.reshape(images.shape[0], *target.feature_shape)))
    return out[0], out[1]


def _nearest(
    nearest: np.ndarray, clean: object, n_aux: int, n_eval: int
) -> Tensor:
    """The caller's nearest auxiliary indices as a tensor, checked against the samples."""
    idx = np.asarray(nearest)
    if clean is None:
        raise ValueError("nearest indices need the clean features they were searched with")
    if idx.shape != (n_eval,) or idx.dtype.kind not in "iu" or (
            n_eval and (idx.min() < 0 or idx.max() >= n_aux)):  # fmt: skip
        raise ValueError(f"nearest indices {idx.shape} {idx.dtype} are not one auxiliary index "
                         f"(< {n_aux}) per evaluation sample ({n_eval})")
    return torch.from_numpy(idx.astype(np.int64))


def as_images(x: ArrayLike) -> Tensor:
    """A float32 CPU tensor copy of a batch of inputs (images, vectors or signals)."""
    if isinstance(x, Tensor):
        return x.detach().to("cpu", torch.float32).clone()
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).copy())


def noisy_features(clean: Tensor, noise_sigma: float, run_seed: int, part: str) -> Tensor:
    """The noisy features z = f(x) + N(0, noise_sigma^2 I) the attacks see, float32.

    The noise is `noise_stream(run_seed, part)`, so that anything else that needs the
    server's view (the label and nearest references, the sweep's accuracies) reads exactly
    the attacks' noise, a block of rows at a time if it likes.
    """
    flat = np.ascontiguousarray(clean.numpy(), dtype=np.float32).reshape(len(clean), -1)
    if noise_sigma == 0:
        return torch.from_numpy(flat.reshape(clean.shape))
    draw = noise_stream(run_seed, part).rows(0, len(flat), flat.shape[1])
    z = add_drawn_noise(flat, noise_sigma, draw, out=draw)  # NOTE: the draw serves one sigma
    return torch.from_numpy(z.reshape(clean.shape))


def noise_stream(run_seed: int, part: str) -> NoiseStream:
    """The standard normal stream of the attacks' feature noise of one part ("aux" or "eval").

    `noisy_features` scales it by sigma: the same draw for every sigma, so one draw can
    give the server's view at several.
    """
    return NoiseStream(derive_seed(run_seed, f"features:{part}"))


def scoring_seed(run_seed: int) -> int:
    """The bootstrap seed every reconstruction of a run is scored with (paired intervals)."""
    return derive_seed(run_seed, "bootstrap")


def _skipped(plan: _Planned, reason: str) -> AttackResult:
    return AttackResult(
        attack=plan.name, status=Status.SKIPPED, params=plan.attack.params.as_dict(), reason=reason
    )


def _run_one(
    plan: _Planned, target: Target, data: AttackData, ctx: RunContext, scoring: Scorer
) -> AttackResult:
    """Seed, time and run one attack; AttackError becomes an ERROR result."""
    seed_everything(ctx.seed)
    start = time.perf_counter()
    try:
        x_hat = plan.attack.reconstruct(target, data, ctx)
        _check_output(plan.name, x_hat, tuple(scoring.truth.shape))
    except AttackError as e:
        return AttackResult(
            attack=plan.name,
            status=Status.ERROR,
            seconds=time.perf_counter() - start,
            params=plan.attack.params.as_dict(),
            reason=str(e),
        )
    seconds = time.perf_counter() - start
    x_hat = x_hat.detach().to("cpu", torch.float32)
    # NOTE: pixels always lie in [0, 1], so clipping to it never hurts; the auxiliary range
    # of a tabular or signal feature is no bound on new inputs: each attack clips to it or
    # not (`linear` where that reconstructs held-out samples better)
    x_hat = target.clip(x_hat) if target.pixels else x_hat
    return scoring.attack(plan.name, x_hat, seconds, plan.attack.params.as_dict())


def _check_output(name: str, x_hat: Tensor, shape: tuple[int, ...]) -> None:
    """A wrong shape is a bug (raises ValueError); non-finite values are an AttackError."""
    if tuple(x_hat.shape) != shape:
        raise ValueError(f"attack {name!r} returned shape {tuple(x_hat.shape)}, expected {shape}")
    if not torch.isfinite(x_hat).all():
        raise AttackError(f"{name} produced non-finite reconstructions")
