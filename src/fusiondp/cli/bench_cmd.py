"""`fusiondp bench` (run or resume a benchmark grid) and `fusiondp bench-report` (page + plot).

`fusiondp bench` takes a built-in dataset name, or the user's own table: `--table FILE --target T
--sensitive a,b [--support FILE]`, or the same entry as a TOML file, `--dataset-file my.toml` (format:
`fusiondp.bench.datasets.SPEC_KEYS`; the built-in entries are written in it too).

Everything a run writes goes under one output folder, `--out` (default ``fusiondp-bench/<dataset>/``): the
runs file ``<dataset>_runs.jsonl``, the page ``<page>.md`` and its plot ``img/<page>.png``; the results table
is also printed at the end. The repository's own pages are made with ``--out docs/results``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import INPUT, OUTPUT, command
from fusiondp.errors import ConfigError

out = CliConsole()
Opt = typer.Option


#: `fusiondp bench --tune` ran a grid of candidates on the private rows and selected on validation data
#: without accounting the search; tuning for the benchmark now goes through `fusiondp tune` only.
TUNE_REMOVED = (
    "{option} was removed: its tuning grid trained every candidate on the private rows without accounting the "
    "search. Tune with `fusiondp tune --train ... --val ... --method M --epsilon TOTAL --out settings_M.json` "
    "(the accountant charges the whole search), then run `fusiondp bench ... --settings settings_M.json[,...]`; "
    "or keep --settings defaults (the defaults rule, no tuning cost).")


def _floats(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--epsilons takes comma-separated numbers, got {text!r}.") from None


@command("bench")
def bench(
    dataset: Annotated[Optional[str], typer.Argument(help="A built-in benchmark dataset, e.g. adult; or give "
                                                     "--table / --dataset-file instead.")] = None,
    table: Annotated[Optional[Path], Opt("--table", help="Your own table (CSV or Parquet): split into support / "
                                         "train / val / test by a seeded permutation (10 % support unless "
                                         "--support; then 70/10/20)."), INPUT] = None,
    target: Annotated[Optional[str], Opt("--target", help="With --table: the label column (public).")] = None,
    sensitive: Annotated[Optional[str], Opt("--sensitive", help="With --table: sensitive columns, "
                                            "comma-separated.")] = None,
    support: Annotated[Optional[Path], Opt("--support", help="With --table: a public support set file (then no "
                                           "support rows are carved from the table)."), INPUT] = None,
    drop: Annotated[str, Opt("--drop", help="With --table: columns to ignore, comma-separated.")] = "",
    categorical: Annotated[str, Opt("--categorical", help="With --table: extra columns to one-hot "
                                    "encode.")] = "",
    imputer: Annotated[str, Opt("--imputer", help="With --table: imputer fitted on the support set.")] = "default",
    name: Annotated[Optional[str], Opt("--name", help="With --table: the dataset's name (default: the file's "
                                       "stem); names the results file.")] = None,
    id_column: Annotated[Optional[str], Opt("--id-column", help="With --table: a key column naming each row's "
                                            "person; the support set is checked against the training rows by it, "
                                            "not by values, and it is not a feature.")] = None,
    distinct_people: Annotated[bool, Opt("--support-rows-are-distinct-people", help="With --table: state that the "
                                         "support rows are other people than the training rows even where every "
                                         "value agrees (a coded table); recorded in every run record. A support "
                                         "set matching the training rows more than coincidence explains is still "
                                         "refused.")] = False,
    dataset_file: Annotated[Optional[Path], Opt("--dataset-file", help="Your table described in a TOML file "
                                                "(keys: fusiondp.bench.datasets.SPEC_KEYS)."), INPUT] = None,
    tuned: Annotated[bool, Opt("--tuned", hidden=True, help="Removed: see --tune.")] = False,
    page: Annotated[Optional[str], Opt("--page", help="File stem of the results page and plot (default: the "
                                       "dataset's name).")] = None,
    data_dir: Annotated[Optional[Path], Opt("--data-dir", help="Folder holding the dataset's files."), INPUT] = None,
    quick: Annotated[bool, Opt("--quick", help="One seed, ε ∈ {1, 4}.")] = False,
    seeds: Annotated[int, Opt("--seeds", help="Number of seeds (0..N-1).")] = 5,
    epsilons: Annotated[Optional[str], Opt("--epsilons", help="Comma-separated ε grid (default "
                                           "0.5,1,2,4,8).")] = None,
    methods: Annotated[Optional[str], Opt("--methods", help="Comma-separated methods (default all).")] = None,
    out_path: Annotated[Optional[Path], Opt("--out", help="Output folder (default fusiondp-bench/DATASET): the "
                                            "runs file DATASET_runs.jsonl (finished runs in it are skipped), the "
                                            "page and its plot. A path ending in .jsonl names the runs file; the "
                                            "page then goes beside it."), OUTPUT] = None,
    settings: Annotated[str, Opt("--settings", help="Where the settings come from: 'defaults' (the defaults rule: "
                                 "public quantities only, nothing tuned, no tuning cost) or 'selected' (the "
                                 "built-in dataset's validation-selected settings, whose selection spent "
                                 "budget), or settings files written by `fusiondp tune` (comma-separated, one "
                                 "per method; other methods use the rule): the accounted way to bench tuned "
                                 "settings.")
                  ] = "defaults",
    equal_protection: Annotated[bool, Opt("--equal-protection/--no-equal-protection", help="Also run `dpsgd` "
                                          "calibrated under replace-one at each ε: the page's second comparison "
                                          "view (equal protection of the sensitive columns).")] = True,
    tune: Annotated[bool, Opt("--tune", hidden=True, help="Removed: its search was not accounted; use "
                              "`fusiondp tune`, then --settings FILE.")] = False,
    report: Annotated[bool, Opt("--report/--no-report", help="Write the results page DATASET.md and its plot "
                                "into the output folder afterwards.")] = True,
    docs: Annotated[Optional[Path], Opt("--docs", help="Folder of the results page and plot, when not the output "
                                        "folder (e.g. docs/results for the repository's pages)."), OUTPUT] = None,
    progress: Annotated[bool, Opt("--progress/--no-progress")] = True,
) -> None:
    """Run the eight methods over ε × seeds on DATASET or your table (resumable), then write the results page."""
    from fusiondp.bench.runner import run_bench

    if tune or tuned:
        raise ConfigError(TUNE_REMOVED.format(option="--tune" if tune else "--tuned"))
    user = _user_table(dataset, table, target, sensitive, support, drop, categorical, imputer, name, dataset_file,
                       id_column, distinct_people)
    if user is not None:
        dataset = user.name
    assert dataset is not None
    path, folder = output_paths(dataset, out_path)
    if user is not None and settings == "selected":
        raise ConfigError("--settings selected reads settings selected on this table, and a user's table has none: "
                          "select them with `fusiondp tune` (which accounts the search's ε) and pass its settings "
                          "files with --settings, or keep --settings defaults (the defaults rule).")
    if user is not None:
        _register_user(user, path)
    eps = _floats(epsilons)
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    new = run_bench(dataset, data_dir=data_dir, seeds=seeds, epsilons=eps, quick=quick, out=path,
                    methods=method_list, progress=progress, settings=settings, equal_protection=equal_protection)
    out.print(f"{len(new)} new run(s) appended to {path}")
    from fusiondp.bench.runner import load_records
    from fusiondp.bench.summary import results_table

    table_ = results_table(dataset, load_records(path))  # the comparison itself, in the terminal
    if table_ is not None:
        out.print(table_)
    if report:
        _report(dataset, path, docs or folder, page)


def output_paths(dataset: str, out_path: Path | None) -> tuple[Path, Path]:
    """(runs file, output folder) of a bench run: ``<out>/<dataset>_runs.jsonl`` in the folder `out_path`
    (default ``fusiondp-bench/<dataset>``); an `out_path` ending in ``.jsonl`` is the runs file itself, and its
    folder the output folder. Nothing goes into the current directory's docs/ unless asked for.

    >>> output_paths("t", None)
    (PosixPath('fusiondp-bench/t/t_runs.jsonl'), PosixPath('fusiondp-bench/t'))
    >>> output_paths("sepsis", Path("docs/results"))
    (PosixPath('docs/results/sepsis_runs.jsonl'), PosixPath('docs/results'))
    """
    folder = Path(out_path) if out_path is not None else Path("fusiondp-bench") / dataset
    if folder.suffix == ".jsonl":
        return folder, folder.parent
    return folder / f"{dataset}_runs.jsonl", folder


def _user_table(dataset, table, target, sensitive, support, drop, categorical, imputer, name, dataset_file,
                id_column=None, distinct_people=False):
    """The DatasetSpec of the user's table, or None for a built-in dataset (checks the options combine)."""
    from fusiondp.bench.datasets import load_dataset_file, table_spec

    given = [x for x, v in (("DATASET", dataset), ("--table", table), ("--dataset-file", dataset_file)) if v]
    if len(given) != 1:
        raise ConfigError("Give exactly one of DATASET (built-in), --table FILE or --dataset-file FILE"
                          + (f"; got {', '.join(given)}." if given else "."))
    table_only = [o for o, v in (("--target", target), ("--sensitive", sensitive), ("--support", support),
                                 ("--drop", drop), ("--categorical", categorical), ("--name", name),
                                 ("--imputer", imputer != "default"), ("--id-column", id_column),
                                 ("--support-rows-are-distinct-people", distinct_people)) if v]
    if table is None:
        if table_only:
            raise ConfigError(f"{', '.join(table_only)} go with --table (a dataset file holds these settings).")
        return load_dataset_file(dataset_file) if dataset_file is not None else None
    if not target or not sensitive:
        raise ConfigError("--table needs --target and --sensitive.")
    if id_column is not None and distinct_people:
        raise ConfigError("Give --id-column or --support-rows-are-distinct-people, not both: a key column decides "
                          "identity by itself.")
    return table_spec(table, target=target, sensitive=sensitive, support=support, drop=drop,
                      categorical=categorical, name=name, imputer=imputer, id_column=id_column,
                      distinct_people=distinct_people)


def _register_user(spec, path: Path) -> None:
    """Register the user's table; refuse to add to a file whose grid runs used settings tuned by the old,
    unaccounted ``--tune`` grid."""
    from fusiondp.bench.user_table import register_table
    from fusiondp.bench.runner import load_records

    other = {r.get("info", {}).get("settings", "default") for r in load_records(path)
             if r.get("dataset") == spec.name and r.get("phase", "bench") == "bench"} - {"default"}
    if other:
        raise ConfigError(f"{path} already holds grid runs of {spec.name!r} with {other.pop()} settings; give "
                          "another --out for this grid.")
    register_table(spec)


def _report(dataset: str, path: Path | list[Path], docs: Path, page: str | None = None) -> None:
    from fusiondp.bench.report import write_report

    written = write_report(dataset, path, docs=docs, page_name=page)
    out.print(f"results page: {written}")


@command("bench-report")
def bench_report(
    dataset: Annotated[str, typer.Argument(help="The benchmark dataset.")],
    results: Annotated[Optional[list[Path]], Opt("--results", help="Results JSONL (default "
                                                 "fusiondp-bench/DATASET/DATASET_runs.jsonl); repeat to merge "
                                                 "several files, e.g. the anchors' runs."), INPUT] = None,
    out_dir: Annotated[Optional[Path], Opt("--out", help="Folder of the page and plot (default: the folder of "
                                           "the first results file)."), OUTPUT] = None,
    docs: Annotated[Optional[Path], Opt("--docs", hidden=True, help="Old name of --out."), OUTPUT] = None,
) -> None:
    """Aggregate a results file into OUT/DATASET.md (mean ± std table) and a PNG plot OUT/img/DATASET.png.

    For your own table, rerun its `fusiondp bench --table ...` command instead: finished runs are skipped and
    the page is rewritten.
    """
    paths = results or [output_paths(dataset, None)[0]]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"No results file at {path}; run `fusiondp bench {dataset}` first.")
    _report(dataset, paths, out_dir or docs or paths[0].parent)
