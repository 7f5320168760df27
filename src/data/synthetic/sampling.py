"""Vectorised draws and array helpers shared by the stages of the synthetic generator.

Per-persona parameter arrays (:func:`persona_values`, :func:`prob_matrix`), one categorical
draw per row by inverse CDF (:func:`draw_categorical`), integer day offsets to midnight
timestamps (:func:`days_to_datetime`, days since the start date) and zero-padded string ids
(:func:`zfill_ids`). Nothing here draws unless given the generator's ``rng``.
"""

from __future__ import annotations

import numpy as np

from src.data.synthetic.planted import Persona

__all__ = [
    "days_to_datetime",
    "draw_categorical",
    "persona_values",
    "prob_matrix",
    "zfill_ids",
]


def persona_values(attr: str, personas: list[Persona]) -> np.ndarray:
    """One scalar parameter of every persona as a float array of shape (n_personas,)."""
    return np.array([getattr(p, attr) for p in personas], dtype=float)


def prob_matrix(attr: str, personas: list[Persona]) -> np.ndarray:
    """Stack one probability tuple of every persona into an array (n_personas, k), padded."""
    rows = [np.asarray(getattr(p, attr), dtype=float) for p in personas]
    k = max(len(r) for r in rows)
    out = np.zeros((len(rows), k))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def draw_categorical(rng: np.random.Generator, group: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Draw one category index per row from ``probs[group[row]]`` (inverse CDF).

    Parameters
    ----------
    group : (n,) int array of row groups (persona index).
    probs : (n_groups, k) probabilities; rows may sum to less than 1, the remainder maps to
        index ``k`` ("none").

    Returns
    -------
    (n,) int16 array of indices in ``0 .. k``.
    """
    k = probs.shape[1]
    cum = np.cumsum(probs, axis=1)
    full = np.isclose(probs.sum(axis=1), 1.0)
    # rows that sum to one: never fall off the end through rounding (trailing zeros included)
    cum[full] = np.where(cum[full] >= 1.0 - 1e-9, 2.0, cum[full])
    # one search over all groups: group g lives in [3 g, 3 g + 2]
    offset = 3.0 * np.arange(probs.shape[0])
    flat = (cum + offset[:, None]).ravel()
    g = group.astype(np.int64)
    u = rng.random(group.shape[0]) + offset[g]
    return (np.searchsorted(flat, u, side="right") - k * g).astype(np.int16)


def days_to_datetime(start: np.datetime64, days: np.ndarray) -> np.ndarray:
    """Integer day offsets from ``start`` -> ``datetime64[ns]`` at midnight."""
    return (start + days.astype("timedelta64[D]")).astype("datetime64[ns]")


def zfill_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded ``numbers`` as an object array of Python strings.

    Builds the UCS-4 code points digit by digit (much faster than string formatting).
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    width = max(width, len(str(int(numbers.max()))) if numbers.size else width)
    codes = np.empty((numbers.size, len(prefix) + width), dtype=np.uint32)
    codes[:, : len(prefix)] = [ord(c) for c in prefix]
    x = numbers.copy()
    for pos in range(len(prefix) + width - 1, len(prefix) - 1, -1):
        x, digit = np.divmod(x, 10)
        codes[:, pos] = digit + 48
    return codes.view(f"<U{codes.shape[1]}").ravel().astype(object)
