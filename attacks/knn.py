"""Nearest-neighbour baseline: return the auxiliary image whose features are closest to z."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from privaudit.attacks.base import Attack, AttackData, AttackParams, RunContext, check_positive
from privaudit.attacks.nets import check_bool, clean_aux_features
from privaudit.attacks.target import Capability, Target
from privaudit.config.choices import AttackName
from privaudit.errors import AttackError

__all__ = ["KnnAttack", "KnnParams", "nearest_neighbours"]


@dataclass(frozen=True)
class KnnParams(AttackParams):
    """Settings of the nearest-neighbour attack (no compute budget to scale).

    Attributes:
        k: neighbours averaged per target (1 = return the single nearest image).
        clean_features: compare against clean auxiliary features obtained by querying
            the encoder (noise only on the target side) instead of the noisy `aux_z`.
        chunk_size: targets per batched distance computation (bounds memory).
    """

    k: int = 1
    clean_features: bool = True
    chunk_size: int = 1024

    def __post_init__(self) -> None:
        check_positive("knn", "k", self.k, integer=True)
        check_positive("knn", "chunk_size", self.chunk_size, integer=True)
        check_bool("knn", "clean_features", self.clean_features)


class KnnAttack(Attack[KnnParams]):
    """Nearest-neighbour inversion: x_hat = mean of the k aux inputs with the closest features.

    Threat model: black box. The attacker holds auxiliary images and their features
    (queried clean, or the noisy ones), and nothing about the encoder's weights.
    A baseline: any learned attack should beat it.

    Adapted from: the nearest-neighbour baseline common in the model-inversion
    literature (e.g. He et al., "Model Inversion Attacks against Collaborative
    Inference", ACSAC 2019, compare with the auxiliary set).

    Cost: O(N_eval x N_aux x m) for the distances, in chunks on `ctx.device`; none at k=1
    with clean features when the caller hands over the `nearest` reference's search
    (`AttackData.nearest`, as `assess` does).
    """

    name: ClassVar[str] = AttackName.KNN
    params_type: ClassVar[type[AttackParams]] = KnnParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.QUERY})
    summary: ClassVar[str] = "nearest auxiliary image in feature space (baseline, black box)"

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        """Look up the nearest auxiliary features of each target; (N_eval, *input_shape)."""
        params = self.params
        if len(data.aux_x) < params.k:
            raise AttackError(f"knn needs k={params.k} auxiliary samples, got {len(data.aux_x)}")
        if data.nearest is not None and params.k == 1 and params.clean_features:
            # NOTE: the `nearest` reference's search is this one: not made twice
            with ctx.progress.task(self.name, total=1) as task:
                task.advance()
            return target.clip(data.aux_x[data.nearest].to(torch.float32))
        bank = clean_aux_features(target, data) if params.clean_features else data.aux_z
        bank = bank.flatten(1).to(ctx.device, torch.float32)
        images = data.aux_x.to(ctx.device, torch.float32)
        queries = data.target_z.flatten(1)
        if len(queries) == 0:
            return torch.zeros((0, *target.input_shape))
        parts: list[Tensor] = []
        chunks = range(0, len(queries), params.chunk_size)
        with ctx.progress.task(self.name, total=len(chunks)) as task:
            for start in chunks:
                chunk = queries[start : start + params.chunk_size].to(ctx.device, torch.float32)
                nearest = nearest_neighbours(chunk, bank, params.k)
                parts.append(images[nearest].mean(dim=1).cpu())
                task.advance()
        return target.clip(torch.cat(parts))


def nearest_neighbours(queries: Tensor, bank: Tensor, k: int = 1) -> Tensor:
    """(n, k) indices of the `k` rows of `bank` (N, m) nearest to each row of `queries` (n, m).

    Euclidean distance; the attack's rule, shared with the `nearest` reference
    (`privaudit.audit.references`), so that both find the same neighbours.
    """
    return torch.cdist(queries, bank).topk(k, dim=1, largest=False).indices
