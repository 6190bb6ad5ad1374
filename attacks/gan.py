"""GAN attack: the inversion decoder fine-tuned against a WGAN-GP critic on auxiliary images."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar, Self

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from privaudit.attacks.base import Attack, AttackData, AttackParams, RunContext, check_positive
from privaudit.attacks.decoder import DecoderParams, PairSampler, train_decoder
from privaudit.attacks.nets import make_critic, predict
from privaudit.attacks.target import Capability, Target
from privaudit.config.choices import AttackName, Budget
from privaudit.errors import AttackError
from privaudit.progress import ProgressTask

__all__ = ["GanAttack", "GanParams", "gradient_penalty"]

log = logging.getLogger(__name__)

# budget -> (decoder pre-training epochs, adversarial fine-tuning epochs)
_EPOCHS = {Budget.SMOKE: (1, 1), Budget.STANDARD: (8, 4), Budget.THOROUGH: (50, 50)}
_BETAS = (0.5, 0.9)  # Adam betas of Gulrajani et al.


@dataclass(frozen=True)
class GanParams(AttackParams):
    """Settings of the GAN attack.

    Attributes:
        decoder_epochs: epochs of plain MSE pre-training of the generator (a decoder).
        epochs: adversarial fine-tuning epochs over the auxiliary set.
        lr: Adam learning rate of generator and critic during fine-tuning.
        batch_size: pairs per step.
        beta: weight of the per-pixel MSE in the generator loss (official: 1500).
        gp_weight: weight of the critic's gradient penalty (WGAN-GP: 10).
        critic_steps: critic updates per generator update.
        width: decoder channels at the feature resolution.
    """

    decoder_epochs: int = _EPOCHS[Budget.STANDARD][0]
    epochs: int = _EPOCHS[Budget.STANDARD][1]
    lr: float = 1e-4
    batch_size: int = 64
    beta: float = 1500.0
    gp_weight: float = 10.0
    critic_steps: int = 1
    width: int = DecoderParams().width

    def __post_init__(self) -> None:
        for name in ("decoder_epochs", "epochs", "batch_size", "critic_steps", "width"):
            check_positive("gan", name, getattr(self, name), integer=True)
        for name in ("lr", "beta", "gp_weight"):
            check_positive("gan", name, getattr(self, name))

    @classmethod
    def for_budget(cls, budget: Budget) -> Self:
        """(pre-training, fine-tuning) epochs: smoke (1, 1), standard (8, 4), thorough (50, 50)."""
        decoder_epochs, epochs = _EPOCHS[budget]
        return cls(decoder_epochs=decoder_epochs, epochs=epochs)


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP penalty E[(||grad_x D(x_mix)||_2 - 1)^2] on random interpolates.

    Args:
        critic: input -> (N,) scores.
        real: (N, *input_shape) auxiliary inputs.
        fake: (N, *input_shape) generated inputs (detached).

    Returns:
        Scalar penalty, differentiable w.r.t. the critic's weights.
    """
    mix = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    inter = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(inter).sum(), inter, create_graph=True)
    penalty: Tensor = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    return penalty


class GanAttack(Attack[GanParams]):
    """Decoder fine-tuned with a learned prior (WGAN-GP critic on auxiliary inputs).

    The generator is a decoder pre-trained with MSE, then trained with
    ``-D(g(z)) + beta * MSE(g(z), x)`` while a critic D learns to tell auxiliary inputs
    from reconstructions (Wasserstein loss, gradient penalty). The critic pushes
    reconstructions towards the data's manifold; beta keeps them faithful to z. The critic
    is convolutional for images, an MLP for tabular vectors, 1-D convolutional for signals.

    Threat model: black box, as the decoder attack: auxiliary images, query access to
    the encoder (fresh noise each epoch) and the deployment sigma.

    Paper: Xia et al., CVPR 2025 (arXiv 2503.00383), GAN attack of the official code;
    critic loss from Gulrajani et al., "Improved Training of Wasserstein GANs",
    NeurIPS 2017.

    Cost: O((decoder_epochs + epochs x (1 + 3 critic_steps)) x N_aux) network passes.
    """

    name: ClassVar[str] = AttackName.GAN
    params_type: ClassVar[type[AttackParams]] = GanParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.QUERY})
    summary: ClassVar[str] = "decoder fine-tuned against a WGAN-GP critic (black box)"

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        """Pre-train, fine-tune adversarially, decode the targets; (N_eval, *input_shape)."""
        p = self.params
        pre = DecoderParams(epochs=p.decoder_epochs, width=p.width)
        with ctx.progress.task(self.name, total=p.decoder_epochs + p.epochs) as task:
            generator = train_decoder(target, data, pre, ctx, task)
            self._finetune(generator, target, data, ctx, task)
        return predict(generator, data.target_z, ctx.device, target=target)

    def _finetune(
        self, gen: nn.Module, target: Target, data: AttackData, ctx: RunContext,
        task: ProgressTask,
    ) -> None:
        """Alternate critic and generator updates for `epochs` passes over the aux set."""
        p = self.params
        sampler = PairSampler(target, data, ctx, fresh=True, stream=1)
        critic = make_critic(target.domain, target.input_shape).to(ctx.device)
        opt_g = torch.optim.Adam(gen.parameters(), lr=p.lr, betas=_BETAS)
        opt_d = torch.optim.Adam(critic.parameters(), lr=p.lr, betas=_BETAS)
        for epoch in range(1, p.epochs + 1):
            gen.train()
            z, losses = sampler.features(), []
            for idx in sampler.batches(p.batch_size):
                real, fake = sampler.x[idx], gen(z[idx])
                for _ in range(p.critic_steps):
                    d_loss = critic(fake.detach()).mean() - critic(real).mean()
                    d_loss = d_loss + p.gp_weight * gradient_penalty(critic, real, fake.detach())
                    _step(opt_d, d_loss)
                g_loss = p.beta * F.mse_loss(fake, real) - critic(fake).mean()
                _step(opt_g, g_loss)
                losses.append(float(g_loss.detach()))
            mean_loss = sum(losses) / max(1, len(losses))
            if not math.isfinite(mean_loss):
                raise AttackError("gan training diverged (generator loss is not finite)")
            task.advance()
            task.set_info(f"g-loss {mean_loss:.3f}")
            log.debug("gan epoch %d/%d: generator loss %.4g", epoch, p.epochs, mean_loss)


def _step(opt: torch.optim.Optimizer, loss: Tensor) -> None:
    """One optimizer update on `loss` (grads reset first)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
