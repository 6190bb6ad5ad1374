"""Utility of the noisy deployment: the head's clean and noisy accuracy, and the noise sweep."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from privaudit.audit.features import Features, audit_labels, check_finite
from privaudit.audit.prepare import Prepared
from privaudit.config import Config
from privaudit.errors import DataError
from privaudit.model import make_session, run_batched
from privaudit.noise import add_noise
from privaudit.results import BoundResult, Interval, SweepPoint, Utility

__all__ = [
    "LEVEL",
    "accuracy",
    "check_label_agreement",
    "check_label_range",
    "head_classes",
    "head_session",
    "noisy_accuracy",
    "predict",
    "sweep",
    "utility",
    "wilson",
]

NOISE_DRAWS = 3  # noisy accuracy is averaged over this many noise draws
LEVEL = 0.95
_Z = 1.959963984540054  # the normal quantile of (1 + LEVEL) / 2


def wilson(correct: int, n: int) -> Interval | None:
    r"""The 95% Wilson score interval of a proportion `correct / n` (None when n = 0).

    .. math:: \frac{\hat p + z^2/2n \pm z \sqrt{\hat p (1 - \hat p)/n + z^2/4n^2}}{1 + z^2/n}

    It stays inside [0, 1] and is not degenerate at 0 or n correct (Wilson, JASA 1927).
    """
    if n <= 0:
        return None
    p, z2 = correct / n, _Z * _Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(max(0.0, centre - half), min(1.0, centre + half), LEVEL)


def predict(
    head: object, feats: np.ndarray, shape: tuple[int, ...],
    what: str = "the head's output on clean features",
) -> np.ndarray:
    """The head's class (argmax of its first output) of each of (N, m) features.

    Raises:
        ModelError: the head's output holds NaN or infinite values (`what` names it).
    """
    z = feats.reshape(len(feats), *shape).astype(np.float32)
    logits = run_batched(head, z, 256)
    check_finite(logits, str(head.get_outputs()[0].name), what)  # type: ignore[attr-defined]
    classes: np.ndarray = np.argmax(logits.reshape(len(logits), -1), axis=1)
    return classes


def accuracy(
    head: object, feats: np.ndarray, y: np.ndarray, shape: tuple[int, ...],
    what: str = "the head's output on clean features",
) -> float:
    """The head's accuracy on (N, m) features of per-sample `shape` against labels `y`.

    Raises:
        ModelError: the head's output holds NaN or infinite values (`what` names it).
    """
    return float(np.mean(predict(head, feats, shape, what) == y))


def check_label_agreement(
    predicted: np.ndarray, y: np.ndarray, source: str, class_names: Sequence[str] = ()
) -> None:
    """Refuse labels that are a relabelling of the model's classes.

    Two signs, each beyond a 95% Wilson interval. The accuracy lies below chance, the
    sum_c p_c q_c that predictions unrelated to the labels reach (p the labels' class shares,
    q the predictions'). And the predictions do predict the labels under another naming:
    naming each predicted class by the label it most often meets closes more than half the
    gap from chance to perfect. Then the labels are most likely not the model's class indices
    (text labels numbered in another order), its accuracy would be wrong, and so would the
    label reference, rebuilt from the wrong classes: it would overstate privacy. An untrained
    model that merely does worse than chance shows the first sign only and passes.

    Raises:
        DataError: both signs; the message gives the naming that fits.
    """
    n = len(y)
    if n == 0:
        return
    labels, predicted = np.asarray(y, np.int64), np.asarray(predicted, np.int64)
    size = int(max(labels.max(), predicted.max())) + 1
    p = np.bincount(labels, minlength=size) / n
    q = np.bincount(predicted, minlength=size) / n
    chance = float(p @ q)
    correct = int(np.count_nonzero(predicted == labels))
    acc = wilson(correct, n)
    if acc is None or acc.high >= chance:
        return
    met = np.zeros((size, size), np.int64)  # met[predicted, label]
    np.add.at(met, (predicted, labels), 1)
    right = int(met.max(axis=1).sum())  # each predicted class named by its commonest label
    renamed = wilson(right, n)
    if renamed is None or renamed.low <= chance + (1 - chance) / 2:
        return
    names = list(class_names) or [str(c) for c in range(size)]
    fit = ", ".join(f"{c}→{names[int(met[c].argmax())]!s}" for c in np.flatnonzero(q)[:6])
    numbered = ""
    if class_names:
        order = ", ".join(f"{name}→{i}" for i, name in enumerate(class_names[:4]))
        more = ", …" if len(class_names) > 4 else ""
        numbered = f"; these labels were numbered in sorted order: {order}{more}"
    raise DataError(
        f"{source}: the model's clean accuracy on these labels is {correct / n:.1%} "
        f"[{acc.low:.0%}, {acc.high:.0%}], below the {chance:.0%} that predictions unrelated "
        f"to the labels would reach, while its classes predict them under another naming "
        f"({fit}: {right / n:.0%} right): the labels are not the model's "
        f"class indices{numbered}",
        hint="give the labels as the class indices the model was trained with (0..C-1 in its "
        "output order), or audit without them (--no-labels)",
    )


def noisy_accuracy(
    head: object,
    feats: np.ndarray,
    y: np.ndarray,
    noise_sigma: float,
    seed: int,
    shape: tuple[int, ...],
    draws: int = NOISE_DRAWS,
) -> float:
    """The head's accuracy on noisy features, averaged over `draws` seeded noise draws."""
    if noise_sigma == 0:
        return accuracy(head, feats, y, shape)
    rng = np.random.default_rng(seed)
    what = f"the head's output on noisy features (sigma {noise_sigma:g})"
    accs = [accuracy(head, add_noise(feats, noise_sigma, rng), y, shape, what)
            for _ in range(draws)]
    return float(np.mean(accs))


def head_session(prep: Prepared) -> object | None:
    """One onnxruntime session of the head (utility and sweep share it), or None."""
    return make_session(prep.split.head) if prep.split.head is not None else None


def utility(
    cfg: Config, prep: Prepared, feats: Features, head: object | None
) -> tuple[Utility, tuple[str, ...]]:
    """Clean accuracy and accuracy at the deployment's noise (labels and a head needed).

    Returns:
        The accuracies (None when they cannot be measured) and warnings about them.

    Raises:
        DataError: labels outside the head's classes 0..C-1.
        ModelError: NaN or infinite head outputs.
    """
    y = audit_labels(prep.audit)
    if y is None or head is None:
        return Utility(None, None), ()
    classes = head_classes(head, feats)
    if classes is None:
        return Utility(None, None), (_NOT_LOGITS,)
    check_label_range(y, classes, prep.dataset.source)
    predicted = predict(head, feats.all, feats.shape)
    check_label_agreement(predicted, y, prep.dataset.source, prep.dataset.class_names)
    clean = float(np.mean(predicted == y))
    noisy = noisy_accuracy(head, feats.all, y, prep.noise_sigma, cfg.seed, feats.shape)
    return Utility(clean_accuracy=clean, noisy_accuracy=noisy), label_warnings(y, classes)


_NOT_LOGITS = ("accuracy not measured: the head's first output is not (N, classes) logits, so "
               "its argmax cannot be compared with the labels")


def head_classes(head: object, feats: Features) -> int | None:
    """How many classes the head scores: C of its first output (N, C); None if not 2-D."""
    z = feats.all[:1].reshape(1, *feats.shape).astype(np.float32)
    logits = run_batched(head, z, 1)
    return int(logits.shape[1]) if logits.ndim == 2 else None


def check_label_range(y: np.ndarray, classes: int, source: str) -> None:
    """The one label check of every command: labels must be class indices 0..classes-1.

    Raises:
        DataError: a label outside 0..classes-1 (the head cannot score it, so accuracy and
            fine-tuning would be meaningless).
    """
    outside = (y < 0) | (y >= classes)
    if outside.any():
        raise DataError(
            f"{source}: labels {int(y.min())}..{int(y.max())} do not fit the head's {classes} "
            f"outputs (class indices 0..{classes - 1}); {int(outside.sum())} of {len(y)} "
            "samples have a label outside",
            hint="give the class indices the head was trained with (y in the .npz; for image "
            "folders the sorted subfolder names), or leave the labels out (--no-labels)",
        )


# the head's first output has this many times the labels' classes, and at least this many
# columns: more likely features or a reconstruction than logits (e.g. 784 columns, 10 classes)
_NOT_LOGITS_RATIO, _NOT_LOGITS_MIN = 8, 64


def label_warnings(y: np.ndarray, classes: int) -> tuple[str, ...]:
    """A warning when the labels use fewer classes than the head scores.

    When the head's first output has far more columns than the labels hold classes, the
    warning says that output may not be the logits: privaudit scores the first output.
    """
    present = len(np.unique(y))
    if present >= classes:
        return ()
    if classes >= _NOT_LOGITS_MIN and classes >= _NOT_LOGITS_RATIO * max(present, 2):
        return (f"the labels hold {present} classes but the head's first output has {classes} "
                "columns: it may not be the model's logits (privaudit scores the first output), "
                "and the accuracy would be wrong; export the model with the logits as its "
                "first output",)
    return (f"the labels hold {present} classes but the head scores {classes}: unless the data "
            "covers only some classes, the labels may not be the head's class indices "
            "(check their order), and the accuracy would be wrong",)


def sweep(
    cfg: Config,
    prep: Prepared,
    feats: Features,
    bounds: Sequence[BoundResult],
    head: object | None,
) -> tuple[SweepPoint, ...]:
    """The sweep's points from its bounds (one per `cfg.noise_sweep` sigma, in order)."""
    y = audit_labels(prep.audit)
    points = []
    for noise_sigma, b in zip(cfg.noise_sweep, bounds, strict=True):
        acc = None
        if head is not None and y is not None:
            acc = noisy_accuracy(head, feats.all, y, noise_sigma, cfg.seed, feats.shape)
        points.append(
            SweepPoint(
                noise_sigma=noise_sigma,
                leakage_bits_per_dim=b.leakage_bits_per_dim,
                cond_entropy_per_dim=b.cond_entropy_per_dim,
                mse_floor=b.mse_floor_estimate,
                paper_floor=b.paper_floor,
                floor_ratio=b.floor_ratio,
                accuracy=acc,
            )
        )
    return tuple(points)
