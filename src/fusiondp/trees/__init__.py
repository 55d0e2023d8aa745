"""Feature-level DP gradient-boosted trees (docs/method.md §9).

* `binning`: bin edges from public rows only;
* `booster`: the vectorised histogram-boosting core (why by hand: see its docstring);
* `private`: the clipped, noised per-record difference histograms;
* `settings`: the tree learner's defaults rule (constants in ``defaults.json``);
* `learner`: the public stage, the private stage, the accounting and the public-support selection;
* `multiclass`: the same stages for K ≥ 3 classes (softmax boosting, one joint release per round of K trees);
* `model`: the released ensemble as a torch module.
"""

from fusiondp.trees.learner import LEARNER_METHODS, TREE_METHODS, fit_trees, tree_method

__all__ = ["LEARNER_METHODS", "TREE_METHODS", "fit_trees", "tree_method"]
