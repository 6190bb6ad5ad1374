"""CEM loss on encoder features: per-class k-means cells, hinged log-variance or bound form.

Both forms follow docs/method.md §5. Cells are refit once per epoch (`fit_clusters`) on the
detached features of that epoch's own forward passes; the per-batch losses are vectorised
over classes and cells (no Python loop per batch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from privaudit.bound import kmeans, lloyd
from privaudit.config import CemLoss, values
from privaudit.errors import ConfigError

__all__ = ["ClusterTable", "bound_loss", "cem_loss", "fit_clusters", "hinge_loss"]

WARM_ITERS = 9  # centre updates of a warm-started epoch refit (10 assignments in all)
TAU = 0.125  # official target spread: within-cell variance tau * sigma^2
GAMMA = 0.01  # official offset inside the logs
BLEND = 10.0  # official: a = min(BLEND * n_batch / n_cell, A_MAX)
A_MAX = 0.99


@dataclass(frozen=True, eq=False)
class ClusterTable:
    """Per-class k-means cells of the features, fitted once per epoch, stored flat.

    Classes are ids 0..C-1, each with up to K cells (fewer when it has fewer distinct
    feature rows); cell j of class c is row c*K + j. Missing cells have `valid` False and
    weight 0. Everything the per-batch losses need is precomputed here, once per epoch.

    Attributes:
        num_classes: C.
        k: K.
        centroids: (C*K, m) cell centres, feature units.
        variances: (C*K, m) per-dimension variance around the centre (ddof 0).
        weights: (C*K,) w_cj, share of class c's samples in cell j (per class, sums to 1).
        class_weights: (C,) n_c / N.
        valid: (C*K,) bool, the cell exists.
        n_total: N, the samples the cells were fitted on.
    """

    num_classes: int
    k: int
    centroids: Tensor
    variances: Tensor
    weights: Tensor
    class_weights: Tensor
    valid: Tensor
    n_total: int

    @cached_property
    def spread(self) -> Tensor:
        """(C*K,) scalar stored variance s2_cj: mean squared distance to the centre."""
        return self.variances.mean(-1)

    @cached_property
    def sq_norms(self) -> Tensor:
        """(C*K,) squared norms of the centres."""
        return (self.centroids * self.centroids).sum(1)

    @cached_property
    def shares(self) -> Tensor:
        """(C*K,) pi_cj = w_cj * n_c / N, the cell's share of all samples."""
        return self.weights * self.class_weights.repeat_interleave(self.k)

    @cached_property
    def gain(self) -> Tensor:
        """(C*K,) BLEND / (w_cj N / C), so that a = min(gain * n_batch, A_MAX); 0 if invalid."""
        expected = self.weights * (self.n_total / self.num_classes)
        return torch.where(self.valid, BLEND / expected.clamp_min(1e-12), 0.0)

    def to(self, device: torch.device) -> ClusterTable:
        """The same table on `device`."""
        return ClusterTable(
            self.num_classes, self.k, self.centroids.to(device), self.variances.to(device),
            self.weights.to(device), self.class_weights.to(device), self.valid.to(device),
            self.n_total,
        )


def _cells(
    z: np.ndarray, k: int, seed: int, start: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-means of one class's rows: centres (K', m), variances (K', m), counts (K',).

    Warm-started from `start` (the previous epoch's centres, as the official code does),
    else seeded k-means++ (`mixture.kmeans`).
    """
    if start is not None and len(start):
        labels = np.unique(lloyd(z, start, WARM_ITERS)[0], return_inverse=True)[1].reshape(-1)
    else:
        labels = kmeans(z, k, seed=seed)
    onehot = (labels[:, None] == np.arange(int(labels.max()) + 1)).astype(np.float64)
    counts = onehot.sum(0)
    rows = z.astype(np.float64)
    means = (onehot.T @ rows) / counts[:, None]
    variances = (onehot.T @ (rows * rows)) / counts[:, None] - means * means
    return means, np.maximum(variances, 0.0), counts


def fit_clusters(
    z: np.ndarray, classes: np.ndarray, num_classes: int, k: int, *, seed: int,
    start: ClusterTable | None = None,
) -> ClusterTable:
    """Fit k-means cells inside every class (method.md §5, official surrogate).

    Args:
        z: (N, m) detached features, feature units.
        classes: (N,) class ids in 0..num_classes-1.
        num_classes: C.
        k: cells per class.
        seed: k-means++ seed; class c uses the stream SeedSequence([seed, c]).
        start: the previous epoch's table, whose valid centres start Lloyd's iterations
            (cheaper than a fresh k-means++: the features move little in one epoch).

    Returns:
        The table (float32 tensors on the CPU).

    Raises:
        ConfigError: k < 1.
    """
    if k < 1:
        raise ConfigError(f"harden.k: expected a positive number, got {k}")
    n, m = z.shape
    cent, var = np.zeros((num_classes, k, m)), np.zeros((num_classes, k, m))
    weights, class_w = np.zeros((num_classes, k)), np.zeros(num_classes)
    for c in range(num_classes):
        rows = z[classes == c]
        if len(rows) == 0:
            continue
        child = int(np.random.SeedSequence([seed, c]).generate_state(1)[0])
        means, variances, counts = _cells(rows, k, child, _start(start, c, rows.dtype))
        j = len(counts)
        cent[c, :j], var[c, :j], weights[c, :j] = means, variances, counts / counts.sum()
        class_w[c] = len(rows) / n

    def flat(a: np.ndarray) -> Tensor:
        return torch.tensor(a.reshape(num_classes * k, *a.shape[2:]), dtype=torch.float32)

    return ClusterTable(
        num_classes, k, flat(cent), flat(var), flat(weights),
        torch.tensor(class_w, dtype=torch.float32), flat(weights) > 0, n,
    )


def _start(table: ClusterTable | None, c: int, dtype: np.dtype) -> np.ndarray | None:
    """Valid centres of class `c` in `table` (on the CPU), or None."""
    if table is None or table.num_classes <= c:
        return None
    rows = slice(c * table.k, (c + 1) * table.k)
    keep = table.valid[rows].cpu().numpy()
    centres: np.ndarray = table.centroids[rows].cpu().numpy()[keep].astype(dtype)
    return centres


def _assign(z: Tensor, classes: Tensor, table: ClusterTable) -> Tensor:
    """(B,) cell index c*K + j of the nearest valid centre of each sample's own class."""
    with torch.no_grad():
        cols = classes[:, None] * table.k + torch.arange(table.k, device=z.device)
        d2 = torch.addmm(table.sq_norms, z, table.centroids.T, alpha=-2.0).gather(1, cols)
        d2 = d2.masked_fill(~table.valid[cols], float("inf"))
        return cols.gather(1, d2.argmin(1, keepdim=True)).squeeze(1)


def _batch_moments(
    z: Tensor, classes: Tensor, table: ClusterTable, per_dim: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Squared distances to the assigned centres summed per cell, member counts, blend a.

    Returns:
        sums: (C*K,) or (C*K, m) summed squared distances (mean over dims when not per_dim).
        counts: (C*K,) members of each cell in the batch (float).
        a: (C*K,) weight of the batch estimate, min(BLEND n_batch / (w N / C), A_MAX).
    """
    cells = _assign(z, classes, table)
    diff = z - table.centroids[cells]
    sq = diff * diff  # NOTE: cheaper backward than .square() / ** 2 (no PowBackward)
    values = sq if per_dim else sq.mean(1)
    sums = values.new_zeros((len(table.weights), *values.shape[1:])).index_add(0, cells, values)
    counts = torch.bincount(cells, minlength=len(table.weights)).to(z.dtype)
    return sums, counts, (table.gain * counts).clamp_max(A_MAX)


def hinge_loss(z: Tensor, classes: Tensor, table: ClusterTable, noise_sigma: float) -> Tensor:
    r"""The official CEM surrogate with class-correct indexing (method.md §5).

    .. math::
        L_C = \frac{1}{|C_B|} \sum_{c \in C_B} \sum_{j: n_{cj} > 0} w_{cj}
        \,\mathrm{relu}\big(\log(v_{cj} + \gamma) - \log(\tau \sigma^2 + \gamma)\big),
        \quad v_{cj} = a\,\hat v_{cj} + (1 - a)\, s^2_{cj}

    where v_hat is the batch's mean squared distance (over members and dimensions) to the
    stored centre, C_B the classes present in the batch. Weights and stored variances are
    read by class, not (as the official code does) by a per-class counter into per-sample
    arrays.

    Args:
        z: (B, m) features (with gradient), feature units.
        classes: (B,) class ids 0..C-1.
        table: the epoch's cells.
        noise_sigma: deployment noise std (> 0), feature units.

    Returns:
        Scalar loss >= 0; 0 once every cell's spread is within tau * sigma^2.
    """
    sums, counts, a = _batch_moments(z, classes, table, per_dim=False)
    v = a * sums / counts.clamp_min(1.0) + (1.0 - a) * table.spread
    hinge = F.relu(torch.log(v + GAMMA) - math.log(TAU * noise_sigma**2 + GAMMA))
    # NOTE: a cell with no member in the batch has a = 0 and is left out (official code);
    # weights are read by class (cell row c*K + j), never by a per-class counter.
    total = (table.weights * (counts > 0) * hinge).sum()
    classes_present = torch.bincount(classes, minlength=table.num_classes).count_nonzero()
    return total / classes_present.clamp_min(1)


def bound_loss(z: Tensor, classes: Tensor, table: ClusterTable, noise_sigma: float) -> Tensor:
    r"""The diagonal mixture term of the leakage bound (method.md eq. L) as the CEM loss.

    .. math::
        L_C = \frac{1}{m} \sum_{c,j} \pi_{cj} \frac12 \sum_i \log(1 + v_{cj,i} / \sigma^2)

    pi_cj is the cell's share of all samples and v_cj,i the per-dimension variance, blended
    like the hinge form (`a` times the batch estimate around the stored centre plus `1 - a`
    times the stored variance); cells absent from the batch use the stored variance (a
    constant). This is the audit's leakage bound without its H(pi) term (constant within an
    epoch), in nats per *feature* dimension: dividing by m, like the hinge form's mean over
    dimensions, keeps lambda's scale independent of the feature and input sizes.

    Args:
        z: (B, m) features (with gradient), feature units.
        classes: (B,) class ids 0..C-1.
        table: the epoch's cells.
        noise_sigma: deployment noise std (> 0), feature units.

    Returns:
        Scalar loss >= 0 (nats per feature dimension).
    """
    sums, counts, a = _batch_moments(z, classes, table, per_dim=True)
    a = a[:, None]  # 0 for cells absent from the batch: their stored variance is used
    v = a * sums / counts.clamp_min(1.0)[:, None] + (1.0 - a) * table.variances
    return (table.shares @ torch.log1p(v / noise_sigma**2).sum(1)) * (0.5 / z.shape[1])


def cem_loss(
    form: str, z: Tensor, classes: Tensor, table: ClusterTable, noise_sigma: float
) -> Tensor:
    """Dispatch to `bound_loss` or `hinge_loss` by `form` ("bound" | "hinge").

    Args:
        form: the loss form.
        z: (B, ...) features (flattened here).
        classes: (B,) class ids 0..C-1.
        table: the epoch's cells.
        noise_sigma: deployment noise std (> 0).

    Returns:
        The scalar loss.

    Raises:
        ConfigError: unknown form or sigma <= 0.
    """
    if not noise_sigma > 0:
        raise ConfigError("CEM needs noise: sigma must be > 0", hint="pass --noise SIGMA")
    flat = z.reshape(z.shape[0], -1)
    if form == CemLoss.HINGE:
        return hinge_loss(flat, classes, table, noise_sigma)
    if form == CemLoss.BOUND:
        return bound_loss(flat, classes, table, noise_sigma)
    raise ConfigError(f"harden.loss: unknown form {form!r}", hint=f"choose from {values(CemLoss)}")
