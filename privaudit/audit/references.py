"""The reference reconstructions (docs/method.md §3c): what needs no attack at all.

`prior` reconstructs every evaluation input as the auxiliary mean: its MSE is the
no-information level. `label` reconstructs each as the auxiliary mean of the class the head
predicts from the server's noisy features: in split inference the server runs the head and
gets that prediction anyway, so an attack that does not beat `label` has learned nothing
beyond the class.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from privaudit.attacks import Scorer, noisy_features
from privaudit.audit.features import Features
from privaudit.audit.prepare import Prepared
from privaudit.model import run_batched
from privaudit.results import Reference

__all__ = ["LABEL", "PRIOR", "score_references"]

PRIOR, LABEL = "prior", "label"


def score_references(
    prep: Prepared, feats: Features, head: object | None, seed: int, scorer: Scorer
) -> tuple[Reference, ...]:
    """Score `prior` and `label` with `scorer` (which keeps them for the attacks).

    Args:
        prep: the prepared run (aux and eval inputs, labels).
        feats: the audit's clean features (eval rows get the attacks' noise draw).
        head: the head's onnxruntime session, or None.
        seed: the run seed (the noise draw is the battery's, `noisy_features`).
        scorer: the scorer of the evaluation images.

    Returns:
        The two references; `label` carries the reason when it cannot be computed.
    """
    aux = prep.audit.aux
    mean = aux.x.mean(axis=0, dtype=np.float64).astype(np.float32)
    n_eval = len(prep.audit.eval.x)
    prior = scorer.reference(PRIOR, _tile(mean, n_eval))
    if aux.y is None or head is None:
        why = "the auxiliary data has no labels" if aux.y is None else "the model has no head"
        return prior, scorer.reference(LABEL, None, f"needs a head and labels: {why}")
    predicted = _predicted_classes(prep, feats, head, seed)
    return prior, scorer.reference(LABEL, _class_means(aux.x, aux.y, predicted, mean))


def _predicted_classes(prep: Prepared, feats: Features, head: object, seed: int) -> np.ndarray:
    """The head's class for each evaluation sample's noisy features (the server's view)."""
    clean = torch.from_numpy(np.ascontiguousarray(feats.evaluation, dtype=np.float32))
    noisy = noisy_features(clean, prep.noise_sigma, seed, "eval").numpy()
    logits = run_batched(head, noisy.reshape(len(noisy), *feats.shape), 256)
    out: np.ndarray = np.argmax(logits.reshape(len(logits), -1), axis=1)
    return out


def _class_means(
    x: np.ndarray, y: np.ndarray, predicted: np.ndarray, fallback: np.ndarray
) -> Tensor:
    """The auxiliary mean of each predicted class (the overall mean for an absent class)."""
    means = {int(c): x[y == c].mean(axis=0, dtype=np.float64).astype(np.float32)
             for c in np.unique(y)}  # fmt: skip
    rows = [means.get(int(c), fallback) for c in predicted]
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros((0, *x.shape[1:]))


def _tile(mean: np.ndarray, n: int) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.broadcast_to(mean, (n, *mean.shape))))
