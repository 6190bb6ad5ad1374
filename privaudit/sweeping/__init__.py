"""`privaudit sweep`: where to cut and how much noise, over a grid of cuts x sigmas.

`run_sweep` prepares the run once, then runs one cut job per cut (features once; the bound,
accuracies and references at every sigma) and one attack job per (cut, sigma, attack, seed)
on an executor from `EXECUTORS` (`local` worker processes, or a `ray` cluster), keeping each
finished job as a shard (`shards`) so that a re-run resumes. `frontier` turns the points into
the answer: the Pareto frontier of accuracy against privacy, and the recommended point.
"""

from privaudit.sweeping.answer import answer, regate
from privaudit.sweeping.executor import EXECUTORS, JobExecutor, get_executor
from privaudit.sweeping.frontier import frontier_metric, mark_pareto, recommend
from privaudit.sweeping.grid import MAX_AUTO_SPLITS, auto_cuts, resolve_cuts
from privaudit.sweeping.ray_cluster import INSTALL
from privaudit.sweeping.run import SHARDS, run_sweep

__all__ = [
    "EXECUTORS",
    "INSTALL",
    "MAX_AUTO_SPLITS",
    "SHARDS",
    "JobExecutor",
    "answer",
    "auto_cuts",
    "frontier_metric",
    "get_executor",
    "mark_pareto",
    "recommend",
    "regate",
    "resolve_cuts",
    "run_sweep",
]
