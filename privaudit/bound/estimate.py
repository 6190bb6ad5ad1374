"""Estimate the leakage upper bound I_up and the MSE floor from features (method.md §2-3).

Entropies are in nats; per-dimension values are per *input* dimension d, pixels on [0, 1].
Features z are flattened to (n, m); the deployment adds N(0, sigma^2 I_m) to them. The
closed forms live in `privaudit.bound.leakage`, the input entropy h(x) in `.entropy`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

# NOTE: the clustering candidates and their bootstrap live in `candidates` and `bootstrap`.
from privaudit.bound.bootstrap import bootstrap_errors
from privaudit.bound.candidates import (
    Candidate,
    best_candidate,
    bias_warning,
    candidate_warnings,
    child_seed,
    fit_candidates,
)
from privaudit.bound.entropy import DEQUANTIZATION_VARIANCE, input_entropy_certified
from privaudit.bound.floor import FloorEstimate, fit_floor
from privaudit.bound.gaussianity import MIN_ROWS, column_negentropy, radial_negentropy
from privaudit.bound.leakage import mixture_leakage, mse_floor, positive_noise_sigma
from privaudit.bound.moments import check_rows
from privaudit.bound.resample import cluster_spectra
from privaudit.config.choices import Covariance, EntropySource, values
from privaudit.errors import ConfigError
from privaudit.noise import check_noise_sigma
from privaudit.results.schema import BoundResult, Interval, MixtureTerm

__all__ = [
    "DEFAULT_FLOOR_GROUPS",
    "DEFAULT_GROUP_SIZE",
    "DEFAULT_MIN_CLUSTER_SIZE",
    "LEVEL",
    "SIGMA_ZERO_WARNING",
    "check_resolvable",
    "estimate_bound",
    "leakage_full",
    "noise_sweep",
]

log = logging.getLogger(__name__)

_MAX_RESOLUTION = 1e30  # largest variance / sigma^2 the (float32) bootstrap computes safely
DEFAULT_MIN_CLUSTER_SIZE = 10  # below this, a cluster's variances are mostly noise
DEFAULT_GROUP_SIZE = 16  # samples per group of the diagonal bootstrap (1: per-sample)
DEFAULT_FLOOR_GROUPS = 20  # groups of the floor's delete-a-group jackknife
LEVEL = 0.95
SIGMA_ZERO_WARNING = (
    "sigma = 0: the features are deterministic, I(x;z) is unbounded and the floor is 0; "
    "add noise (--noise) or harden the model"
)


def estimate_bound(
    z: np.ndarray,
    y: np.ndarray | None,
    noise_sigma: float,
    *,
    input_dim: int,
    input_entropy: float,
    input_entropy_source: str,
    covariance: str = Covariance.DIAGONAL.value,
    k: int = 5,
    bootstrap: int = 200,
    seed: int = 0,
    min_cluster_size: int | None = None,
    group_size: int = DEFAULT_GROUP_SIZE,
    x: np.ndarray | None = None,
    delta: float = DEQUANTIZATION_VARIANCE,
    floor_groups: int = DEFAULT_FLOOR_GROUPS,
    certified: bool = True,
) -> BoundResult:
    r"""Bound how well any attacker reconstructs x from z = f(x) + N(0, sigma^2 I).

    .. math:: \xi \ge \frac{1}{2\pi e} \exp\Big(\frac{2 h(x)}{d} - \frac{2 I_{up}}{d}\Big)

    That is theorem (T), the paper's form (`paper_floor`). With the inputs `x`, the floor that
    counts (`mse_floor`) is the conditional spectral floor (S) (`privaudit.bound.floor`),
    which is safe on clustered data and tighter.
    I_up is the least eq. (L) over the clusterings "single" and, with labels, "class" and
    "class-kmeans" (without, "kmeans"): each is a valid bound, each becomes a MixtureTerm.
    The 95% intervals are basic bootstrap intervals over B resamples, labels fixed: of random
    groups of `group_size` samples for the diagonal form (O(B n m / group_size)), of single
    rows for the full form (O(B C r^3), expensive: opt-in).

    Args:
        z: (n, m) or (n, ...) clean features of the audit data (float32 is fine).
        y: (n,) class labels, or None.
        noise_sigma: deployment noise std, feature units; 0 gives a vacuous result.
        input_dim: d, values per input.
        input_entropy: h(x)/d, nats.
        input_entropy_source: "certified", "gaussian" or "user".
        covariance: "diagonal" (valid bound, O(n m) memory) or "full" (tighter estimate;
            its per-row bootstrap eigendecomposes every cluster B times: slow).
        k: k-means clusters (per class when labelled).
        bootstrap: B, resamples for the intervals; 0 for none.
        seed: seed of k-means and of the resampling.
        min_cluster_size: warn about smaller clusters (default 10, at least 2).
        group_size: samples per bootstrap group of the diagonal form (see `noise_sweep`);
            1 resamples single rows.
        x: (n, d) inputs of the same rows, for (S); see `noise_sweep`.
        delta: the inputs' dequantisation variance; see `noise_sweep`.
        floor_groups: jackknife groups of (S)'s interval; see `noise_sweep`.
        certified: report the certified floor (8-bit data); see `noise_sweep`.

    Returns:
        The bound (see `privaudit.results.BoundResult`).

    Raises:
        ConfigError: sigma negative, NaN or inf, or a bad option.
        DataError: fewer than 2 samples, NaN/inf features, or mismatched labels.
    """
    return noise_sweep(
        z,
        y,
        [noise_sigma],
        input_dim=input_dim,
        input_entropy=input_entropy,
        input_entropy_source=input_entropy_source,
        covariance=covariance,
        k=k,
        bootstrap=bootstrap,
        seed=seed,
        min_cluster_size=min_cluster_size,
        group_size=group_size,
        x=x,
        delta=delta,
        floor_groups=floor_groups,
        certified=certified,
    )[0]


def noise_sweep(
    z: np.ndarray,
    y: np.ndarray | None,
    noise_sigmas: Sequence[float] | np.ndarray,
    *,
    input_dim: int,
    input_entropy: float,
    input_entropy_source: str,
    covariance: str = Covariance.DIAGONAL.value,
    k: int = 5,
    bootstrap: int = 200,
    seed: int = 0,
    min_cluster_size: int | None = None,
    group_size: int = DEFAULT_GROUP_SIZE,
    interval_at: Sequence[float] | None = None,
    x: np.ndarray | None = None,
    delta: float = DEQUANTIZATION_VARIANCE,
    floor_groups: int = DEFAULT_FLOOR_GROUPS,
    certified: bool = True,
    continuous: np.ndarray | None = None,
    lattice: float = 0.0,
) -> list[BoundResult]:
    """`estimate_bound` at several noise levels, clustering and resampling once.

    Each sigma adds O(C r) for its point value; each clustering that some sigma picks adds
    one streamed bootstrap pass, shared by those sigmas and using the same resamples. BLAS
    runs on one thread here: the products are small, and more threads only contend.

    # NOTE: the diagonal bootstrap resamples groups, not rows. Each cluster is cut into
    # random groups of about `group_size` samples (at least 32 groups; single samples in
    # clusters under 64), and each replicate redraws a cluster's G_c groups with
    # replacement, weighting their precomputed sums of z and z^2 (float64 pass, float32
    # replicates). For iid samples a random group's sums are sums of g iid terms, so
    # resampling G = n / g groups reproduces the bootstrap variance of the cluster means
    # and second moments to first order (both are sums over groups), at O(B G m) instead of
    # O(B n m). Group size trades the interval's accuracy for speed: the resampling
    # distribution rests on G_c groups instead of n_c samples, so its width is noisier
    # (about sqrt(2 / G) relative; at the default, within ~10% of the per-row width on the
    # Gaussian test data, 1.01 +- 0.05 on average).
    # Cluster sizes are drawn separately, multinomial(n, pi), as rows would give them
    # (whole groups would inflate their variance g-fold), and the errors are measured from
    # the variances that the grouped replicates estimate without bias (`replicate_logdets`'
    # targets, which are the plug-in ones for groups of one sample).

    Args:
        z: (n, m) clean features.
        y: (n,) class labels, or None.
        noise_sigmas: noise stds, each finite and >= 0.
        input_dim: d.
        input_entropy: h(x)/d, nats.
        input_entropy_source: "certified", "gaussian" or "user".
        covariance: "diagonal" or "full".
        k: k-means clusters.
        bootstrap: B resamples, 0 for none.
        seed: seed of k-means and resampling.
        min_cluster_size: warning threshold (default 10).
        group_size: samples per bootstrap group (diagonal form), >= 1.
        interval_at: the noise stds that get a bootstrap interval (None: all). The others
            get the point values only, exactly as with bootstrap = 0; an interval does not
            depend on which other sigmas get one.
        x: (n, ...) inputs of the same rows (pixels on [0, 1], or standardised units; a
            signal's (n, C, T) names its channels and steps in warnings), for the
            conditional spectral floor (S); None leaves (S) out (`mse_floor` None).
        delta: the dequantisation variance of the inputs (8-bit data: 1/(12 * 255^2);
            data in its own units: 0).
        floor_groups: groups of the floor's jackknife interval (at `interval_at`, when
            `bootstrap` > 0), >= 2; 0 for none.
        certified: report theorem (T) with the certified h(x) of 8-bit data
            (`certified_mse_floor`); False for data in its own units, which has none (None),
            and whose dimensions far from Gaussian within a class leave the floor (S)
            (`privaudit.bound.gaussianity`; pixels are never weighed).
        lattice: the inputs' grids' dequantisation variance per dimension
            (`audit.bounds.lattice_variance`), subtracted from (S); 0 for none.
        continuous: (d,) per input dimension, whether it takes continuous values; None: all
            do. The floor (S) assumes a density, which a discrete column (a few levels, or
            an atom) does not have: it may be decoded exactly, so (S) counts only the
            continuous dimensions, weighted by their share of d (0 when there are none).

    Returns:
        One BoundResult per sigma, in order.

    Raises:
        ConfigError: bad sigma or option.
        DataError: bad features or labels.
    """
    data = check_rows(z, what="features", min_rows=2)
    levels = [
        check_noise_sigma(float(s), "noise sigma")
        for s in np.asarray(noise_sigmas, dtype=np.float64).reshape(-1)
    ]
    base = _vacuous(data, input_dim, input_entropy, input_entropy_source, covariance)
    if not certified:
        base = replace(base, certified_mse_floor=None)
    check_resolvable(data, levels)
    if k < 1 or bootstrap < 0 or group_size < 1:
        raise ConfigError(
            f"need k >= 1, bootstrap >= 0 and group_size >= 1, got k={k}, "
            f"bootstrap={bootstrap}, group_size={group_size}"
        )
    min_size = DEFAULT_MIN_CLUSTER_SIZE if min_cluster_size is None else max(2, min_cluster_size)
    live = [s for s in levels if s > 0]
    with threadpool_limits(limits=1, user_api="blas"):
        cands = fit_candidates(data, y, covariance, k, seed, group_size, min_size) if live else []
        best = {s: best_candidate(cands, s, min_size) for s in live}
        _log_clusterings(cands, best)
        wanted = best if interval_at is None else {
            s: i for s, i in best.items() if s in {float(v) for v in interval_at}
        }
        errs = {}
        if bootstrap and wanted:
            errs = bootstrap_errors(data, cands, wanted, bootstrap, seed)
        floors = _floors(x, data, cands, y is not None, live, wanted if bootstrap else {},
                         delta, floor_groups, seed, continuous, lattice,
                         weigh=not certified)  # fmt: skip
    return [
        _with_floor(
            _result(replace(base, noise_sigma=s), cands, best[s], errs.get(s), min_size),
            *floors.get(s, (None, None, None)),
        )
        if s > 0
        else replace(base, noise_sigma=s)
        for s in levels
    ]


def _log_clusterings(cands: list[Candidate], best: Mapping[float, int]) -> None:
    """Log (DEBUG, `-vv`) each clustering's cluster sizes and the one chosen at each sigma."""
    if not log.isEnabledFor(logging.DEBUG):
        return  # NOTE: the leakage below is computed only for the log
    for c in cands:
        sizes = np.asarray(c.counts)
        log.debug("bound: %s clustering, %d clusters, sizes min %d / median %g / max %d",
                  c.clustering, sizes.size, sizes.min(), float(np.median(sizes)), sizes.max())
    for sigma, index in best.items():
        log.debug("bound: sigma %g takes the %s clustering (I_up %.4g nats)", sigma,
                  cands[index].clustering, cands[index].leakage(sigma))


def _floors(
    x: np.ndarray | None,
    z: np.ndarray,
    cands: list[Candidate],
    labelled: bool,
    live: list[float],
    wanted: Mapping[float, int],
    delta: float,
    groups: int,
    seed: int,
    continuous: np.ndarray | None = None,
    lattice: float = 0.0,
    weigh: bool = False,
) -> dict[float, tuple[FloorEstimate, str, str | None]]:
    """(S) at every live noise std, with its jackknife interval at the `wanted` ones.

    It conditions on the class (its k-means cells give the within-class mixture bound), or
    without labels on the k-means cells of the features. With discrete dimensions, it is
    (S) of the continuous ones times their share of d: the MSE over all d dimensions is at
    least that, whatever the discrete ones get (data processing keeps I(x_cont; z | c) under
    the leakage bound). Inputs on a grid lower it by their dequantisation variance
    (`lattice`, per dimension): rounding to the grid may recover them. Each floor comes with a
    note on those, or None.
    """
    if x is None or not live:
        return {}
    inputs = check_rows(x, what="inputs", min_rows=2)
    if inputs.shape[0] != z.shape[0]:
        raise ConfigError(f"got {inputs.shape[0]} inputs for {z.shape[0]} feature rows")
    keep = np.ones(inputs.shape[1], bool) if continuous is None else np.asarray(continuous, bool)
    if keep.shape != (inputs.shape[1],):
        raise ConfigError(f"got {keep.size} continuity flags for {inputs.shape[1]} inputs")
    by_name = {c.clustering: c for c in cands}
    clusters = by_name["class"] if labelled else by_name["kmeans"]
    cells = by_name["class-kmeans"].labels if labelled else None
    notes = [_discrete_note(keep)]
    if weigh:  # NOTE: data in its own units (tables, signals); pixels are not weighed
        keep, shape_notes = _gaussian_columns(inputs, keep, clusters.labels, np.shape(x)[1:],
                                              clusters.clustering)  # fmt: skip
        notes += shape_notes
    share = float(keep.mean())
    note = "; ".join(n for n in notes if n) or None
    model = fit_floor(inputs[:, keep] if keep.any() else inputs, z, clusters.labels, cells,
                      clustering=clusters.clustering, delta=delta)  # fmt: skip
    if not keep.any():  # NOTE: no density anywhere: the prior stays, the floor is 0
        return {s: (replace(model.estimate(s), value=0.0, interval=None, single_block=0.0),
                    model.clustering, note) for s in live}  # fmt: skip
    points = dict(zip(live, model.estimates(live), strict=True))
    intervals = model.jackknife(
        sorted(wanted), groups, child_seed(seed, 3), points={s: points[s].value for s in wanted}
    ) if groups else {}  # fmt: skip
    out = {}
    for s, point in points.items():
        estimate = replace(point, interval=intervals.get(s))
        scaled = _scaled(estimate, share)
        out[s] = (_lowered(scaled, lattice), model.clustering,
                  _grid_note(note, lattice, scaled.value, delta))  # fmt: skip
    return out


def _gaussian_columns(
    inputs: np.ndarray, keep: np.ndarray, clusters: np.ndarray, sample: tuple[int, ...],
    clustering: str,
) -> tuple[np.ndarray, list[str]]:
    """`keep` less the dimensions far from Gaussian within the clusters, and notes on them.

    A dimension whose within-cluster negentropy exceeds `FAR_NEGENTROPY` (its Gaussian entropy
    power over e times its own: bimodal, near-binary, strongly skewed) leaves the floor as a
    discrete one does: (S) of the others times their share holds whatever it gets, and needs
    the others alone to be Gaussian. Where the rest is still visibly not Gaussian, a note
    says by how much the floor may overstate privacy.
    """
    where = "class" if clustering == "class" else "cluster"
    if not keep.any():
        return keep, []
    found = column_negentropy(inputs[:, keep], clusters)
    if found is None:
        return keep, [f"no {where} has the {MIN_ROWS} rows it takes to weigh how far the input "
                      f"is from Gaussian within it, the floor (S)'s assumption: check the floor "
                      "against the attacks at --budget thorough, or audit more rows"]
    notes = []
    columns = np.flatnonzero(keep)
    far = np.nan_to_num(found.per_column, nan=0.0) > FAR_NEGENTROPY
    if far.any():
        worst = int(np.argmax(np.where(far, found.per_column, -np.inf)))
        keep = keep.copy()
        keep[columns[far]] = False
        notes.append(f"{int(far.sum())} of {keep.size} input dimensions are far from Gaussian "
                     f"within each {where} (their negentropy, the distance from Gaussian, is "
                     f"above {FAR_NEGENTROPY:g} nats: up to {found.per_column[worst]:.2g} at "
                     f"{_dimension(sample, int(columns[worst]))}; bimodal, near-binary or "
                     "strongly skewed): the floor (S) assumes a Gaussian there and could "
                     "overstate privacy, so it counts only the others, weighted by their share"
                     + ("" if keep.any() else "; none is left, so the floor is 0 and only the "
                        "attacks measure privacy"))
        found, columns = found.of(~far), np.flatnonzero(keep)
    if found is not None and found.visible:
        worst = int(np.nanargmax(found.per_column))
        notes.append(f"the floor (S) assumes the input is Gaussian within each {where}, and it "
                     f"visibly is not: its dimensions' negentropy there averages "
                     f"{found.mean:.2g} nats, up to {found.per_column[worst]:.2g} ("
                     f"{_dimension(sample, int(columns[worst]))}), so the floor may overstate "
                     "privacy, for "
                     f"independent dimensions up to {math.exp(2 * found.mean):.3g}x: check it "
                     "against the attacks at --budget thorough")
    elif keep.any():  # NOTE: each dimension alone looks Gaussian enough: is the whole?
        joint = radial_negentropy(inputs[:, keep], clusters)
        if joint is not None and joint.visible:
            notes.append(f"the floor (S) assumes the input is Gaussian within each {where}: its "
                         "dimensions one by one look close to it, but together they visibly "
                         "are not (the lengths of its whitened rows are spread unlike a "
                         f"Gaussian's: at least {joint.nats:.2g} nats from it, "
                         f"{joint.nats / joint.noise:.0f} standard errors), so the floor may "
                         "overstate privacy: by "
                         f"{math.exp(2 * joint.nats / joint.dims):.3g}x from this alone, and "
                         "possibly far more (a discrete input looks like this): check it "
                         "against the attacks at --budget thorough")
    return keep, notes


FAR_NEGENTROPY = 0.5  # nats: a dimension this far from Gaussian leaves the floor


def _dimension(sample: tuple[int, ...], index: int) -> str:
    """Where flat input dimension `index` lies, counted from 0: 'column 4', 'channel 1, step 6'."""
    if len(sample) == 2:
        channel, step = divmod(index, sample[1])
        return f"channel {channel}, step {step}, counted from 0"
    return f"column {index}, counted from 0"


GRID_NOTE_SHARE = 0.01  # a grid that lowers the floor by less than this share goes unsaid


def _grid_note(note: str | None, lattice: float, floor: float, delta: float) -> str | None:
    """`note`, and what the inputs' grid took off the floor when that is not negligible.

    Columns on a grid (`lattice`, said when it takes more than `GRID_NOTE_SHARE` of the
    floor), or pixels on a grid coarser than 8-bit's (`delta`).
    """
    notes = [] if note is None else [note]
    if lattice > GRID_NOTE_SHARE * floor:
        notes.append(f"some input columns lie on a grid (whole numbers, or values to a few "
                     f"decimals): rounding to it may recover them where the noise is small, so "
                     f"the floor (S) is lowered by their dequantisation variance, {lattice:.3g} "
                     "per dimension")  # fmt: skip
    if delta > DEQUANTIZATION_VARIANCE * (1 + 1e-9):
        notes.append(f"the images take few levels (a grid of spacing {math.sqrt(12 * delta):.3g} "
                     f"on [0, 1], coarser than 8-bit's 1/255): rounding may recover them where "
                     f"the noise is small, so the floor (S) holds for them dequantised on that "
                     f"grid, less its variance {delta:.3g} per pixel")  # fmt: skip
    return "; ".join(notes) or None


def _lowered(floor: FloorEstimate, by: float) -> FloorEstimate:
    """The floor lowered by `by` (a grid's dequantisation variance), at least 0."""
    if by <= 0:
        return floor
    interval = None if floor.interval is None else (max(floor.interval[0] - by, 0.0),
                                                    max(floor.interval[1] - by, 0.0))
    return replace(floor, value=max(floor.value - by, 0.0), interval=interval,
                   single_block=max(floor.single_block - by, 0.0))


def _scaled(floor: FloorEstimate, share: float) -> FloorEstimate:
    """A floor of the continuous dimensions as a floor of all d: times their share of d."""
    if share == 1.0:
        return floor
    interval = None if floor.interval is None else (floor.interval[0] * share,
                                                    floor.interval[1] * share)
    return replace(floor, value=floor.value * share, interval=interval,
                   prior=floor.prior * share, single_block=floor.single_block * share)


def _discrete_note(continuous: np.ndarray) -> str | None:
    """The bound's warning when some input dimensions are discrete, else None."""
    if continuous.all():
        return None
    if not continuous.any():
        return ("every input column is discrete (few distinct values, or one value in many "
                "rows): the floor (S) assumes a density, and noise may not hide such values at "
                "all, so it is 0; only the attacks measure privacy")
    return (f"{int((~continuous).sum())} of {continuous.size} input dimensions are discrete "
            "(few distinct values, or one value in many rows): noise may not hide them at "
            "all, so the floor (S) counts only the continuous ones, weighted by their share")


def _with_floor(
    result: BoundResult, floor: FloorEstimate | None, clustering: str | None,
    note: str | None = None,
) -> BoundResult:
    """The bound with its conditional spectral floor (S) (left unknown without inputs)."""
    if floor is None:
        return result
    if note is not None:
        result = replace(result, warnings=(*result.warnings, note))
    interval = None
    if floor.interval is not None:
        interval = Interval(float(floor.interval[0]), float(floor.interval[1]), LEVEL)
    used = floor.value if interval is None else min(floor.value, interval.low)
    return replace(
        result,
        mse_floor=used,
        mse_floor_estimate=floor.value,
        mse_floor_interval=interval,
        floor_clustering=clustering,
        floor_prior=floor.prior,
        floor_vacuous=floor.vacuous,
    )


def check_resolvable(z: np.ndarray, noise_sigmas: Sequence[float]) -> None:
    """Refuse a sigma > 0 so small next to the features that the bound cannot be computed.

    Every variance of the (n, m) features `z` is at most (range / 2)^2; the bound needs
    variance / sigma^2 within float32 (it stays below 1e30 here). Such a sigma protects
    nothing anyway: it is below the features' float32 resolution.

    Raises:
        ConfigError: a sigma > 0 with variance / sigma^2 above 1e30 (or sigma^2 = 0).
    """
    spread = float(z.max()) - float(z.min())  # NOTE: Python floats: no float32 overflow
    ceiling = (spread / 2) ** 2
    for s in noise_sigmas:
        if s > 0 and (s * s == 0 or ceiling / (s * s) > _MAX_RESOLUTION):
            smallest = math.sqrt(ceiling / _MAX_RESOLUTION)
            raise ConfigError(
                f"noise sigma {s:g} is negligible next to these features (range "
                f"{spread:.3g}): the bound cannot be computed with it",
                hint=f"use sigma 0 for no noise, or a sigma of at least {smallest:.2g}",
            )


def _vacuous(
    data: np.ndarray, input_dim: int, input_entropy: float, source: str, covariance: str
) -> BoundResult:
    """Validate the options that do not depend on sigma; return the sigma = 0 result."""
    if covariance not in values(Covariance):
        raise ConfigError(f"covariance must be one of {values(Covariance)}, got {covariance!r}")
    if source not in values(EntropySource):
        raise ConfigError(
            f"input entropy source must be one of {values(EntropySource)}, got {source!r}"
        )
    if input_dim < 1 or not math.isfinite(input_entropy):
        raise ConfigError(
            f"need input_dim >= 1, finite input entropy: {input_dim}, {input_entropy}"
        )
    return BoundResult(
        noise_sigma=0.0,
        input_dim=int(input_dim),
        feature_dim=data.shape[1],
        n_samples=data.shape[0],
        covariance=covariance,
        vacuous=True,
        leakage_nats=None,
        leakage_bits_per_dim=None,
        leakage_interval=None,
        clustering=None,
        terms=(),
        input_entropy_per_dim=float(input_entropy),
        input_entropy_source=source,
        cond_entropy_per_dim=None,
        mse_floor=0.0,
        mse_floor_estimate=0.0,
        mse_floor_interval=None,
        floor_clustering=None,
        floor_prior=None,
        floor_vacuous=True,
        paper_floor=0.0,
        paper_floor_interval=None,
        certified_mse_floor=0.0,
        floor_ratio=0.0,
        warnings=(SIGMA_ZERO_WARNING,),
    )


def _result(
    base: BoundResult,
    cands: list[Candidate],
    best: int,
    errors: np.ndarray | None,
    min_size: int,
) -> BoundResult:
    """Fill the bound at base.noise_sigma > 0 from the candidates and bootstrap errors."""
    noise_sigma, d, h = base.noise_sigma, base.input_dim, base.input_entropy_per_dim
    terms = tuple(
        MixtureTerm(c.clustering, c.counts.size, c.leakage(noise_sigma), int(c.counts.min()))
        for c in cands
    )
    leak = terms[best].leakage_nats
    interval = floor_interval = None
    warnings = candidate_warnings(cands, cands[best], base.feature_dim, base.covariance, min_size)
    if errors is not None:
        # NOTE: basic (reverse-percentile) interval, I_up minus the error quantiles. The
        # log-det estimate is biased low by O(m / n_c) and the resampled replicates are
        # biased low again, so plain percentiles can sit wholly below the truth.
        q_low, q_high = np.percentile(errors, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
        low, high = max(0.0, leak - float(q_high)), leak - float(q_low)
        interval = Interval(low, high, LEVEL)
        if low > leak:
            warnings += (bias_warning(leak, low, high, cands[best], base.feature_dim),)
        floor_interval = Interval(mse_floor(h - high / d), mse_floor(h - low / d), LEVEL)
    return replace(
        base,
        vacuous=False,
        leakage_nats=leak,
        leakage_bits_per_dim=leak / (d * math.log(2)),
        leakage_interval=interval,
        clustering=terms[best].clustering,
        terms=terms,
        cond_entropy_per_dim=h - leak / d,
        mse_floor=None,
        mse_floor_estimate=None,
        mse_floor_interval=None,
        floor_vacuous=False,
        paper_floor=mse_floor(h - leak / d),
        paper_floor_interval=floor_interval,
        certified_mse_floor=(None if base.certified_mse_floor is None
                             else mse_floor(input_entropy_certified() - leak / d)),
        floor_ratio=math.exp(-2.0 * leak / d),
        warnings=warnings,
    )


def leakage_full(z: np.ndarray, labels: np.ndarray, noise_sigma: float) -> float:
    r"""Full-covariance form of bound (L), from the clusters' sample covariances.

    .. math:: I_{up} = H(\pi) + \frac12 \sum_c \pi_c \log\det(I + S_c/\sigma^2)

    Exact for Gaussian clusters; a plug-in estimate that underestimates unless n_c >> m.

    Args:
        z: (n, m) clean features.
        labels: (n,) cluster labels 0..C-1.
        noise_sigma: noise std > 0, feature units.

    Returns:
        I_up, nats per sample.

    Raises:
        ConfigError: noise_sigma not finite and > 0.
        DataError: bad shapes or NaN/inf.
    """
    noise_sigma = positive_noise_sigma(noise_sigma)
    spectra = cluster_spectra(z, labels)
    counts = np.bincount(np.asarray(labels).reshape(-1))
    return float(mixture_leakage(counts[None] / counts.sum(), spectra, noise_sigma)[0])
