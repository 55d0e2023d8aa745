"""`fusiondp tune`: select settings for one method with the search's TOTAL privacy cost accounted."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fusiondp.cli import _training_options as O
from fusiondp.cli.app import INPUT, OUTPUT, command
from fusiondp.data.schema import Schema
from fusiondp.data.tabular import read_table
from fusiondp.errors import ConfigError

out = Console()
Opt = typer.Option


@command("tune")
def tune_cmd(
    train: O.Train,
    target: O.Target,
    sensitive: O.Sensitive,
    val: Annotated[Path, Opt("--val", help="Validation table: candidates are compared on it (never on test)."), INPUT],
    out_path: Annotated[Path, Opt("--out", help="Write the selected settings here (JSON; read by "
                                  "`fusiondp train --settings`)."), OUTPUT],
    hybrid: O.Hybrid = None,
    support: O.Support = None,
    imputer: O.Imputer = "default",
    drop: O.Drop = "",
    categorical: O.Categorical = "",
    method: O.Method = "fusiondp",
    epsilon: Annotated[float, Opt("--epsilon", help="TOTAL budget of the whole search (all candidates).")] = 2.0,
    delta: O.Delta = 1e-5,
    relation: O.Relation = "remove",
    accountant: O.Accountant = "pld",
    mode: Annotated[str, Opt("--mode", help="repeat: Papernot-Steinke random repetition (RDP; only the best is "
                             "released); compose: every grid point, composed; public: select on the support set "
                             "only (no training-record budget; needs --support with labels).")] = "repeat",
    candidates: Annotated[float, Opt("--candidates", help="Mean number of candidates (repeat).")] = 4.0,
    shape: Annotated[float, Opt("--shape", help="Distribution of the count (repeat): 1 geometric, inf Poisson, "
                                "0 logarithmic, else truncated negative binomial.")] = 1.0,
    grid: Annotated[Optional[str], Opt("--grid", help="JSON list of candidate overrides over alpha, clip, lr, "
                                       "beta (default: a grid around the defaults rule).")] = None,
    seed: O.Seed = 0,
    progress: O.Progress = False,
) -> None:
    """Search settings for one method; print and record the total privacy cost of the search."""
    from fusiondp.pipeline import prepare
    from fusiondp.tune.search import tune
    from fusiondp.tune.settings import write_settings

    O.check_inputs(hybrid, support, epsilon)
    schema = Schema(target, sensitive, drop, categorical)
    cand_grid = None
    if grid:
        try:
            cand_grid = json.loads(grid)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--grid is not JSON: {e}") from None
        if not isinstance(cand_grid, list) or not all(isinstance(g, dict) for g in cand_grid) or not cand_grid:
            raise ConfigError("--grid must be a non-empty JSON list of objects, e.g. '[{\"alpha\": 0.25}]'.")
    train_df = read_table(train, what="training")
    val_df = read_table(val, what="validation")
    from fusiondp.data.guards import check_eval_not_training

    check_eval_not_training(train_df, val_df, "validation")
    if mode == "public":
        if support is None:
            raise ConfigError("--mode public selects on the support set: give --support (with the target column).")
        from fusiondp.impute import make_hybrid

        proxy = read_table(support, what="support")
        schema.check_columns(proxy, what="support data")
        proxy_hybrid = make_hybrid(proxy, proxy, schema, imputer=imputer, random_state=seed, progress=progress)
        prepared = prepare(proxy, proxy_hybrid, schema, seed=seed, eval_frames={"val": val_df})
        n_rows_note = f"public proxy: the {len(proxy)} support rows (imputed in-sample)"
    else:
        from fusiondp.train.methods import get_method

        support_df = O.read_support(support)  # read once
        hybrid_df = O.hybrid_table(train_df, hybrid, support_df, schema, imputer=imputer, seed=seed,
                                   progress=progress).frame
        # Record-level dpsgd fits its preprocessing on the support set only (never on training rows).
        prepared = prepare(train_df, hybrid_df, schema, seed=seed, eval_frames={"val": val_df},
                           support_df=support_df,
                           record_level=get_method(method).needs_public_preprocessing)
        n_rows_note = f"the {len(train_df)} private training rows"
    res = tune(method, prepared.data, prepared.eval_sets["val"], epsilon=epsilon, delta=delta, mode=mode,
               candidates=candidates, shape=shape, grid=cand_grid, relation=relation, accountant=accountant,
               seed=seed, progress=progress)
    sel = res.selection()
    sel["trained_on"] = n_rows_note
    write_settings(out_path, res.method, res.settings, selection=sel)
    out.print(f"[bold]{res.method}[/] ({mode}): selected " + ", ".join(f"{k}={v:g}" for k, v in res.settings.items())
              + f"; validation {res.metric} = {res.score:.4f}")
    if res.plan is not None:
        p = res.plan
        what = (f"{int(p.candidates)} candidates composed" if mode == "compose" else
                f"a random number of candidates (mean {p.candidates:g}, shape {p.shape:g}), best released")
        out.print(f"  total privacy cost of the search: ε = {p.total_epsilon:.4f} (budget {epsilon:g}), δ = {delta:g}, "
                  f"{what}; σ = {p.noise_multiplier:.4f} per candidate (one candidate alone: ε = "
                  f"{p.per_candidate_epsilon:.4f}); {p.accountant.upper()} accountant, dp-accounting.")
        out.print("  The selected candidate's model is covered by that total; training again with --settings "
                  "spends a further ε.")
    else:
        out.print("  [yellow]public mode:[/] selected on the support set only; the private rows were not read "
                  "(no training-record budget), so the choice is only as good as that proxy.")
    if res.scores:
        for s in res.scores:
            out.print("   " + ", ".join(f"{k}={v:.4g}" for k, v in s.items()))
    out.print(f"  settings: {out_path}")
    if not math.isfinite(res.score):
        raise ConfigError("Every candidate diverged (non-finite validation score).")
