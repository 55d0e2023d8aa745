"""How far apart 1-process and 2-process runs end up, by clipping norm C and projection radius M.

The same run (test-only deterministic noise, `insecure_noise_seed`, dropout off) in one process and in a
2-process gloo group; printed: the largest absolute difference between the two final weight vectors. The
mechanism is the same in both (docs/scaling.md); what differs is the order of the all-reduce's sums, whose
rounding the training dynamics can amplify. Table: 64 rows, 6 features (two of them sensitive), expected
batch b = 1, 2 epochs (128 steps), σ = 1 fixed, lr 0.1.

    OMP_NUM_THREADS=1 python benchmarks/distributed_drift.py
"""

from __future__ import annotations

import argparse
import json

import torch

from fusiondp.train import distributed
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import TrainData, train


def views(n: int = 64, seed: int = 0) -> TrainData:
    """Encoded views with a 2-column sensitive block (the hybrid view redraws it)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    xh = x.clone()
    xh[:, -2:] = torch.randn(n, 2, generator=g)
    y = ((x[:, 0] + x[:, -1]) > 0).float()
    return TrainData(x=x, x_hybrid=xh, y=y, x_noise=xh.flip(0), x_reference=xh.roll(1, 0))


def weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="fdp_fm,fusiondp")
    ap.add_argument("--clips", default="1,0.125,0.015625")
    ap.add_argument("--radii", default="10,inf")
    a = ap.parse_args()
    for method in a.methods.split(","):
        for clip in map(float, a.clips.split(",")):
            for radius in map(float, a.radii.split(",")):
                cfg = TrainConfig(epochs=2, batch_size=1, public_batch_size=4, lr=0.1, delta=1e-3, epsilon=None,
                                  noise_multiplier=1.0, clip=clip, radius=radius, insecure_noise_seed=7,
                                  dropout=0.0)
                one = train(method, views(), config=cfg, progress=False)
                two = distributed.launch(train, 2, (method, views()), {"config": cfg, "progress": False},
                                         timeout=60.0, threads=1, start_method="fork")
                gap = float((weights(two.model) - weights(one.model)).abs().max())
                print(json.dumps({"method": method, "clip": clip, "radius": radius, "steps": one.steps,
                                  "max_abs_weight_difference": gap}), flush=True)


if __name__ == "__main__":
    main()
