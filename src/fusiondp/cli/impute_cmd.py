"""`fusiondp impute`: write the hybrid copy of a training table, and print the imputer's quality.

Quality is measured on the public support set only (cross-fitted: each fold
imputed by an imputer fitted on the other folds, `fusiondp.evaluate.imputation`),
never against the training rows' true sensitive values, which this command does
not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.table import Table

from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import INPUT, OUTPUT, command
from fusiondp.data.schema import Schema
from fusiondp.errors import ConfigError
from fusiondp.impute import DEFAULT_IMPUTER, IMPUTERS, impute_hybrid

out = CliConsole()
Opt = typer.Option


def _read(path: Path, what: str) -> pd.DataFrame:
    from fusiondp.data.tabular import read_table

    return read_table(path, what=what)


def _groups(text: str) -> list[list[str]] | None:
    if text.strip().lower() == "auto":
        return None
    if text.strip().lower() in {"", "none"}:
        return []
    return [[c.strip() for c in g.split("+") if c.strip()] for g in text.split(",") if g.strip()]


@command("impute")
def impute(
    train: Annotated[Path, Opt("--train", help="Training table (CSV or Parquet); only its public columns are "
                                               "read."), INPUT],
    support: Annotated[Path, Opt("--support", help="Public support set with every column, disjoint from "
                                                   "--train."), INPUT],
    target: Annotated[str, Opt("--target", help="Label column (public).")],
    sensitive: Annotated[str, Opt("--sensitive", help="Sensitive columns to impute, comma-separated.")],
    out_path: Annotated[Path, Opt("--out", help="Where to write the hybrid table (CSV or .parquet)."), OUTPUT],
    drop: Annotated[str, Opt("--drop", help="Columns never used as features, comma-separated.")] = "",
    categorical: Annotated[str, Opt("--categorical", help="Sensitive columns to treat as categorical.")] = "",
    onehot: Annotated[str, Opt("--onehot", help="One-hot groups: 'auto' (detect on the support set), 'none', "
                               "or groups like 'Unit1+Unit2,a+b+c'.")] = "auto",
    imputer: Annotated[str, Opt("--imputer", help=f"default (= {DEFAULT_IMPUTER}) or one of: "
                                f"{', '.join(IMPUTERS)}.")] = "default",
    model_path: Annotated[Optional[Path], Opt("--model-path", help="Local weights (file or folder) for tabpfn / "
                                              "tabicl; nothing is downloaded."), INPUT] = None,
    use_label: Annotated[bool, Opt("--use-label/--no-use-label", help="Let the public label inform the "
                                   "imputation (the hybrid then depends on each row's label).")] = False,
    seed: Annotated[int, Opt("--seed", help="Seed of the imputer.")] = 0,
    progress: Annotated[bool, Opt("--progress/--no-progress", help="Show a progress bar.")] = True,
    fallback: Annotated[str, Opt("--fallback", help="'auto': measure each sensitive column's imputer skill on the "
                                 "support set (cross-fitted) and replace a column no better than its marginal "
                                 "with draws from the support marginal; 'off': keep every imputation.")] = "auto",
    joint: Annotated[str, Opt("--joint", help="'auto': impute several sensitive columns as a chain (each also reads "
                              "the earlier imputed ones, in --sensitive order); 'off': each on its own.")] = "auto",
    skill_scoring: Annotated[str, Opt("--skill-scoring", help="How --fallback measures skill: 'full' with an exact "
                                      "copy of the imputer; 'light' with a lighter copy (about 1.5x faster; a "
                                      "column near the threshold may fall back differently; docs/imputation.md)."
                                      )] = "full",
    quality: Annotated[bool, Opt("--quality/--no-quality", help="Print the imputer's quality, cross-fitted on the "
                                 "public support set (costs --quality-folds extra imputer fits).")] = True,
    quality_folds: Annotated[int, Opt("--quality-folds", help="Folds of the support set for the quality "
                                      "measurement.")] = 3,
    quality_out: Annotated[Optional[Path], Opt("--quality-out", help="Also write the quality as JSON (the "
                                               "'imputation_quality' section `fusiondp report` can show)."),
                           OUTPUT] = None,
) -> None:
    """Impute the sensitive columns of --train from its public columns, using a public --support set."""
    from fusiondp._files import check_distinct, check_output, json_text, write_files

    dest = check_output(out_path, what="--out", suffixes=[".csv", ".parquet", ".pq"])
    quality_dest = check_output(quality_out, what="--quality-out", suffixes=[".json"]) if quality else None
    check_distinct({"--out": dest, "--quality-out": quality_dest})
    schema = Schema(target, sensitive, drop, categorical)
    train_df, support_df = _read(train, "--train"), _read(support, "--support")
    kwargs = {} if model_path is None else {"model_path": model_path}
    if model_path is not None and imputer not in {"tabpfn", "tabicl"}:
        raise ConfigError(f"--model-path is only used by --imputer tabpfn/tabicl, not {imputer!r}.")
    made = impute_hybrid(train_df, support_df, schema, imputer=imputer, use_label=use_label, random_state=seed,
                         progress=progress, onehot_groups=_groups(onehot), fallback=fallback, joint=joint,
                         skill_scoring=skill_scoring, **kwargs)
    hybrid, meta = made.frame, made.provenance
    # Every output is rendered first and written as one all-or-nothing group (the quality JSON with the table).
    files = {dest: hybrid.to_parquet(index=False) if dest.suffix.lower() in {".parquet", ".pq"}
             else hybrid.to_csv(index=False)}
    quality_table = None
    if quality:
        from fusiondp.evaluate.imputation import cross_fitted_quality, quality_section

        frame = cross_fitted_quality(support_df, schema, imputer=imputer, folds=quality_folds, use_label=use_label,
                                     random_state=seed, onehot_groups=_groups(onehot), joint=joint, **kwargs)
        where = (f"the public support set, cross-fitted ({quality_folds} folds: each fold imputed by an imputer "
                 "fitted on the other folds)")
        quality_table = _quality_table(frame, where)
        if quality_dest is not None:
            files[quality_dest] = json_text(quality_section(frame, where) | ({"imputation": meta} if meta else {}))
    write_files(files)
    out.print(f"wrote {out_path} ({len(hybrid):,} rows; imputed {', '.join(schema.sensitive)} with "
              f"{imputer if imputer != 'default' else DEFAULT_IMPUTER}{' + label' if use_label else ''})")
    if meta.get("tasks"):
        out.print(_skill_table(meta))
    if line := fallback_line(meta):
        out.print(line)
    if quality_table is not None:
        out.print(quality_table)
        if quality_dest is not None:
            out.print(f"quality: {quality_out}")


def _quality_table(frame: pd.DataFrame, where: str) -> Table:
    """The quality frame as a console table (numbers only; nothing from the training rows)."""
    t = Table(title=f"Imputation quality, measured on {where}", title_justify="left")
    for col in ("column", "kind", "rows", "R²", "MAE", "accuracy", "majority", "macro-F1"):
        t.add_column(col, justify="left" if col in ("column", "kind") else "right")
    f = lambda v: "—" if pd.isna(v) else f"{v:.3f}"  # noqa: E731
    for r in frame.itertuples():
        t.add_row(str(r.column), str(r.kind), str(r.n), f(r.r2), f(r.mae), f(r.accuracy), f(r.majority_accuracy),
                  f(r.macro_f1))
    t.caption = ("R² above 0 beats predicting the mean; accuracy above 'majority' beats always guessing the "
                 "most frequent class.")
    return t


def fallback_line(provenance: dict | None) -> str | None:
    """One console line naming the columns that fell back to draws from the support set (None: none did).

    `provenance`: the hybrid's imputation record (`fusiondp.impute.Hybrid.provenance`).
    """
    cols = (provenance or {}).get("fallback_columns")
    if not cols:
        return None
    return (f"[yellow]fallback:[/] {', '.join(cols)}: the imputer is no better than the column's marginal on the "
            "support set (cross-fitted); the hybrid holds draws from the support marginal there (--fallback off "
            "keeps the imputations).")


def _skill_table(meta: dict) -> Table:
    """Per-task skill against the marginal, cross-fitted on the support set, and the fallback decision."""
    t = Table(title=f"Imputer skill vs the marginal ({meta['joint']}), measured on {meta['skill_measured_on']}",
              title_justify="left")
    for col in ("task", "kind", "rows", "metric", "imputer", "marginal", "skill", "log-loss skill", "hybrid holds"):
        t.add_column(col, justify="left" if col in ("task", "kind", "metric", "hybrid holds") else "right")
    f = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    for r in meta["tasks"]:
        t.add_row(r["task"], r["kind"], str(r["rows"]), r["metric"], f(r["score"]), f(r["baseline"]), f(r["skill"]),
                  f(r["logloss_skill"]), "support draws" if r["fallback"] else "imputations")
    t.caption = (f"skill: R² (numeric) or (accuracy - majority) / (1 - majority) (categorical); at or below "
                 f"{meta['skill_threshold']:g} the column falls back to draws from its support marginal.")
    return t
