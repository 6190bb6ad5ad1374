"""Count the `knn` attack's own nearest-neighbour searches (the real search still runs)."""

from __future__ import annotations

import pytest
import torch

from privaudit.attacks import knn as knn_module


def count_knn_searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the query chunks knn searches from now on (empty: it searched nothing)."""
    searches: list[int] = []
    real = knn_module.nearest_neighbours

    def counted(queries: torch.Tensor, bank: torch.Tensor, k: int = 1) -> torch.Tensor:
        searches.append(len(queries))
        return real(queries, bank, k)

    monkeypatch.setattr(knn_module, "nearest_neighbours", counted)
    return searches
