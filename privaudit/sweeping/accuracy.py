"""The sweep's accuracies, each with a Wilson interval: the model's once, the server's per sigma.

The clean accuracy does not depend on the cut (`head(encoder(x)) == model(x)` is checked at
every cut), so the whole model measures it once per sweep, on every audit sample. The noisy
accuracy at a sigma is read off the server's predictions on the evaluation samples' noisy
features, which the label reference needs anyway (`server_classes`: one noise draw scaled
for every sigma): no head pass is made for the accuracies alone.
"""

from __future__ import annotations

import math

import numpy as np

from privaudit.audit import Prepared, check_label_range, encode
from privaudit.audit.features import check_finite
from privaudit.model import make_session
from privaudit.results import Accuracy, Interval

__all__ = ["LEVEL", "NOT_LOGITS", "accuracy_of", "model_accuracy", "wilson"]

LEVEL = 0.95
_Z = 1.959963984540054  # the normal quantile of (1 + LEVEL) / 2
NOT_LOGITS = ("accuracy not measured: the model's first output is not (N, classes) logits, so "
              "its argmax cannot be compared with the labels")


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


def accuracy_of(predicted: np.ndarray, y: np.ndarray) -> Accuracy:
    """The share of `predicted` classes equal to the labels `y`, with its Wilson interval."""
    correct = int(np.count_nonzero(np.asarray(predicted) == np.asarray(y)))
    n = len(y)
    return Accuracy(correct / n if n else None, wilson(correct, n), n)


def model_accuracy(prep: Prepared, threads: int, batch: int) -> tuple[Accuracy, tuple[str, ...]]:
    """The whole model's accuracy on every audit sample (aux, then eval), once per sweep.

    Args:
        prep: the prepared run (its `model` is the whole model).
        threads: onnxruntime threads.
        batch: samples per onnxruntime call.

    Returns:
        The accuracy (value None without labels or logits) and notes about it.

    Raises:
        DataError: labels outside the model's classes 0..C-1.
        ModelError: NaN or infinite outputs.
    """
    ya, ye = prep.audit.aux.y, prep.audit.eval.y
    if ya is None or ye is None or prep.model is None:
        return Accuracy(None), ()
    session = make_session(prep.model, threads=threads)
    logits = encode(session, prep.feed, prep.audit.aux.x, prep.audit.eval.x, batch=batch)
    check_finite(logits, str(session.get_outputs()[0].name), "the model's output")
    if logits.ndim != 2:
        return Accuracy(None), (NOT_LOGITS,)
    y = np.concatenate([ya, ye])
    check_label_range(y, int(logits.shape[1]), prep.dataset.source)
    return accuracy_of(np.argmax(logits, axis=1), y), ()
