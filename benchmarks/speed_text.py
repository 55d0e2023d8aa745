"""Speed of the text model: seconds per epoch and peak memory, private step vs a plain epoch.

Prints one line per case from `fusiondp.bench.registry.text_speed_case` (Medical Abstracts, seed-0
split, TF-IDF 2,000 features, TextClassifier 128,517 parameters, private batch 256, public batch 512,
one thread). Peak memory is the tracemalloc peak of allocations made during training.

Usage: python benchmarks/speed_text.py [--epochs 1] [--data-dir DIR]
"""

from __future__ import annotations

import argparse

from fusiondp.bench.registry import text_speed_case


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    print(f"{'case':45s} {'s/epoch':>8s} {'peak MB':>8s} {'steps':>6s}")
    for r in text_speed_case(args.data_dir, epochs=args.epochs):
        print(f"{r['case']:45s} {r['seconds_per_epoch']:8.2f} {r['peak_mb']:8.1f} {r['steps']:6d}")


if __name__ == "__main__":
    main()
