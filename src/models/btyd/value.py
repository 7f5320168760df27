"""Discounted customer lifetime value from a fitted BG/NBD and Gamma-Gamma pair, the
definition of ``lifetimes``: over K periods of length L (in the BG/NBD model's time unit, e.g.
30 days), the customer's expected purchases in each period times the Gamma-Gamma expected
spend per purchase (currency units), discounted by ``(1 + d)^-k`` at the rate d per period;
the result is in currency units.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from src.models.btyd.base import check_histories
from src.models.btyd.bgnbd import BGNBD
from src.models.btyd.gamma_gamma import GammaGamma

__all__ = [
    "customer_lifetime_value",
]

def customer_lifetime_value(
    bgnbd: BGNBD, gamma_gamma: GammaGamma,
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, monetary_value: ArrayLike,
    *, horizon_periods: int, period_length: float, discount_rate_per_period: float,
) -> np.ndarray:
    """Discounted expected value of each customer's future purchases.

    ``CLV = sum_{k=1..K} (E[X(k L)] - E[X((k-1) L)]) * spend / (1 + d)^k`` with X the
    conditional BG/NBD purchase count after T, spend the Gamma-Gamma expected average spend,
    K = ``horizon_periods``, L = ``period_length`` and d = ``discount_rate_per_period``
    (the definition of ``lifetimes.utils._customer_lifetime_value``).

    Parameters
    ----------
    bgnbd, gamma_gamma : fitted models.
    frequency, recency, T : shape (n,) histories, in the BG/NBD model's time unit.
    monetary_value : shape (n,), mean spend of the repeat purchases (currency units).
    horizon_periods : K, number of periods (e.g. 12 months).
    period_length : L, length of a period in the model's time unit (e.g. 30 days).
    discount_rate_per_period : d, e.g. 0.01 per month.

    Returns
    -------
    ndarray, shape (n,): CLV in currency units.
    """
    if horizon_periods < 1 or period_length <= 0 or discount_rate_per_period <= -1:
        raise ValueError("need horizon_periods >= 1, period_length > 0, discount rate > -1")
    x, tx, TT = check_histories(frequency, recency, T)
    spend = gamma_gamma.conditional_expected_average_profit(x, monetary_value)
    k = np.arange(1, int(horizon_periods) + 1, dtype=np.float64)
    discount = (1.0 + discount_rate_per_period) ** -k
    purchases = bgnbd.discounted_purchases(x, tx, TT, k * period_length, discount)
    return purchases * spend
