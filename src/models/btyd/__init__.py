"""Buy-till-you-die models: BG/NBD purchases, Gamma-Gamma spend, discounted CLV, in our own
vectorized numpy/scipy engine (``lifetimes`` and ``pymc-marketing`` are benchmark references
only, see ``benchmarks/bench_btyd.py``): :class:`BGNBD` (:mod:`.bgnbd`) counts purchases,
:class:`GammaGamma` (:mod:`.gamma_gamma`) models spend per purchase,
:func:`customer_lifetime_value` (:mod:`.value`) combines them, and both models are fitted by
maximum likelihood on log-parameters (:mod:`.base`). Per-customer inputs are the BTYD summary
(see :mod:`src.features.rfm_summary`): ``frequency`` x (number of repeat purchase days),
``recency`` t_x (first to last purchase) and ``T`` (first purchase to the end of
observation), recency and T in one time unit (days, weeks, ...), and ``monetary_value`` (mean
spend of the repeat purchases, currency units); every prediction is in that time unit, every
spend and CLV in that currency.
"""

from src.models.btyd.bgnbd import (
    BGNBD,
    bgnbd_log_likelihood,
    simulate_bgnbd,
)
from src.models.btyd.gamma_gamma import GammaGamma, simulate_gamma_gamma
from src.models.btyd.value import customer_lifetime_value

__all__ = [
    "BGNBD",
    "GammaGamma",
    "bgnbd_log_likelihood",
    "customer_lifetime_value",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
]
