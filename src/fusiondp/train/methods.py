"""The eight methods of docs/method.md §6, as data.

Each method is one `MethodSpec` row saying which rows feed the noise-free
(public) gradient, which per-sample term is clipped and noised, and how the
two are mixed. The step and the engine read these fields; no code branches on
a method's name. Adding a method is adding a row with `register_method`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fusiondp.errors import ConfigError

Rows = Literal["original", "hybrid", "noise"]


@dataclass(frozen=True)
class MethodSpec:
    """One training method.

    Attributes:
        name: the name used in reports and on the command line.
        public_rows: rows of the noise-free gradient (None: no public gradient).
            'original' reads private values and so is only allowed for non-private methods.
        private_term: per-sample term that is clipped and noised: 'loss' (ℓ(x)),
            'diff' (ℓ(x) − ℓ(x̃)), or None (no private gradient).
        private_view: which x̃ the 'diff' term pairs with x: 'hybrid' or 'noise'.
        consistency: add β·R_i (representation consistency) inside the private term.
        mix: 'alpha' → g_pub + α·g_priv; 'convex' → (1−β)·g_pub + β·g_priv.
        level: 'none', 'feature' (relation remove/replace) or 'record' (add/remove; nothing, not even
            preprocessing, may read a training row outside the noised term).
        summary: one line for reports.

    >>> METHODS["fusiondp"].is_private
    True
    """

    name: str
    public_rows: Rows | None
    private_term: Literal["loss", "diff"] | None
    private_view: Literal["hybrid", "noise"] | None = None
    consistency: bool = False
    mix: Literal["alpha", "convex"] = "alpha"
    level: Literal["none", "feature", "record"] = "feature"
    summary: str = ""

    def __post_init__(self) -> None:
        if self.public_rows == "original" and self.private_term is not None:
            raise ConfigError(f"Method {self.name!r}: a private method cannot read original rows noise-free.")
        if (self.private_term is None) != (self.level == "none"):
            raise ConfigError(f"Method {self.name!r}: level {self.level!r} does not match private_term "
                              f"{self.private_term!r}.")
        if self.private_term == "diff" and self.private_view is None:
            raise ConfigError(f"Method {self.name!r}: a 'diff' term needs a private_view.")

    @property
    def is_private(self) -> bool:
        return self.private_term is not None

    @property
    def views(self) -> set[str]:
        """The row views the method reads ('original', 'hybrid', 'noise')."""
        v = {self.public_rows} if self.public_rows else set()
        if self.private_term:
            v.add("original")
        if self.private_view:
            v.add(self.private_view)
        return v

    def weights(self, alpha: float, beta: float) -> tuple[float, float]:
        """(weight of the public gradient, weight of the private gradient)."""
        pub = 1.0 if self.public_rows else 0.0
        if not self.is_private:
            return pub, 0.0
        if self.mix == "convex":
            return (1.0 - beta) * pub, beta
        return pub, (alpha if self.public_rows else 1.0)

    def relation(self, requested: str) -> str:
        """The neighbouring relation the run is accounted under, decided from what the method reads.

        * a 'diff' term against a public view (fdp, fdp_fm, fusiondp): zero-out ('remove') or 'replace',
          as requested: replacing a record's sensitive values by its public view zeroes its term;
        * a 'loss' term with no noise-free gradient (dpsgd): record-level add/remove for 'remove'
          (or replace-one of a whole record for 'replace');
        * a 'loss' term beside a noise-free gradient on hybrid rows (naive_fusion): the hybrid gradient
          reads every record's public columns and label in the clear, so there is no record-level
          guarantee; for the sensitive columns the clipped ℓ(x) moves arbitrarily when they change,
          which is the replace-one relation, whatever was requested.

        >>> METHODS["naive_fusion"].relation("remove"), METHODS["dpsgd"].relation("remove")
        ('replace', 'add_remove')
        """
        if self.private_term == "loss":
            if self.public_rows is None:
                return "add_remove" if requested == "remove" else "replace"
            return "replace"
        return requested

    def other_relations(self, relation: str) -> tuple[str, ...]:
        """The relations whose ε a report shows beside the accounted one (same σ, q and steps).

        Feature-level difference methods show both 'remove' and 'replace'; dpsgd shows its
        record-level add/remove ε and its replace-one ε (what it guarantees for the sensitive
        columns under the feature-level replace relation); naive_fusion only has 'replace'.
        """
        if self.private_term == "diff":
            return tuple(r for r in ("remove", "replace") if r != relation)
        if self.public_rows is None:
            return tuple(r for r in ("add_remove", "replace") if r != relation)
        return ()

    @property
    def needs_public_preprocessing(self) -> bool:
        """Record-level methods may not fit anything on training rows, not even their public columns."""
        return self.level == "record"


METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec, *, force: bool = False) -> MethodSpec:
    """Add a method to the registry; a duplicate name is refused unless `force`."""
    if spec.name in METHODS and not force:
        raise ConfigError(f"A method named {spec.name!r} is already registered.")
    METHODS[spec.name] = spec
    return spec


for _spec in (
    MethodSpec("sgd_ori", "original", None, level="none",
               summary="plain SGD on the original data (no privacy; upper reference)"),
    MethodSpec("sgd_hybrid", "hybrid", None, level="none",
               summary="plain SGD on the hybrid data only (feature-DP with epsilon = 0)"),
    MethodSpec("sgd_pub", "noise", None, level="none",
               summary="plain SGD on public features, sensitive ones replaced by noise (epsilon = 0)"),
    MethodSpec("dpsgd", None, "loss", level="record",
               summary="standard DP-SGD on the original data (record-level DP, labels protected)"),
    MethodSpec("naive_fusion", "hybrid", "loss", mix="convex", level="feature",
               summary="(1-beta) x hybrid SGD gradient + beta x DP-SGD gradient on the original data "
                       "(feature-level, replace-one: the hybrid gradient reads public columns and labels)"),
    MethodSpec("fdp", "noise", "diff", "noise", level="feature",
               summary="FDP: private difference term against public features + noise, no foundation model"),
    MethodSpec("fdp_fm", "hybrid", "diff", "hybrid", level="feature",
               summary="FDP step with foundation-model hybrid rows, no consistency term"),
    MethodSpec("fusiondp", "hybrid", "diff", "hybrid", consistency=True, level="feature",
               summary="FusionDP: hybrid public gradient + noised difference and representation-consistency term"),
):
    register_method(_spec)


def get_method(name: str) -> MethodSpec:
    """Look a method up by name, with the list of choices in the error."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"Unknown method {name!r}; choose one of {', '.join(METHODS)}.") from None
