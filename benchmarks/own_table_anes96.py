"""Write statsmodels' bundled `anes96` table as a CSV for `fusiondp bench --table` (issue 15).

Source: the American National Election Studies, 1996 (http://www.electionstudies.org/), 944 respondents;
shipped inside the statsmodels package (BSD-3-Clause; statsmodels' `anes96.COPYRIGHT`: "This is public
domain.") as `statsmodels.api.datasets.anes96`; no download. Benchmark-only dependency:
`pip install statsmodels`.

The table: population of the respondent's location (`popul`, and its log `logpopul`), days a week watching TV
news, the respondent's own left-right placement and their placement of Clinton and Dole (1-7), party
identification `PID` (0 strong Democrat ... 6 strong Republican), `age`, education (1-7) and income (1-24)
codes, and the target `vote` (1 = Dole, 0 = Clinton). `PID` (a political opinion, a special category of
personal data), `age` and `income` are the sensitive columns. One exact duplicate row is kept once (see
own_table_fair.py for why fusiondp's support/training guard needs that).

This table was chosen after the defaults rule was fixed (after a batch-rule variant had been tried on the
other tables and not adopted) and was not used to design it; it is small (943 rows), where the rule's batch,
noise cap and step floor all act.

    python benchmarks/own_table_anes96.py          # writes bench_out/anes96.csv
    fusiondp bench --table bench_out/anes96.csv --target vote --sensitive PID,age,income ...
"""

from __future__ import annotations

#: The columns as `fusiondp bench --table` is told about them.
TARGET, SENSITIVE = "vote", "PID,age,income"


def anes96_table():
    """The anes96 table with an integer target, exact duplicates dropped."""
    from statsmodels.api import datasets

    frame = datasets.anes96.load_pandas().data.copy()
    frame[TARGET] = frame[TARGET].astype(int)
    return frame.drop_duplicates(ignore_index=True)


#: The name benchmarks/outside_tables.py calls.
table = anes96_table


def main() -> None:
    from outside_tables import write_table_cli

    write_table_cli(__doc__, "anes96", anes96_table,
                    lambda f: f"{TARGET} = 1 for Dole ({int(f[TARGET].sum())} of them)")


if __name__ == "__main__":
    main()
