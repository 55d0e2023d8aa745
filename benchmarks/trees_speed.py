"""Wall time of a default tree run (`--learner trees`) on a 30,000-row table, beside the default MLP run.

The table is fusiondp's own synthetic ICU generator (`fusiondp.data.synthetic.make_icu`, seed 0; 30,000
training rows, 800 support rows); its hybrid is made once by `fusiondp.impute.make_hybrid` (timed apart:
imputation is the same for both learners). Each learner then runs `fusiondp.pipeline.run` at its defaults
(ε = 2), which is what `fusiondp train` does after reading the files.

    python benchmarks/trees_speed.py                 # trees only
    python benchmarks/trees_speed.py --imputer mean  # a quick hybrid: the tree run's time does not depend on it
    python benchmarks/trees_speed.py --mlp           # and the default MLP (fusiondp), with the ratio
    python benchmarks/trees_speed.py --imputer mean --guard-cost 2
        # the default MLP run with and without the release guard's tree candidates (round 7), alternated
        # (A B A B …, this many pairs), with the paired wall-time ratio
    python benchmarks/trees_speed.py --imputer mean --learner-cost 2
        # the default run (learner 'auto': the blend here, round 8) against the round-7 default (the network
        # with its full release guard), alternated, with the paired wall-time ratio
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=30_000)
    ap.add_argument("--epsilon", type=float, default=2.0)
    ap.add_argument("--imputer", default="default", help="imputer of the hybrid (timed apart from the runs)")
    ap.add_argument("--mlp", action="store_true", help="also time the default MLP learner (minutes)")
    ap.add_argument("--guard-cost", type=int, default=0, metavar="PAIRS",
                    help="time the default MLP run with / without the guard's tree candidates, alternated")
    ap.add_argument("--learner-cost", type=int, default=0, metavar="PAIRS",
                    help="time the default run (auto: the blend) against the network's (mlp), alternated")
    args = ap.parse_args()

    from fusiondp.data.synthetic import make_icu
    from fusiondp.impute import make_hybrid
    from fusiondp.pipeline import run
    from fusiondp.train.config import TrainConfig

    d = make_icu(n_train=args.rows, n_support=800, n_val=1500, n_test=3000, seed=0)
    f = d.frames
    t = time.perf_counter()
    hybrid = make_hybrid(f["train"], f["support"], d.schema, imputer=args.imputer, random_state=0, progress=False)
    print(f"hybrid ({args.imputer} imputer): {time.perf_counter() - t:.1f} s")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start")
    if args.guard_cost:
        guard_cost(f, hybrid, d.schema, args.epsilon, args.guard_cost)
        return
    if args.learner_cost:
        learner_cost(f, hybrid, d.schema, args.epsilon, args.learner_cost)
        return
    times = {}
    for learner in ["trees"] + (["mlp"] if args.mlp else []):
        t = time.perf_counter()
        result, _, rep = run(f["train"], hybrid, d.schema, method="fusiondp", config=TrainConfig(epsilon=args.epsilon),
                             val_df=f["val"], test_df=f["test"], support_df=f["support"], progress=False,
                             learner=learner)
        times[learner] = time.perf_counter() - t
        print(f"{learner}: {len(f['train']):,} rows, {rep['steps']} noisy releases/steps, ε = {rep['epsilon']:.3f}, "
              f"test AUROC {rep['metrics']['test']['auroc']:.4f}, run {times[learner]:.1f} s "
              f"(training alone {rep['seconds']:.1f} s)")
    if "mlp" in times:
        print(f"ratio mlp / trees wall time: {times['mlp'] / times['trees']:.1f}x")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


def paired_cost(f: dict, hybrid, schema, epsilon: float, pairs: int, variants: dict[str, dict], describe) -> None:
    """Wall time of `fusiondp.pipeline.run` (ε given, labelled support set) under two variants of its keyword
    arguments (label → arguments), alternated (A B A B …) so load drifts hit both alike; prints every run
    (`describe(report)`) and the paired ratio of the first variant's wall time to the second's."""
    import statistics

    from fusiondp.pipeline import run
    from fusiondp.train.config import TrainConfig

    walls: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(pairs):
        for label, kwargs in variants.items():
            t = time.perf_counter()
            _, _, rep = run(f["train"], hybrid, schema, method="fusiondp", config=TrainConfig(epsilon=epsilon),
                            val_df=f["val"], test_df=f["test"], support_df=f["support"], progress=False, **kwargs)
            walls[label].append(time.perf_counter() - t)
            print(f"{label}: run {walls[label][-1]:.1f} s, {describe(rep)}, test AUROC "
                  f"{rep['metrics']['test']['auroc']:.4f}", flush=True)
    first, second = walls
    ratios = [a / b for a, b in zip(walls[first], walls[second])]
    print(f"paired wall-time ratio {first} / {second}: {statistics.median(ratios):.2f}x (median of {pairs}; "
          f"{', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


def guard_cost(f: dict, hybrid, schema, epsilon: float, pairs: int) -> None:
    """The default MLP run (labelled support, so the release guard runs) with the tree candidates
    (`guard_trees=True`, the default) and without."""
    def describe(rep: dict) -> str:
        g = rep["release_guard"]
        return (f"training {rep['seconds']:.1f} s, tree stage {g.get('tree_baseline', {}).get('seconds', 0.0):.1f} s, "
                f"released {g['released']}")

    paired_cost(f, hybrid, schema, epsilon, pairs, {"with tree candidates": dict(guard_trees=True, learner="mlp"),
                                                    "without": dict(guard_trees=False, learner="mlp")}, describe)


def learner_cost(f: dict, hybrid, schema, epsilon: float, pairs: int) -> None:
    """The default learner ('auto', the blend on this binary table with a labelled support set) against the network
    ('mlp', its release guard with the free trees: the round-7 default)."""
    def describe(rep: dict) -> str:
        return f"learner {(rep.get('learner_choice') or {}).get('learner', 'mlp')}, ε = {rep['epsilon']:.4f}"

    paired_cost(f, hybrid, schema, epsilon, pairs, {"auto": dict(learner="auto"), "mlp": dict(learner="mlp")},
                describe)


if __name__ == "__main__":
    main()
