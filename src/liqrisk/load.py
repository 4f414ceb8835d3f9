"""Portfolio input → validated :class:`~liqrisk.model.Portfolio`: the input file's checks
(:mod:`liqrisk.io.portfolio`) with each venue's own rule set answering what it accepts, then the
conversion to model objects (:mod:`liqrisk.io.to_model`). Every problem of the file is reported
at once in one :class:`~liqrisk.io.portfolio.InputError`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from liqrisk.io import portfolio as _file
from liqrisk.io.documents import JsonItems
from liqrisk.io.to_model import portfolio as _to_model
from liqrisk.margin.registry import rule_set_for
from liqrisk.model import Portfolio


def parse_portfolio(raw: dict[str, Any], first_account: int = 0) -> Portfolio:
    """A decoded YAML/JSON document (``as_of``, ``market``, ``accounts``); never mutated.
    ``first_account``: see :func:`liqrisk.io.portfolio.parse_portfolio`."""
    return _to_model(_file.parse_portfolio(raw, rules_for=rule_set_for, first_account=first_account))


def load_portfolio(source: str | Path | dict | Portfolio) -> Portfolio:
    """A portfolio from a YAML/JSON file path, a decoded document, or a :class:`Portfolio`
    (returned as is)."""
    if isinstance(source, Portfolio):
        return source
    if isinstance(source, dict):
        return parse_portfolio(source)
    return parse_portfolio(_file.read_document(source))


def portfolio_chunks(source: str | Path | dict | Portfolio, size: int) -> Iterator[Portfolio]:
    """The portfolio as consecutive chunks of at most ``size`` accounts, each validated and
    converted only when it is reached, so that a book's model objects are never all held at once
    (nor, from a JSON file, its decoded accounts: only the file's text). A file with problems yields no chunk after the first problem but
    is still checked to its end; then one :class:`~liqrisk.io.portfolio.InputError` lists every
    problem of the file, as :func:`load_portfolio` would (a duplicate id across chunks included)."""
    if isinstance(source, Portfolio):
        for a in range(0, max(len(source.accounts), 1), size):
            yield Portfolio(source.market, source.accounts[a:a + size])
        return
    raw = source if isinstance(source, dict) else _file.read_document(source, lazy_accounts=True)
    accounts = raw.get("accounts") if isinstance(raw, dict) else None
    if not isinstance(accounts, (list, JsonItems)) or len(accounts) <= size:
        yield parse_portfolio({**raw, "accounts": accounts[:]} if isinstance(accounts, JsonItems) else raw)
        return
    too_many = _file.count_problems(raw)
    if too_many:
        raise _file.InputError(too_many)
    problems, earlier = [], set()
    for a in range(0, len(accounts), size):
        part = accounts[a:a + size]
        ids = [acc.get("id") for acc in part if isinstance(acc, dict) and isinstance(acc.get("id"), str)]
        problems += [f"account '{i}', field 'id': duplicate account id" for i in dict.fromkeys(ids) if i in earlier]
        earlier.update(ids)
        try:
            pf = parse_portfolio({**raw, "accounts": part}, first_account=a)
        except _file.InputError as e:
            problems += e.problems
            continue
        if not problems:
            yield pf
    if problems:
        raise _file.InputError(list(dict.fromkeys(problems)))
