"""A process group's noise split (`add_noise(part=...)`, `distributed.noise_part`): every coordinate gets exactly
one N(0, std²) draw, whichever rank owns it, so the summed noise has the single-process law N(0, std² I)."""

import pytest
import torch

from fusiondp.privacy.randomness import SecureRandom
from fusiondp.train import distributed
from fusiondp.train.step import add_noise

SHAPES = {"a.weight": (7, 5), "a.bias": (7,), "b.weight": (1, 7), "b.bias": (1,)}  # 4 tensors
P = 50  # coordinates


def _zeros():
    return {k: torch.zeros(s) for k, s in SHAPES.items()}


def _flat(d):
    return torch.cat([v.reshape(-1) for v in d.values()])


def _parts(world, total=P):
    return [distributed.noise_part(distributed.Dist(rank=r, world_size=world), total) for r in range(world)]


def test_parts_partition_the_coordinates():
    assert distributed.noise_part(distributed.Dist(), P) is None
    for world in (2, 3, 5):
        parts = _parts(world)
        covered = torch.zeros(P, dtype=torch.int64)
        for lo, hi in parts:
            covered[lo:hi] += 1
        assert bool((covered == 1).all()), (world, parts)


@pytest.mark.parametrize("source", ["csprng", "torch"])
def test_each_rank_noises_only_its_slice(source):
    for world in (2, 3):
        for lo, hi in _parts(world):
            gen = SecureRandom() if source == "csprng" else torch.Generator().manual_seed(lo)
            z = _flat(add_noise(_zeros(), 1.0, gen, (lo, hi)))
            inside = torch.zeros(P, dtype=torch.bool)
            inside[lo:hi] = True
            assert bool((z[~inside] == 0).all())  # not one draw outside the slice
            assert bool((z[inside] != 0).all())   # one draw on every coordinate of it


@pytest.mark.parametrize("source", ["csprng", "torch"])
def test_summed_noise_has_the_single_process_law(source):
    """Over 3 'ranks' (independent sources), 600 steps: every coordinate's std is std (not std·√3 nor
    std/√3: each coordinate is noised once), coordinates are uncorrelated, and means are 0."""
    std, steps = 0.7, 600
    draws = []
    for t in range(steps):
        total = torch.zeros(P)
        for r, part in enumerate(_parts(3)):
            gen = SecureRandom() if source == "csprng" else torch.Generator().manual_seed(10_000 * t + r)
            total += _flat(add_noise(_zeros(), std, gen, part))
        draws.append(total)
    z = torch.stack(draws)  # steps x P
    # Per coordinate: 600 draws, sd of the std estimate ≈ 2.9 %; pooled over 50 coordinates ≈ 0.4 %.
    assert float(z.std()) == pytest.approx(std, rel=0.02)
    assert bool(((z.std(0) / std - 1).abs() < 0.15).all())
    assert abs(float(z.mean())) < 0.02
    corr = torch.corrcoef(z.T)
    off = corr[~torch.eye(P, dtype=torch.bool)]
    assert float(off.abs().max()) < 0.2  # 600 draws: |r| of independent pairs stays below ~0.17


def test_replayable_generators_add_up_to_the_single_process_draw():
    """The test-only mode gives every rank the same generator: the parts then sum to exactly one process's draw."""
    one = _flat(add_noise(_zeros(), 1.3, torch.Generator().manual_seed(5)))
    for world in (2, 3):
        total = sum(_flat(add_noise(_zeros(), 1.3, torch.Generator().manual_seed(5), p)) for p in _parts(world))
        assert torch.equal(total, one)
