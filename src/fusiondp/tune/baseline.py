"""Does a run beat the free public baseline? (`sgd_hybrid`: public information only, no budget.)

Feature-level methods: `sgd_hybrid` on the hybrid training rows (public columns, labels and imputed
sensitive values: everything it reads is public under a feature-level claim), so training it costs no
budget; a private run that scores below it on validation data has bought nothing with its ε.

Record-level methods (`dpsgd`): the training rows' public columns, labels and membership are what the
run protects, so a noise-free baseline trained on them would be an exact membership oracle (removing one
record moves its score). The baseline is then trained on the **public reference rows** only (the table
`dpsgd` fits its preprocessing on), with the defaults rule's settings at *their* size, so every number it
prints is a function of public inputs (docs/privacy.md, "Every released artefact").

**The release guard** (:func:`release_guard`, issue 25): a feature-level private run whose public support set
carries labels releases whichever of the private model and the free baseline scores higher on that public
set. The choice is a function of the private model (already ε-DP) and public data only, so it is
post-processing: it costs no ε and the release keeps the run's (ε, δ). The released model is therefore never
below the free baseline on the public support set, by construction. The built-in network's guard also weighs
the tree learner's public stage (`TREE_BASELINE`, gradient-boosted trees on the hybrid rows, ε = 0; round 7):
a second free model, often the stronger one on small tables, and for binary targets the blend of the private
network with it (logits weighted by a weight chosen on the support set): the best of the rules measured,
pooled over the benchmark tables' validation splits (docs/results/defaults.md, "The default release against
both free models").
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn

from fusiondp._seeds import torch_seed
from fusiondp.evaluate.metrics import classification_metrics, predict_scores
from fusiondp.train.config import TrainConfig
from fusiondp.train.models import ModelLike
from fusiondp.train.engine import TrainData, TrainResult, train

BASELINE = "sgd_hybrid"
#: The second free candidate of the network's guard: the tree learner's public stage (`fusiondp.trees`).
TREE_BASELINE = "hybrid_trees"
#: The fourth candidate (binary targets): the private network and the tree public stage, logits blended with the
#: weight on the trees chosen on the support set (`fusiondp.blend.BlendModel`; no ε: the trees are public).
FREE_BLEND = "private+hybrid_trees"
#: What each kind of run trains its baseline on (printed and written to the report).
TRAINED_ON = {"feature": "hybrid training rows (public under a feature-level claim)",
              "record": "public reference rows only (the training rows are protected by a record-level claim)"}


def _metric(m: dict) -> tuple[str, float]:
    for key in ("auroc", "macro_f1", "accuracy"):
        if key in m:
            return key, float(m[key])
    raise KeyError("no metric")  # pragma: no cover


def _score(model: nn.Module, split: tuple[torch.Tensor, torch.Tensor]) -> tuple[str, float]:
    """The headline metric (AUROC, else macro-F1, else accuracy) of `model` on an (x, y) split."""
    return _metric(classification_metrics(split[1].numpy(), predict_scores(model, split[0])))


def public_reference_data(prepared, public_df) -> TrainData:
    """The public reference table encoded with the run's (public) preprocessing, as training views.

    Every view is the reference rows themselves: their true values are public by assumption.
    """
    schema = prepared.pre.schema
    x = torch.from_numpy(prepared.pre.transform(public_df, what="public reference data").copy())
    y = torch.from_numpy(prepared.labels.transform(public_df[schema.target], "public reference data"))
    y = y.float() if prepared.data.n_classes == 2 else y
    return TrainData(x=x, x_hybrid=x.clone(), y=y, n_classes=prepared.data.n_classes)


def public_baseline_check(data: TrainData, val, config: TrainConfig, run_val_metrics: dict, *,
                          tolerance: float = 0.0, model: ModelLike | None = None,
                          level: str = "feature", baseline: TrainResult | None = None) -> dict:
    """Train `sgd_hybrid` on public rows and compare validation scores.

    Args:
        data: feature-level: the run's training views (only the hybrid view and labels are read);
            record-level: `public_reference_data` (the public reference rows), never the training rows.
        val: (x, y) validation tensors.
        config: the run's resolved config: the model shape, dropout and seed are kept; the step settings come
            from the defaults rule for `sgd_hybrid` (the benchmark pages' free baseline; record-level: at the
            reference table's size, so nothing depends on the training rows).
        run_val_metrics: the run's validation metrics.
        tolerance: the run counts as below the baseline when it scores more than this below it.
        model: the run's model factory (default: the built-in MLP), so both sides train the same architecture.
        level: "feature" or "record" (`MethodSpec.level`).
        baseline: an already trained baseline (the release guard's), scored instead of training a new one.

    Returns:
        ``{"method", "metric", "split", "trained_on", "baseline", "run", "below_public_baseline", "seconds",
        "steps"}``: `seconds` is the baseline's own training time, which the run pays on top of its own.
    """
    res = baseline or train_public_baseline(data, config, model=model, level=level)
    key, base = _score(res.model, val)
    own = float(run_val_metrics[key])
    return {"method": BASELINE, "metric": key, "split": "validation", "trained_on": TRAINED_ON[level],
            "baseline": base, "run": own, "below_public_baseline": own < base - tolerance,
            "seconds": round(res.seconds, 2), "steps": res.steps}


def train_public_baseline(data: TrainData, config: TrainConfig, *, model: ModelLike | None = None,
                          level: str = "feature") -> TrainResult:
    """Train the free baseline `sgd_hybrid`: the run's model shape, dropout and seed, the defaults rule's steps.

    Feature-level runs keep the step settings the user gave explicitly (epochs, batch size, learning rate,
    optimiser: public choices); the others come from the rule for `sgd_hybrid`, as on the benchmark pages.
    `data`: feature-level, the run's training views (only the hybrid view and labels are read); record-level,
    `public_reference_data`. No ε is involved: everything it reads is public under the run's claim.
    """
    given = {}
    if level == "feature":
        source = config.config_source or {}
        given = {f: getattr(config, f) for f in ("epochs", "batch_size", "lr", "optimizer") if source.get(f) == "user"}
        if "lr" in given:  # a learning rate is meant for the run's optimiser, not the rule's
            given["optimizer"] = config.optimizer
    cfg = TrainConfig(seed=config.seed, hidden=config.hidden, dropout=config.dropout,
                      per_sample=config.per_sample, delta=config.delta, **given)
    return train(BASELINE, data, config=cfg, model=model, progress=False)


def untrained_copy(model: nn.Module, seed: int) -> nn.Module | None:
    """A re-initialised deep copy of a module instance (the engine trains instances in place, so the baseline
    must not reuse the private run's); None when some parameterised layer has no ``reset_parameters``."""
    fresh = copy.deepcopy(model)
    leaves = [m for m in fresh.modules() if any(True for _ in m.parameters(recurse=False))]
    if not all(callable(getattr(m, "reset_parameters", None)) for m in leaves):
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(seed, "baseline_init"))
        for m in leaves:
            m.reset_parameters()
    return fresh


def public_tree_stage(data: TrainData, sensitive_mask, support: tuple, config: TrainConfig) -> TrainResult:
    """The tree learner's public stage (`hybrid_trees`, ε = 0) as a guard candidate: boosting on the hybrid rows.

    The fit is given the hybrid view in place of the original rows, so it cannot read a training record's true
    sensitive value even by mistake; `support` is the encoded labelled support set (NumPy), which chooses how
    many public trees to keep, as in the tree learner. Everything read is public under a feature-level claim.
    """
    import dataclasses

    from fusiondp.trees import fit_trees

    public_view = dataclasses.replace(data, x=data.x_hybrid)
    result, _ = fit_trees(TREE_BASELINE, public_view, sensitive_mask, config, support=support)
    return result


def release_guard(result: TrainResult, data: TrainData, support: tuple[torch.Tensor, torch.Tensor], *,
                  model: ModelLike | None = None, baseline: TrainResult | None = None,
                  public_trees: TrainResult | None = None) -> tuple[TrainResult, dict, TrainResult | None]:
    """Release the best of the private model and the free candidates, judged on a labelled public set.

    Args:
        result: the feature-level private run.
        data: its training views; the baseline reads the hybrid view and labels only (public).
        support: (x, y) of the public support set, encoded like the training rows.
        model: the run's model factory, so both candidates share the architecture.
        baseline: an already trained free baseline for this run's data and seed (benchmarks reuse one across
            ε); trained here when None.
        public_trees: the tree public stage (`public_tree_stage`), a further free candidate (the built-in
            network's guard in `fusiondp.pipeline.run`); None: the network candidates only.

    Returns:
        ``(released, section, baseline)``: `released` is `result` itself or `result` with a free candidate's
        model (its method, ε and accounting stay the run's: the choice is post-processing of the private
        model with public data); the highest support score wins, ties going to the private model, then to
        `sgd_hybrid`, then to the trees. With `public_trees` and a binary target a fourth candidate is the
        private network blended with the trees (`FREE_BLEND`: w·trees' logit + (1 − w)·network's logit, w from
        the blend learner's grid, chosen on the support set; released only when strictly above both parts),
        and `sgd_hybrid` must then clear a bar over the best other candidate (`_baseline_bar`). `section` is
        the record's ``release_guard`` entry (``candidates``: every support score; ``bar``); `baseline` the
        trained `sgd_hybrid` (reused by the validation check). A module instance the baseline cannot
        re-initialise (a layer without ``reset_parameters``) skips the guard: `section` says so and `baseline`
        is None.
    """
    if isinstance(model, nn.Module) and (model := untrained_copy(model, result.config.seed)) is None:
        return result, {"released": "private", "skipped": "the model instance has a layer without "
                        "reset_parameters, so no untrained copy exists for the baseline; pass a factory"}, None
    base = baseline or train_public_baseline(data, result.config, model=model, level="feature")
    key, own = _score(result.model, support)
    _, free = _score(base.model, support)
    candidates = {"private": own, BASELINE: free}
    weight = None
    if public_trees is not None:
        candidates[TREE_BASELINE] = _score(public_trees.model, support)[1]
        if key == "auroc":  # binary: the private network blended with the free trees (w = 0 … 1 on the trees)
            from fusiondp.blend.learner import blend_defaults, choose_weight

            sup_np = (support[0].numpy(), support[1].numpy())
            weight, scores = choose_weight(public_trees.model, result.model, sup_np, blend_defaults()["weights"])
            candidates[FREE_BLEND] = scores[weight]
    # The first of equal scores wins: private, sgd_hybrid, the trees, then a blend (strictly better than both parts).
    released = max(candidates, key=candidates.get)
    section = {"released": released, "metric": key, "chosen_on": f"labelled public support set ({len(support[1])} rows)",
               "private_score": own, "baseline_score": free, "baseline": BASELINE,
               "baseline_trained_on": TRAINED_ON["feature"], "baseline_steps": base.steps,
               "baseline_seconds": round(base.seconds, 2), "candidates": candidates,
               "privacy": "the choice reads the private model and public data only (post-processing): the "
                          "release keeps the run's ε and δ"}
    models = {"private": result.model, BASELINE: base.model}
    if public_trees is not None:
        from fusiondp.blend.learner import BlendModel

        models[TREE_BASELINE] = public_trees.model
        section["tree_baseline"] = {"method": TREE_BASELINE, "trained_on": TRAINED_ON["feature"],
                                    "trees": int(public_trees.model.leaf.shape[0]),
                                    "seconds": round(public_trees.seconds, 2)}
        if weight is not None:
            section["blend_weight"] = weight  # on the trees' logit; chosen on the support set (public)
            models[FREE_BLEND] = BlendModel(public_trees.model, result.model, weight)
        if released == BASELINE and key == "auroc":
            released = _baseline_bar(section, candidates, models, support, result.config.seed)
    section["released"] = released
    return (result if released == "private" else replace(result, model=models[released])), section, base


def _baseline_bar(section: dict, candidates: dict, models: dict, support, seed: int) -> str:
    """With the trees among the candidates, `sgd_hybrid` is released only if its support AUROC lead over the best
    other candidate exceeds ``guard_z`` bootstrap standard errors of the paired difference: the tree learner's bar
    for the same candidate (`fusiondp.trees.guard.tree_release_guard`, the same z and public seed stream), for the
    same reason: `sgd_hybrid` was the weakest free model on every benchmark table (docs/results/defaults.md,
    "The default release against both free models"), and a few hundred support rows let it win by noise.
    Public rows and released models only. Returns the candidate released; records ``section["bar"]``."""
    from fusiondp.evaluate.metrics import predict_scores
    from fusiondp.trees.guard import lead_within_noise
    from fusiondp.trees.settings import tree_defaults

    z = float(tree_defaults()["private_leaves"].get("guard_z", 0.0))
    rest = {k: v for k, v in candidates.items() if k != BASELINE}
    runner = max(rest, key=rest.get)
    x, y = support
    lead = candidates[BASELINE] - rest[runner]
    kept, se = lead_within_noise(y.numpy().astype(int), predict_scores(models[runner], x),
                                 predict_scores(models[BASELINE], x), lead, z, seed)
    section["bar"] = {"z": z, "auroc_lead": lead, "bootstrap_se": se, "against": runner, "kept_runner_up": kept,
                      "rule": f"sgd_hybrid is released only if its support AUROC lead exceeds {z:g} bootstrap "
                              "standard errors (paired, public rows, public seed)"}
    return runner if kept else BASELINE
