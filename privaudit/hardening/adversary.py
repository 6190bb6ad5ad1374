"""The adversarial defence's attacker: a decoder that learns to invert the noisy features.

Training alternates: `fit` takes `steps` decoder updates on the detached noisy features of
a batch, then `loss` is the decoder's reconstruction error with the gradient flowing into
the encoder (which subtracts mu times it). The decoder restarts from a fresh initialisation
every `reset` encoder steps, so that the encoder learns to defeat decoders in general, not
one particular decoder it has co-adapted with. It is never the judge: every audit trains its
own attacks from scratch on the hardened model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from privaudit.attacks.nets import make_decoder
from privaudit.config import DOMAIN_BY_RANK

__all__ = ["Adversary"]

# NOTE: a narrower decoder than the decoder attack's (64): cheaper, so that an adversarial
# epoch stays within 2x a noise-only epoch (benchmarks/harden.py); 2 decoder updates per
# encoder step let it keep up with the moving encoder.
WIDTH = 32
LR = 1e-3


class Adversary:
    """A decoder from features to inputs, re-initialised on a schedule.

    Args:
        feature_shape: per-sample feature shape.
        input_shape: per-sample input shape.
        steps: decoder updates per encoder step.
        reset: encoder steps between re-initialisations.
        seed: seed of the initialisations (the i-th restart uses seed + i).
        device: where the decoder trains.
    """

    def __init__(
        self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], *, steps: int,
        reset: int, seed: int, device: torch.device,
    ) -> None:
        self.shapes = (feature_shape, input_shape)
        self.steps, self.reset, self.seed, self.device = steps, reset, seed, device
        self.restarts = 0
        self.encoder_steps = 0
        self._new()

    def _new(self) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + self.restarts)
            # NOTE: the domain's decoder (images, tabular vectors, signals), as the attack uses
            domain = DOMAIN_BY_RANK[1 + len(self.shapes[1])]
            self.decoder = make_decoder(domain, *self.shapes, WIDTH).to(self.device).train()
        self.opt = torch.optim.Adam(self.decoder.parameters(), lr=LR)

    def fit(self, noisy: Tensor, target: Tensor) -> float:
        """`steps` decoder updates on (detached noisy features, inputs); the last loss."""
        loss = noisy.new_zeros(())
        for _ in range(self.steps):
            loss = F.mse_loss(self.decoder(noisy.detach()), target)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return float(loss.detach())

    def loss(self, noisy: Tensor, target: Tensor) -> Tensor:
        """The decoder's reconstruction MSE, differentiable in `noisy` (for the encoder)."""
        return F.mse_loss(self.decoder(noisy), target)

    def encoder_stepped(self) -> None:
        """Count one encoder step; restart the decoder every `reset` of them."""
        self.encoder_steps += 1
        if self.encoder_steps % self.reset == 0:
            self.restarts += 1
            self._new()
