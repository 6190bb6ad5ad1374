"""White-box inversion: optimize x_hat so that encoder(x_hat) matches z (regularized MLE)."""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from typing import ClassVar, Self

import torch
from torch import Tensor, nn

from privaudit.attacks.base import Attack, AttackData, AttackParams, RunContext, check_positive
from privaudit.attacks.decoder import DecoderParams, train_decoder
from privaudit.attacks.nets import check_choice, check_nonnegative, predict
from privaudit.attacks.target import Capability, Target
from privaudit.config.choices import AttackName, Budget, Domain
from privaudit.errors import AttackError
from privaudit.progress import ProgressTask

__all__ = ["OptimizationAttack", "OptimizationParams", "prior_term", "total_variation"]

log = logging.getLogger(__name__)
LOGGED_STEPS = 5  # optimization steps logged per batch at DEBUG (-vv)

_INITS = ("mean", "decoder")
# budget -> (Adam steps, warm-start decoder epochs; 0 = start from the aux mean image)
_SCHEDULE = {Budget.SMOKE: (30, 0), Budget.STANDARD: (100, 8), Budget.THOROUGH: (1000, 50)}
_EPS = 1e-3  # keeps the initial logits finite


@dataclass(frozen=True)
class OptimizationParams(AttackParams):
    """Settings of the white-box optimization attack.

    Attributes:
        steps: Adam steps per batch of targets.
        lr: Adam learning rate on the logits u (images: x = sigmoid(u)), or on x itself
            (tabular vectors and signals, standardised units).
        tv_weight: alpha, weight of the anisotropic total variation prior (>= 0): 2-D on
            images, 1-D along time on signals; tabular vectors have no order, so no prior.
        init: start from the auxiliary mean image ("mean") or from a decoder's output
            ("decoder"; the attack trains its own decoder for `decoder_epochs`).
        batch_size: targets optimized together (independent problems, one Adam).
        decoder_epochs: epochs of the warm-start decoder when init = "decoder".
    """

    steps: int = _SCHEDULE[Budget.STANDARD][0]
    lr: float = 0.03
    tv_weight: float = 1.0
    init: str = "decoder"
    batch_size: int = 256
    decoder_epochs: int = _SCHEDULE[Budget.STANDARD][1]

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "decoder_epochs"):
            check_positive("optimization", name, getattr(self, name), integer=True)
        check_positive("optimization", "lr", self.lr)
        check_nonnegative("optimization", "tv_weight", self.tv_weight)
        check_choice("optimization", "init", self.init, _INITS)

    @classmethod
    def for_budget(cls, budget: Budget) -> Self:
        """Steps and start point by budget.

        Smoke: 30 steps from the mean image; standard: 100 steps from a decoder trained
        8 epochs; thorough: 1000 steps from a decoder trained 50 epochs.
        """
        steps, decoder_epochs = _SCHEDULE[budget]
        if decoder_epochs == 0:
            return cls(steps=steps, init="mean")
        return cls(steps=steps, init="decoder", decoder_epochs=decoder_epochs)


def total_variation(x: Tensor) -> Tensor:
    r"""Anisotropic total variation per sample, along every axis after the channels.

    .. math:: TV(x) = \sum |x_{i+1,j} - x_{i,j}| + |x_{i,j+1} - x_{i,j}|

    Args:
        x: (N, C, H, W) images, or (N, C, T) signals (1-D: along time only).

    Returns:
        (N,) sums over channels and positions.
    """
    if x.dim() == 3:
        return (x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1).sum(dim=1)
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().flatten(1).sum(dim=1)
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).sum(dim=1)
    return dh + dw


def prior_term(x: Tensor, domain: str) -> Tensor:
    """The smoothness prior per sample: TV on images and signals, 0 on tabular vectors."""
    if domain == Domain.TABULAR:
        return x.new_zeros(len(x))
    return total_variation(x)


class OptimizationAttack(Attack[OptimizationParams]):
    """Regularized maximum likelihood (rMLE) inversion through the encoder's gradients.

    Solves, per target, ``x* = argmin_x ||f(x) - z||^2 / (2 sigma^2) + alpha TV(x)`` with
    Adam: over ``x = sigmoid(u)`` for images (so x stays in [0, 1]), over x itself for
    tabular vectors and signals (standardised units; 1-D TV on signals, no prior on vectors).
    The first term is the negative log-likelihood of the Gaussian channel. When sigma = 0 it
    would be infinite, so the plain squared error ``||f(x) - z||^2`` is used instead (alpha
    then weighs TV against it).
    Starting from a decoder's reconstruction gives the strongest practical attack.

    Threat model: white box. The attacker has the encoder's weights (a differentiable
    torch module), the deployment sigma and auxiliary images (for the start point).

    Paper: Xia et al., CVPR 2025 (arXiv 2503.00383), rMLE attack; TV prior as in
    Mahendran & Vedaldi, "Understanding Deep Image Representations by Inverting Them",
    CVPR 2015.

    Cost: O(steps x N_eval) encoder forward/backward passes, plus the decoder's
    O(decoder_epochs x N_aux) when init = "decoder".
    """

    name: ClassVar[str] = AttackName.OPTIMIZATION
    params_type: ClassVar[type[AttackParams]] = OptimizationParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.QUERY, Capability.GRADIENTS})
    summary: ClassVar[str] = "gradient descent on x so that f(x) matches z, TV prior (white box)"

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        """Optimize every target from its start point; (N_eval, *input_shape)."""
        params = self.params
        if target.torch_encoder is None:
            raise AttackError("optimization needs the encoder as a torch module")
        encoder = _frozen_copy(target.torch_encoder, ctx.device)
        n_batches = math.ceil(len(data.target_z) / params.batch_size)
        warm = params.decoder_epochs if params.init == "decoder" else 0
        with ctx.progress.task(self.name, total=warm + params.steps * n_batches) as task:
            start = self._start(target, data, ctx, task)
            size = params.batch_size
            parts = [
                self._solve(encoder, start[i : i + size], data.target_z[i : i + size], target,
                            ctx, task)
                for i in range(0, len(start), size)
            ]
        return torch.cat(parts) if parts else start

    def _start(
        self, target: Target, data: AttackData, ctx: RunContext, task: ProgressTask
    ) -> Tensor:
        """Initial inputs (N_eval, *input_shape) on the CPU: the aux mean, or a decoder's output."""
        params = self.params
        if params.init == "decoder":
            dec_params = DecoderParams(epochs=params.decoder_epochs)
            net = train_decoder(target, data, dec_params, ctx, task)
            return predict(net, data.target_z, ctx.device, target=target)
        mean = data.aux_x.float().mean(dim=0, keepdim=True)
        return mean.expand(len(data.target_z), *mean.shape[1:]).clone()

    def _solve(
        self,
        encoder: nn.Module,
        start: Tensor,
        z: Tensor,
        target: Target,
        ctx: RunContext,
        task: ProgressTask,
    ) -> Tensor:
        """Adam on one batch (logits for images); returns (n, *input_shape) on the CPU."""
        params, noise_sigma, pixels = self.params, target.noise_sigma, target.pixels
        begin = start.to(ctx.device)
        u = (torch.logit(begin.clamp(_EPS, 1 - _EPS)) if pixels else begin.clone())
        u.requires_grad_(True)
        z = z.to(ctx.device, torch.float32).flatten(1)
        scale = 1.0 / (2.0 * noise_sigma**2) if noise_sigma > 0 else 1.0
        opt = torch.optim.Adam([u], lr=params.lr)
        every = max(1, params.steps // LOGGED_STEPS)
        for step in range(1, params.steps + 1):
            x = torch.sigmoid(u) if pixels else u
            fit = (encoder(x).flatten(1) - z).pow(2).sum(dim=1) * scale
            loss = (fit + params.tv_weight * prior_term(x, target.domain)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            task.advance()
            if step % every == 0 or step == params.steps:
                log.debug("optimization step %d/%d: loss %.4g per sample", step, params.steps,
                          float(loss.detach()) / max(1, len(z)))
        out = torch.sigmoid(u.detach()) if pixels else target.clip(u.detach())
        if not torch.isfinite(out).all():
            raise AttackError("optimization diverged (non-finite reconstruction)")
        return out.cpu()


def _frozen_copy(encoder: nn.Module, device: torch.device) -> nn.Module:
    """A copy of the caller's encoder on `device`, in eval mode, with frozen weights."""
    clone = copy.deepcopy(encoder).to(device).eval()
    for param in clone.parameters():
        param.requires_grad_(False)
    return clone
