"""Write scikit-learn's bundled diabetes table as a CSV for `fusiondp bench --table` (issue 18).

Source: the diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), "Least Angle Regression",
Annals of Statistics 32(2), 407-499 (https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html), shipped
inside the scikit-learn package (BSD-3-Clause) as `sklearn.datasets.load_diabetes`; no download.

The table: 442 patients, ten baseline variables in their original units (`scaled=False`): age (years),
sex (coded 1/2), bmi, bp and six serum measurements s1..s6. The response is a quantitative measure of
disease progression one year after baseline; it is binarised here as `progression_high` = 1 when the
response is above its median over all 442 rows (140.5), so the table has a balanced binary target.
`age` and `sex` are the natural sensitive columns.

    python benchmarks/own_table_diabetes.py            # writes bench_out/diabetes.csv
    fusiondp bench --table bench_out/diabetes.csv --target progression_high --sensitive age,sex ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.datasets import load_diabetes


def diabetes_table():
    """The diabetes table with the binarised target `progression_high` (the raw response removed)."""
    frame = load_diabetes(as_frame=True, scaled=False).frame
    median = float(frame["target"].median())
    frame["progression_high"] = (frame["target"] > median).astype(int)
    return frame.drop(columns="target"), median


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench_out/diabetes.csv"))
    args = ap.parse_args()
    frame, median = diabetes_table()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"{args.out}: {len(frame)} rows, {frame.shape[1]} columns; progression_high = response > {median:g} "
          f"({int(frame['progression_high'].sum())} positives)")


if __name__ == "__main__":
    main()
