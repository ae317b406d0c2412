"""BG/NBD (transactions) and Gamma–Gamma (spend) models, written on scipy.

The likelihoods and conditional expectations are those of Fader, Hardie & Lee, "Counting Your
Customers the Easy Way: An Alternative to the Pareto/NBD Model" (Marketing Science, 2005) and
"RFM and CLV: Using Iso-Value Curves for Customer Base Analysis" (JMR, 2005), with the notation
of the papers: a customer's calibration summary is ``x`` repeat transactions, ``t_x`` the time
of the last one and ``T`` the time since the first one. Parameters are fitted by maximum
likelihood on their logarithms (they must be positive) with L-BFGS-B. Why not a library:
``lifetimes`` is unmaintained since 2020, its fork ``btyd`` stopped at a 2022 beta, and
``pymc-marketing`` (maintained) brings PyMC and a compiler toolchain for what is here a few
closed-form functions; these ~100 lines are checked in the tests against simulated data with
known parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, special


class FitError(ValueError):
    """The optimiser did not converge to usable parameters."""


@dataclass(frozen=True)
class BGNBDParams:
    """BG/NBD: transaction rate ~ Gamma(r, alpha); dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma–Gamma: spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, gamma)."""

    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def population_mean(self) -> float:
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")


def _arrays(*values: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def bgnbd_log_likelihood(
    params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood of (x, t_x, T) (FHL 2005, equation 6)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters for the calibration summaries."""
    x, t_x, T = _arrays(x, t_x, T)
    if x.size == 0:
        raise FitError("no customer to fit the BG/NBD model on")

    def objective(theta: np.ndarray) -> float:
        params = BGNBDParams(*np.exp(theta))
        return -float(np.sum(bgnbd_log_likelihood(params, x, t_x, T))) / x.size

    start = np.log([1.0, max(float(np.mean(T)), 1.0), 1.0, 1.0])
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[(-12, 12)] * 4)
    if not np.isfinite(result.fun):
        raise FitError(f"the BG/NBD fit did not converge ({result.message})")
    return BGNBDParams(*(float(v) for v in np.exp(result.x)))


def probability_alive(
    params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(customer still alive at T | x, t_x, T)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    ratio = np.where(
        repeat,
        (a / np.where(repeat, b + x - 1, 1.0)) * ((alpha + T) / (alpha + t_x)) ** (r + x),
        0.0,
    )
    return 1.0 / (1.0 + ratio)


def expected_transactions(
    params: BGNBDParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[transactions in (T, T + t] | x, t_x, T] (FHL 2005, equation 10)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    repeat = x > 0
    denominator = 1 + np.where(
        repeat,
        (a / np.where(repeat, b + x - 1, 1.0)) * ((alpha + T) / (alpha + t_x)) ** (r + x),
        0.0,
    )
    return first * second / denominator


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood of the mean spend ``m`` over ``x`` transactions (x >= 1)."""
    x, m = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(g + m * x)
    )


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGammaParams:
    """Maximum-likelihood Gamma–Gamma parameters (customers with x >= 1 and m > 0 only)."""
    x, m = _arrays(x, m)
    keep = (x >= 1) & (m > 0)
    x, m = x[keep], m[keep]
    if x.size < 3:
        raise FitError("fewer than 3 repeat customers to fit the Gamma-Gamma model on")

    def objective(theta: np.ndarray) -> float:
        params = GammaGammaParams(*np.exp(theta))
        return -float(np.sum(gamma_gamma_log_likelihood(params, x, m))) / x.size

    start = np.log([1.0, 2.0, max(float(np.mean(m)), 1.0)])
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[(-12, 12)] * 3)
    if not np.isfinite(result.fun):
        raise FitError(f"the Gamma-Gamma fit did not converge ({result.message})")
    return GammaGammaParams(*(float(v) for v in np.exp(result.x)))


def expected_average_value(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[spend per transaction | x, m] (FHL 2005b): a shrinkage of m towards the population mean."""
    x, m = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    m = np.where(x > 0, m, 0.0)
    return (g + m * x) * p / (p * x + q - 1)
