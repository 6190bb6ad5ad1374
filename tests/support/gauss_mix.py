"""Ground truth for the floor's tests: linear-Gaussian closed forms and Gaussian mixtures.

x ~ sum_k w_k N(mu_k, S_k), z = A x + eps, eps ~ N(0, sigma^2 I_m). The posterior of a
Gaussian mixture through a linear Gaussian channel is a Gaussian mixture: weights
proportional to w_k N(z; A mu_k, C_k), C_k = A S_k A^T + sigma^2 I, means
mu_k + S_k A^T C_k^-1 (z - A mu_k), covariances P_k = S_k - S_k A^T C_k^-1 A S_k. The MMSE is
estimated by Monte Carlo with the Rao-Blackwellised per-draw value
E[||x - E[x|z]||^2 | z] = sum_k w_k(z) (tr P_k + ||m_k(z) - E[x|z]||^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import spectral_reference as sp

_CHUNK = 2000


@dataclass(frozen=True)
class Config:
    """One mixture experiment (all stds on the [0, 1] pixel scale)."""

    name: str
    d: int
    m: int
    k: int
    spread: float  # std of the component means around 0.5
    within: float  # rms std inside a component
    alpha: float  # within-spectrum decay exponent (0: isotropic)
    sigma: float
    gain: float = 1.0  # encoder gain: A = gain * N(0, 1)/sqrt(d)
    n_per: int = 0  # samples per component for the estimates (0: 5 d, at least 200)
    dirichlet: bool = False  # non-uniform component weights
    seed: int = 0


@dataclass(frozen=True)
class Mixture:
    """Component weights (K,), means (K, d) and covariances (K, d, d)."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray


# fmt: off
CONFIGS = (
    Config("sep4-iso", d=16, m=8, k=4, spread=0.25, within=0.02, alpha=0.0, sigma=0.1, gain=4.0),
    Config("sep16-iso", d=32, m=16, k=16, spread=0.25, within=0.02, alpha=0.0, sigma=0.2, gain=6.0),
    Config("sep8-aniso", d=64, m=32, k=8, spread=0.2, within=0.05, alpha=2.0, sigma=0.1, gain=3.0),
    Config("k2-m>d", d=8, m=16, k=2, spread=0.1, within=0.05, alpha=1.0, sigma=0.05, gain=1.0),
    Config("k10-aniso-m>d", d=32, m=64, k=10, spread=0.15, within=0.03, alpha=1.5, sigma=0.5,
           gain=8.0),
    Config("overlap-aniso", d=48, m=12, k=4, spread=0.02, within=0.05, alpha=1.5, sigma=0.1,
           gain=2.0),
    Config("sep16-lowsig", d=24, m=24, k=16, spread=0.3, within=0.01, alpha=1.0, sigma=0.02,
           gain=1.0),
    Config("k3-dirichlet", d=20, m=10, k=3, spread=0.2, within=0.03, alpha=2.0, sigma=0.2,
           gain=3.0, dirichlet=True),
)

EXTRA_CONFIGS = (  # strong leakage (I/d of 1-3 nats): anisotropic spectra, where blocks matter
    Config("aniso-highsnr", d=32, m=48, k=6, spread=0.2, within=0.05, alpha=2.0, sigma=0.05,
           gain=8.0),
    Config("aniso-highsnr2", d=64, m=16, k=4, spread=0.2, within=0.08, alpha=2.5, sigma=0.02,
           gain=5.0),
)
# fmt: on


def orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random d x d orthogonal matrix."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return np.asarray(q * np.sign(np.diag(r)))


def power_cov(rng: np.random.Generator, d: int, std: float, alpha: float) -> np.ndarray:
    """Random-basis covariance, eigenvalues ~ (j+1)^-alpha + 1% floor, mean std^2."""
    eig = np.arange(1, d + 1, dtype=np.float64) ** -alpha + 0.01
    eig *= std**2 / eig.mean()
    u = orthogonal(rng, d)
    return np.asarray((u * eig) @ u.T)


def make_mixture(cfg: Config, rng: np.random.Generator) -> Mixture:
    """Components of `cfg`: means 0.5 + spread N(0, I), covariances from `power_cov`."""
    weights = rng.dirichlet(np.ones(cfg.k)) if cfg.dirichlet else np.full(cfg.k, 1.0 / cfg.k)
    means = 0.5 + cfg.spread * rng.standard_normal((cfg.k, cfg.d))
    covs = np.stack([power_cov(rng, cfg.d, cfg.within, cfg.alpha) for _ in range(cfg.k)])
    return Mixture(weights, means, covs)


def encoder(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    """The linear encoder A (m, d)."""
    return cfg.gain * rng.standard_normal((cfg.m, cfg.d)) / math.sqrt(cfg.d)


def sample(mix: Mixture, comp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw x for given component indices."""
    chol = np.linalg.cholesky(mix.covs)
    eps = rng.standard_normal((comp.size, mix.means.shape[1]))
    return np.asarray(mix.means[comp] + np.einsum("nij,nj->ni", chol[comp], eps))


def mmse_mc(
    mix: Mixture, a: np.ndarray, sigma: float, n: int, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """Posterior-mean MMSE per dimension by Monte Carlo (chunks of draws).

    Returns:
        Rao-Blackwellised mean and standard error, plain ||x - E[x|z]||^2 mean and std error.
    """
    m = a.shape[0]
    c = a @ mix.covs @ a.T + sigma**2 * np.eye(m)
    cinv = np.linalg.inv(c)
    gain = mix.covs @ a.T @ cinv  # (K, d, m)
    trace_p = np.trace(mix.covs - gain @ a @ mix.covs, axis1=1, axis2=2)
    logdet = np.linalg.slogdet(c)[1]
    rb, plain = [], []
    for start in range(0, n, _CHUNK):
        comp = rng.choice(mix.weights.size, size=min(_CHUNK, n - start), p=mix.weights)
        x = sample(mix, comp, rng)
        z = x @ a.T + sigma * rng.standard_normal((comp.size, m))
        r, p = _posterior_errors(mix, a, z, x, (cinv, gain, trace_p, logdet))
        rb.append(r)
        plain.append(p)
    rbv, plainv = np.concatenate(rb), np.concatenate(plain)
    root = math.sqrt(n)
    return rbv.mean(), rbv.std() / root, plainv.mean(), plainv.std() / root


def _posterior_errors(
    mix: Mixture, a: np.ndarray, z: np.ndarray, x: np.ndarray, pre: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw Rao-Blackwellised and plain squared errors of E[x|z], per dimension."""
    cinv, gain, trace_p, logdet = pre
    d = x.shape[1]
    resid = z[:, None, :] - (mix.means @ a.T)[None]  # (n, K, m)
    quad = np.einsum("nki,kij,nkj->nk", resid, cinv, resid)
    logw = np.log(mix.weights) - 0.5 * (quad + logdet)
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    post = mix.means[None] + np.einsum("kdm,nkm->nkd", gain, resid)  # (n, K, d)
    xhat = np.einsum("nk,nkd->nd", w, post)
    spread = np.einsum("nk,nk->n", w, ((post - xhat[:, None]) ** 2).sum(-1))
    return (w @ trace_p + spread) / d, ((x - xhat) ** 2).sum(-1) / d


def linear_gaussian(sx: np.ndarray, a: np.ndarray, sigma: float) -> tuple[float, float, float]:
    """Closed forms for x ~ N(mu, Sx), z = A x + eps: I (nats), MMSE = tr(P)/d, det(P)^(1/d)."""
    d, m = sx.shape[0], a.shape[0]
    c = a @ sx @ a.T + sigma**2 * np.eye(m)
    p = sx - sx @ a.T @ np.linalg.solve(c, a @ sx)
    info = 0.5 * np.linalg.slogdet(np.eye(m) + a @ sx @ a.T / sigma**2)[1]
    return float(info), float(np.trace(p) / d), float(np.exp(np.linalg.slogdet(p)[1] / d))


@dataclass(frozen=True)
class MixtureResult:
    """Floors and ground truth of one configuration (per dimension)."""

    cfg: Config
    mmse: float
    se: float
    plain: float
    plain_se: float
    s_true: float  # true spectra, exact diagonal I_c
    s_true_full_info: float  # true spectra, exact full I(x; z | c) (not the diagonal bound)
    s_true_sample_info: float  # true spectra, sample diagonal I_c
    s_sample_exact_info: float  # sample spectra, exact diagonal I_c
    s_sample: float  # sample spectra, sample diagonal I_c (what the tool computes)
    t_sample: float  # (T) per cluster, sample, combined
    old: float  # unconditional (T): pooled Gaussian h(x), I_up with H(pi)
    info_per_dim: float  # sum_c pi_c I_c / d (sample)


def evaluate(cfg: Config, n_mc: int) -> MixtureResult:
    """Ground truth MMSE and every floor variant for one configuration."""
    rng = np.random.default_rng(cfg.seed)
    mix = make_mixture(cfg, rng)
    a = encoder(cfg, rng)
    mmse = mmse_mc(mix, a, cfg.sigma, n_mc, rng)
    n_per = cfg.n_per or max(5 * cfg.d, 200)
    sizes = np.maximum(2, np.rint(mix.weights * n_per * cfg.k)).astype(np.int64)
    comp = np.repeat(np.arange(cfg.k), sizes)  # every component present, shares ~ weights
    x = sample(mix, comp, rng)
    _, counts, var = sp.feature_variances(x @ a.T, comp)
    info_sample = sp.diagonal_info(var, cfg.sigma)
    info_exact = sp.diagonal_info(np.diagonal(a @ mix.covs @ a.T, axis1=1, axis2=2), cfg.sigma)
    spectra = sp.cluster_spectra(x, comp)
    info_full = [full_info(a @ s @ a.T, cfg.sigma) for s in mix.covs]
    true = true_spectra(mix)
    old, _ = sp.unconditional_floor(x, sp.mixture_info(counts / counts.sum(), info_sample))
    sample_floor = sp.floor_from_spectra(spectra, info_sample)
    return MixtureResult(
        cfg, *mmse,
        s_true=sp.floor_from_spectra(true, info_exact).floor,
        s_true_full_info=sp.floor_from_spectra(true, info_full).floor,
        s_true_sample_info=sp.floor_from_spectra(true, info_sample).floor,
        s_sample_exact_info=sp.floor_from_spectra(spectra, info_exact).floor,
        s_sample=sample_floor.floor,
        t_sample=sample_floor.single_block,
        old=old,
        info_per_dim=float(counts @ info_sample / counts.sum() / cfg.d),
    )  # fmt: skip


def full_info(feature_cov: np.ndarray, sigma: float) -> float:
    """I(x; z | c) of a Gaussian cluster: 1/2 log det(I + A S_k A^T / sigma^2)."""
    m = feature_cov.shape[0]
    return 0.5 * float(np.linalg.slogdet(np.eye(m) + feature_cov / sigma**2)[1])


def true_spectra(mix: Mixture) -> sp.ClusterSpectra:
    """ClusterSpectra of the true component covariances, weighted by the true weights."""
    spectra = tuple(sp.Spectrum.from_eigenvalues(np.linalg.eigvalsh(s)) for s in mix.covs)
    shares = np.rint(mix.weights * 1e9).astype(np.int64)  # the true weights, as counts
    return sp.ClusterSpectra(np.arange(shares.size), shares, spectra, mix.means.shape[1])
