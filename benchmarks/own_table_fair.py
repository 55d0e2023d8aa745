"""Write statsmodels' bundled `fair` (affairs) table as a CSV for `fusiondp bench --table` (issue 15).

Source: Fair, R. (1978), "A Theory of Extramarital Affairs", Journal of Political Economy 86(1), 45-61:
the 1974 Redbook magazine survey of 6,366 married women. Shipped inside the statsmodels package
(BSD-3-Clause; the data are "included with permission of the author", statsmodels' `fair.COPYRIGHT`) as
`statsmodels.api.datasets.fair`; no download. Benchmark-only dependency: `pip install statsmodels`.

The table: rate_marriage (1-5), age, yrs_married, children, religious (1-4), educ, occupation (1-6) and
occupation_husb (1-6), all numeric codes. The response `affairs` (time spent in affairs, 0 for 68 % of the
rows) is binarised as `had_affair` = 1 when it is above 0. `age` and `religious` (religious belief, a special
category of personal data) are the sensitive columns; the two occupation codes are categorical.

Exact duplicate rows (every column, target included, equal: 1,178 of 6,366, different respondents who gave the
same coded answers) are kept once, leaving 5,188 rows: with them, a random support split shares records with
the training split, which fusiondp's guard refuses (`fusiondp.data.guards.check_support_disjoint` compares whole
rows, and cannot tell two respondents with equal answers from one record copied into both).

This table was chosen after the defaults rule and its noise cap were fixed and was not used to design them.

    python benchmarks/own_table_fair.py            # writes bench_out/fair.csv
    fusiondp bench --table bench_out/fair.csv --target had_affair --sensitive age,religious \
        --categorical occupation,occupation_husb ...
"""

from __future__ import annotations

#: The columns as `fusiondp bench --table` is told about them.
TARGET, SENSITIVE, CATEGORICAL = "had_affair", "age,religious", "occupation,occupation_husb"


def fair_table():
    """The fair table with the binary target `had_affair` (the raw response removed)."""
    from statsmodels.api import datasets

    frame = datasets.fair.load_pandas().data.copy()
    frame[TARGET] = (frame["affairs"] > 0).astype(int)
    for col in CATEGORICAL.split(","):
        frame[col] = frame[col].astype(int)
    return frame.drop(columns="affairs").drop_duplicates(ignore_index=True)


#: The name benchmarks/outside_tables.py calls.
table = fair_table


def main() -> None:
    from outside_tables import write_table_cli

    write_table_cli(__doc__, "fair", fair_table, lambda f: f"{TARGET} = affairs > 0 ({int(f[TARGET].sum())} positives)")


if __name__ == "__main__":
    main()
