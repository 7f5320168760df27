"""Plotting functions: each takes fitted models or tables and returns a matplotlib Figure
(never fits anything)."""
