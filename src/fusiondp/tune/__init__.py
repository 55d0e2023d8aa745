"""Hyperparameter selection whose privacy cost is accounted (`fusiondp tune`), settings files, and the
public-baseline check of a run."""

from fusiondp.tune.accounting import TuningPlan, compose_epsilon, plan_tuning, repeat_select_epsilon
from fusiondp.tune.settings import read_settings, write_settings

__all__ = ["TuningPlan", "compose_epsilon", "plan_tuning", "read_settings", "repeat_select_epsilon",
           "write_settings"]
