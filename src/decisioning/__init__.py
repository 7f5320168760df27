"""Decisioning: what each customer is told and offered, from the estimators' outputs.

The scorer (:mod:`.scoring`), the published churn columns (:mod:`.churn_scores`), the
lifecycle stages (:mod:`.lifecycle`), the next-best actions (:mod:`.actions`) and the names and
types of the scored columns (:mod:`.scored_columns`). Imports estimators (``src.models``) and
features; nothing here fits a statistical model of its own.
"""
