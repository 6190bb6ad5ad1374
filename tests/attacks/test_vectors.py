"""Attacks and scores on tabular vectors (N, F) and signals (N, C, T): nets, priors, proofs.

Inputs are standardised (unbounded), so reconstructions are clipped to the auxiliary data's
observed range, never to [0, 1]; each attack must beat guessing the mean on an identity-like
encoder and must not on a constant one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from privaudit import attacks
from privaudit.attacks import AttackData, AttackParams, Capability, Measure, RunContext, Target
from privaudit.attacks.decoder import DecoderParams
from privaudit.attacks.gan import GanParams, gradient_penalty
from privaudit.attacks.knn import KnnParams
from privaudit.attacks.metrics import feature_correlation, feature_mse, feature_r2, psnr
from privaudit.attacks.nets import (
    SignalCritic,
    SignalDecoder,
    VectorCritic,
    VectorDecoder,
    make_critic,
    make_decoder,
)
from privaudit.attacks.optimization import OptimizationParams, prior_term, total_variation
from privaudit.attacks.scoring import Scorer, feature_scores
from privaudit.config import Domain
from privaudit.progress import NullProgress

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WHITE_BOX = frozenset({Capability.QUERY, Capability.GRADIENTS})
SMALL: dict[str, AttackParams] = {
    "knn": KnnParams(),
    "decoder": DecoderParams(epochs=10, width=32),
    "optimization": OptimizationParams(steps=150, lr=0.05, init="mean", tv_weight=0.01),
    "gan": GanParams(decoder_epochs=8, epochs=2, width=32),
}


def _target(enc: nn.Module, shape: tuple[int, ...], domain: Domain, aux: torch.Tensor,
            sigma: float) -> Target:
    enc = enc.eval()
    with torch.no_grad():
        feature_shape = tuple(enc(torch.zeros(1, *shape)).shape[1:])

    def query(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out: np.ndarray = enc(torch.from_numpy(x)).numpy()
        return out

    axes = (0, *range(2, aux.dim()))
    low, high = (aux.amin(dim=axes).numpy(), aux.amax(dim=axes).numpy())
    keep = (-1,) + (1,) * (aux.dim() - 2)
    return Target(shape, feature_shape, sigma, query, enc, WHITE_BOX, domain=domain,
                  bounds=(low.reshape(keep), high.reshape(keep)))


def _data(target: Target, aux: torch.Tensor, ev: torch.Tensor, seed: int) -> AttackData:
    g = torch.Generator().manual_seed(seed)

    def noisy(x: torch.Tensor) -> torch.Tensor:
        z = torch.from_numpy(target.query(x.numpy()))
        return z + target.noise_sigma * torch.randn(z.shape, generator=g)

    return AttackData(aux_x=aux, aux_z=noisy(aux), target_z=noisy(ev))


def _run(name: str, target: Target, data: AttackData, device: str = "cpu") -> torch.Tensor:
    torch.manual_seed(0)
    x_hat = attacks.ATTACKS[name](SMALL[name]).reconstruct(
        target, data, RunContext(torch.device(device), 0, NullProgress()))
    assert x_hat.device.type == "cpu"
    assert x_hat.shape == (len(data.target_z), *target.input_shape)
    low, high = target.bounds or (None, None)
    assert torch.all(x_hat >= torch.as_tensor(low) - 1e-6)
    assert torch.all(x_hat <= torch.as_tensor(high) + 1e-6)
    return x_hat


def _mse(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return ((a.double() - b.double()) ** 2).flatten(1).mean(1).numpy()


@pytest.fixture(scope="module")
def vectors() -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised correlated Gaussian vectors, F = 12: 600 auxiliary, 200 evaluation."""
    g = np.random.default_rng(0)
    mix = g.standard_normal((12, 12)) / np.sqrt(12)
    x = g.standard_normal((800, 12)) @ mix.T
    x = (x - x.mean(0)) / x.std(0)
    t = torch.tensor(x, dtype=torch.float32)
    return t[:600], t[600:]


@pytest.fixture(scope="module")
def signals() -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised 2-channel signals of 32 steps (random phases and amplitudes): 600 / 200."""
    g = np.random.default_rng(1)
    t = np.linspace(0, 1, 32)
    amp, phase = g.uniform(0.5, 2, (800, 2, 1)), g.uniform(0, 6.3, (800, 2, 1))
    x = amp * np.sin(2 * np.pi * np.array([1.0, 2.0])[None, :, None] * t + phase)
    x = (x - x.mean((0, 2), keepdims=True)) / x.std((0, 2), keepdims=True)
    s = torch.tensor(x, dtype=torch.float32)
    return s[:600], s[600:]


class Affine(nn.Module):
    """Identity-like encoder: f(x) = 2x - 1, any shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x - 1


class Constant(nn.Module):
    """An encoder that ignores its input: 8 features of 0.5 (zero gradient)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.0 * x.flatten(1).sum(1, keepdim=True) + torch.full((1, 8), 0.5)


@pytest.mark.parametrize(
    ("features", "shape"),
    [((4,), (13,)), ((8, 2), (30,)), ((64,), (64,))],
)
def test_vector_decoder_and_critic_shapes(
    features: tuple[int, ...], shape: tuple[int, ...]
) -> None:
    net = make_decoder(Domain.TABULAR, features, shape, width=16)
    assert isinstance(net, VectorDecoder)
    out = net(torch.randn(5, *features))
    assert out.shape == (5, *shape)
    assert not any(isinstance(m, nn.Sigmoid) for m in net.modules())  # unbounded outputs
    critic = make_critic(Domain.TABULAR, shape)
    assert isinstance(critic, VectorCritic) and critic(out).shape == (5,)


@pytest.mark.parametrize(
    ("features", "shape"),
    [((4, 16), (2, 64)), ((8, 5), (1, 37)), ((32,), (12, 100)), ((3, 4, 4), (2, 16))],
)
def test_signal_decoder_and_critic_shapes(
    features: tuple[int, ...], shape: tuple[int, ...]
) -> None:
    net = make_decoder(Domain.SIGNAL, features, shape, width=16)
    assert isinstance(net, SignalDecoder)
    assert any(isinstance(m, nn.ConvTranspose1d) for m in net.modules())
    assert not any(isinstance(m, nn.Sigmoid) for m in net.modules())
    out = net(torch.randn(3, *features))
    assert out.shape == (3, *shape)
    critic = make_critic(Domain.SIGNAL, shape)
    assert isinstance(critic, SignalCritic) and critic(out).shape == (3,)
    penalty = gradient_penalty(critic, out.detach(), torch.zeros_like(out))
    assert penalty.dim() == 0 and torch.isfinite(penalty)


def test_priors_per_domain() -> None:
    steps = torch.tensor([[[0.0, 1.0, 1.0, 3.0]]])  # (1, 1, 4): jumps 1, 0, 2
    assert total_variation(steps).tolist() == [3.0]
    assert prior_term(steps, Domain.SIGNAL).tolist() == [3.0]
    assert prior_term(torch.randn(4, 13), Domain.TABULAR).tolist() == [0.0] * 4
    image = torch.zeros(1, 1, 2, 2)
    image[0, 0, 1, 1] = 1.0
    assert prior_term(image, Domain.IMAGE).tolist() == [2.0]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("name", ["knn", "decoder", "optimization", "gan"])
@pytest.mark.parametrize("domain", [Domain.TABULAR, Domain.SIGNAL])
def test_beats_mean_on_identity_encoder(
    name: str, domain: Domain, device: str, vectors: tuple[torch.Tensor, torch.Tensor],
    signals: tuple[torch.Tensor, torch.Tensor],
) -> None:
    aux, ev = vectors if domain == Domain.TABULAR else signals
    target = _target(Affine(), tuple(aux.shape[1:]), domain, aux, sigma=0.1)
    x_hat = _run(name, target, _data(target, aux, ev, seed=1), device)
    errors = _mse(x_hat, ev)
    baseline = _mse(aux.mean(0, keepdim=True).expand_as(ev), ev)
    assert errors.mean() < 0.5 * baseline.mean()
    if name == "optimization":  # white box on x itself: only the noise is left (sigma^2 / 4)
        assert errors.mean() < 0.05 * baseline.mean()


@pytest.mark.parametrize("name", ["knn", "decoder", "optimization", "gan"])
@pytest.mark.parametrize("domain", [Domain.TABULAR, Domain.SIGNAL])
def test_nothing_beats_mean_on_constant_encoder(
    name: str, domain: Domain, vectors: tuple[torch.Tensor, torch.Tensor],
    signals: tuple[torch.Tensor, torch.Tensor],
) -> None:
    aux, ev = vectors if domain == Domain.TABULAR else signals
    target = _target(Constant(), tuple(aux.shape[1:]), domain, aux, sigma=0.1)
    errors = _mse(_run(name, target, _data(target, aux, ev, seed=2)), ev)
    baseline = _mse(aux.mean(0, keepdim=True).expand_as(ev), ev)
    diff = errors - baseline
    assert diff.mean() >= -3 * diff.std(ddof=1) / np.sqrt(len(diff))


def test_clip_to_the_auxiliary_range(vectors: tuple[torch.Tensor, torch.Tensor]) -> None:
    aux, _ = vectors
    target = _target(Affine(), (12,), Domain.TABULAR, aux, sigma=0.1)
    wild = torch.full((2, 12), 100.0)
    assert torch.equal(target.clip(wild)[0], aux.amax(0)) and torch.equal(
        target.clip(-wild)[1], aux.amin(0))
    image = Target((1, 2, 2), (4,), 0.1, lambda x: x, None, frozenset({Capability.QUERY}))
    assert image.clip(torch.full((1, 1, 2, 2), 3.0)).max() == 1.0


# ---------------------------------------------------------------- per-feature scores


def test_feature_metrics_by_hand() -> None:
    truth = torch.tensor([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    guess = torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0], [3.0, 1.0]])
    assert feature_mse(guess, truth).tolist() == [0.25, 0.5]
    r2 = feature_r2(guess, truth)  # column 0: 1 - 0.25 / 1.25; column 1 is constant
    assert r2[0].item() == pytest.approx(0.8) and torch.isnan(r2[1])
    corr = feature_correlation(guess, truth)
    assert corr[0].item() == pytest.approx(np.corrcoef([0, 1, 3, 3], [0, 1, 2, 3])[0, 1])
    assert torch.isnan(corr[1])
    signal = torch.zeros(2, 1, 4)
    assert psnr(signal + 0.5, signal, data_range=5.0).tolist() == pytest.approx(
        [10 * np.log10(25 / 0.25)] * 2)


def test_feature_scores_exact_matches_and_raw_units() -> None:
    measure = Measure(domain=Domain.TABULAR, names=("grade", "income"), mean=(3.0, 50_000.0),
                      std=(2.0, 10_000.0), discrete=(True, False))
    truth = torch.tensor([[0.0, 0.0], [0.5, 1.0], [-0.5, -1.0], [1.0, 0.5]])  # grade 3, 4, 2, 5
    guess = truth + torch.tensor([[0.2, 0.1], [0.3, 0.0], [0.1, 0.0], [0.0, 0.0]])
    grade, income = feature_scores(guess, truth, measure)
    assert grade.name == "grade" and grade.exact_match == 0.75  # +0.6 rounds 4 to 5
    assert income.exact_match is None
    assert income.mse_raw == pytest.approx(income.mse * 1e8)
    assert grade.mse == pytest.approx((0.04 + 0.09 + 0.01) / 4, rel=1e-5)


def test_exact_matches_snap_to_the_values_a_column_takes() -> None:
    """A reviewer (2026-12-08): magnesium rounded to tens (70, 80, ..., 160) counted as
    discrete, and rounding reconstructions to whole numbers gave every attack an exact-match
    rate of 0 where the mean guess (99.7, rounded to 100) read 0.31. They are snapped to the
    nearest value the column takes."""
    levels = tuple(float(v) for v in range(70, 170, 10))
    measure = Measure(domain=Domain.TABULAR, names=("mg",), mean=(100.0,), std=(20.0,),
                      discrete=(True,), levels=(levels,))
    true_raw = torch.tensor([[80.0], [100.0], [120.0], [150.0]])
    guess_raw = torch.tensor([[83.0], [96.5], [131.0], [149.0]])  # 80, 100, 130, 150
    (mg,) = feature_scores((guess_raw - 100) / 20, (true_raw - 100) / 20, measure)
    assert mg.exact_match == 0.75
    (mean_guess,) = feature_scores(torch.full((4, 1), -0.015), (true_raw - 100) / 20, measure)
    assert mean_guess.exact_match == 0.25  # 99.7 snaps to 100: one row of four


def test_scorer_per_domain(signals: tuple[torch.Tensor, torch.Tensor]) -> None:
    _, ev = signals
    measure = Measure(domain=Domain.SIGNAL, names=("a", "b"), mean=(10.0, 0.0),
                      std=(2.0, 2.0), discrete=(False, False), data_range=16.0)
    scorer = Scorer(ev, None, 3, seed=0, measure=measure)
    prior = scorer.reference("prior", torch.zeros_like(ev))
    result = scorer.attack("x", ev + 0.1, 0.0, {})
    assert prior.ssim is None and result.ssim is None and result.psnr is not None
    raw_mse = 0.1**2 * 4  # std 2 in both channels
    assert result.psnr == pytest.approx(10 * np.log10(16.0**2 / raw_mse), rel=1e-4)
    assert [f.name for f in result.features] == ["a", "b"]
    assert all(f.correlation == pytest.approx(1.0) for f in result.features)
    assert result.recovered is not None and result.recovered > 0.98
    tabular = Scorer(ev[:, 0], None, 3, seed=0, measure=Measure(
        domain=Domain.TABULAR, names=tuple(f"t{i}" for i in range(32)), mean=(0.0,) * 32,
        std=(1.0,) * 32, discrete=(False,) * 32))
    assert tabular.attack("x", ev[:, 0], 0.0, {}).psnr is None


class Scaled(nn.Module):
    """An identity encoder that multiplies by 1,000: the noise is 1,000 times smaller."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1000.0 * x


@pytest.mark.parametrize("name", ["decoder", "gan"])
@pytest.mark.parametrize("domain", [Domain.TABULAR, Domain.SIGNAL])
def test_learned_attacks_are_not_defeated_by_large_features(
    name: str, domain: Domain, vectors: tuple[torch.Tensor, torch.Tensor],
    signals: tuple[torch.Tensor, torch.Tensor],
) -> None:
    """Features in the thousands left the decoder 8x worse than the mean, where a linear fit
    is exact: a model that leaks more passed an attack gate (the decoder scales them now)."""
    aux, ev = vectors if domain == Domain.TABULAR else signals
    target = _target(Scaled(), tuple(aux.shape[1:]), domain, aux, sigma=0.1)
    errors = _mse(_run(name, target, _data(target, aux, ev, seed=3)), ev)
    baseline = _mse(aux.mean(0, keepdim=True).expand_as(ev), ev)
    assert errors.mean() < 0.5 * baseline.mean()
