"""The sweep's grid: which cuts (named, or `auto`), which sigmas, and the jobs it makes.

Every job is identified by its coordinates alone, and seeded by them: a cut job by its cut
(features, the bound at every sigma, the accuracies and the reference reconstructions, at the
run seed), an attack job by (cut, sigma, attack, seed). Nothing in a job depends on which
other jobs exist, the order they run in, or where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import onnx

from privaudit.config import AUTO_SPLITS, Config
from privaudit.errors import ConfigError
from privaudit.model import CutPoint, list_cut_points
from privaudit.model.cutpoints import analyse, resolve_in

__all__ = [
    "MAX_AUTO_SPLITS",
    "MAX_JOBS",
    "MAX_SEEDS",
    "MAX_SIGMAS",
    "AttackJob",
    "Cut",
    "CutJob",
    "Grid",
    "auto_cuts",
    "check_grid_size",
    "value_copies",
    "make_grid",
    "resolve_cuts",
]

MAX_AUTO_SPLITS = 6  # `--splits auto` keeps at most this many cuts, spread by depth
# NOTE: a reviewer's `--seeds 100000000000` was accepted and filled the memory with seeds;
# past these, a grid is a typo, not a plan
MAX_SEEDS = 1_000  # attack seeds per point
MAX_SIGMAS = 1_000  # sigmas of the grid
MAX_JOBS = 100_000  # cut jobs and attack jobs of one sweep


@dataclass(frozen=True)
class Cut:
    """A cut of the grid: the name the user gave (or `auto` chose), its tensor and depth."""

    name: str
    tensor: str
    depth: float | None


@dataclass(frozen=True)
class Grid:
    """Cuts x sigmas x attacks x seeds."""

    cuts: tuple[Cut, ...]
    noise_sigmas: tuple[float, ...]  # ascending, distinct
    attacks: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def points(self) -> int:
        """The number of (cut, sigma) points."""
        return len(self.cuts) * len(self.noise_sigmas)


@dataclass(frozen=True)
class CutJob:
    """Measure one cut: features once, then the bound, accuracies and references per sigma.

    Attributes:
        cut: the cut's name.
        points: whether the per-sigma measurements are needed (False: only the features,
            for attack jobs whose point shards are already finished).
    """

    cut: str
    points: bool = True


@dataclass(frozen=True)
class AttackJob:
    """One attack at one seed on one cut's features at one sigma.

    Attributes:
        cut: the cut's name.
        noise_sigma: the deployment's noise std.
        attack: the attack's registry name.
        seed: the seed (its attack seed and noise draws derive from it, as in `assess`).
        floor: the point's MSE floor (S), for the result's `below_floor`; None when unknown.
        labelled: whether the head's predictions can be compared with labels (the label
            reference, for the recovered share's pairing, needs it).
        features: the cut's features, as the executor hands them over (in memory, a file
            or a Ray object reference).
        nearest: the cut job's `nearest` search at this sigma (one auxiliary index per
            evaluation sample), handed to a `knn` job at the run's own seed, whose search it
            is; None: the job searches itself.
    """

    cut: str
    noise_sigma: float
    attack: str
    seed: int
    floor: float | None = None
    labelled: bool = False
    features: object = None
    nearest: object = None


def make_grid(cfg: Config, cuts: Sequence[Cut]) -> Grid:
    """The grid of `cfg.sweep` over the resolved `cuts`."""
    sw = cfg.sweep
    return Grid(
        cuts=tuple(cuts),
        noise_sigmas=tuple(sorted(set(sw.noise))),
        attacks=tuple(dict.fromkeys(cfg.attacks.enabled)),
        seeds=tuple(cfg.seed + i for i in range(sw.seeds)),
    )


def check_grid_size(cfg: Config) -> None:
    """Refuse a grid too large to be meant, before anything is loaded or connected.

    The cuts are counted as named (`auto`: at most `MAX_AUTO_SPLITS`), an upper bound.

    Raises:
        ConfigError: more than `MAX_SEEDS` seeds or `MAX_SIGMAS` sigmas, or more than
            `MAX_JOBS` jobs in all.
    """
    sw = cfg.sweep
    many = "grow the grid a sweep at a time with the same --output-dir (its shards are reused)"
    if sw.seeds > MAX_SEEDS:
        raise ConfigError(f"sweep.seeds: at most {MAX_SEEDS:,} seeds per point, got "
                          f"{sw.seeds:,}", hint="a few seeds show the attacks' spread, e.g. "
                          f"--seeds 3; for more, {many}")  # fmt: skip
    sigmas = len(set(sw.noise))
    if sigmas > MAX_SIGMAS:
        raise ConfigError(f"sweep.noise: at most {MAX_SIGMAS:,} sigmas, got {sigmas:,}",
                          hint=f"e.g. --noise 0,0.05,0.1,0.2; for more, {many}")
    cuts = MAX_AUTO_SPLITS if list(sw.splits) == [AUTO_SPLITS] else len(set(sw.splits))
    attacks = len(set(cfg.attacks.enabled))
    jobs = cuts + cuts * sigmas * attacks * sw.seeds
    if jobs > MAX_JOBS:
        raise ConfigError(f"the sweep's grid is {cuts} cuts x {sigmas} sigmas x {attacks} attacks "
                          f"x {sw.seeds} seeds: {jobs:,} jobs, more than the {MAX_JOBS:,} a "
                          "sweep runs", hint=f"give fewer --splits, --noise values, --attacks "
                          f"or --seeds, or {many}")  # fmt: skip


def resolve_cuts(
    model: onnx.ModelProto, names: Sequence[str], *, model_name: str
) -> tuple[list[Cut], list[str]]:
    """The cuts `names` stand for (`auto`: `auto_cuts`), each checked like `--split`.

    Returns:
        The cuts in the given order (a second name of an already listed tensor dropped), and
        warnings about the dropped names.

    Raises:
        ModelError: an unknown name (with close candidates) or a cut that is not clean.
    """
    rows = list_cut_points(model)
    if list(names) == [AUTO_SPLITS]:
        inputs = frozenset(v.name for v in model.graph.input)
        return auto_cuts(rows, same_values=value_copies(model), inputs=inputs), []
    graph, depth = analyse(model), {r.tensor: r.depth for r in rows if r.tensor}
    cuts: list[Cut] = []
    warnings = []
    for name in names:
        tensor = resolve_in(graph, name, model_name)
        same = next((c for c in cuts if c.tensor == tensor), None)
        if same is not None:
            warnings.append(f"split {name!r} is the same cut as {same.name!r} (tensor "
                            f"{tensor!r}): measured once")
            continue
        cuts.append(Cut(name, tensor, depth.get(tensor)))
    return cuts, warnings


def auto_cuts(rows: Sequence[CutPoint], limit: int = MAX_AUTO_SPLITS,
              same_values: Mapping[str, str] | None = None,
              inputs: frozenset[str] = frozenset()) -> list[Cut]:  # fmt: skip
    """The clean cuts `privaudit layers` lists, one per tensor, thinned to `limit` by depth.

    A tensor that leaves several modules is named by the outermost (`layer1` rather than
    `layer1.2`); one that leaves none by the tensor's name. A tensor that only copies the
    values of another clean cut (`same_values`: a Flatten after a pooling) is that cut again,
    and is left out, as is one that only copies a graph input (`inputs`: a channels-last
    model's own permute of its input sends the input itself). Past `limit` cuts, the model's
    own blocks (top-level modules) come first: all of them, each remaining place going to the
    cut farthest in depth from those chosen; or, with more blocks than places, the block
    nearest to each of `limit` depths evenly spread from the shallowest to the deepest
    (likewise all cuts, without modules).
    """
    clean = {r.tensor for r in rows if r.clean and r.tensor is not None} | inputs
    copies = same_values or {}
    named: dict[str, Cut] = {}
    for r in rows:
        if not r.clean or r.tensor is None or copies.get(r.tensor) in clean:
            continue
        held = named.get(r.tensor)
        if held is None or (r.module is not None and _outer(r.module, held)):
            named[r.tensor] = Cut(r.module or r.tensor, r.tensor, r.depth)
    cuts = sorted(named.values(), key=_depth)
    if len(cuts) <= limit:
        return cuts
    blocks = [c for c in cuts if c.name != c.tensor and "." not in c.name]
    if not blocks or len(blocks) >= limit:
        return _spread(blocks or cuts, limit)
    chosen = list(blocks)
    while len(chosen) < limit:  # NOTE: each time, the cut farthest from every chosen one
        free = [c for c in cuts if c not in chosen]
        chosen.append(max(free, key=lambda c: min(abs(_depth(c) - _depth(k)) for k in chosen)))
    return sorted(chosen, key=_depth)


def _depth(cut: Cut) -> float:
    return cut.depth or 0.0


def _spread(cuts: list[Cut], limit: int) -> list[Cut]:
    """The cut nearest to each of `limit` depths spread evenly over `cuts` (sorted by depth)."""
    low, high = _depth(cuts[0]), _depth(cuts[-1])
    chosen: list[Cut] = []
    for i in range(limit):
        target = low + (high - low) * i / max(1, limit - 1)
        free = [c for c in cuts if c not in chosen]
        chosen.append(min(free, key=lambda c: abs(_depth(c) - target)))
    return sorted(chosen, key=_depth)


# NOTE: ops whose output holds exactly their first input's values (reordered at most), so a
# cut after one shows the server what a cut before it does.
_COPIES = frozenset({"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout",
                     "Transpose"})  # fmt: skip


def value_copies(model: onnx.ModelProto) -> dict[str, str]:
    """Each tensor that only copies another's values, mapped to the first it copies.

    A chain (Flatten after Reshape after a Relu) maps every link to the Relu's tensor.
    """
    direct = {n.output[0]: n.input[0] for n in model.graph.node
              if n.op_type in _COPIES and n.output and n.input and n.domain in ("", "ai.onnx")}
    roots = {}
    for out in direct:
        src = direct[out]
        seen = {out}
        while src in direct and src not in seen:
            seen.add(src)
            src = direct[src]
        roots[out] = src
    return roots


def _outer(module: str, held: Cut) -> bool:
    """Whether `module` names a cut better than `held`: held has no module, or is nested."""
    return held.name == held.tensor or module.count(".") < held.name.count(".")
