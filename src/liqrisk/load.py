"""Portfolio input → validated :class:`~liqrisk.model.Portfolio`: the input file's checks
(:mod:`liqrisk.io.portfolio`) with each venue's own rule set answering what it accepts, then the
conversion to model objects (:mod:`liqrisk.io.to_model`). Every problem of the file is reported
at once in one :class:`~liqrisk.io.portfolio.InputError`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from liqrisk.io import portfolio as _file
from liqrisk.io.to_model import portfolio as _to_model
from liqrisk.margin.registry import rule_set_for
from liqrisk.model import Portfolio


def parse_portfolio(raw: dict[str, Any]) -> Portfolio:
    """A decoded YAML/JSON document (``as_of``, ``market``, ``accounts``); never mutated."""
    return _to_model(_file.parse_portfolio(raw, rules_for=rule_set_for))


def load_portfolio(source: str | Path | dict | Portfolio) -> Portfolio:
    """A portfolio from a YAML/JSON file path, a decoded document, or a :class:`Portfolio`
    (returned as is)."""
    if isinstance(source, Portfolio):
        return source
    if isinstance(source, dict):
        return parse_portfolio(source)
    return parse_portfolio(_file.read_document(source))
