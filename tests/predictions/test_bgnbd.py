"""The scipy BG/NBD and Gamma–Gamma against data simulated from known parameters.

The simulation follows the models' stories directly (Poisson purchases at a Gamma rate, a
Beta dropout chance after each purchase; Gamma spend around a Gamma-distributed mean), so
it is independent of the closed forms under test: the fit must recover the parameters and the
conditional expectation must match what the simulated customers actually did next.
"""

from __future__ import annotations

import numpy as np

from predictions.bgnbd import (
    BGNBDParams,
    GammaGammaParams,
    expected_average_value,
    expected_transactions,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)

TRUE = BGNBDParams(r=0.5, alpha=20.0, a=0.8, b=3.0)


def simulate(n: int, T: float, t: float, seed: int = 5):
    """Per customer: (x, t_x, T) over [0, T] and the purchases in (T, T + t]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE.r, 1 / TRUE.alpha, size=n)
    p = rng.beta(TRUE.a, TRUE.b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    after = np.zeros(n)
    for i in range(n):
        now = 0.0
        while True:
            now += rng.exponential(1 / lam[i])
            if now > T + t:
                break
            if now <= T:
                x[i] += 1
                t_x[i] = now
            else:
                after[i] += 1
            if rng.random() < p[i]:  # dies after this purchase
                break
    return x, t_x, np.full(n, T), after


def test_bgnbd_recovers_parameters_and_predicts_the_next_period() -> None:
    x, t_x, T, after = simulate(8000, T=300.0, t=90.0)
    fitted = fit_bgnbd(x, t_x, T)
    for name in ("r", "alpha", "a", "b"):
        true, got = getattr(TRUE, name), getattr(fitted, name)
        assert abs(got - true) / true < 0.25, (name, true, got)
    predicted = expected_transactions(fitted, 90.0, x, t_x, T)
    assert abs(predicted.sum() - after.sum()) / after.sum() < 0.08, (predicted.sum(), after.sum())
    # Customers with many purchases long ago are likely gone; recent ones alive.
    alive = probability_alive(fitted, np.array([5.0, 5.0, 0.0]), np.array([20.0, 295.0, 0.0]),
                              np.array([300.0, 300.0, 300.0]))  # fmt: skip
    assert alive[0] < 0.2 < 0.8 < alive[1] and alive[2] == 1.0


def test_gamma_gamma_recovers_parameters_and_shrinks_towards_the_mean() -> None:
    rng = np.random.default_rng(9)
    true = GammaGammaParams(p=6.0, q=4.0, gamma=30.0)
    n = 6000
    x = rng.integers(1, 12, size=n).astype(float)
    nu = rng.gamma(true.q, 1 / true.gamma, size=n)
    m = np.array([rng.gamma(true.p, 1 / v, size=int(k)).mean() for v, k in zip(nu, x, strict=True)])
    fitted = fit_gamma_gamma(x, m)
    for name in ("p", "q", "gamma"):
        t, g = getattr(true, name), getattr(fitted, name)
        assert abs(g - t) / t < 0.25, (name, t, g)
    # One purchase of 200 says less than ten purchases averaging 200.
    one, ten = expected_average_value(fitted, np.array([1.0, 10.0]), np.array([200.0, 200.0]))
    assert fitted.population_mean < one < ten < 200.0
