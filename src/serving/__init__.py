"""Serving: fitted models out of the lab and back in.

The MLflow registry and its gates (:mod:`.registry`, :mod:`.champion`), the one pyfunc
(:mod:`.pyfunc`) and batch / Spark scoring of registered scorers (:mod:`.batch`).
"""
