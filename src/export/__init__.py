"""Exports of a run: the marketing lists."""
