"""Shared attack parts: decoder/critic nets sized from shapes, batched query/predict, checks.

Images get convolutional nets (`Decoder`, `Critic`); tabular vectors MLPs (`VectorDecoder`,
`VectorCritic`); signals 1-D convolutional ones (`SignalDecoder`, `SignalCritic`), both in
`vector_nets`. `make_decoder` and `make_critic` pick by the input's domain.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from privaudit.attacks.base import AttackData
from privaudit.attacks.target import Target
from privaudit.attacks.vector_nets import SignalCritic, SignalDecoder, VectorCritic, VectorDecoder
from privaudit.config.choices import Domain
from privaudit.errors import ConfigError

__all__ = [
    "Critic",
    "Decoder",
    "SignalCritic",
    "SignalDecoder",
    "VectorCritic",
    "VectorDecoder",
    "check_bool",
    "check_choice",
    "check_nonnegative",
    "clean_aux_features",
    "make_critic",
    "make_decoder",
    "predict",
    "query_features",
]

_MIN_CHANNELS = 16
_MAX_FLAT_MAP = 8  # flat features are first mapped to at most an 8x8 grid


class UpBlock(nn.Module):
    """Upsample x2 (nearest), then conv-BN-ReLU, conv-BN; identity skip when channels match."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.residual = c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        """(N, c_in, h, w) -> (N, c_out, 2h, 2w)."""
        up = F.interpolate(x, scale_factor=2.0, mode="nearest")
        out = self.body(up)
        return F.relu(out + up if self.residual else out)


def _doublings(start: tuple[int, int], end: tuple[int, int]) -> int:
    """How many x2 upsamplings fit from `start` without overshooting `end`."""
    ratio = min(end[0] / start[0], end[1] / start[1])
    return max(0, math.floor(math.log2(ratio))) if ratio >= 1 else 0


class Decoder(nn.Module):
    """Inverse network g: features -> images in [0, 1], sized from the two shapes.

    Conv features (c, h, w) go through a conv stem; flat features (m,) through an MLP to
    a small map (at most 8x8, about a quarter of the image side). Residual upsampling
    blocks then double the map while it fits, halving the channels (at least 16); a
    final bilinear interpolation covers non-power-of-2 ratios; a conv and a sigmoid
    give (C, H, W).

    Args:
        feature_shape: per-sample feature shape, (c, h, w) or flat (m,).
        input_shape: per-sample image shape (C, H, W).
        width: channels at the feature resolution.
    """

    def __init__(
        self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
    ) -> None:
        super().__init__()
        channels, height, wide = input_shape
        self.out_size = (height, wide)
        if len(feature_shape) == 3:
            start = (feature_shape[1], feature_shape[2])
            self.stem: nn.Module = nn.Sequential(
                nn.Conv2d(feature_shape[0], width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
        else:
            start = (_flat_map_side(height), _flat_map_side(wide))
            self.stem = _mlp_stem(int(np.prod(feature_shape)), width, start)
        blocks: list[nn.Module] = []
        c_in = width
        for _ in range(_doublings(start, self.out_size)):
            c_out = max(_MIN_CHANNELS, c_in // 2)
            blocks.append(UpBlock(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(c_in, channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        """(N, *feature_shape) -> (N, C, H, W) in (0, 1)."""
        out = self.blocks(self.stem(z))
        if tuple(out.shape[-2:]) != self.out_size:
            out = F.interpolate(out, size=self.out_size, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.head(out))


def _flat_map_side(side: int) -> int:
    """Side of the map an MLP makes from flat features: about a quarter of the image's."""
    return min(_MAX_FLAT_MAP, math.ceil(side / 4))


def _mlp_stem(features: int, width: int, start: tuple[int, int]) -> nn.Module:
    """Flat (m,) -> (width, *start) map."""
    hidden = max(256, 2 * features)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(features, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, width * start[0] * start[1]),
        nn.Unflatten(1, (width, start[0], start[1])),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
    )


class Critic(nn.Module):
    """WGAN-GP critic on images: strided convs with LeakyReLU (no BatchNorm), then a linear score.

    Args:
        input_shape: per-sample image shape (C, H, W).
        width: channels of the first conv; doubled per stride-2 layer (at most 256).
    """

    def __init__(self, input_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        c_in, height, wide = input_shape
        layers: list[nn.Module] = []
        c_out = width
        while min(height, wide) >= 4 and len(layers) < 8:
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in, c_out = c_out, min(256, 2 * c_out)
            height, wide = height // 2, wide // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.score = nn.Linear(c_in * height * wide, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) in [0, 1] -> (N,) unbounded scores (higher = more real)."""
        scores: Tensor = self.score(self.features(x))
        return scores.squeeze(1)


def make_decoder(
    domain: str, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
) -> nn.Module:
    """The inverse network for inputs of `domain`: conv for images, MLP, 1-D conv for signals."""
    if domain == Domain.IMAGE:
        return Decoder(feature_shape, input_shape, width)
    if domain == Domain.SIGNAL:
        return SignalDecoder(feature_shape, input_shape, width)
    return VectorDecoder(feature_shape, input_shape, width)


class FeatureScaling(nn.Module):
    """Standardise each feature value by the training features' mean and spread.

    A decoder learns from features in whatever units the encoder gives: features 1,000 times
    the input's scale (a layer that multiplies) left a tabular decoder 8 times worse than
    guessing the mean, where a least-squares fit recovers the input. Scaling them first is
    what any attacker does, and changes nothing the decoder could learn otherwise.
    """

    def __init__(self, features: Tensor, noise_sigma: float = 0.0,
                 per_value: bool = True) -> None:
        """Fit the scaling to `features` (N, ...), plus `noise_sigma` yet to be drawn on them.

        With fresh noise drawn on clean features every epoch, their spread includes it.
        """
        super().__init__()
        z = features.float()
        mean = z.mean(0, keepdim=True)
        var = z.var(0, keepdim=True) if len(z) > 1 else torch.zeros_like(mean)
        if not per_value:  # NOTE: one mean and spread for every value
            mean, var = mean.mean().reshape(1), var.mean().reshape(1)
        std = torch.sqrt(var + float(noise_sigma) ** 2)
        spread = torch.where(torch.isfinite(std) & (std > 0), std, torch.ones_like(std))
        self.register_buffer("mean", mean)
        self.register_buffer("scale", 1.0 / spread)

    mean: Tensor
    scale: Tensor

    def forward(self, z: Tensor) -> Tensor:
        return (z - self.mean) * self.scale


def make_critic(domain: str, input_shape: tuple[int, ...]) -> nn.Module:
    """The critic for inputs of `domain`: conv for images, MLP for vectors, 1-D for signals."""
    if domain == Domain.IMAGE:
        return Critic(input_shape)
    if domain == Domain.SIGNAL:
        return SignalCritic(input_shape)
    return VectorCritic(input_shape)


def query_features(target: Target, x: Tensor, batch_size: int = 512) -> Tensor:
    """Clean features of measured inputs through the black-box query, in batches.

    Args:
        target: the encoder under attack.
        x: (N, *input_shape) measured inputs, on any device.
        batch_size: images per query call.

    Returns:
        (N, *feature_shape) float32 on the CPU.
    """
    x_np = x.detach().float().cpu().numpy()
    parts = [
        np.asarray(target.query(x_np[i : i + batch_size]), dtype=np.float32)
        for i in range(0, len(x_np), batch_size)
    ]
    out = np.concatenate(parts) if parts else np.zeros((0, *target.feature_shape), np.float32)
    return torch.from_numpy(out.reshape(len(x_np), *target.feature_shape))


def clean_aux_features(target: Target, data: AttackData) -> Tensor:
    """Clean features of the auxiliary images: the battery's, else queried now."""
    return data.aux_clean if data.aux_clean is not None else query_features(target, data.aux_x)


@torch.no_grad()
def predict(
    net: nn.Module, z: Tensor, device: torch.device, batch_size: int = 64,
    target: Target | None = None,
) -> Tensor:
    """Run `net` in eval mode over `z` in batches; (N, ...) -> CPU float32 in the inputs' range.

    The range is [0, 1] (pixels) unless `target` says otherwise (`Target.clip`). The batch
    is the attacks' training batch (64), so decoding never holds more activations than a
    training step did (at 512, decoding the demo's `layer1` features was a sweep worker's
    peak: 400 maps of 64 x 28 x 28 per layer, 80 MB each).
    """
    net.eval()
    parts = [
        net(z[i : i + batch_size].to(device, torch.float32)).float().cpu()
        for i in range(0, len(z), batch_size)
    ]
    out = torch.cat(parts)
    return out.clamp(0.0, 1.0) if target is None else target.clip(out)


def check_bool(attack: str, name: str, value: object) -> None:
    """Raise ConfigError in expected-vs-got wording unless `value` is a bool."""
    if not isinstance(value, bool):
        raise ConfigError(
            f"{attack}.{name}: expected true or false, got {value!r}",
            hint=f"set attacks.{attack}.{name} to true or false",
        )


def check_nonnegative(attack: str, name: str, value: object) -> None:
    """Raise ConfigError in expected-vs-got wording unless `value` is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            value >= 0 and math.isfinite(value)):  # fmt: skip
        raise ConfigError(
            f"{attack}.{name}: expected a finite non-negative number, got {value!r}",
            hint=f"set attacks.{attack}.{name} to a number >= 0",
        )


def check_choice(attack: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ConfigError in expected-vs-got wording unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigError(
            f"{attack}.{name}: expected one of {', '.join(choices)}, got {value!r}",
            hint=f"set attacks.{attack}.{name} to one of {', '.join(choices)}",
        )
