"""The bound: how much noisy features reveal, and the floor it puts on any reconstruction.

Closed forms at the bottom (`leakage`: eq. (L) and theorem (T) on given statistics; `entropy`:
h(x)); estimation above (`moments`, `clustering`, `resample`, `candidates`, `bootstrap`), and
`estimate` on top, which turns features into a `BoundResult` (docs/method.md §2-3).
"""

from privaudit.bound.clustering import SCHEMES, absorb_small_cells, cluster_labels, kmeans, lloyd
from privaudit.bound.entropy import (
    CERTIFIED_BITS,
    DEQUANTIZATION_VARIANCE,
    STANDARDISED_VARIANCE_FLOOR,
    input_entropy_certified,
    input_entropy_from_user,
    input_entropy_gaussian,
)
from privaudit.bound.estimate import (
    DEFAULT_GROUP_SIZE,
    DEFAULT_MIN_CLUSTER_SIZE,
    LEVEL,
    SIGMA_ZERO_WARNING,
    estimate_bound,
    leakage_full,
    noise_sweep,
)
from privaudit.bound.leakage import (
    ClusterStats,
    leakage_diagonal,
    mixture_entropy,
    mixture_leakage,
    mse_floor,
)
from privaudit.bound.moments import check_rows, cluster_stats, group_stats

__all__ = [
    "CERTIFIED_BITS",
    "DEFAULT_GROUP_SIZE",
    "DEFAULT_MIN_CLUSTER_SIZE",
    "DEQUANTIZATION_VARIANCE",
    "LEVEL",
    "SCHEMES",
    "SIGMA_ZERO_WARNING",
    "STANDARDISED_VARIANCE_FLOOR",
    "ClusterStats",
    "absorb_small_cells",
    "check_rows",
    "cluster_labels",
    "cluster_stats",
    "estimate_bound",
    "group_stats",
    "input_entropy_certified",
    "input_entropy_from_user",
    "input_entropy_gaussian",
    "kmeans",
    "leakage_diagonal",
    "leakage_full",
    "lloyd",
    "mixture_entropy",
    "mixture_leakage",
    "mse_floor",
    "noise_sweep",
]
