"""Audit data: reading files into model-shaped samples, units, normalization, the partition.

`load_data` reads an image folder, a CSV or Parquet table, an `.npz` or `.npy` into a
`Dataset`: images as (N, C, H, W) pixels in [0, 1], tabular vectors (N, F) and signals
(N, C, T) standardised per feature (`Units` maps them back to their own units), with every
conversion recorded; `dataset_from_arrays` does the same for arrays in memory. `input_layout`
gives a model input's domain and sample shape; `Feed` turns samples into the model's input.
`partition_aux_eval` cuts a dataset into the attacker's auxiliary set and the private
evaluation set, stratified and disjoint by content ("split" is only ever the model cut).
"""

from privaudit.data.conform import CHW, check_limit
from privaudit.data.dataset import Dataset, describe, subset_indices
from privaudit.data.feed import Feed
from privaudit.data.layout import Layout, input_layout
from privaudit.data.load import dataset_from_arrays, load_data
from privaudit.data.normalization import Normalization, is_8bit
from privaudit.data.partition import AuditPartition, partition_aux_eval
from privaudit.data.tabular import LABEL_NAMES, PARQUET_HINT
from privaudit.data.units import DISCRETE_LEVELS, Units

__all__ = [
    "CHW",
    "DISCRETE_LEVELS",
    "LABEL_NAMES",
    "PARQUET_HINT",
    "AuditPartition",
    "Dataset",
    "Feed",
    "Layout",
    "Normalization",
    "Units",
    "check_limit",
    "dataset_from_arrays",
    "describe",
    "input_layout",
    "is_8bit",
    "load_data",
    "partition_aux_eval",
    "subset_indices",
]
