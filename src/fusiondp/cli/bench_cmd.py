"""`fusiondp bench` (run or resume a benchmark grid) and `fusiondp bench-report` (page + plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fusiondp.cli._console import CliConsole
from fusiondp.cli.app import command
from fusiondp.errors import ConfigError

out = CliConsole()
Opt = typer.Option


def _floats(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--epsilons takes comma-separated numbers, got {text!r}.") from None


@command("bench")
def bench(
    dataset: Annotated[str, typer.Argument(help="A registered benchmark dataset, e.g. medical_abstracts.")],
    data_dir: Annotated[Optional[Path], Opt("--data-dir", help="Folder holding the dataset's files.")] = None,
    quick: Annotated[bool, Opt("--quick", help="One seed, ε ∈ {1, 4}.")] = False,
    seeds: Annotated[int, Opt("--seeds", help="Number of seeds (0..N-1).")] = 5,
    epsilons: Annotated[Optional[str], Opt("--epsilons", help="Comma-separated ε grid (default "
                                           "0.5,1,2,4,8).")] = None,
    methods: Annotated[Optional[str], Opt("--methods", help="Comma-separated methods (default all).")] = None,
    out_path: Annotated[Optional[Path], Opt("--out", help="Results JSONL (default bench_out/DATASET.jsonl); "
                                            "finished runs in it are skipped.")] = None,
    tune: Annotated[bool, Opt("--tune", help="Run the dataset's small tuning grid on the validation split "
                              "(seed 0, ε ∈ {1, 4} unless --epsilons) instead of the grid.")] = False,
    report: Annotated[bool, Opt("--report/--no-report", help="Write docs/results/DATASET.md and its plot "
                                "afterwards.")] = True,
    docs: Annotated[Path, Opt("--docs", help="Folder of the results page.")] = Path("docs/results"),
    progress: Annotated[bool, Opt("--progress/--no-progress")] = True,
) -> None:
    """Run the eight methods over ε × seeds on DATASET (resumable), then write the results page."""
    from fusiondp.bench.runner import QUICK_EPSILONS, run_bench, run_tune

    path = out_path or Path(f"bench_out/{dataset}.jsonl")
    eps = _floats(epsilons)
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    if tune:
        new = run_tune(dataset, data_dir=data_dir, epsilons=eps or QUICK_EPSILONS, methods=method_list, out=path,
                       progress=progress)
    else:
        new = run_bench(dataset, data_dir=data_dir, seeds=seeds, epsilons=eps, quick=quick, out=path,
                        methods=method_list, progress=progress)
    out.print(f"{len(new)} new run(s) appended to {path}")
    if report:
        _report(dataset, path, docs)


def _report(dataset: str, path: Path, docs: Path) -> None:
    from fusiondp.bench.report import write_report

    page = write_report(dataset, path, docs=docs)
    out.print(f"results page: {page}")


@command("bench-report")
def bench_report(
    dataset: Annotated[str, typer.Argument(help="The benchmark dataset.")],
    results: Annotated[Optional[Path], Opt("--results", help="Results JSONL (default "
                                           "bench_out/DATASET.jsonl).")] = None,
    docs: Annotated[Path, Opt("--docs", help="Folder of the results page.")] = Path("docs/results"),
) -> None:
    """Aggregate a results file into docs/results/DATASET.md (mean ± std table) and a PNG plot."""
    path = results or Path(f"bench_out/{dataset}.jsonl")
    if not path.exists():
        raise ConfigError(f"No results file at {path}; run `fusiondp bench {dataset}` first.")
    _report(dataset, path, docs)
