"""The feature noise std `noise_sigma`: its one validity check and its one draw.

The deployment adds N(0, noise_sigma^2 I) to the encoder's features (docs/method.md §1).
Every draw goes through `add_noise`, on numpy arrays (audit) and torch tensors (attack
training, fine-tuning) alike, or through a `NoiseStream` where several readers must see the
same noise: the server's view that the battery attacks, the label reference and the sweep's
accuracies read (every draw in float32). Importing this module imports neither torch nor numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from privaudit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "NOISE_HINT",
    "NOISE_ROWS",
    "SIGMA_MAX",
    "NoiseStream",
    "add_drawn_noise",
    "add_noise",
    "check_noise_sigma",
]

NOISE_HINT = ("sigma is the std of the Gaussian noise added to the features, e.g. 0.1 "
              "(--noise 0.1, or noise=0.1)")
# NOTE: larger noise overflows the float32 noisy features and what the head and the attacks
# compute from them; no meaningful deployment comes near it (features are O(1)).
SIGMA_MAX = 1e12
NOISE_ROWS = 64  # rows per block of a `NoiseStream`: each block has its own generator
_PARALLEL_VALUES = 1 << 20  # a draw this large is shared among the run's threads
T = TypeVar("T")


def check_noise_sigma(value: object, key: str = "noise") -> float:
    """The noise std as a float; ConfigError unless it is a number in [0, SIGMA_MAX].

    A sigma that is tiny next to the features is refused later, by the bound, which knows
    the features' scale.

    Args:
        value: the value to check (a flag, a config value, model metadata).
        key: where it came from, named in the message (e.g. "noise", "noise_sweep").

    Returns:
        `value` as a float (-0 as 0).

    Raises:
        ConfigError: not a number, NaN, infinite, negative or above SIGMA_MAX.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number, got {value!r}", hint=NOISE_HINT)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{key}: expected a finite sigma >= 0, got {value}", hint=NOISE_HINT)
    if value > SIGMA_MAX:
        raise ConfigError(f"{key}: sigma {value:g} is above {SIGMA_MAX:g}, which overflows the "
                          "noisy features", hint=NOISE_HINT)
    return float(value) + 0.0  # NOTE: -0.0 + 0.0 is 0.0: "-0" is printed nowhere


def add_noise(clean: T, noise_sigma: float, generator: Any, scales: Any = None) -> T:
    """Noisy features `clean + noise_sigma * scales * N(0, I)`, drawn from `generator`.

    Args:
        clean: float32 features, a numpy array or a torch tensor (any shape).
        noise_sigma: the noise std (>= 0; 0 returns `clean` itself).
        generator: a `numpy.random.Generator` for arrays, a `torch.Generator` on the
            tensor's device for tensors.
        scales: per-channel factors a_j of a noise allocation, of `clean`'s type and
            broadcastable to it (e.g. (1, C, 1, 1)); None: 1 everywhere.

    Returns:
        The noisy features, of `clean`'s type and device: tensors of `clean`'s dtype, arrays
        float32 (drawn with numpy's float32 ziggurat).
    """
    if noise_sigma == 0:
        return clean
    if type(clean).__module__.startswith("numpy"):
        noisy: T = _numpy_noise(clean, noise_sigma, generator, scales)  # type: ignore[arg-type]
    else:
        noisy = _torch_noise(clean, noise_sigma, generator, scales)  # type: ignore[arg-type]
    return noisy


def _numpy_noise(
    clean: np.ndarray, noise_sigma: float, rng: np.random.Generator, scales: Any
) -> Any:
    import numpy as np  # NOTE: lazy, so that importing this module stays numpy-free

    draw = rng.standard_normal(clean.shape, dtype=np.float32)
    return add_drawn_noise(clean, noise_sigma, draw if scales is None else draw * scales)


def add_drawn_noise(
    clean: np.ndarray, noise_sigma: float, draw: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """`clean + noise_sigma * draw` for a standard normal `draw` already made: `add_noise`'s rule.

    One draw then serves several sigmas with exactly the values `add_noise` would give each
    from the same generator state (in float32: sigma rounded to float32, one product, one sum).

    Args:
        clean: float32 features (any shape).
        noise_sigma: the noise std (>= 0).
        draw: float32 standard normal values of `clean`'s shape.
        out: where to write the result (float32, `clean`'s shape; may be `draw` itself, when
            the draw serves no other sigma); None: a new array.
    """
    import numpy as np  # NOTE: lazy, so that importing this module stays numpy-free

    noisy: np.ndarray = np.multiply(draw, np.float32(noise_sigma), out=out, dtype=np.float32)
    noisy += clean
    return noisy


@dataclass(frozen=True)
class NoiseStream:
    """A standard normal noise stream over rows of features, readable in any pieces.

    Row block k (rows k*NOISE_ROWS up to the next block) has its own generator, seeded by
    the stream's key and k (numpy's `SeedSequence` spawn keys), filled row after row in
    float32. So rows start..stop hold the same values whether they are read at once, in
    blocks of any size, in any order or by several threads: the battery's noisy features,
    the label reference and the sweep's accuracies, each reading its own way, see one draw.
    A row's values also depend on the row width (a stream serves one feature shape).

    Attributes:
        key: the seed (e.g. `derive_seed(run_seed, "features:eval")`).
    """

    key: int

    def rows(self, start: int, stop: int, width: int, threads: int | None = None) -> np.ndarray:
        """The (stop - start, width) float32 standard normal values of rows start..stop.

        Args:
            start: the first row (>= 0).
            stop: the row after the last (>= start).
            width: values per row (the features' size, m).
            threads: threads to draw with (None: the run's, `privaudit.threads`); a draw of
                fewer than about a million values uses one.

        Raises:
            ValueError: a negative start or width, or stop before start.
        """
        import numpy as np  # NOTE: lazy, so that importing this module stays numpy-free

        from privaudit.threads import session_threads

        if start < 0 or stop < start or width < 0:
            raise ValueError(f"noise rows {start}..{stop} of width {width}: expected "
                             "0 <= start <= stop and width >= 0")
        n = stop - start
        out = np.empty((n, width), np.float32)
        first, last = start // NOISE_ROWS, (stop - 1) // NOISE_ROWS
        blocks = range(first, last + 1) if n else range(0)

        def fill(k: int) -> None:
            lo, hi = max(start, k * NOISE_ROWS), min(stop, (k + 1) * NOISE_ROWS)
            begin = k * NOISE_ROWS  # NOTE: a block's rows before `start` are drawn, not kept
            seeds = np.random.SeedSequence(self.key, spawn_key=(k,))
            gen = np.random.Generator(np.random.PCG64(seeds))
            block = gen.standard_normal((hi - begin, width), dtype=np.float32)
            out[lo - start : hi - start] = block[lo - begin :]

        workers = session_threads() if threads is None else threads
        if workers > 1 and len(blocks) > 1 and out.size >= _PARALLEL_VALUES:
            from concurrent.futures import ThreadPoolExecutor  # NOTE: numpy drops the GIL

            with ThreadPoolExecutor(min(workers, len(blocks))) as pool:
                list(pool.map(fill, blocks))
        else:
            for k in blocks:
                fill(k)
        return out


def _torch_noise(
    clean: torch.Tensor, noise_sigma: float, gen: torch.Generator, scales: Any
) -> Any:
    import torch  # NOTE: lazy, so that importing this module stays torch-free

    draw = torch.randn(clean.shape, generator=gen, device=clean.device, dtype=clean.dtype)
    graded = clean.requires_grad or bool(getattr(scales, "requires_grad", False))
    # NOTE: in place only where the result keeps the draw's dtype and shape (float32 scales
    # that broadcast into `clean`), and no graph needs the operands
    fits = scales is None or (scales.dtype == draw.dtype and torch.broadcast_shapes(
        scales.shape, clean.shape) == clean.shape)
    if fits and not (graded and torch.is_grad_enabled()):
        # NOTE: the same operations in place (equal to the last bit): one buffer of the
        # features' size instead of three (the decoder's fresh noise of every epoch)
        if scales is not None:
            draw.mul_(scales)
        return draw.mul_(noise_sigma).add_(clean)
    if scales is not None:
        draw = draw * scales
    return clean + noise_sigma * draw
