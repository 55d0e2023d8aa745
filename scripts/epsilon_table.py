"""Print the ε tables of docs/choosing_epsilon.md: one run's noise read under each neighbouring relation.

Usage: python scripts/epsilon_table.py [--n 14293] [--batch 1024] [--epochs 13] [--delta 1e-5]

For each target ε it calibrates the noise multiplier σ the way `fusiondp train` does
(`fusiondp.privacy.accounting.calibrate_noise`, PLD accountant) and then reads the
*same* run (same σ, sampling rate q = b/N, T = ⌊epochs·N/b⌋ steps) under the other
relations with `fusiondp.privacy.accounting.epsilon`:

* feature-level methods (`fusiondp`, `fdp_fm`, `fdp`), calibrated under `remove`:
  their `replace` ε (any two values of one record's sensitive columns);
* record-level `dpsgd`, calibrated under `add_remove`: its `replace` ε, which is
  what it guarantees for a change of one record's sensitive columns (the record
  stays in the data, so this is a replace-one, not an add/remove).

It also prints what an ε means for an attacker who must decide between the two
neighbouring datasets (hypothesis-testing reading of (ε, δ)-DP, Kairouz, Oh &
Viswanath 2015): the highest true-positive rate any test can reach at a 5 %
false-positive rate, min(1, e^ε·0.05 + δ), and the highest posterior belief an
attacker who starts at 50/50 can reach, e^ε / (1 + e^ε) (ignoring δ).

The defaults are the sepsis benchmark's private settings (14,293 training rows,
expected batch 1,024, 13 epochs, δ = 1e-5).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fusiondp.privacy.accounting import calibrate_noise, epsilon  # noqa: E402

TARGETS = (0.5, 1.0, 2.0, 4.0, 8.0)


def rows(n: int, batch: int, epochs: float, delta: float) -> list[dict]:
    """One row per target ε: σ and ε of the feature-level and of the record-level calibration."""
    q, steps = batch / n, max(1, int(epochs * n / batch))
    out = []
    for target in TARGETS:
        row = {"target": target, "q": q, "steps": steps}
        for name, calibrated in (("feature", "remove"), ("record", "add_remove")):
            sigma = calibrate_noise(target_epsilon=target, sample_rate=q, steps=steps, delta=delta,
                                    relation=calibrated)
            row[f"{name}_sigma"] = sigma
            row[f"{name}_{calibrated}"] = epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta,
                                                  relation=calibrated)
            row[f"{name}_replace"] = epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=delta,
                                             relation="replace")
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=14293, help="training rows N")
    ap.add_argument("--batch", type=int, default=1024, help="expected private batch b")
    ap.add_argument("--epochs", type=float, default=13)
    ap.add_argument("--delta", type=float, default=1e-5)
    args = ap.parse_args()
    table = rows(args.n, args.batch, args.epochs, args.delta)
    print(f"N = {args.n}, b = {args.batch} (q = {table[0]['q']:.4f}), {args.epochs:g} epochs "
          f"(T = {table[0]['steps']} steps), δ = {args.delta:g}, PLD accountant\n")
    print("| target ε | feature-level σ | `remove` ε | `replace` ε | `dpsgd` σ | `add_remove` ε | `replace` ε |")
    print("|---|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['target']:g} | {r['feature_sigma']:.3f} | {r['feature_remove']:.2f} | {r['feature_replace']:.2f} "
              f"| {r['record_sigma']:.3f} | {r['record_add_remove']:.2f} | {r['record_replace']:.2f} |")
    print("\n| ε | best attack's true-positive rate at 5 % false positives | posterior from a 50 % prior |")
    print("|---|---|---|")
    for r in attacker_rows(args.delta):
        print(f"| {r['eps']:g} | {100 * r['tpr_at_5']:.1f} % | {100 * r['posterior']:.1f} % |")


def attacker_rows(delta: float) -> list[dict]:
    """Per target ε: the best test's power at 5 % false positives, and the posterior bound from a 50 % prior."""
    return [{"eps": e, "tpr_at_5": min(1.0, math.exp(e) * 0.05 + delta), "posterior": math.exp(e) / (1 + math.exp(e))}
            for e in TARGETS]


if __name__ == "__main__":
    main()
