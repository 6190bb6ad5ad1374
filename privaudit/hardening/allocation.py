"""Learned per-channel noise stds under a fixed total noise power (defence noise-allocation).

Channel j of the cut gets noise of std sigma * a_j with a_j = sqrt(C * softmax(theta)_j), so
that mean a_j^2 = 1 always: the allocation moves noise power between channels, never adds
any. Trained with the encoder, against the leakage bound (L) with per-channel sigma_j, which
is the CEM bound loss on the whitened features z_j / a_j at one sigma (model.whiten).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["NoiseAllocation"]


class NoiseAllocation(nn.Module):
    """theta (C,) -> scales a (1, C, 1, ...), mean a^2 = 1 (see the module doc).

    Args:
        channels: C, the cut's axis-1 size.
        rank: the features' rank per sample (3 for (C, H, W)), for the broadcast shape.
        initial: starting scales a_j (an earlier allocation), or None: all 1.
    """

    def __init__(self, channels: int, rank: int, initial: np.ndarray | None = None) -> None:
        super().__init__()
        start = torch.zeros(channels, dtype=torch.float32)
        if initial is not None:
            start = torch.log(torch.as_tensor(np.asarray(initial, np.float64) ** 2,
                                              dtype=torch.float32))
        self.theta = nn.Parameter(start)
        self.shape = (1, channels, *(1,) * (rank - 1))

    def forward(self) -> Tensor:
        """The scales a, shaped to broadcast over a batch of features."""
        channels = self.theta.numel()
        return torch.sqrt(channels * torch.softmax(self.theta, 0)).view(self.shape)

    def values(self) -> tuple[float, ...]:
        """The current a_j, as plain floats."""
        with torch.no_grad():
            return tuple(float(v) for v in self().flatten().cpu())
