"""The adversarial defence's attacker: a decoder that learns to invert the noisy features.

Training alternates: every `EVERY` encoder steps, `fit` takes `steps` decoder updates on the
detached noisy features of a batch; at every encoder step, `loss` is the decoder's
reconstruction error with the gradient flowing into the encoder (which subtracts mu times
it). For images the decoder is a light one (`LightDecoder`), so that an adversarial epoch
costs at most about 2x a noise-only one. The decoder restarts from a fresh initialisation
every `reset` encoder steps, so that the encoder learns to defeat decoders in general, not
one particular decoder it has co-adapted with. It is never the judge: every audit trains its
own attacks from scratch on the hardened model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from privaudit.attacks.nets import make_decoder
from privaudit.config import DOMAIN_BY_RANK, Domain

__all__ = ["Adversary"]

# NOTE: a much lighter decoder than the decoder attack's, so that an adversarial epoch stays
# within 2x a noise-only epoch (benchmarks/harden.py): the attack's decoder keeps at least 16
# channels at the image's full resolution, which costs 10x a small encoder's epoch. 2 decoder
# updates per encoder step let it keep up with the moving encoder.
WIDTH = 16  # vectors and signals (the attack's MLP and 1-D decoders at this width)
LIGHT = 8  # images: channels of the light conv decoder
LR = 1e-3
EVERY = 2  # encoder steps per decoder update: the two alternate, at half the decoder's cost


class LightDecoder(nn.Module):
    """Features (c, h, w) or flat (m,) -> images (C, H, W) in (0, 1), cheaply.

    A 1x1 conv (or a linear map to an 8x8 map) to `LIGHT` channels, then per doubling up to
    half the image's side a nearest upsampling and one 3x3 conv, then a bilinear resize to
    (H, W) and a 3x3 conv to C channels.
    """

    def __init__(self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> None:
        super().__init__()
        channels, height, wide = input_shape
        self.out_size = (height, wide)
        if len(feature_shape) == 3:
            c, h, w = feature_shape
            self.start: tuple[int, ...] = (LIGHT, h, w)
            self.stem: nn.Module = nn.Conv2d(c, LIGHT, 1)
        else:
            side = max(1, min(8, height // 4))
            self.start = (LIGHT, side, side)
            self.stem = nn.Linear(int(torch.tensor(feature_shape).prod()), LIGHT * side * side)
        layers: list[nn.Module] = []
        h = self.start[1]
        while h * 4 <= height:  # NOTE: convs up to half the output side; the head does the rest
            layers += [nn.Upsample(scale_factor=2.0), nn.Conv2d(LIGHT, LIGHT, 3, padding=1),
                       nn.ReLU()]
            h *= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(LIGHT, channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        """(N, *feature_shape) -> (N, C, H, W)."""
        out = F.relu(self.stem(z)).reshape(len(z), *self.start)
        out = self.body(out)
        if tuple(out.shape[-2:]) != self.out_size:  # NOTE: always, but for tiny inputs
            out = F.interpolate(out, size=self.out_size, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(out))


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
            domain = DOMAIN_BY_RANK[1 + len(self.shapes[1])]
            decoder = (LightDecoder(*self.shapes) if domain == Domain.IMAGE
                       else make_decoder(domain, *self.shapes, WIDTH))  # fmt: skip
            self.decoder = decoder.to(self.device).train()
        self.opt = torch.optim.Adam(self.decoder.parameters(), lr=LR)

    def fit(self, noisy: Tensor, target: Tensor) -> float | None:
        """`steps` decoder updates on (detached noisy features, inputs); the last loss.

        Only every `EVERY` encoder steps; None on the others.
        """
        if self.encoder_steps % EVERY:
            return None
        loss = noisy.new_zeros(())
        for _ in range(self.steps):
            loss = F.mse_loss(self.decoder(noisy.detach()), target)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return float(loss.detach())

    def loss(self, noisy: Tensor, target: Tensor) -> Tensor:
        """The decoder's reconstruction MSE, differentiable in `noisy` (for the encoder).

        The decoder's own weights are held fixed in this pass (no gradient is computed for
        them: the encoder step does not need it).
        """
        params = list(self.decoder.parameters())
        for p in params:
            p.requires_grad_(False)
        try:
            return F.mse_loss(self.decoder(noisy), target)
        finally:
            for p in params:
                p.requires_grad_(True)

    def encoder_stepped(self) -> None:
        """Count one encoder step; restart the decoder every `reset` of them."""
        self.encoder_steps += 1
        if self.encoder_steps % self.reset == 0:
            self.restarts += 1
            self._new()
