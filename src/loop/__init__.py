"""The closed marketing loop: lists with control groups, measured next time.

Random control groups (:mod:`.control_groups`), the campaign register (:mod:`.campaign_register`),
treated-vs-control results (:mod:`.campaign_results`), the backtest of the last run's scores
(:mod:`.backtest`) and the KPIs against their targets (:mod:`.kpis`). Uses the business words of
:mod:`src.features.definitions`; no estimator.
"""
