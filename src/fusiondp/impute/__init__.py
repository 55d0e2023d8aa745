"""Stage 1 of FusionDP: impute sensitive columns from public ones (docs/method.md §3).

>>> import pandas as pd
>>> from fusiondp.data.schema import Schema
>>> sch = Schema(target="y", sensitive=["age"])
>>> sup = pd.DataFrame({"hr": [60.0, 80.0], "age": [30.0, 50.0], "y": [0, 1]})
>>> make_hybrid(pd.DataFrame({"hr": [70.0], "y": [1]}), sup, sch, imputer="mean", progress=False)
     hr  y   age
0  70.0  1  40.0
"""

from fusiondp.impute.base import Imputer
from fusiondp.impute.ensemble import EnsembleImputer
from fusiondp.impute.foundation import TabICLImputer, TabPFNImputer
from fusiondp.impute.hybrid import Hybrid, impute_hybrid, make_hybrid
from fusiondp.impute.quality import imputation_quality
from fusiondp.impute.registry import DEFAULT_IMPUTER, IMPUTERS, get_imputer, register_imputer
from fusiondp.impute.simple import MeanImputer
from fusiondp.impute.targets import Task, build_tasks, column_kind, detect_onehot_groups

__all__ = [
    "DEFAULT_IMPUTER", "IMPUTERS", "EnsembleImputer", "Hybrid", "Imputer", "MeanImputer", "TabICLImputer", "TabPFNImputer",
    "Task", "build_tasks", "column_kind", "detect_onehot_groups", "get_imputer", "imputation_quality",
    "impute_hybrid", "make_hybrid", "register_imputer",
]
