"""`fusiondp predict`: score a table with a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import INPUT, OUTPUT, command

out = CliConsole()
Opt = typer.Option


@command("predict")
def predict(
    model: Annotated[Path, Opt("--model", help="A model saved by `fusiondp train --save-model` or "
                                               "`fusiondp.io.save`."), INPUT],
    data: Annotated[Path, Opt("--data", help="Table to score (CSV or Parquet) with the model's feature "
                                             "columns."), INPUT],
    out_path: Annotated[Path, Opt("--out", help="Where to write predictions (CSV)."), OUTPUT],
) -> None:
    """Write the predicted class and class probabilities of every row; dropped columns (ids) are copied."""
    import pandas as pd

    from fusiondp._files import check_output, write_file
    from fusiondp.data.tabular import read_table
    from fusiondp.io import load

    target = check_output(out_path, what="--out", suffixes=[".csv"])
    saved = load(model)
    frame = read_table(data, what="data")
    proba = saved.predict_proba(frame)
    keep = [c for c in saved.schema.drop if c in frame.columns]
    result = frame[keep].copy() if keep else pd.DataFrame(index=frame.index)
    result["prediction"] = saved.predict(frame)
    for i, cls in enumerate(saved.classes):
        result[f"proba_{cls}"] = proba[:, i]
    write_file(target, result.to_csv(index=False))
    p = saved.privacy
    eps = "no formal guarantee" if p["epsilon"] is None else f"ε = {p['epsilon']:.4g}" + (
        f", δ = {p['delta']:g}, {p['relation']} relation" if p["relation"] else "")
    rel = p.get("release") or {}
    held = (f"; the release guard's choice: {rel['released']}" + (f", weight {rel['blend_weight']:g} on the trees"
                                                                 if "blend_weight" in rel else "")
            if rel.get("released") not in (None, "private") else "")
    out.print(f"{len(result)} predictions → {out_path}  (model: {p['method']}, {eps}{held})")
