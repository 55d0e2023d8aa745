"""Benchmarks: a dataset registry, a resumable grid runner and results pages.

>>> from fusiondp.bench import DATASETS
>>> "medical_abstracts" in DATASETS
True
"""

from fusiondp.bench.registry import DATASETS, BenchData, BenchDataset, get_dataset, register_dataset, tabular_dataset

__all__ = ["DATASETS", "BenchData", "BenchDataset", "get_dataset", "register_dataset", "tabular_dataset"]
