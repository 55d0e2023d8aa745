"""fusiondp: feature-level differentially private learning (FusionDP).

A foundation model imputes the sensitive features from public ones (a *hybrid*
copy of the data, public by construction); a modified DP-SGD then pays privacy
only for what the true sensitive values add. See docs/concepts.md.
"""

__version__ = "0.1.0"
