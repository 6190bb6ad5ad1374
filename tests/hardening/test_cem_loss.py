"""CEM loss: hand-computed values (class-correct indexing), properties, gradient to the encoder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from privaudit.errors import ConfigError
from privaudit.hardening.cem_loss import (
    A_MAX,
    BLEND,
    GAMMA,
    TAU,
    ClusterTable,
    bound_loss,
    cem_loss,
    fit_clusters,
    hinge_loss,
)
from privaudit.hardening.finetune import FinetuneSettings, TrainState, step_losses
from privaudit.model import split_model

SIGMA = 0.5

# Two classes, K = 2 cells each, m = 2 dims. Class 0 and class 1 have different cell weights
# and stored variances, so reading them by a per-class counter (official bug) changes the value.
CENTROIDS = [[[0.0, 0.0], [4.0, 4.0]], [[10.0, 0.0], [0.0, 10.0]]]
VARIANCES = [[[0.04, 0.06], [0.50, 0.30]], [[2.00, 1.00], [0.02, 0.02]]]
WEIGHTS = [[0.75, 0.25], [0.4, 0.6]]
CLASS_WEIGHTS = [0.5, 0.5]
N_TOTAL = 40
# Batch: three of class 0 (two near cell 0, one near cell 1), two of class 1 (both cell 0).
Z = [[0.3, -0.1], [0.0, 0.5], [4.2, 3.9], [9.0, 0.5], [11.0, -0.2]]
Y = [0, 0, 0, 1, 1]


def _table() -> ClusterTable:
    f = torch.tensor
    return ClusterTable(
        num_classes=2, k=2, centroids=f(CENTROIDS).reshape(4, 2),
        variances=f(VARIANCES).reshape(4, 2), weights=f(WEIGHTS).reshape(4),
        class_weights=f(CLASS_WEIGHTS), valid=torch.ones(4, dtype=torch.bool), n_total=N_TOTAL,
    )


def _nearest(z: list[float], c: int) -> int:
    dists = [sum((a - b) ** 2 for a, b in zip(z, cent, strict=True)) for cent in CENTROIDS[c]]
    return dists.index(min(dists))


def _members() -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for i, (z, c) in enumerate(zip(Z, Y, strict=True)):
        out.setdefault((c, _nearest(z, c)), []).append(i)
    return out


def _blend(c: int, j: int, n: int) -> float:
    return min(BLEND * n / (WEIGHTS[c][j] * N_TOTAL / 2), A_MAX)


Cells = dict[tuple[int, int], float]


def _hand_hinge(weight_of: Cells, spread_of: Cells) -> float:
    """method.md §5 surrogate with plain loops; weights/spreads looked up through the dicts."""
    per_class: dict[int, float] = {}
    for (c, j), idx in _members().items():
        sq = [sum((Z[i][d] - CENTROIDS[c][j][d]) ** 2 for d in range(2)) / 2 for i in idx]
        v_hat = sum(sq) / len(sq)
        a = _blend(c, j, len(idx))
        v = a * v_hat + (1 - a) * spread_of[(c, j)]
        term = max(0.0, math.log(v + GAMMA) - math.log(TAU * SIGMA**2 + GAMMA))
        per_class[c] = per_class.get(c, 0.0) + weight_of[(c, j)] * term
    return sum(per_class.values()) / len(per_class)


def test_hinge_matches_hand_computation_with_class_indexing() -> None:
    cells = [(c, j) for c in range(2) for j in range(2)]
    right_w = {cj: WEIGHTS[cj[0]][cj[1]] for cj in cells}
    right_s = {cj: sum(VARIANCES[cj[0]][cj[1]]) / 2 for cj in cells}
    expected = _hand_hinge(right_w, right_s)
    got = hinge_loss(torch.tensor(Z), torch.tensor(Y), _table(), SIGMA).item()
    assert got == pytest.approx(expected, rel=1e-5)
    # The official code's counter reads sample lb_count's class statistics: with the batch
    # sorted by label, class 1 (lb_count = 1) reads sample 1's class, i.e. class 0's.
    buggy_w = {(c, j): WEIGHTS[0][j] for c, j in cells}
    buggy_s = {(c, j): sum(VARIANCES[0][j]) / 2 for c, j in cells}
    assert abs(_hand_hinge(buggy_w, buggy_s) - expected) > 0.05


def test_bound_form_matches_hand_computation() -> None:
    members = _members()
    total = 0.0
    for c in range(2):
        for j in range(2):
            idx = members.get((c, j), [])
            a = _blend(c, j, len(idx)) if idx else 0.0
            for d in range(2):
                v_hat = sum((Z[i][d] - CENTROIDS[c][j][d]) ** 2 for i in idx) / max(len(idx), 1)
                v = a * v_hat + (1 - a) * VARIANCES[c][j][d]
                total += WEIGHTS[c][j] * CLASS_WEIGHTS[c] * 0.5 * math.log1p(v / SIGMA**2)
    got = bound_loss(torch.tensor(Z), torch.tensor(Y), _table(), SIGMA).item()
    assert got == pytest.approx(total / 2, rel=1e-5)  # nats per feature dimension (m = 2)


@pytest.mark.parametrize("form", ["hinge", "bound"])
def test_losses_are_non_negative(form: str) -> None:
    g = np.random.default_rng(1)
    z = g.normal(size=(300, 6)).astype(np.float32) * g.uniform(0.01, 3.0)
    y = g.integers(0, 4, 300)
    table = fit_clusters(z, y, 4, 3, seed=0)
    for sigma in (0.01, 0.3, 5.0):
        batch = g.choice(300, 40, replace=False)
        value = cem_loss(form, torch.tensor(z[batch]), torch.tensor(y[batch]), table, sigma)
        assert value.item() >= 0.0


def test_hinge_is_zero_once_cells_are_within_the_target_spread() -> None:
    g = np.random.default_rng(2)
    centres = g.normal(size=(3, 5)) * 10
    y = np.repeat(np.arange(3), 50)
    spread = 0.5 * math.sqrt(TAU) * SIGMA  # per-dim std below sqrt(tau) * sigma
    z = (centres[y] + spread * g.standard_normal((150, 5))).astype(np.float32)
    table = fit_clusters(z, y, 3, 1, seed=0)
    assert hinge_loss(torch.tensor(z[:64]), torch.tensor(y[:64]), table, SIGMA).item() == 0.0
    wide = torch.tensor(z[:64]) * 3.0
    assert hinge_loss(wide, torch.tensor(y[:64]), fit_clusters(wide.numpy(), y[:64], 3, 1, seed=0),
                      SIGMA).item() > 0.0


def test_bound_form_is_zero_for_collapsed_cells() -> None:
    z = np.repeat(np.eye(3, dtype=np.float32), 10, axis=0)
    y = np.repeat(np.arange(3), 10)
    table = fit_clusters(z, y, 3, 2, seed=0)
    assert bound_loss(torch.tensor(z), torch.tensor(y), table, SIGMA).item() == 0.0


def test_fit_clusters_weights_and_missing_cells() -> None:
    z = np.concatenate([np.zeros((5, 2)), np.random.default_rng(0).normal(size=(30, 2))])
    y = np.array([0] * 5 + [1] * 30)
    table = fit_clusters(z.astype(np.float32), y, 3, 4, seed=0)  # class 2 absent, class 0 one row
    w = table.weights.reshape(3, 4)
    assert w[0].sum().item() == pytest.approx(1.0) and int(table.valid.reshape(3, 4)[0].sum()) == 1
    assert w[1].sum().item() == pytest.approx(1.0) and int(table.valid.reshape(3, 4)[1].sum()) == 4
    assert not table.valid.reshape(3, 4)[2].any()
    assert table.class_weights.tolist() == pytest.approx([5 / 35, 30 / 35, 0.0])


def test_cem_loss_rejects_zero_sigma_and_unknown_form() -> None:
    table = _table()
    with pytest.raises(ConfigError):
        cem_loss("hinge", torch.tensor(Z), torch.tensor(Y), table, 0.0)
    with pytest.raises(ConfigError):
        cem_loss("mse", torch.tensor(Z), torch.tensor(Y), table, SIGMA)


@pytest.mark.parametrize("form", ["hinge", "bound"])
def test_cem_gradient_reaches_only_the_encoder(
    form: str, tiny_cnn_legacy: Path, digits_like: tuple[np.ndarray, np.ndarray]
) -> None:
    from privaudit.interpreter.module import to_torch

    split = split_model(onnx.load(tiny_cnn_legacy), "layer3")
    encoder, head = to_torch(split.encoder), to_torch(split.head)
    x, y = (torch.from_numpy(a[:64]) for a in digits_like)
    with torch.no_grad():
        z = encoder(x).reshape(64, -1).numpy()
    spread = z + np.random.default_rng(0).normal(size=z.shape).astype(np.float32)  # hinge active
    table = fit_clusters(spread, y.numpy(), 10, 2, seed=0)
    settings = FinetuneSettings(lam=1.0, loss=form, k=2, epochs=1, lr=1e-3, batch_size=64,
                                freeze_head=False, noise_sigma=0.05, seed=0)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()])
    state = TrainState(encoder, head, opt, torch.optim.lr_scheduler.ConstantLR(opt),
                       torch.Generator(), torch.Generator(), table=table)
    cem = step_losses(state, x, y, y, x, settings).cem
    cem.backward()
    assert all(p.grad is None for p in head.parameters())
    grads = [p.grad for p in encoder.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_warm_started_cells_follow_the_features() -> None:
    g = np.random.default_rng(3)
    y = np.repeat(np.arange(2), 60)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [20.0, 0.0], [0.0, 20.0]])
    z = (centres[y * 2 + g.integers(0, 2, 120)] + 0.1 * g.standard_normal((120, 2)))
    first = fit_clusters(z.astype(np.float32), y, 2, 2, seed=0)
    moved = fit_clusters((z + 0.5).astype(np.float32), y, 2, 2, seed=0, start=first)
    assert torch.allclose(moved.centroids, first.centroids + 0.5, atol=1e-4)
    assert torch.allclose(moved.weights, first.weights)
    assert moved.valid.all() and moved.spread.max().item() < 0.05
