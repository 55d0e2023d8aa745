"""Diagnostic for the projection lever: how much of the private difference gradient a public subspace holds.

Trains `fusiondp` on sepsis for 2 epochs (ε = 2, seed 0, defaults rule otherwise), then, at those weights,
computes 1,024 private per-record difference gradients u_i (rows of a fixed permutation) and three rank-k
bases from 512 other rows: the stand-in difference gradients used by `projection_rank` (reference view vs
hybrid view; public), GEP's per-sample loss gradients on hybrid rows (public), and, as an oracle that a
private run may not use, the private difference gradients of those 512 rows. Prints the mean fraction of
‖u_i‖² inside the subspace and ‖VᵀΣu_i‖ / ‖Σu_i‖ (the share of the batch sum that survives projection).
The training noise comes from OS entropy, so a rerun differs slightly.

    OMP_NUM_THREADS=1 python benchmarks/projection_energy.py
"""
import torch
from fusiondp.bench.datasets import resolve_data_dir
from fusiondp.bench.registry import get_dataset
from fusiondp.train.config import TrainConfig
from fusiondp.train.engine import train
from fusiondp.train.methods import METHODS
from fusiondp.train.models import _WithRepresentation
from fusiondp.train.persample import loss_for, row_loss_for, per_sample_term
from fusiondp.train.step import private_unit_grads
from fusiondp.train.projection import flatten, estimate_basis
torch.set_num_threads(1)
b = get_dataset("sepsis").prepare(resolve_data_dir(), 0)
d = b.data
res = train("fusiondp", d, config=TrainConfig(epsilon=2.0, seed=0, epochs=2), progress=False)
m = res.model; m.eval(); w = _WithRepresentation(m); spec = METHODS["fusiondp"]
cfg = res.config
term = per_sample_term(w, spec, loss_for(2), beta=cfg.beta, ch=res.ch)
g = torch.Generator().manual_seed(1)
pi = torch.randperm(d.n, generator=g)
priv = pi[:1024]; pub = pi[1024:1024+512]
U = flatten(private_unit_grads(m, w, d.x[priv], d.x_hybrid[priv], d.y[priv], spec, term=term, row_loss=row_loss_for(2), beta=cfg.beta, ch=res.ch), [k for k,_ in w.named_parameters()])
print("P", U.shape, "median |u|", U.norm(dim=1).median().item())
names=[k for k,_ in w.named_parameters()]
# stand-in difference basis
S = flatten(private_unit_grads(m, w, d.x_reference[pub], d.x_hybrid[pub], d.y[pub], spec, term=term, row_loss=row_loss_for(2), beta=cfg.beta, ch=res.ch), names)
# loss basis (GEP): per-sample grads of loss on hybrid rows
lspec = METHODS["dpsgd"]; lterm = per_sample_term(w, lspec, loss_for(2), beta=0, ch=None)
L = flatten(private_unit_grads(m, w, d.x_hybrid[pub], d.x_hybrid[pub], d.y[pub], lspec, term=lterm, row_loss=row_loss_for(2), beta=0, ch=None), names)
# oracle: private diffs themselves (other records)
O = flatten(private_unit_grads(m, w, d.x[pub], d.x_hybrid[pub], d.y[pub], spec, term=term, row_loss=row_loss_for(2), beta=cfg.beta, ch=res.ch), names)
usum = U.sum(0)
for name, M in (("standin-diff", S), ("loss-hybrid", L), ("oracle-private-diff", O)):
    for k in (8, 32, 128, 256):
        V = estimate_basis(M, k)
        c = U @ V
        frac = (c.square().sum(1) / U.square().sum(1)).mean().item()
        sfrac = ((V.T @ usum).norm() / usum.norm()).item()
        print(f"{name:20s} k={k:4d} energy captured per-sample {frac:.3f}  of the batch sum (norm ratio) {sfrac:.3f}")
