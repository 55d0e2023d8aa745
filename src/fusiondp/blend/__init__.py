"""The blend learner (`learner="blend"`): the tree release and the network release of one run, averaged.

Privacy argument (docs/results/blend.md):

1. **Two mechanisms on the same records, composed.** One run trains the feature-level DP tree learner
   (`fusiondp.trees`: Gaussian releases of clipped leaf-sum differences, σ_t) and the network method
   `fusiondp` (`fusiondp.train`: Poisson-sampled Gaussian steps, σ_m) on the same private records. The run's
   privacy loss is that of the composition of both, the dp-accounting ``ComposedDpEvent`` of the trees' event
   at σ_t and the network's training event at σ_m; ε is computed by dp-accounting for it (the run's relation,
   and the other feature-level relation beside it, like every run), never added by hand.
2. **One calibration.** σ_t = k·a and σ_m = k·b: a and b are each part calibrated alone to its share of ε
   (``tree_share`` in ``defaults.json``, chosen on design data), and the one scalar k is calibrated so that
   the composed event spends the target ε (`fusiondp.privacy.accounting.calibrate`, the one calibration).
   Each part then trains with its σ fixed, with its own release guard as a run of that learner has
   (post-processing on the public support set).
3. **The weight is post-processing.** The released score is w·logit(p_trees) + (1 − w)·logit(p_network), w
   chosen from a fixed grid by AUROC on the labelled public support set: it reads the two released models and
   public rows only, so it costs no ε. Without a labelled support set there is nothing public to choose w on,
   and the trees' default structures need those rows too: the run is refused (ConfigError) rather than
   blended with an arbitrary weight.
"""

from fusiondp.blend.learner import BLEND_METHOD, BlendModel, blend_defaults, blend_noise, fit_blend

__all__ = ["BLEND_METHOD", "BlendModel", "blend_defaults", "blend_noise", "fit_blend"]
