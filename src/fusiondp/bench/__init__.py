"""Benchmarks: one dataset registry, a resumable grid runner and results pages.

>>> from fusiondp.bench import DATASETS
>>> "medical_abstracts" in DATASETS and "adult" in DATASETS
True
"""

from fusiondp.bench.registry import DATASETS, BenchData, BenchDataset, get_dataset, load_builtins, register_dataset
from fusiondp.bench.tabular import tabular_dataset

load_builtins()

__all__ = ["DATASETS", "BenchData", "BenchDataset", "get_dataset", "register_dataset", "tabular_dataset"]
