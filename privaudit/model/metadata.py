"""Every `privaudit.*` key privaudit reads from or writes into an ONNX model's metadata.

`privaudit harden` records its run in the hardened model; `assess` reads the noise std, the
split and the input normalization back; the demo model carries its own. One home for the
keys, so that writer and reader can never disagree on a spelling.
"""

from __future__ import annotations

import onnx

__all__ = [
    "DEFENCE",
    "DEMO",
    "EMBEDDED_NOISE",
    "EPOCHS",
    "HARDENED_FROM",
    "K",
    "LAMBDA",
    "LAYOUT",
    "LOSS",
    "MEAN",
    "MU",
    "NOISE_SIGMA",
    "NOISE_SIGMAS",
    "SPLIT",
    "STD",
    "TEST_ACCURACY",
    "read_metadata",
]

NOISE_SIGMA = "privaudit.noise_sigma"  # the deployment's feature noise std (RMS if per channel)
# per-channel noise stds (axis 1 of the cut), comma-separated: `harden --defence
# noise-allocation` learns them; their root mean square is NOISE_SIGMA
NOISE_SIGMAS = "privaudit.noise_sigmas"
DEFENCE = "privaudit.defence"  # the defence a hardened model was trained with
MU = "privaudit.mu"  # adversarial weight of a hardened model
SPLIT = "privaudit.split"  # the split name to cut at
MEAN = "privaudit.mean"  # per-channel input normalization mean, comma-separated
STD = "privaudit.std"  # per-channel input normalization std
LAMBDA = "privaudit.lambda"  # CEM weight of a hardened model
K = "privaudit.k"  # k-means cells per class of the CEM loss
LOSS = "privaudit.loss"  # the CEM loss form
EPOCHS = "privaudit.epochs"  # fine-tuning epochs
HARDENED_FROM = "privaudit.hardened_from"  # sha256 of the model harden started from
# where the input keeps its channels, when harden wrote it channels-last ("channels-last")
LAYOUT = "privaudit.layout"
EMBEDDED_NOISE = "privaudit.embedded_noise"  # the cut tensor whose value is noisy in-graph
DEMO = "privaudit.demo"  # "1" on the shipped demo model
TEST_ACCURACY = "privaudit.test_accuracy"  # the demo model's measured test accuracy


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The model-level metadata_props as a dict.

    Args:
        model: the ONNX model.

    Returns:
        Key to value; later duplicates win.
    """
    return {p.key: p.value for p in model.metadata_props}
