"""Leaderboards and reports: published tables as data, measured rows, tables, statistics, plots.

Importing the package is cheap: numpy, pandas and matplotlib are imported by the modules that
need them. Entry points for the CLI are in :mod:`univs_bench.report.commands`.
"""
from __future__ import annotations

NOT_CAPABLE = "-"
"""Cell marker: the model lacks this capability (as in the UniVS paper)."""
NOT_REPORTED = "*"
"""Cell marker: the result is not reported (as in the UniVS paper)."""
NOT_DEFINED = "n/a"
"""Cell marker for measured rows: the evaluator returned null (the data does not define it)."""
EMPTY = ""
"""A cell the paper left empty; kept empty rather than guessed."""
NOT_RUN = "n/r"
"""Cell marker for measured rows: the model was not run on this benchmark."""
NOT_SCORED = "srv"
"""Cell marker for measured rows: predictions written for the evaluation server, no local GT."""

MARKERS = (NOT_CAPABLE, NOT_REPORTED, NOT_DEFINED, EMPTY, NOT_RUN, NOT_SCORED)

__all__ = ["EMPTY", "MARKERS", "NOT_CAPABLE", "NOT_DEFINED", "NOT_REPORTED", "NOT_RUN", "NOT_SCORED"]
