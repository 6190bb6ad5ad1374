"""Shared attack parts: decoder/critic nets sized from shapes, batched query/predict, checks.

Images get convolutional nets (`Decoder`, `Critic`); tabular vectors MLPs (`VectorDecoder`,
`VectorCritic`); signals 1-D convolutional ones (`SignalDecoder`, `SignalCritic`).
`make_decoder` and `make_critic` pick by the input's domain.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from privaudit.attacks.base import AttackData
from privaudit.attacks.target import Target
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


class VectorDecoder(nn.Module):
    """Inverse network g: flat features (m,) -> vectors (F,), unbounded (standardised units).

    A linear map (the best inverse of a linear-Gaussian encoder) plus an MLP residual
    (two hidden layers of max(4 width, 2 max(m, F)) units, BatchNorm, ReLU).

    Args:
        feature_shape: per-sample feature shape (flattened).
        input_shape: per-sample input shape (flattened; (F,) for tabular vectors).
        width: sets the hidden size.
    """

    def __init__(
        self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
    ) -> None:
        super().__init__()
        m, d = int(np.prod(feature_shape)), int(np.prod(input_shape))
        hidden = max(4 * width, 2 * max(m, d))
        self.out_shape = tuple(input_shape)
        self.linear = nn.Linear(m, d)
        self.mlp = nn.Sequential(
            nn.Linear(m, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, d),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        """(N, *feature_shape) -> (N, *input_shape)."""
        flat = z.flatten(1)
        out: Tensor = self.linear(flat) + self.mlp(flat)
        return out.reshape(len(z), *self.out_shape)


class UpBlock1d(nn.Module):
    """Transposed conv x2 (kernel 4, stride 2), BN, ReLU, then conv 3, BN, ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ConvTranspose1d(c_in, c_out, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm1d(c_out), nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """(N, c_in, t) -> (N, c_out, 2t)."""
        out: Tensor = self.body(x)
        return out


class SignalDecoder(nn.Module):
    """Inverse network g: features -> signals (C, T), unbounded (standardised units).

    1-D conv features (c, t) go through a conv stem; any other features through an MLP to a
    short map (at most 8 steps, about a quarter of T). Transposed-conv blocks then double
    the length while it fits, halving the channels (at least 16); a linear interpolation
    covers the rest, and a conv gives the C channels.

    Args:
        feature_shape: per-sample feature shape, (c, t) or anything (flattened).
        input_shape: per-sample signal shape (C, T).
        width: channels at the feature resolution.
    """

    def __init__(
        self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
    ) -> None:
        super().__init__()
        channels, steps = input_shape
        self.steps = steps
        if len(feature_shape) == 2:
            start = feature_shape[1]
            self.stem: nn.Module = nn.Sequential(
                nn.Conv1d(feature_shape[0], width, 3, padding=1, bias=False),
                nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            )  # fmt: skip
        else:
            start = _flat_map_side(steps)
            m = int(np.prod(feature_shape))
            hidden = max(256, 2 * m)
            self.stem = nn.Sequential(
                nn.Flatten(), nn.Linear(m, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, width * start), nn.Unflatten(1, (width, start)),
                nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            )  # fmt: skip
        blocks: list[nn.Module] = []
        c_in = width
        for _ in range(_doublings((start, start), (steps, steps))):
            c_out = max(_MIN_CHANNELS, c_in // 2)
            blocks.append(UpBlock1d(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv1d(c_in, channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        """(N, *feature_shape) -> (N, C, T)."""
        out = self.blocks(self.stem(z))
        if out.shape[-1] != self.steps:
            out = F.interpolate(out, size=self.steps, mode="linear", align_corners=False)
        result: Tensor = self.head(out)
        return result


def make_decoder(
    domain: str, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
) -> nn.Module:
    """The inverse network for inputs of `domain`: conv for images, MLP, 1-D conv for signals."""
    if domain == Domain.IMAGE:
        return Decoder(feature_shape, input_shape, width)
    if domain == Domain.SIGNAL:
        return SignalDecoder(feature_shape, input_shape, width)
    return VectorDecoder(feature_shape, input_shape, width)


class VectorCritic(nn.Module):
    """WGAN-GP critic on vectors: an MLP with LeakyReLU (no BatchNorm), then a linear score."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 256) -> None:
        super().__init__()
        d = int(np.prod(input_shape))
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
            nn.LeakyReLU(0.2), nn.Linear(width, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """(N, *input_shape) -> (N,) unbounded scores (higher = more real)."""
        scores: Tensor = self.net(x)
        return scores.squeeze(1)


class SignalCritic(nn.Module):
    """WGAN-GP critic on signals: strided 1-D convs with LeakyReLU, then a linear score."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        c_in, steps = input_shape
        layers: list[nn.Module] = []
        c_out = width
        while steps >= 4 and len(layers) < 16:
            layers += [nn.Conv1d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in, c_out, steps = c_out, min(256, 2 * c_out), steps // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.score = nn.Linear(c_in * steps, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N,) unbounded scores (higher = more real)."""
        scores: Tensor = self.score(self.features(x))
        return scores.squeeze(1)


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
    net: nn.Module, z: Tensor, device: torch.device, batch_size: int = 512,
    target: Target | None = None,
) -> Tensor:
    """Run `net` in eval mode over `z` in batches; (N, ...) -> CPU float32 in the inputs' range.

    The range is [0, 1] (pixels) unless `target` says otherwise (`Target.clip`).
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
    """Raise ConfigError in expected-vs-got wording unless `value` is a number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(
            f"{attack}.{name}: expected a non-negative number, got {value!r}",
            hint=f"set attacks.{attack}.{name} to a number >= 0",
        )


def check_choice(attack: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ConfigError in expected-vs-got wording unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigError(
            f"{attack}.{name}: expected one of {', '.join(choices)}, got {value!r}",
            hint=f"set attacks.{attack}.{name} to one of {', '.join(choices)}",
        )
