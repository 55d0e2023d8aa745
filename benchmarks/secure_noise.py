"""Cost of secure mode: noise and Poisson mask from the OS CSPRNG vs OS-seeded PyTorch generators.

Two measurements, each interleaved (secure, seeded, secure, seeded, ...) and reported as the median:

1. the draws alone per step: the Gaussian noise for P parameters (secure: 4 Box–Muller draws per
   coordinate from os.urandom, summed and normalised; seeded: one torch.randn) and one Poisson mask
   (secure: geometric skipping; seeded: Binomial size + uniform subset);
2. a default run end to end (`fusiondp.train.engine.train`, method `fusiondp`, the defaults rule's
   settings, the default MLP) on a synthetic table of N rows and d features, secure_rng True vs False:
   time per step.

Printed: the times and the ratio secure / seeded.

    python benchmarks/secure_noise.py                  # N = 20000, d = 40, 3 repeats
    python benchmarks/secure_noise.py --rows 40000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from fusiondp.privacy.randomness import SecureRandom, secret_generator
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, train
from fusiondp.train.models import MLP
from fusiondp.train.sampling import poisson_subset


def views(n: int, d: int, seed: int = 0) -> TrainData:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    xh = x.clone()
    xh[:, -4:] = torch.randn(n, 4, generator=g)
    y = ((x[:, 0] + x[:, -1]) > 0).float()
    return TrainData(x=x, x_hybrid=xh, y=y, x_noise=xh.flip(0), x_reference=xh.roll(1, 0))


def draw_seconds(p: int, n: int, q: float, secure: bool, reps: int = 50) -> float:
    src = SecureRandom() if secure else secret_generator()
    t = time.perf_counter()
    for _ in range(reps):
        if secure:
            src.gaussian((p,))
        else:
            torch.randn(p, generator=src)
        poisson_subset(n, q, src)
    return (time.perf_counter() - t) / reps


def run_seconds(data: TrainData, secure: bool, epochs: float) -> tuple[float, int]:
    cfg = TrainConfig(epochs=epochs, epsilon=2.0, delta=1e-5, secure_rng=secure)
    t = time.perf_counter()
    res = train("fusiondp", data, config=cfg, progress=False)
    return time.perf_counter() - t, res.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--features", type=int, default=40)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, d = args.rows, args.features
    p = sum(t.numel() for t in MLP(d, (64, 128, 64), 1, 0.15).parameters())
    cfg = TrainConfig(epsilon=2.0, delta=1e-5).resolve(n_rows=n, n_features=d, method="fusiondp")
    q = cfg.batch_size / n
    draws = {True: [], False: []}
    for _ in range(args.repeats):
        for secure in (True, False):
            draws[secure].append(draw_seconds(p, n, q, secure))
    sec, seeded = statistics.median(draws[True]), statistics.median(draws[False])
    print(f"draws per step (P = {p} parameters, N = {n}, q = {q:.4g}): secure {sec * 1e3:.3f} ms, "
          f"seeded {seeded * 1e3:.3f} ms, ratio {sec / seeded:.2f}")
    data = views(n, d)
    runs = {True: [], False: []}
    steps = 0
    for _ in range(args.repeats):
        for secure in (True, False):
            s, steps = run_seconds(data, secure, args.epochs)
            runs[secure].append(s / steps)
    rs, rd = statistics.median(runs[True]), statistics.median(runs[False])
    print(f"default run (fusiondp, N = {n}, d = {d}, b = {cfg.batch_size}, {steps} steps): secure "
          f"{rs * 1e3:.2f} ms/step, seeded {rd * 1e3:.2f} ms/step, ratio {rs / rd:.3f} "
          f"(secure costs {100 * (rs / rd - 1):+.1f} %; the draws alone {100 * (sec - seeded) / rd:+.1f} % of a "
          "seeded step)")


if __name__ == "__main__":
    main()
