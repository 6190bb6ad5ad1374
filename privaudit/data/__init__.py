"""Audit data: reading files into model-shaped pixels, normalization, the aux/eval partition.

`load_data` reads an image folder, `.npz` or `.npy` into a `Dataset` of (N, C, H, W) pixels in
[0, 1] with every conversion recorded; `dataset_from_arrays` does the same for arrays in
memory. `partition_aux_eval` cuts a dataset into the attacker's auxiliary set and the private
evaluation set, stratified and disjoint by content ("split" is only ever the model cut).
"""

from privaudit.data.conform import CHW, check_limit, model_sample_shape
from privaudit.data.dataset import Dataset, describe, subset_indices
from privaudit.data.load import dataset_from_arrays, load_data
from privaudit.data.normalization import Normalization, is_8bit
from privaudit.data.partition import AuditPartition, partition_aux_eval

__all__ = [
    "CHW",
    "AuditPartition",
    "Dataset",
    "Normalization",
    "check_limit",
    "dataset_from_arrays",
    "describe",
    "is_8bit",
    "load_data",
    "model_sample_shape",
    "partition_aux_eval",
    "subset_indices",
]
