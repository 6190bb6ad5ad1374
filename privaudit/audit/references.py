"""The reference reconstructions (docs/method.md §3c): what needs no attack at all.

`prior` reconstructs every evaluation input as the auxiliary mean: its MSE is the
no-information level. `label` reconstructs each as the auxiliary mean of the class the head
predicts from the server's noisy features: in split inference the server runs the head and
gets that prediction anyway, so an attack that does not beat `label` has learned nothing
beyond the class. `nearest` reconstructs each as the auxiliary input whose clean features lie
nearest its noisy ones (the `knn` attack's rule at k=1): it needs no training either, and
being scored in every audit, `--no-attacks` included, it checks the floor (S) against an
actual attack where the input has several modes within a class (the floor's assumption
broken) even when no attack runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from privaudit.attacks import Scorer, nearest_neighbours, noise_stream
from privaudit.audit.features import Features
from privaudit.audit.prepare import Prepared
from privaudit.model import run_batched
from privaudit.noise import add_drawn_noise
from privaudit.results import Reference

__all__ = [
    "LABEL",
    "NEAREST",
    "PRIOR",
    "nearest_inputs",
    "score_label",
    "score_nearest",
    "score_prior",
    "score_references",
    "server_classes",
]

PRIOR, LABEL, NEAREST = "prior", "label", "nearest"


def score_references(
    prep: Prepared,
    feats: Features,
    head: object | None,
    seed: int,
    scorer: Scorer,
    predicted: np.ndarray | None = None,
    device: torch.device | None = None,
    nearest: np.ndarray | None = None,
) -> tuple[Reference, ...]:
    """Score `prior`, `label` and `nearest` with `scorer` (which keeps them for the attacks).

    Args:
        prep: the prepared run (aux and eval inputs, labels).
        feats: the audit's clean features (eval rows get the attacks' noise draw).
        head: the head's onnxruntime session, or None.
        seed: the run seed (the noise draw is the battery's, `noisy_features`).
        scorer: the scorer of the evaluation images.
        predicted: the head's classes of the noisy evaluation features at
            `prep.noise_sigma` (`server_classes`), when the caller has them already.
        device: where `nearest` computes its distances (default: the CPU).
        nearest: the auxiliary index nearest each evaluation sample at `prep.noise_sigma`
            (`nearest_inputs`), when the caller has them already.

    Returns:
        The three references; `label` carries the reason when it cannot be computed.
    """
    return (score_prior(prep, scorer), score_label(prep, feats, head, seed, scorer, predicted),
            score_nearest(prep, feats, seed, scorer, nearest, device=device))


def score_prior(prep: Prepared, scorer: Scorer) -> Reference:
    """Score `prior`, the auxiliary mean for every input (the same at every sigma)."""
    return scorer.reference(PRIOR, _tile(_aux_mean(prep), len(prep.audit.eval.x)))


def score_label(
    prep: Prepared,
    feats: Features,
    head: object | None,
    seed: int,
    scorer: Scorer,
    predicted: np.ndarray | None = None,
) -> Reference:
    """Score `label` at `prep.noise_sigma` (after `score_prior`: its recovered share needs it).

    Arguments as for `score_references`.
    """
    aux = prep.audit.aux
    if aux.y is None or head is None:
        why = "the auxiliary data has no labels" if aux.y is None else "the model has no head"
        return scorer.reference(LABEL, None, f"needs a head and labels: {why}")
    if predicted is None:
        sigma = prep.noise_sigma
        predicted = server_classes(head, feats.evaluation, feats.shape, [sigma], seed)[sigma]
    return scorer.reference(LABEL, _class_means(aux.x, aux.y, predicted, _aux_mean(prep)))


def score_nearest(
    prep: Prepared,
    feats: Features,
    seed: int,
    scorer: Scorer,
    nearest: np.ndarray | None = None,
    device: torch.device | None = None,
) -> Reference:
    """Score `nearest` at `prep.noise_sigma`: each evaluation input as its nearest auxiliary one.

    Args:
        prep: the prepared run (aux and eval inputs).
        feats: the audit's clean features.
        seed: the run seed (the noise draw is the battery's).
        scorer: the scorer of the evaluation images.
        nearest: the auxiliary index of each evaluation sample at `prep.noise_sigma`
            (`nearest_inputs`), when the caller has them already.
        device: where the distances are computed (default: the CPU).
    """
    if len(feats.aux) == 0:
        return scorer.reference(NEAREST, None, "needs auxiliary samples")
    if nearest is None:
        sigma = prep.noise_sigma
        nearest = nearest_inputs(feats.aux, feats.evaluation, [sigma], seed, device=device)[sigma]
    x_hat = np.ascontiguousarray(prep.audit.aux.x[nearest], dtype=np.float32)
    return scorer.reference(NEAREST, torch.from_numpy(x_hat))


def nearest_inputs(
    aux: np.ndarray,
    clean: np.ndarray,
    noise_sigmas: Sequence[float],
    seed: int,
    rows: int = 256,
    device: torch.device | None = None,
) -> dict[float, np.ndarray]:
    """The auxiliary sample whose clean features are nearest each evaluation sample's noisy ones.

    The noise is the battery's draw of the evaluation part, made once and scaled for every
    sigma, a block of rows at a time (as `server_classes`): the `knn` attack at k=1 with
    clean auxiliary features finds the same neighbours.

    Args:
        aux: (n_aux, m) the auxiliary samples' clean features.
        clean: (n, m) the evaluation samples' clean features.
        noise_sigmas: the noise stds (0: the clean features).
        seed: the run seed.
        rows: samples per block.
        device: where the distances are computed (default: the CPU); the auxiliary features
            are copied there once.

    Returns:
        (n,) auxiliary indices per sigma; empty without auxiliary samples.
    """
    if len(aux) == 0:
        return {}
    bank = torch.from_numpy(np.ascontiguousarray(aux, dtype=np.float32).reshape(len(aux), -1))
    bank = bank.to(device or "cpu")
    found: dict[float, list[np.ndarray]] = {float(s): [] for s in noise_sigmas}
    with torch.no_grad():
        for s, z in _server_views(clean, found, seed, rows):
            query = torch.from_numpy(np.ascontiguousarray(z)).to(bank.device)
            found[s].append(nearest_neighbours(query, bank)[:, 0].cpu().numpy())
    return _joined(found)


def _aux_mean(prep: Prepared) -> np.ndarray:
    mean: np.ndarray = prep.audit.aux.x.mean(axis=0, dtype=np.float64).astype(np.float32)
    return mean


def server_classes(
    head: object,
    clean: np.ndarray,
    shape: tuple[int, ...],
    noise_sigmas: Sequence[float],
    seed: int,
    rows: int = 256,
) -> dict[float, np.ndarray]:
    """The head's class of each evaluation sample's noisy features (the server's view).

    The noise is the battery's draw of the evaluation part (`noisy_features`), made once
    and scaled for every sigma, a block of rows at a time: the attacks invert exactly these
    features, and memory holds one block of the draw.

    Args:
        head: the head's onnxruntime session.
        clean: (n, m) the evaluation samples' clean features.
        shape: the per-sample feature shape the head takes.
        noise_sigmas: the noise stds (0: the clean features).
        seed: the run seed.
        rows: samples per block.

    Returns:
        (n,) predicted classes per sigma.
    """
    found: dict[float, list[np.ndarray]] = {float(s): [] for s in noise_sigmas}
    for s, z in _server_views(clean, found, seed, rows):
        logits = run_batched(head, z.reshape(len(z), *shape), rows)
        found[s].append(np.argmax(logits.reshape(len(logits), -1), axis=1))
    return _joined(found)


def _server_views(
    clean: np.ndarray, sigmas: Iterable[float], seed: int, rows: int
) -> Iterator[tuple[float, np.ndarray]]:
    """(sigma, noisy features) of each block of `rows` evaluation samples, at every sigma.

    The battery's draw of the evaluation part (`noisy_features`), made once per block and
    scaled for every sigma (0: the clean block), so memory holds one block of the draw.
    """
    sigmas = list(sigmas)
    stream = noise_stream(seed, "eval")
    data = np.ascontiguousarray(clean, dtype=np.float32).reshape(len(clean), -1)
    drawn = any(s > 0 for s in sigmas)
    for start in range(0, len(data), rows):
        block = data[start : start + rows]
        draw = stream.rows(start, start + len(block), block.shape[1]) if drawn else None
        for s in sigmas:
            yield s, block if s == 0 or draw is None else add_drawn_noise(block, s, draw)


def _joined(found: dict[float, list[np.ndarray]]) -> dict[float, np.ndarray]:
    """Each sigma's per-block results joined; an empty (0,) index array without blocks."""
    return {s: np.concatenate(v) if v else np.zeros(0, np.int64) for s, v in found.items()}


def _class_means(
    x: np.ndarray, y: np.ndarray, predicted: np.ndarray, fallback: np.ndarray
) -> Tensor:
    """The auxiliary mean of each predicted class (the overall mean for an absent class)."""
    means = {int(c): x[y == c].mean(axis=0, dtype=np.float64).astype(np.float32)
             for c in np.unique(y)}  # fmt: skip
    rows = [means.get(int(c), fallback) for c in predicted]
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros((0, *x.shape[1:]))


def _tile(mean: np.ndarray, n: int) -> Tensor:
    return torch.from_numpy(np.array(np.broadcast_to(mean, (n, *mean.shape))))  # a copy
