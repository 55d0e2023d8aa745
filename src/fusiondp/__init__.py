"""fusiondp: feature-level differentially private learning (FusionDP).

A foundation model imputes the sensitive features from public ones (a *hybrid*
copy of the data, public by construction); a modified DP-SGD then pays privacy
only for what the true sensitive values add. See docs/concepts.md.
"""

__version__ = "0.1.0"

__all__ = ["FeatureDPEngine", "FusionDPClassifier", "PrivacyAccountant", "load", "save", "__version__"]


def __getattr__(name: str):
    """Lazy exports: `import fusiondp` stays light (no torch or scikit-learn until used)."""
    if name == "FusionDPClassifier":
        from fusiondp.estimator import FusionDPClassifier

        return FusionDPClassifier
    if name in ("FeatureDPEngine", "PrivacyAccountant"):
        from fusiondp.train import core

        return getattr(core, name)
    if name in ("load", "save"):
        from fusiondp import io

        return getattr(io, name)
    raise AttributeError(f"module 'fusiondp' has no attribute {name!r}")
