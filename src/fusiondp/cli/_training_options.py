"""Options and input handling shared by the commands that train a model (`train`, `audit canary`).

One declaration per option keeps their names, defaults and help identical across commands.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import pandas as pd
import typer

from fusiondp.cli.app import INPUT
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import read_table
from fusiondp.errors import ConfigError
from fusiondp.train.methods import METHODS

if TYPE_CHECKING:
    from fusiondp.impute.hybrid import Hybrid as HybridTable

Opt = typer.Option

Train = Annotated[Path, Opt("--train", help="Training table (CSV or Parquet), true sensitive values."), INPUT]
Target = Annotated[str, Opt("--target", help="Label column (public).")]
Sensitive = Annotated[str, Opt("--sensitive", help="Sensitive columns, comma-separated.")]
Hybrid = Annotated[Optional[Path], Opt("--hybrid", help="Hybrid copy of the training table (same rows and order, "
                                       "sensitive columns imputed)."), INPUT]
Support = Annotated[Optional[Path], Opt("--support", help="Public support set: impute the hybrid on the fly "
                                        "instead of --hybrid."), INPUT]
Imputer = Annotated[str, Opt("--imputer", help="Imputer used with --support.")]
Fallback = Annotated[str, Opt("--fallback", help="With --support: 'auto' replaces a sensitive column whose imputer "
                              "is no better than its marginal (cross-fitted on the support set) with draws from "
                              "the support marginal; 'off' keeps every imputation (docs/imputation.md).")]
Joint = Annotated[str, Opt("--joint", help="With --support: 'auto' imputes several sensitive columns as a chain "
                           "(each also reads the earlier imputed ones); 'off' imputes each on its own.")]
PublicReference = Annotated[Optional[Path], Opt(
    "--public-reference", help="Public table with every column, disjoint from the training rows, on which "
    "record-level dpsgd fits its preprocessing (default: the --support table)."), INPUT]
Drop = Annotated[str, Opt("--drop", help="Columns to ignore, comma-separated.")]
IdColumn = Annotated[Optional[str], Opt("--id-column", help="A key column naming the person of each row (in the "
                                        "training and support tables): support rows are checked to be other "
                                        "records by this key instead of by their values; the column is dropped "
                                        "from the features.")]
DistinctPeople = Annotated[bool, Opt("--support-rows-are-distinct-people", help="State that the support rows are "
                                     "other people than the training rows even where every value is the same (a "
                                     "coded table with few, coarse columns). Recorded in the report; a support "
                                     "set matching the training rows more often than coincidence explains is "
                                     "still refused as a copy.")]
Categorical = Annotated[str, Opt("--categorical", help="Extra columns to one-hot encode.")]
Method = Annotated[str, Opt("--method", help=f"One of: {', '.join(METHODS)}.")]
Epsilon = Annotated[float, Opt("--epsilon", help="Privacy budget ε.")]
Delta = Annotated[float, Opt("--delta", help="δ; must be below 1/N.")]
Relation = Annotated[str, Opt("--relation", help="Neighbouring relation: remove or replace.")]
Accountant = Annotated[str, Opt("--accountant", help="pld (default) or rdp.")]
_AUTO = " Default: auto, from N, ε, δ and the method (docs/training.md, 'Default settings')."
Epochs = Annotated[Optional[float], Opt("--epochs", help="Passes over the training rows (fractions allowed); more "
                                        "epochs spend more ε, so σ grows at a fixed budget." + _AUTO)]
BatchSize = Annotated[Optional[int], Opt("--batch-size", help="Expected private (Poisson) batch size b." + _AUTO)]
PublicBatchSize = Annotated[Optional[int], Opt("--public-batch-size", help="Rows of the noise-free public (hybrid) "
                                               "gradient per step; spends no budget." + _AUTO)]
Lr = Annotated[Optional[float], Opt("--lr", help="Learning rate of the optimizer." + _AUTO)]
Optimizer = Annotated[Optional[str], Opt("--optimizer", help="sgd or adam. Default: the model's stated optimiser "
                                         "(preferred_optimizer), else sgd (the built-in MLP); adam for the "
                                         "non-private methods (sgd_ori, sgd_hybrid, sgd_pub).")]
Clip = Annotated[Optional[float], Opt("--clip", help="Clipping norm C of the private per-record term." + _AUTO)]
Alpha = Annotated[Optional[float], Opt("--alpha", help="Weight α of the noised private term against the public "
                                       "gradient (fdp, fdp_fm, fusiondp)." + _AUTO)]
Beta = Annotated[Optional[float], Opt("--beta", help="Weight β of the representation-consistency term (fusiondp); "
                                      "for naive_fusion the weight of its DP-SGD gradient." + _AUTO)]
ProjectionRank = Annotated[Optional[int], Opt("--projection-rank", min=1, help="Project the private term onto a "
                                              "rank-k subspace estimated from public rows, clip and noise it there "
                                              "(GEP-style; same ε; fdp, fdp_fm, fusiondp, naive_fusion). Default: "
                                              "off. Measured: docs/results/levers.md.")]
AlphaSchedule = Annotated[Optional[str], Opt("--alpha-schedule", help="Weight of the private term over the steps, "
                                             "ending at α: constant (default), linear_up or cosine_up (same ε; "
                                             "fdp, fdp_fm, fusiondp). Measured: docs/results/levers.md.")]
Settings = Annotated[Optional[Path], Opt("--settings", help="JSON settings file written by `fusiondp tune`; "
                                         "options given on the command line override it."), INPUT]
Radius = Annotated[Optional[float], Opt("--radius", help="Projection radius M of the parameters (inf disables). "
                                        "Default: auto, 10 with SGD (the paper's), none with Adam.")]
Seed = Annotated[int, Opt("--seed", help="Seed of what is public: model initialisation, dropout, public-batch "
                                        "order. The DP noise and Poisson sampling never come from it (OS entropy).")]
Progress = Annotated[bool, Opt("--progress/--no-progress", help="Show a progress bar.")]
Model = Annotated[Optional[str], Opt("--model", help="Your network instead of the default MLP: 'module:factory' "
                                     "or 'path/to/file.py:factory', with factory(n_features, n_outputs) -> "
                                     "torch.nn.Module (docs/custom_models.md). Cannot be combined with "
                                     "--save-model.")]
NProc = Annotated[int, Opt("--nproc", min=1, help="Processes on this machine (torch.distributed, gloo on CPU, "
                          "NCCL with --device cuda); same model and ε as one process. See docs/scaling.md.")]
Device = Annotated[str, Opt("--device", help="cpu or cuda (one GPU per process).")]
Threads = Annotated[Optional[int], Opt("--threads", min=1, help="torch threads of the training process (split "
                                       "among --nproc processes). Default: $OMP_NUM_THREADS when set, else 1: the "
                                       "MLP's steps are small, and on a shared 2-core machine 2 intra-op threads "
                                       "made a step 3-11x slower than 1 (docs/results/scaling.md); use --nproc for more "
                                       "cores.")]


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads for training: `threads`, else $OMP_NUM_THREADS (torch already read it), else 1.

    Returns the number in force (recorded in the report).
    """
    import os

    import torch

    if threads is not None:
        torch.set_num_threads(int(threads))
    elif not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(1)
    return torch.get_num_threads()


def support_identity(id_column: str | None, distinct_people: bool):
    """The `SupportIdentity` of the --id-column / --support-rows-are-distinct-people options (None: by value)."""
    from fusiondp.data.guards import SupportIdentity

    if id_column is not None and distinct_people:
        raise ConfigError("Give --id-column or --support-rows-are-distinct-people, not both: a key column decides "
                          "identity by itself.")
    if id_column is None and not distinct_people:
        return None
    return SupportIdentity(id_column=id_column, distinct_people=distinct_people)


def check_inputs(hybrid: Path | None, support: Path | None, epsilon: float) -> None:
    """Exactly one hybrid source, and a positive finite ε (checked before any file is read)."""
    if (hybrid is None) == (support is None):
        raise ConfigError("Give exactly one of --hybrid (a ready hybrid table) or --support (impute on the fly).")
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise ConfigError(f"Expected epsilon > 0, got epsilon={epsilon!r}.")


def read_support(support: Path | pd.DataFrame | None) -> pd.DataFrame | None:
    """The support set as a frame: read from its path once (a frame is passed through), None without one."""
    if support is None or isinstance(support, pd.DataFrame):
        return support
    return read_table(support, what="support")


def public_table(support: Path | pd.DataFrame | None, public_reference: Path | None) -> pd.DataFrame | None:
    """The public reference table: --public-reference if given, else the support set, else None.

    `support` may be the already-read support frame (`read_support`), so a command reads the file once.
    """
    if public_reference is not None:
        return read_table(public_reference, what="public reference")
    return read_support(support)


def hybrid_table(train_df: pd.DataFrame, hybrid: Path | None, support: Path | pd.DataFrame | None, schema: Schema,
                 *, imputer: str, seed: int, progress: bool, fallback: str = "auto",
                 joint: str = "auto") -> HybridTable:
    """The hybrid table and its provenance: read from `hybrid` (provenance None), or imputed from the public
    `support` set (a path or its frame) with the imputation record of `fusiondp.impute.impute_hybrid`."""
    from fusiondp.impute.hybrid import Hybrid, impute_hybrid

    if support is None:
        return Hybrid(read_table(hybrid, what="hybrid"), None)
    return impute_hybrid(train_df, read_support(support), schema, imputer=imputer, random_state=seed,
                         progress=progress, fallback=fallback, joint=joint)
