"""Empirical privacy audits of the sensitive features (`fusiondp audit`).

* `fusiondp.audit.attribute`: attribute-inference attack on a released model, against the
  public-information baseline and held-out rows;
* `fusiondp.audit.canary`: one-run canary audit (Steinke, Nasr, Jagielski 2023) giving an empirical
  lower bound on ε for the feature-level relation;
* `fusiondp.audit.bounds`: the ε lower bound from (canaries, guesses, correct, δ, confidence).
"""

from fusiondp.audit.attribute import Attacker, attribute_audit, fit_attacker
from fusiondp.audit.bounds import best_lower_bound, epsilon_lower_bound, p_value
from fusiondp.audit.canary import CanaryAudit, accounted_epsilon, canary_audit, plant_canaries

__all__ = ["Attacker", "CanaryAudit", "accounted_epsilon", "attribute_audit", "best_lower_bound", "canary_audit",
           "epsilon_lower_bound", "fit_attacker", "p_value", "plant_canaries"]
