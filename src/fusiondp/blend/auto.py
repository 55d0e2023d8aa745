"""The default learner (`learner="auto"`): the blend where it can run, the network everywhere else.

The blend learner (trees and the network `fusiondp` on one composed ε, `fusiondp.blend.learner`) was the best
default on the benchmark tables it can serve (docs/results/defaults.md, "The default learner (round 8)"), but it
needs what the network does not: a binary target, a labelled support set with both classes (its weight and the
trees' structures are chosen there), a target ε (its two noise levels are calibrated jointly), the built-in
models, one CPU process and no checkpoint. `auto_learner` checks exactly those, from the run's arguments and the
labels' class count (public under the feature-level claim the blend makes), before any record is trained on,
and says why it chose what it chose; the run record keeps that sentence (``learner_choice``).
"""

from __future__ import annotations

from dataclasses import dataclass

AUTO = "auto"
LEARNERS = (AUTO, "mlp", "trees", "blend")
"""What `learner` accepts in `fusiondp.pipeline.run`, the CLI's ``--learner`` and `FusionDPClassifier`."""


@dataclass(frozen=True)
class LearnerChoice:
    """What `learner="auto"` became, and why (the run record's ``learner_choice`` section)."""

    learner: str
    why: str

    def section(self) -> dict:
        return {"asked": AUTO, "learner": self.learner, "why": self.why}


def auto_learner(*, method: str, epsilon: float | None, noise_multiplier: float | None, n_classes: int,
                 support_classes: int, custom_model: bool, checkpoint: bool, nproc: int,
                 device: str | None) -> LearnerChoice:
    """'blend' when every condition of the blend learner holds, else 'mlp' (the network), with the reasons.

    Args:
        method: the run's method (the blend trains `fusiondp`).
        epsilon, noise_multiplier: the target ε and a fixed σ (the blend needs the first and refuses the second).
        n_classes: distinct labels of the training rows; support_classes: distinct labels of the labelled
            support set (0 without one). Both are read only when the method is 'fusiondp' (labels public).
        custom_model, checkpoint, nproc, device: the network-only options the blend refuses.
    """
    if method != "fusiondp":  # nothing else is read: a record-level method's labels are protected
        return LearnerChoice("mlp", f"the network (mlp): the method is {method!r}; the blend learner trains "
                                    "'fusiondp'")
    missing = []
    if n_classes != 2:
        missing.append(f"the target has {n_classes} classes, not 2")
    if support_classes != 2:
        missing.append("no labelled support set with both classes" if support_classes < 2
                       else f"the support set's labels have {support_classes} classes")
    if epsilon is None or noise_multiplier is not None:
        missing.append("a fixed noise multiplier" if noise_multiplier is not None else "no target epsilon")
    if custom_model:
        missing.append("a custom model")
    if checkpoint:
        missing.append("a checkpoint")
    if nproc > 1:
        missing.append(f"{nproc} processes")
    if device not in (None, "cpu"):
        missing.append(f"device {device!r}")
    if missing:
        return LearnerChoice("mlp", "the network (mlp): the blend learner needs a binary target, a labelled support "
                                    "set, a target epsilon and the built-in models on one CPU process; here "
                                    + "; ".join(missing))
    return LearnerChoice("blend", "the blend learner (trees and the network on one composed epsilon): binary "
                                  "target, labelled support set, target epsilon, built-in models")
