"""The tree learner's settings and its defaults rule (public quantities only).

`auto_tree_settings(n_rows, epsilon, n_features)` reads its constants from
``defaults.json`` next to this module (tuned values live in data, not code).
Nothing here reads a data value: N, ε and the feature count are public.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from fusiondp._validate import positive
from fusiondp.errors import ConfigError

_FILE = Path(__file__).with_name("defaults.json")
FEATURE_SETS = ("all", "sensitive")
#: How the private trees get their structure (docs/method.md §9): grown on the labelled public support set, so
#: only leaf sums are private ('support'), or from noised difference histograms ('histograms').
STRUCTURES = ("support", "histograms")
#: How the leaf mechanism's released leaf sums become leaf values (`fusiondp.trees.guard.leaf_values`).
SHRINKAGES = ("james_stein", "none")


@functools.cache
def tree_defaults() -> dict:
    """The constants of the rule, from ``defaults.json``."""
    return json.loads(_FILE.read_text())


@dataclass(frozen=True)
class TreeSettings:
    """Hyperparameters of one tree run (docs/method.md §9).

    Attributes:
        bins: bins per feature (edges from public rows).
        private_bins: bins per feature of the private histograms (the public bins merged in groups of
            ``bins // private_bins``): fewer cells under a cut, less noise summed.
        public_depth, public_rounds, public_lr: the public stage (hybrid rows, ε = 0); with a labelled
            public support set the number of public trees kept is chosen on it (ε = 0).
        private_depth, private_rounds, private_lr: the private correction rounds; each round releases
            one noised histogram set per level (private_depth releases per round).
        clip: L2 bound C of one record's difference vector at one level.
        features: 'all' (every feature's histogram gets the private difference term; default) or
            'sensitive' (only the sensitive features' histograms are released and split on in the
            private rounds).
        public_features: 'all' (the public stage splits on every column, imputed sensitive ones included)
            or 'public' (it splits on the public columns only; the sensitive ones enter through the
            private rounds).
        l2, max_leaf: leaf-value penalty and cap; public_min_hessian, private_min_hessian: least hessian
            per side of a cut (the private one grows with the noise std σC, a public quantity); with
            ``private_structure='support'`` a leaf whose released hessian sum is below
            ``private_min_hessian_times_noise · σC`` gets value 0.
        private_structure: 'support' (each private tree's splits are grown on the labelled public support
            set under the current model; only its leaf sums (G, H) are released, one Gaussian release per
            tree) or 'histograms' (splits chosen from noised difference histograms, one release per level).
        structure_min_hessian: least support-set hessian per side of a cut when growing a structure.
        guard_fraction: with ``private_structure='support'``, the fraction of the support rows held out
            (stratified, public permutation) to choose how many private trees to keep; the rest grow the
            structures. 0: all rows do both (the guard is in-sample for the splits).
        structure_candidates, structure_row_fraction, structure_col_fraction: with
            ``private_structure='support'``, each private round grows this many candidate structures on
            public random subsamples (these fractions of the support rows and of the columns) and keeps the
            one whose released leaf sums promise the largest gain (`fusiondp.trees.structures`); every
            candidate is one release. 1, 1.0, 1.0: the single support-grown structure.
        private_start_trees: the private stage starts from at most this many of the selected public trees
            (None: all of them); the guard still compares with the whole selected public stage.
        private_shrinkage: with ``private_structure='support'``, how released leaf sums become leaf values:
            'james_stein' (the release minus the hybrid rows' sums shrunk towards 0 by the known noise σC;
            post-processing, `fusiondp.trees.guard.leaf_values`) or 'none' (the release as it is).
        guard_z: with a labelled support set, private trees are released only if their support log-loss gain
            over the whole public stage exceeds this many standard errors (paired, per row;
            `fusiondp.trees.guard.significant_gain`); 0: any gain.
    """

    bins: int = 32
    public_depth: int = 4
    public_rounds: int = 300
    public_lr: float = 0.1
    private_bins: int = 32
    private_depth: int = 3
    private_rounds: int = 10
    private_lr: float = 0.3
    clip: float = 0.5
    features: str = "all"
    public_features: str = "all"
    l2: float = 1.0
    max_leaf: float = 2.0
    public_min_hessian: float = 1.0
    private_min_hessian_times_noise: float = 2.0
    private_structure: str = "histograms"
    structure_min_hessian: float = 5.0
    guard_fraction: float = 0.0
    structure_candidates: int = 1
    structure_row_fraction: float = 1.0
    structure_col_fraction: float = 1.0
    private_start_trees: int | None = None
    private_shrinkage: str = "none"
    guard_z: float = 0.0

    @property
    def releases_per_round(self) -> int:
        """Gaussian releases per private tree: one (leaf sums) or one per level (histograms)."""
        return self.structure_candidates if self.private_structure == "support" else self.private_depth

    def validate(self) -> None:
        positive(private_bins=self.private_bins, bins=self.bins, public_depth=self.public_depth,
                 public_lr=self.public_lr,
                 private_depth=self.private_depth, private_lr=self.private_lr, clip=self.clip, l2=self.l2,
                 max_leaf=self.max_leaf)
        if self.public_rounds < 0 or self.private_rounds < 0:
            raise ConfigError("Tree rounds must be >= 0.")
        if self.public_depth > 10 or self.private_depth > 10:
            raise ConfigError("Tree depth above 10 is not supported (2**depth leaves per tree).")
        if self.public_features not in ("all", "public"):
            raise ConfigError(f"Tree public features must be 'all' or 'public', got {self.public_features!r}.")
        if self.features not in FEATURE_SETS:
            raise ConfigError(f"Tree private features must be one of {FEATURE_SETS}, got {self.features!r}.")
        if not 0 <= self.guard_fraction < 1:
            raise ConfigError(f"Tree guard_fraction must be in [0, 1), got {self.guard_fraction!r}.")
        if self.private_start_trees is not None and self.private_start_trees < 0:
            raise ConfigError(f"Tree private_start_trees must be >= 0, got {self.private_start_trees!r}.")
        if self.structure_candidates < 1:
            raise ConfigError(f"Tree structure_candidates must be >= 1, got {self.structure_candidates!r}.")
        if not (0 < self.structure_row_fraction <= 1 and 0 < self.structure_col_fraction <= 1):
            raise ConfigError("Tree structure_row_fraction and structure_col_fraction must be in (0, 1].")
        if self.guard_z < 0:
            raise ConfigError(f"Tree guard_z must be >= 0, got {self.guard_z!r}.")
        if self.private_shrinkage not in SHRINKAGES:
            raise ConfigError(f"Tree private_shrinkage must be one of {SHRINKAGES}, got {self.private_shrinkage!r}.")
        if self.private_structure not in STRUCTURES:
            raise ConfigError(f"Tree private structure must be one of {STRUCTURES}, got {self.private_structure!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def auto_tree_settings(n_rows: int, epsilon: float | None, n_features: int, support_labels: bool = False,
                       **given) -> TreeSettings:
    """The defaults rule: settings from N, ε, the feature count and whether a labelled public support set
    is given (all public); `given` values win.

    With support labels the private trees take their structure from the support set (``private_leaves``
    in ``defaults.json``); without, from noised histograms (``private``). Private rounds grow with ε
    (``rounds_per_epsilon · ε``, clamped); the public stage's least hessian per cut grows with N
    (``min_hessian_per_row · N``, at least ``min_hessian``).

    >>> auto_tree_settings(14_000, 2.0, 69).private_rounds
    6
    >>> auto_tree_settings(14_000, 2.0, 69, support_labels=True).private_structure
    'support'
    """
    d = tree_defaults()
    pub = d["public"]
    leaves = support_labels and given.get("private_structure") != "histograms"
    priv = d["private_leaves"] if leaves else d["private"]
    eps = epsilon if epsilon is not None and math.isfinite(epsilon) else priv["rounds_max"] / priv["rounds_per_epsilon"]
    rounds = int(min(priv["rounds_max"], max(priv["rounds_min"], round(priv["rounds_per_epsilon"] * eps))))
    s = TreeSettings(bins=d["bins"], private_bins=priv.get("bins", d["bins"]), public_depth=pub["depth"],
                     public_rounds=pub["rounds"], public_lr=pub["lr"],
                     private_depth=priv["depth"], private_rounds=rounds, private_lr=priv["lr"], clip=priv["clip"],
                     features=priv["features"], public_features=pub["features"], l2=d["l2"], max_leaf=d["max_leaf"],
                     public_min_hessian=max(pub["min_hessian"], pub["min_hessian_per_row"] * n_rows),
                     private_min_hessian_times_noise=priv["min_hessian_times_noise"],
                     private_structure="support" if leaves else "histograms",
                     structure_min_hessian=priv.get("structure_min_hessian", 5.0),
                     guard_fraction=priv.get("guard_fraction", 0.0),
                     structure_candidates=priv.get("structure_candidates", 1),
                     structure_row_fraction=priv.get("structure_row_fraction", 1.0),
                     structure_col_fraction=priv.get("structure_col_fraction", 1.0),
                     private_start_trees=priv.get("start_public_trees"),
                     private_shrinkage=priv.get("shrinkage", "none"),
                     guard_z=priv.get("guard_z", 0.0))
    names = {f.name for f in fields(TreeSettings)}
    if unknown := sorted(set(given) - names):
        raise ConfigError(f"Unknown tree setting(s) {unknown}; known: {', '.join(sorted(names))}.")
    s = replace(s, **{k: v for k, v in given.items() if v is not None})
    s.validate()
    return s
