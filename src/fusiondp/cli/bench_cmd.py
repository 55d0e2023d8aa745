"""`fusiondp bench` (run or resume a benchmark grid) and `fusiondp bench-report` (page + plot).

`fusiondp bench` takes a built-in dataset name, or the user's own table: `--table FILE --target T
--sensitive a,b [--support FILE]`, or the same entry as a TOML file, `--dataset-file my.toml` (format:
`fusiondp.bench.datasets.SPEC_KEYS`; the built-in entries are written in it too).
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
    out_path: Annotated[Optional[Path], Opt("--out", help="Results JSONL (default bench_out/DATASET.jsonl); "
                                            "finished runs in it are skipped."), OUTPUT] = None,
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
    report: Annotated[bool, Opt("--report/--no-report", help="Write docs/results/DATASET.md and its plot "
                                "afterwards.")] = True,
    docs: Annotated[Path, Opt("--docs", help="Folder of the results page."), OUTPUT] = Path("docs/results"),
    progress: Annotated[bool, Opt("--progress/--no-progress")] = True,
) -> None:
    """Run the eight methods over ε × seeds on DATASET or your table (resumable), then write the results page."""
    from fusiondp.bench.runner import run_bench

    if tune or tuned:
        raise ConfigError(TUNE_REMOVED.format(option="--tune" if tune else "--tuned"))
    user = _user_table(dataset, table, target, sensitive, support, drop, categorical, imputer, name, dataset_file)
    if user is not None:
        dataset = user.name
    assert dataset is not None
    path = out_path or Path(f"bench_out/{dataset}.jsonl")
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
    if report:
        _report(dataset, path, docs, page)


def _user_table(dataset, table, target, sensitive, support, drop, categorical, imputer, name, dataset_file):
    """The DatasetSpec of the user's table, or None for a built-in dataset (checks the options combine)."""
    from fusiondp.bench.datasets import load_dataset_file, table_spec

    given = [x for x, v in (("DATASET", dataset), ("--table", table), ("--dataset-file", dataset_file)) if v]
    if len(given) != 1:
        raise ConfigError("Give exactly one of DATASET (built-in), --table FILE or --dataset-file FILE"
                          + (f"; got {', '.join(given)}." if given else "."))
    table_only = [o for o, v in (("--target", target), ("--sensitive", sensitive), ("--support", support),
                                 ("--drop", drop), ("--categorical", categorical), ("--name", name),
                                 ("--imputer", imputer != "default")) if v]
    if table is None:
        if table_only:
            raise ConfigError(f"{', '.join(table_only)} go with --table (a dataset file holds these settings).")
        return load_dataset_file(dataset_file) if dataset_file is not None else None
    if not target or not sensitive:
        raise ConfigError("--table needs --target and --sensitive.")
    return table_spec(table, target=target, sensitive=sensitive, support=support, drop=drop,
                      categorical=categorical, name=name, imputer=imputer)


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
                                                 "bench_out/DATASET.jsonl); repeat to merge several files, "
                                                 "e.g. the anchors' runs."), INPUT] = None,
    docs: Annotated[Path, Opt("--docs", help="Folder of the results page."), OUTPUT] = Path("docs/results"),
) -> None:
    """Aggregate a results file into docs/results/DATASET.md (mean ± std table) and a PNG plot.

    For your own table, rerun its `fusiondp bench --table ...` command instead: finished runs are skipped and
    the page is rewritten.
    """
    paths = results or [Path(f"bench_out/{dataset}.jsonl")]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"No results file at {path}; run `fusiondp bench {dataset}` first.")
    _report(dataset, paths, docs)
