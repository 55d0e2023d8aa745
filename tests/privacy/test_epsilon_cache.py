"""The per-epoch ε (coarse PLD) reuses one-step PLDs: the same value as dp-accounting's accountant."""

import pytest

from fusiondp.privacy.accounting import _accountant, _step_pld, epsilon, training_event


@pytest.mark.parametrize("relation", ["remove", "replace", "add_remove"])
def test_cached_coarse_epsilon_is_the_accountants(relation):
    for q, sigma, steps in ((0.07, 1.2, 181), (0.3, 0.9, 12)):
        acc = _accountant("pld", relation, coarse=True)
        acc.compose(training_event(sigma, q, steps))
        ours = epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=1e-5, relation=relation,
                       coarse=True)
        assert ours == pytest.approx(acc.get_epsilon(1e-5), rel=1e-9)
    # one PLD per (σ, q, relation), not per step count; ε still grows with the steps
    before = _step_pld.cache_info().currsize
    e = [epsilon(noise_multiplier=1.1, sample_rate=0.05, steps=t, delta=1e-5, relation=relation, coarse=True)
         for t in (10, 20, 40)]
    assert _step_pld.cache_info().currsize == before + 1 and e[0] < e[1] < e[2]
