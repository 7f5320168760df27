"""Churn drivers in business words: hazard ratios of a fitted churn model.

:func:`hazard_ratio_table` reports each encoded covariate of a fitted
:class:`~src.models.churn.model.ChurnModel` per a natural increment (1 for counts and
flags, 30 days for ``*_days`` columns, 10 percentage points for shares in [0, 1], a round
number near one standard deviation otherwise), with its hazard ratio, 95 % interval and
p-value (Cox coefficients, or the Weibull AFT time ratio converted to a PH hazard ratio by
the delta method) and a one-line description; stratified covariates get a row without a
ratio. The helpers here only read the fitted model's attributes; they import nothing from
the model module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def hazard_ratio_table(model: Any) -> pd.DataFrame:
    """The driver table of :meth:`ChurnModel.hazard_ratios` (see there) for a fitted
    ``model``, read through its fitted attributes (``kind``, ``encoder_``, ``fitter_``,
    ``time_interactions_``, ``strata_``, ``user_strata_``, ``x_mean_``, ``rho_coef_``)."""
    if model.kind == "km":
        return pd.DataFrame(
            columns=["covariate", "source", "per", "hazard_ratio", "lower_95",
                     "upper_95", "p", "time_ratio", "description"]
        )
    from scipy.stats import norm

    spec = model.encoder_.spec_
    z = norm.ppf(0.975)
    rows = []
    for col, r in spec.iterrows():
        per = _natural_increment(col, r)
        if model.kind == "coxph":
            s = model.fitter_.summary.loc[col]
            b, se, p = float(s["coef"]), float(s["se(coef)"]), float(s["p"])
            loghr, logse, tr = b * per, se * per, np.nan
        else:
            s = model.fitter_.summary.loc[("lambda_", col)]
            b, p = float(s["coef"]), float(s["p"])
            tr = _exp(b * per)
            if col in model.time_interactions_:
                loghr, logse = np.nan, np.nan
            else:
                loghr, logse = _aft_log_hr(model, col)
                loghr, logse = loghr * per, logse * per
        rows.append(
            dict(
                covariate=col, source=r["source"], per=per,
                hazard_ratio=_exp(loghr),
                lower_95=_exp(loghr - z * logse),
                upper_95=_exp(loghr + z * logse),
                p=p, time_ratio=tr,
            )
        )
    out = pd.DataFrame(rows)
    out["description"] = [
        _describe(row, spec.loc[row["covariate"]], model.time_interactions_)
        for _, row in out.iterrows()
    ]
    out["_strength"] = np.abs(np.log(out["hazard_ratio"]))
    out = out.sort_values("_strength", ascending=False, na_position="last")
    out = out.drop(columns="_strength")
    for src in model.strata_:
        why = "by request" if src in model.user_strata_ else "hazards not proportional"
        out.loc[len(out)] = dict(
            covariate=src, source=src, per=np.nan, hazard_ratio=np.nan, lower_95=np.nan,
            upper_95=np.nan, p=np.nan, time_ratio=np.nan,
            description=f"{_label(src)}: stratified ({why}), so its effect is in the "
            "baseline hazard, not a single ratio",
        )
    return out.reset_index(drop=True)


def _aft_log_hr(model: Any, col: str) -> tuple[float, float]:
    """Weibull AFT -> PH: log HR = -beta * rho at the average shape; delta-method se."""
    p = model.fitter_.params_
    V = model.fitter_.variance_matrix_
    X_mean = dict(zip(model.encoder_.columns_, model.x_mean_, strict=True))
    a = {("rho_", c): (1.0 if c == "Intercept" else X_mean[c]) for c in model.rho_coef_.index}
    rho = float(np.exp(sum(float(p[k]) * v for k, v in a.items())))
    b = float(p[("lambda_", col)])
    g = pd.Series(0.0, index=V.index)
    g[("lambda_", col)] = -rho
    for k, v in a.items():
        g[k] += -b * rho * v
    var = float(g.to_numpy() @ V.to_numpy() @ g.to_numpy())
    return -b * rho, float(np.sqrt(max(var, 0.0)))


def _exp(x: float) -> float:
    """exp without overflow warnings (separated covariates have huge log ratios)."""
    return float(np.exp(np.clip(x, -700.0, 700.0))) if np.isfinite(x) else float(np.exp(x))


def _natural_increment(col: str, r: pd.Series) -> float:
    if r["binary"] or r["role"] != "numeric":
        return 1.0
    if col.endswith("_days"):
        return 30.0
    if r["integer"]:
        return 1.0
    std = float(r["std"])
    if (
        col.startswith(("product_", "dest_", "channel_")) or col.endswith("_share")
    ) and std <= 1:
        return 0.1
    if not np.isfinite(std) or std <= 0:
        return 1.0
    e = 10 ** np.floor(np.log10(std))
    return float(min((1, 2, 5, 10), key=lambda m: abs(m * e - std)) * e)


def _label(col: str) -> str:
    return col.replace("_", " ")


_BUSINESS_WORDS: dict[str, tuple[str, str]] = {
    # feature -> (singular, plural) increment wording; "{n}" is the increment
    "recency_days": ("one more day since the last booking", "{n} more days since the last booking"),
    "tenure_days": ("one more day since the first booking", "{n} more days since the first booking"),
    "active_span_days": ("one more day between first and last booking",
                         "{n} more days between first and last booking"),
    "frequency": ("one more repeat booking", "{n} more repeat bookings"),
    "n_bookings": ("one more completed booking", "{n} more completed bookings"),
    "n_cancelled": ("one more cancelled booking", "{n} more cancelled bookings"),
    "n_no_show": ("one more no-show", "{n} more no-shows"),
    "monetary_mean": ("one more unit of average spend per booking",
                      "{n} more average spend per booking (currency)"),
    "monetary_total": ("one more unit of total spend", "{n} more total spend (currency)"),
    "csat_mean": ("one point higher mean CSAT", "{n} points higher mean CSAT"),
    "nps_mean": ("one point higher mean NPS", "{n} points higher mean NPS"),
    "first_trip_csat": ("one point higher first-trip CSAT", "{n} points higher first-trip CSAT"),
}


def _increment_text(col: str, r: pd.Series, per: float) -> str:
    src = str(r["source"])
    if r["role"] == "level":
        return f"{_label(src)} '{r['level']}' (vs '{r['reference']}')"
    if r["role"] == "missing_indicator":
        return f"{_label(src)} unknown"
    if col.startswith("first_trip_complaint_") and r["binary"]:
        return f"a '{col[len('first_trip_complaint_'):]}' complaint about the first trip (vs none)"
    if col == "first_trip_low_csat":
        return "a low first-trip CSAT (1-2 of 5, vs higher or no survey)"
    if col.startswith("complaints_"):
        cat = col[len("complaints_"):]
        what = "complaint" if cat == "total" else f"{cat} complaint"
        return f"one more {what}"
    if r["binary"]:
        return f"{_label(col)} (yes vs no)"
    if col in _BUSINESS_WORDS:
        one, many = _BUSINESS_WORDS[col]
        return one if per == 1 else many.format(n=f"{per:g}")
    if col.endswith("_days"):
        return f"{per:g} more days of {_label(col[:-5])}"
    if per == 0.1 and col.startswith(("product_", "dest_", "channel_")):
        return f"10 points more of bookings with {_label(col)}"
    if per == 1:
        return f"one more {_label(col)}"
    return f"{per:g} more {_label(col)}"


def _describe(row: pd.Series, r: pd.Series, time_interactions: list[str]) -> str:
    inc = _increment_text(row["covariate"], r, row["per"])
    if row["covariate"] in time_interactions:
        return (
            f"{inc}: effect changes with time (time interaction on the Weibull shape); "
            f"time ratio {row['time_ratio']:.2f}"
        )
    hr = row["hazard_ratio"]
    change = f"+{(hr - 1) * 100:.0f}%" if hr >= 1 else f"-{(1 - hr) * 100:.0f}%"
    return (
        f"{inc} multiplies the churn hazard by {hr:.2f} ({change}; 95% CI "
        f"{row['lower_95']:.2f}-{row['upper_95']:.2f})"
    )
