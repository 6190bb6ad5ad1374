"""The sweep's accuracies, each with a Wilson interval: the model's once, the server's per sigma.

The clean accuracy does not depend on the cut (`head(encoder(x)) == model(x)` is checked at
every cut), so the whole model measures it once per sweep, on every audit sample. The noisy
accuracy at a sigma is read off the server's predictions on the evaluation samples' noisy
features, which the label reference needs anyway (`server_classes`: one noise draw scaled
for every sigma): no head pass is made for the accuracies alone.
"""

from __future__ import annotations

import numpy as np

from privaudit.audit import Prepared, check_label_range, encode, label_warnings
from privaudit.audit.features import check_finite
from privaudit.audit.utility import check_label_agreement, wilson
from privaudit.model import make_session
from privaudit.results import Accuracy

__all__ = ["NOT_LOGITS", "accuracy_of", "model_accuracy"]

NOT_LOGITS = ("accuracy not measured: the model's first output is not (N, classes) logits, so "
              "its argmax cannot be compared with the labels")


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
    predicted = np.argmax(logits, axis=1)
    check_label_agreement(predicted, y, prep.dataset.source, prep.dataset.class_names)
    return accuracy_of(predicted, y), label_warnings(y, int(logits.shape[1]))
