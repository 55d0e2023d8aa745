"""Fit the blend: calibrate (σ_t, σ_m) jointly, train both parts with σ fixed, choose the weight on public rows.

The privacy argument is in the package docstring (`fusiondp.blend`) and docs/results/blend.md.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import dp_accounting as dpa
import numpy as np
import torch
from torch import nn

from fusiondp.errors import BudgetError, ConfigError, UnsupportedError
from fusiondp.privacy.accounting import _accountant, calibrate, training_event
from fusiondp.train.config import TrainConfig
from fusiondp.train.defaults import engine_steps
from fusiondp.train.engine import TrainData, TrainResult
from fusiondp.train.methods import MethodSpec

_FILE = Path(__file__).with_name("defaults.json")

BLEND_METHOD = MethodSpec(
    "fusiondp_blend", "hybrid", "diff", "hybrid", level="feature",
    summary="feature-level DP blend: the tree learner's release and the network method fusiondp's release on "
            "the same records (composed ε), their logits averaged with a weight chosen on the public support set")


@functools.lru_cache(maxsize=1)
def blend_defaults() -> dict:
    """The constants of the blend (``defaults.json``): the trees' share of ε and the weight grid."""
    return json.loads(_FILE.read_text())


class BlendModel(nn.Module):
    """w·(trees' logit) + (1 − w)·(network's logit): one logit per row, like the parts."""

    def __init__(self, trees: nn.Module, network: nn.Module, weight: float) -> None:
        super().__init__()
        self.trees, self.network = trees, network
        self.register_buffer("weight", torch.tensor(float(weight)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lt = self.trees(x).reshape(-1).to(torch.float32)
        lm = self.network(x).reshape(-1).to(torch.float32)
        return self.weight * lt + (1 - self.weight) * lm


@dataclass(frozen=True)
class BlendNoise:
    """The jointly calibrated noise of one blend run (everything public: set before any record is read)."""

    tree_sigma: float
    network_sigma: float
    scale: float           # k
    tree_alone_sigma: float      # a: the trees calibrated alone to tree_share · ε
    network_alone_sigma: float   # b: the network calibrated alone to (1 − tree_share) · ε
    tree_share: float

    def event(self, tree_steps: int, network_rate: float, network_steps: int) -> dpa.DpEvent:
        return _composed(self.tree_sigma, self.network_sigma, tree_steps, network_rate, network_steps)


def _composed(sigma_t: float, sigma_m: float, tree_steps: int, network_rate: float, network_steps: int
              ) -> dpa.DpEvent:
    """The run's event: the trees' releases (every record in each: rate 1) and the network's steps."""
    return dpa.ComposedDpEvent([training_event(sigma_t, 1.0, tree_steps),
                                training_event(sigma_m, network_rate, network_steps)])


def event_epsilon(event: dpa.DpEvent, *, delta: float, relation: str, accountant: str) -> float:
    """ε of any DpEvent by dp-accounting on the fine grid (the reported value)."""
    acc = _accountant(accountant, relation)
    acc.compose(event)
    return float(acc.get_epsilon(delta))


@functools.lru_cache(maxsize=256)
def blend_noise(*, epsilon: float, delta: float, relation: str, accountant: str, tree_steps: int,
                network_rate: float, network_steps: int, tree_share: float) -> BlendNoise:
    """σ_t = k·a, σ_m = k·b with the composed ε of both parts equal to `epsilon` (to CALIBRATION_TOL, never above).

    a and b: each part calibrated alone to its share of ε; then k by the one calibration over the composed
    event (`fusiondp.privacy.accounting.calibrate`). A function of public quantities only (cached).
    """
    if not 0 < tree_share < 1:
        raise ConfigError(f"tree_share must lie in (0, 1), got {tree_share}.")
    coarse = lambda: _accountant(accountant, relation, coarse=True)
    a = calibrate(coarse, lambda s: training_event(s, 1.0, tree_steps), target_epsilon=tree_share * epsilon,
                  delta=delta, what="the blend's trees alone")
    b = calibrate(coarse, lambda s: training_event(s, network_rate, network_steps),
                  target_epsilon=(1 - tree_share) * epsilon, delta=delta, what="the blend's network alone")
    make = lambda k: _composed(k * a, k * b, tree_steps, network_rate, network_steps)
    k = calibrate(coarse, make, target_epsilon=epsilon, delta=delta, what="the blend (trees and network composed)",
                  spent=lambda k: event_epsilon(make(k), delta=delta, relation=relation, accountant=accountant))
    return BlendNoise(k * a, k * b, k, a, b, tree_share)


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def choose_weight(trees: nn.Module, network: nn.Module, support: tuple[np.ndarray, np.ndarray],
                  weights: list[float]) -> tuple[float, dict]:
    """The weight on the trees' logit with the highest AUROC on the labelled public support set (first on ties).

    Reads the two released models and the support rows only: post-processing, no ε.
    """
    x = torch.from_numpy(np.ascontiguousarray(support[0], dtype=np.float32))
    y = np.asarray(support[1])
    with torch.no_grad():
        lt = trees.eval()(x).reshape(-1).double().numpy()
        lm = network.eval()(x).reshape(-1).double().numpy()
    scores = {float(w): _auroc(y, w * lt + (1 - w) * lm) for w in weights}
    best = max(scores, key=lambda w: (scores[w], -weights.index(w)))
    return best, scores


def fit_blend(data: TrainData, sensitive_mask: np.ndarray, config: TrainConfig, *,
              support: tuple[np.ndarray, np.ndarray | None] | None, tree_settings: dict | None = None,
              tree_share: float | None = None, weights: list[float] | None = None, guard: bool = True,
              progress: bool = False, baseline: TrainResult | None = None,
              public_stage: dict | None = None) -> tuple[TrainResult, dict]:
    """Train the blend on encoded rows (`fusiondp.pipeline.prepare`'s views): both parts, then the weight.

    Args:
        config: the run's budget (ε, δ, relation, accountant, seed, insecure_noise_seed) and the network's
            settings (None fields: its defaults rule at the run's ε). A fixed ``noise_multiplier`` is refused:
            the blend has two σ, both from the joint calibration.
        support: the encoded public support rows and their labels (required, labelled).
        tree_settings: tree settings over their defaults rule (at the run's ε).
        tree_share, weights: override ``defaults.json`` (benchmarks choosing the share on design data).
        guard: each part's own release guard (its free baseline `sgd_hybrid` as a candidate; post-processing).
        baseline, public_stage: an already trained `sgd_hybrid` and the trees' public-stage cache (benchmarks
            reuse both across ε: they read public data only).

    Returns:
        ``(result, section)``: the blended `TrainResult` (ε = the composed ε) and the record's ``blend`` section.
    """
    from fusiondp.train.engine import train
    from fusiondp.trees import fit_trees
    from fusiondp.trees.settings import auto_tree_settings
    from fusiondp.tune.baseline import release_guard
    from fusiondp.trees.guard import tree_release_guard

    start = time.perf_counter()
    if data.n_classes != 2:
        raise UnsupportedError(f"The blend learner supports binary targets only; this one has {data.n_classes} "
                               "classes (its weight is chosen on support AUROC of one logit per part).",
                               hint="use --learner trees (multiclass: K trees per round) or --learner mlp")
    if support is None or support[1] is None or len(np.unique(support[1])) != 2:
        raise ConfigError("The blend learner chooses its weight on a labelled public support set (both classes), "
                          "and its trees grow their structures there: give one.",
                          hint="give --support with the target column, or use --learner trees or mlp")
    if config.epsilon is None:
        raise ConfigError("The blend learner needs a target epsilon (its two noise levels are calibrated "
                          "jointly to it).")
    if config.noise_multiplier is not None:
        raise ConfigError("The blend learner calibrates two noise multipliers jointly; --noise-multiplier fixes "
                          "one and is refused here.", hint="give --epsilon only")
    d = blend_defaults()
    share = d["tree_share"] if tree_share is None else float(tree_share)
    grid = [float(w) for w in (d["weights"] if weights is None else weights)]
    n, f = data.n, int(np.prod(data.x.shape[1:]))
    # The parts' settings are their defaults rules' at the run's ε (public); only σ comes from the blend.
    s = auto_tree_settings(n, config.epsilon, f, support_labels=True, **(tree_settings or {}))
    tree_steps = s.private_rounds * s.releases_per_round
    net = config.resolve(n_rows=n, n_features=f, method="fusiondp")
    net_steps, net_rate = engine_steps(n, net.batch_size, net.epochs), net.batch_size / n
    if tree_steps <= 0:
        raise ConfigError("The blend's trees have no private rounds; use --learner mlp.")
    noise = blend_noise(epsilon=float(config.epsilon), delta=config.delta, relation=config.relation,
                        accountant=config.accountant, tree_steps=tree_steps, network_rate=net_rate,
                        network_steps=net_steps, tree_share=share)

    network = train("fusiondp", data, config=replace(net, noise_multiplier=noise.network_sigma), progress=progress)
    trees, info = fit_trees("fusiondp", data, sensitive_mask, replace(config, noise_multiplier=noise.tree_sigma),
                            support=support, settings=tree_settings, public_stage=public_stage)
    for part, sigma, steps, rate in ((network, noise.network_sigma, net_steps, net_rate),
                                     (trees, noise.tree_sigma, tree_steps, 1.0)):
        p = part.plan
        if p is None or p.noise_multiplier != sigma or p.steps != steps or abs(p.sample_rate - rate) > 1e-12:
            raise BudgetError(f"A blend part ran {p} instead of the calibrated σ={sigma}, {steps} steps at rate "
                              f"{rate} (never expected).")
    guards = {}
    if guard:
        from fusiondp.pipeline import support_tensors

        network, guards["network"], baseline = release_guard(network, data, support_tensors(*support),
                                                             baseline=baseline)
        trees, guards["trees"], _ = tree_release_guard(trees, data, support, baseline=baseline,
                                                       z=info["settings"]["guard_z"])
    w, scores = choose_weight(trees.model, network.model, support, grid)

    event = noise.event(tree_steps, net_rate, net_steps)
    relation = network.plan.relation
    others = [r for r in ("remove", "replace") if r != relation]
    by_relation = {relation: {"epsilon": event_epsilon(event, delta=config.delta, relation=relation,
                                                       accountant=config.accountant),
                              "accountant": config.accountant}}
    for r in others:  # the RDP accountant cannot analyse 'replace' under Poisson sampling: PLD, as other runs
        by_relation[r] = {"epsilon": event_epsilon(event, delta=config.delta, relation=r, accountant="pld"),
                          "accountant": "pld"}
    eps = by_relation[relation]["epsilon"]
    if eps > config.epsilon * (1 + 1e-9):
        raise BudgetError(f"The blend spends epsilon={eps:.4f} > target {config.epsilon} (never expected).")
    section = {
        "learner": "blend",
        "share_rule": (f"each part calibrated alone to its share of ε (trees {share:g}, network {1 - share:g}: "
                       f"σ_t,alone = {noise.tree_alone_sigma:.4f}, σ_m,alone = {noise.network_alone_sigma:.4f}), "
                       f"then both scaled by one k = {noise.scale:.4f} so the composed ε is the target"),
        "tree_share": share, "scale": noise.scale, "tree_alone_sigma": noise.tree_alone_sigma,
        "network_alone_sigma": noise.network_alone_sigma,
        "tree_sigma": noise.tree_sigma, "network_sigma": noise.network_sigma,
        "tree_releases": tree_steps, "network_steps": net_steps, "network_sample_rate": net_rate,
        "tree_noise_std": noise.tree_sigma * s.clip, "tree_clip": s.clip, "network_clip": net.clip,
        "epsilon_by_relation": by_relation,
        "epsilon_parts_alone": {"trees": trees.epsilon, "network": network.epsilon},
        "accountant": config.accountant, "event": event,  # the DpEvent (the pipeline moves it to the record)
        "composition": "dp-accounting ComposedDpEvent([trees' releases at σ_t, network's steps at σ_m])",
        "weight": w, "weight_grid": grid,
        "support_auroc": {"trees": scores[1.0] if 1.0 in scores else None,
                          "network": scores[0.0] if 0.0 in scores else None, "blend": scores[w],
                          "by_weight": {f"{k:g}": v for k, v in scores.items()}},
        "weight_chosen_on": f"labelled public support set ({len(support[1])} rows): post-processing, no ε",
        "release_guards": guards or None,
        "trees": {k: info[k] for k in ("public_trees", "private_trees_trained", "private_trees_released")},
    }
    result = TrainResult(model=BlendModel(trees.model, network.model, w), method=BLEND_METHOD, config=net,
                         plan=network.plan, epsilon=eps, steps=net_steps + tree_steps, ch=network.ch,
                         seconds=time.perf_counter() - start, history=network.history,
                         secure_randomness=network.secure_randomness and trees.secure_randomness,
                         public_baseline=baseline)
    return result, section
