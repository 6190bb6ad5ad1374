"""The domain of a model's input and the shape of one sample, in the model's and the data's form.

A model input of rank 2 takes tabular vectors (N, F), of rank 3 signals (N, C, T), of rank 4
images (N, C, H, W). `--domain` overrides the rank's domain where the data has another form than
the model's tensor: the audit then works on each sample in the domain's own form (`shape`) and
reshapes it to the model's (`model_shape`) only to feed the model (same values, same order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from privaudit.config.choices import DOMAIN_BY_RANK, Domain
from privaudit.errors import ConfigError, DataError

__all__ = ["Dims", "Layout", "input_layout"]

Dims = tuple[int | None, ...]  # per-sample sizes; None = dynamic (taken from the data)

_FORMS = {Domain.TABULAR: "(N, F)", Domain.SIGNAL: "(N, C, T)", Domain.IMAGE: "(N, C, H, W)"}
_EXAMPLES = {1: "30 (features)", 2: "12,1000 (channels, time steps)", 3: "3,224,224"}


@dataclass(frozen=True)
class Layout:
    """How one sample looks to the model and to the audit.

    Attributes:
        domain: tabular, signal or image.
        model_shape: the model's per-sample input shape (None: dynamic).
        shape: the sample in the domain's own form, (F,), (C, T) or (C, H, W); the same values
            in the same order as `model_shape` (None: dynamic, from the data).
        channels_last: the model keeps its channels last and is audited through a Transpose
            (`model.channels_first_view`): data in its own layout is transposed to `shape`.
    """

    domain: Domain
    model_shape: Dims
    shape: Dims
    channels_last: bool = False

    @property
    def native(self) -> bool:
        """Whether the domain is the one the model input's rank gives (no reshape needed)."""
        return self.shape == self.model_shape

    def describe(self) -> str:
        """The expected data, e.g. "(N, 30)" or "(N, 2, T)" (T dynamic)."""
        names = {Domain.TABULAR: "F", Domain.SIGNAL: "CT", Domain.IMAGE: "CHW"}[self.domain]
        dims = [str(d) if d else n for d, n in zip(self.shape, names, strict=True)]
        return "(N, " + ", ".join(dims) + ")"

    def model_dims(self, shape: Sequence[int]) -> tuple[int, ...]:
        """The model's per-sample shape for data samples of `shape` (dynamic dims filled)."""
        if self.native:
            return tuple(int(d) for d in shape)
        known = math.prod(d for d in self.model_shape if d is not None)
        rest = math.prod(shape) // max(1, known)  # NOTE: at most one dim is dynamic here
        return tuple(rest if d is None else int(d) for d in self.model_shape)


def input_layout(
    input_shape: Sequence[int | str | None],
    domain: str | None = None,
    override: Sequence[int] | None = None,
    *,
    channels_last: bool = False,
) -> Layout:
    """The layout of a model input, its domain from the rank unless `domain` says otherwise.

    Args:
        input_shape: the model input shape with the batch dim; None, a name or <= 0 = dynamic.
        domain: `--domain` (tabular, signal, image), or None for the rank's.
        override: the per-sample model shape from `--input-shape`; fills dynamic dims, must
            equal the fixed ones.
        channels_last: the model keeps its channels last (`Layout.channels_last`).

    Raises:
        DataError: an input rank no domain takes (not 2, 3 or 4 without `--domain tabular`),
            or a domain the input cannot be viewed as.
        ConfigError: a malformed or conflicting `override`.
    """
    dims: Dims = tuple(d if isinstance(d, int) and d > 0 else None for d in input_shape[1:])
    chosen = Domain(domain) if domain is not None else DOMAIN_BY_RANK.get(len(input_shape))
    if chosen is None:
        raise DataError(
            f"model input has shape {tuple(input_shape)}; privaudit needs tabular vectors "
            "(N, F), signals (N, C, T) or images (N, C, H, W)",
            hint="export the model with an input of rank 2, 3 or 4, or pass --domain tabular "
            "to treat every input value as a feature",
        )
    dims = _fill(dims, override)
    return Layout(chosen, dims, _domain_shape(chosen, dims, tuple(input_shape)), channels_last)


def _fill(dims: Dims, override: Sequence[int] | None) -> Dims:
    """The model's per-sample dims with `--input-shape` filling the dynamic ones."""
    if override is None:
        return dims
    example = _EXAMPLES.get(len(dims), "1,28,28")
    if len(override) != len(dims) or not all(isinstance(v, int) and v > 0 for v in override):
        raise ConfigError(
            f"--input-shape must be {len(dims)} positive integers (the model's per-sample "
            f"input shape), got {tuple(override)}", hint=f"e.g. --input-shape {example}")
    if any(m is not None and m != o for m, o in zip(dims, override, strict=True)):
        shown = "(N, " + ", ".join(str(d or "?") for d in dims) + ")"
        raise ConfigError(
            f"--input-shape {tuple(override)} conflicts with the model input {shown}",
            hint="drop --input-shape or make it equal the model's fixed sizes",
        )
    return tuple(override)


def _domain_shape(domain: Domain, dims: Dims, full: tuple[object, ...]) -> Dims:
    """The sample's shape in the domain's own form (raises DataError when there is none)."""
    rank = len(dims) + 1
    if DOMAIN_BY_RANK.get(rank) == domain:
        return dims
    if domain == Domain.TABULAR and rank >= 2:
        _need_fixed(dims, domain, full)
        return (math.prod(d for d in dims if d is not None),)
    if domain == Domain.SIGNAL and rank == 2:
        return (1, dims[0])
    if domain == Domain.SIGNAL and rank == 4 and 1 in dims[:2]:
        _need_fixed(dims, domain, full)
        return (dims[1] if dims[0] == 1 else dims[0], dims[2])
    if domain == Domain.IMAGE and rank == 3:
        _need_fixed(dims, domain, full)
        return (1, dims[0], dims[1])
    raise DataError(
        f"model input has shape {full}, which cannot hold {domain.value} data "
        f"{_FORMS[domain]}",
        hint=f"leave out --domain (rank {rank} reads as "
        f"{DOMAIN_BY_RANK[rank].value if rank in DOMAIN_BY_RANK else 'nothing'}), or export "
        f"the model with a {_FORMS[domain]} input",
    )


def _need_fixed(dims: Dims, domain: Domain, full: tuple[object, ...]) -> None:
    if any(d is None for d in dims):
        raise ConfigError(
            f"--domain {domain.value} reshapes the model input {full}, whose size is dynamic",
            hint=f"pass its per-sample size with --input-shape, e.g. {_EXAMPLES[len(dims)]}",
        )
