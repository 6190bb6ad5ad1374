"""The bound of a prepared run at one or more noise stds, and the audit inputs it needs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from privaudit.audit.features import Features, audit_labels
from privaudit.audit.prepare import Prepared
from privaudit.bound import (
    DEQUANTIZATION_VARIANCE,
    STANDARDISED_VARIANCE_FLOOR,
    input_entropy_certified,
    input_entropy_from_user,
    input_entropy_gaussian,
    noise_sweep,
)
from privaudit.config import Config, Domain, EntropySource, EntropySpec, EntropyUnit
from privaudit.data.units import DISCRETE_LEVELS
from privaudit.errors import ConfigError
from privaudit.model import verify_split
from privaudit.results import BoundResult

ATOM_SHARE = 0.2  # a value held by this share of the rows is an atom: no density there

__all__ = ["audit_inputs", "check_split", "input_entropy", "measure_bounds", "pixels"]


def audit_inputs(prep: Prepared) -> np.ndarray:
    """(n, d) the audit inputs in the rows' order of the features: aux, then eval."""
    x = np.concatenate([prep.audit.aux.x, prep.audit.eval.x])
    return x.reshape(len(x), -1)


def pixels(prep: Prepared) -> bool:
    """Whether the audit inputs are pixels on [0, 1] (else standardised features)."""
    return prep.dataset.domain == Domain.IMAGE


def input_entropy(
    cfg: Config, inputs: np.ndarray, *, image: bool = True, grid: float | None = None
) -> tuple[float, str]:
    """h(x)/d in nats and its source; it depends on the inputs alone, so compute it once.

    In the inputs' measured units: pixels on [0, 1], or standardised features (`prepare`
    refused `certified` for those).

    Args:
        cfg: the run's settings (`bound.input_entropy` and its unit).
        inputs: (n, d) the audit inputs (`audit_inputs`).
        image: whether the inputs are pixels (`pixels(prep)`).
        grid: the pixels' `pixel_grid_variance`, when the caller has it already.
    """
    spec = cfg.bound.input_entropy
    if spec == EntropySpec.CERTIFIED:
        return input_entropy_certified(), EntropySource.CERTIFIED.value
    delta = (pixel_grid_variance(inputs) if grid is None else grid) if image else (
        STANDARDISED_VARIANCE_FLOOR)  # fmt: skip
    if spec == EntropySpec.GAUSSIAN:
        return input_entropy_gaussian(inputs, delta), EntropySource.GAUSSIAN.value
    if cfg.bound.input_entropy_unit == EntropyUnit.BITS and not image:
        raise ConfigError(
            "--entropy-unit bits reads a density model's bits per dimension of 8-bit pixels; "
            "these inputs are vectors or signals in their own units",
            hint="give h(x)/d in nats per standardised dimension (--entropy-unit nats)",
        )
    value = input_entropy_from_user(float(spec), cfg.bound.input_entropy_unit)
    ceiling, why = input_entropy_ceiling(inputs, delta, image=image)
    if value > ceiling:
        raise ConfigError(
            f"input entropy h(x)/d = {value:.4g} nats is more than these inputs can have: at "
            f"most {ceiling:.4g} nats ({why}); a larger h(x) would overstate the conditional "
            "entropy and the paper's floor (T)",
            hint="check the value and its unit (nats per dimension of pixels on [0, 1] or of "
                 "standardised features; --entropy-unit bits for a density model's bits per "
                 "dimension of 8-bit images), or drop --input-entropy for the Gaussian estimate",
        )
    return value, EntropySource.USER.value


def input_entropy_ceiling(
    inputs: np.ndarray, delta: float, *, image: bool
) -> tuple[float, str]:
    """The most h(x)/d any data with these inputs' variances (and range) can have, and why.

    A Gaussian has the largest entropy at a given covariance, and (Jensen) one with
    independent coordinates of the mean variance v the largest at a given mean variance:
    h(x)/d <= log(2 pi e v) / 2, v counting the dequantisation's `delta` (as the Gaussian
    estimate does). Pixels on [0, 1] also have at most the uniform's 0. Estimated from the
    samples' variances, which many samples pin down well.
    """
    data = np.asarray(inputs).reshape(len(inputs), -1)
    step = max(1, (1 << 22) // max(1, data.shape[1]))
    mean = sum(data[s : s + step].sum(0, dtype=np.float64) for s in range(0, len(data), step))
    mean = mean / len(data)
    var = sum(((data[s : s + step] - mean) ** 2).sum(0) for s in range(0, len(data), step))
    v = float(np.mean(var / max(1, len(data) - 1))) + delta
    gauss = 0.5 * math.log(2 * math.pi * math.e * v) if v > 0 else -math.inf
    why = f"a Gaussian of the inputs' mean variance {v:.4g}"
    if image and gauss > 0.0:
        return 0.0, "the uniform distribution on [0, 1], for pixels"
    return gauss, why


def measure_bounds(
    cfg: Config,
    prep: Prepared,
    feats: Features,
    noise_sigmas: Sequence[float],
    *,
    interval_at: Sequence[float],
    entropy: tuple[float, str] | None = None,
    inputs: np.ndarray | None = None,
    grid: float | None = None,
) -> list[BoundResult]:
    """The bound at each noise std, with intervals at `interval_at` (one `noise_sweep` call).

    The clusterings and spectra are fitted once for every sigma; a point value, and an
    interval, does not depend on which other sigmas are measured with it.

    Args:
        cfg: the run's settings (`bound.*`, `seed`).
        prep: the prepared run (labels, input dimension).
        feats: the audit's clean features.
        noise_sigmas: the noise stds, in the order of the result.
        interval_at: the stds that get a bootstrap and jackknife interval.
        entropy: h(x)/d and its source (`input_entropy`), or None to compute it here.
        inputs: the audit inputs (`audit_inputs`), or None to gather them here.
        grid: the images' `pixel_grid_variance`, or None to read it here (unused for
            tabular vectors and signals).

    Returns:
        One BoundResult per sigma, in order.
    """
    x = audit_inputs(prep) if inputs is None else inputs
    image = pixels(prep)
    delta = (pixel_grid_variance(x) if grid is None else grid) if image else 0.0
    h, source = input_entropy(cfg, x, image=image, grid=delta) if entropy is None else entropy
    return noise_sweep(
        feats.all,
        audit_labels(prep.audit),
        list(noise_sigmas),
        input_dim=int(np.prod(prep.audit.aux.x.shape[1:])),
        input_entropy=h,
        input_entropy_source=source,
        covariance=cfg.bound.covariance,
        k=cfg.bound.k,
        bootstrap=cfg.bound.bootstrap,
        seed=cfg.seed,
        interval_at=list(interval_at),
        x=x.reshape(len(x), *prep.audit.aux.x.shape[1:]),  # NOTE: a view; its shape names
        delta=delta,
        certified=image,
        continuous=None if image else (keep := continuous_dims(x)),
        lattice=0.0 if image else lattice_variance(x, keep),
    )


GRID_SAMPLE = 4_000_000  # pixel values read to find the images' grid


def pixel_grid_variance(x: np.ndarray) -> float:
    """The dequantisation variance of images' pixels: their grid's spacing D, D^2 / 12.

    8-bit pixels on [0, 1] have D = 1/255 (the method's dequantisation). Images that take
    fewer levels (binary, a few grey levels) have a coarser grid that rounding the features'
    view may recover: a tester's binary 8x8 images at sigma 0.15 had (S) 0.0198 where the
    posterior mean reached 0.00034. The grid is read from the first pixel values (at most
    `GRID_SAMPLE`): every gap between their distinct values is a whole multiple of D; pixels
    on no grid (floats) keep the 8-bit one.
    """
    step = _grid_step(np.asarray(x).reshape(-1)[:GRID_SAMPLE])
    return DEQUANTIZATION_VARIANCE if step is None else max(DEQUANTIZATION_VARIANCE,
                                                            step * step / 12.0)


def _grid_step(values: np.ndarray) -> float | None:
    """The spacing D of the grid `values` lie on, or None when they are on none.

    On a grid: at least two distinct values, and every gap between them a whole multiple of
    the smallest (to 1e-3 of it).
    """
    levels = np.unique(values)
    if levels.size < 2:
        return None
    gaps = np.diff(levels.astype(np.float64))
    step = float(gaps.min())
    if step > 0 and np.allclose(gaps / step, np.round(gaps / step), rtol=0, atol=1e-3):
        return step
    return None


def lattice_variance(x: np.ndarray, keep: np.ndarray | None = None) -> float:
    """The dequantisation variance of the (n, d) inputs' grids, per input dimension.

    A continuous-looking column (`keep`) whose values lie on a grid of spacing D (whole
    numbers, or values recorded to a few decimals: every gap between its distinct values is
    a whole multiple of the smallest) can be recovered by rounding to that grid when the
    noise leaves less than D / 2 of doubt, which the Gaussian floor does not see: the floor
    (S) holds for the column plus uniform noise of width D, so the input's own MSE can be
    lower by up to D^2 / 12. Returns the sum of those over the grid columns, divided by d.
    """
    d = x.shape[1]
    steps = [_grid_step(x[:, j]) for j in range(d) if keep is None or keep[j]]
    # NOTE: a discrete column (not `keep`) is out of (S) already
    return sum(s * s / 12.0 for s in steps if s is not None) / d if d else 0.0


def continuous_dims(x: np.ndarray, block: int = 256) -> np.ndarray | None:
    """Per input dimension of the (n, d) inputs `x`, whether it may have a density.

    A dimension has none when it takes at most `DISCRETE_LEVELS` distinct values (whole
    numbers or not: a standardised one-hot column takes two), or when one value holds at
    least `ATOM_SHARE` of the rows (a zero-inflated column): noise may not hide such values,
    so the floor (S) leaves them out. None when every dimension may have a density.
    """
    n, d = x.shape
    keep = np.ones(d, dtype=bool)
    rows = np.arange(n)[:, None]
    for lo in range(0, d, block):  # NOTE: in blocks of columns, so memory stays n x block
        s = np.sort(x[:, lo : lo + block], axis=0)
        changed = s[1:] != s[:-1]
        levels = 1 + changed.sum(axis=0)
        starts = np.zeros(s.shape, dtype=np.int64)
        starts[1:] = np.where(changed, rows[1:], 0)
        longest = (rows - np.maximum.accumulate(starts, axis=0) + 1).max(axis=0, initial=0)
        keep[lo : lo + block] = (levels > DISCRETE_LEVELS) & (longest < ATOM_SHARE * n)
    return None if keep.all() else keep


def check_split(prep: Prepared) -> float | None:
    """head(encoder(x)) vs model(x) on a few audit inputs; ModelError above 1e-4.

    Returns:
        The largest difference, or None for a pre-split pair (no whole model to compare).
    """
    if prep.model is None:
        return None
    sample = prep.feed.apply(prep.dataset.x[: min(8, len(prep.dataset.x))])
    return verify_split(prep.model, prep.split, sample, atol=1e-4)
