"""Random control groups of the campaign lists: who is held back, reproducibly.

A list's customers are split into a treated arm (in the list file, contacted) and a control
arm (recorded, never contacted) so that ``06_campaign_results`` can measure what the campaign
changed: with a random split, the control arm shows what the treated customers would have
done without the campaign.

The draw is stratified (by value tier by default): within each stratum exactly
``round(share * n)`` customers are held back, so both arms have the same tier mix and a
small tier is not left without controls by chance. It is seeded by the job's seed, the
list's name and the cut-off, and made on the customers sorted by id, so the same run gives
the same arms whatever the row order, and two lists or two weeks get independent draws.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

__all__ = ["ARM_CONTROL", "ARM_TREATED", "assign_control"]

ARM_TREATED = "treated"
ARM_CONTROL = "control"


def assign_control(customer_ids: pd.Series, share: float, *, seed: int, key: str,
                   strata: pd.Series | None = None) -> np.ndarray:
    """Which customers of one list are held back as controls.

    Parameters
    ----------
    customer_ids : the list's customers, one row each (n,).
    share : control share in [0, 1); in each stratum ``round(share * n_stratum)`` customers
        are controls.
    seed : the job's seed.
    key : what makes this draw distinct (e.g. ``"<list>|<cut-off>"``).
    strata : the stratum of each customer (n,), aligned with ``customer_ids``; missing values
        form a stratum of their own; None: one stratum.

    Returns
    -------
    np.ndarray of bool (n,) : True for the controls, in the order of ``customer_ids``.
    """
    if not 0 <= share < 1:
        raise ValueError(f"control share must be in [0, 1); got {share}")
    n = len(customer_ids)
    control = np.zeros(n, dtype=bool)
    if n == 0 or share == 0:
        return control
    ids = customer_ids.astype(str).to_numpy()
    group = (np.zeros(n, dtype=object) if strata is None
             else strata.astype(object).where(strata.notna(), "\x00missing").astype(str).to_numpy())
    rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(key.encode("utf-8"))])
    for stratum in sorted(pd.unique(group)):
        rows = np.flatnonzero(group == stratum)
        rows = rows[np.argsort(ids[rows], kind="stable")]  # independent of the row order
        k = int(round(share * len(rows)))
        if k:
            control[rng.choice(rows, size=k, replace=False)] = True
    return control
