"""The model layer: io produces frozen model objects, margin compiles them, and a market can be
swapped under a compiled portfolio with the same numbers as compiling a file with that market."""
import copy
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from liqrisk.load import load_portfolio, parse_portfolio
from liqrisk.margin.account import CompiledPortfolio
from liqrisk.model import Account, MarketState, Portfolio, Position, Quote

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multi_venue.yaml"


def test_io_produces_frozen_model_objects_and_never_shares_the_users_data():
    pf = load_portfolio(EXAMPLE)
    assert isinstance(pf, Portfolio) and all(isinstance(a, Account) for a in pf.accounts)
    pos = pf.accounts[0].positions[0]
    assert isinstance(pos, Position) and (pos.kind, pos.symbol, pos.size) == ("perp", "BTCUSDT", 1.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pos.size = 2.0
    assert pf.market.quotes["BTC"] == Quote(91250.0, 91240.0, 0.52)
    assert pf.price("USDT") == 1.0 and pf.price("ETH") == 3050.0 and pf.price("XYZ") is None


def test_the_model_layer_imports_neither_io_nor_margin_and_margin_does_not_import_io():
    import ast
    for folder, banned in (("model", ("liqrisk.io", "liqrisk.margin", "pydantic", "numba")),
                           ("margin", ("liqrisk.io",)), ("io", ("liqrisk.margin",))):
        for path in (ROOT / "src" / "liqrisk" / folder).glob("*.py"):
            tree = ast.parse(path.read_text())
            names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module] + \
                    [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            assert not [m for m in names if m.startswith(banned)], (path.name, names)


def _moved(raw: dict) -> dict:
    """The same document with every mark, vol, the rate and as_of changed."""
    out = copy.deepcopy(raw)
    factors = {"BTC": 0.93, "ETH": 1.04, "SOL": 0.88}
    for name, block in out["market"].items():
        if isinstance(block, dict):
            block["mark"] *= factors[name]
            block["vol"] *= 1.2
    out["as_of"] = raw["as_of"] + timedelta(days=3)
    return out


def _state(pf: Portfolio, raw: dict) -> MarketState:
    m = pf.market
    quotes = {n: Quote(raw["market"][n]["mark"], q.index, raw["market"][n]["vol"]) for n, q in m.quotes.items()}
    return MarketState(raw["as_of"], quotes, m.rate)


def test_with_market_gives_the_numbers_of_compiling_a_file_with_that_market():
    raw = yaml.safe_load(EXAMPLE.read_text())
    deribit = next(a for a in raw["accounts"] if a["id"] == "deribit-options")
    deribit["positions"][0]["mark"] = 91_900.0             # a future's basis held fixed
    deribit["positions"].append({"kind": "option", "underlying": "BTC", "expiry": deribit["positions"][1]["expiry"],
                                 "strike": 85_000, "type": "put", "size": -1, "entry": 0.02, "mark": 0.018})
    moved = _moved(raw)
    pf = parse_portfolio(raw)
    cp = CompiledPortfolio(pf)
    swapped = cp.with_market(_state(pf, moved))
    direct = CompiledPortfolio(parse_portfolio(moved))
    before = [r.to_dict() for r in cp.margin_results()]
    got = [r.to_dict() for r in swapped.margin_results()]
    want = [r.to_dict() for r in direct.margin_results()]
    assert got == want                                     # the same arrays: bit-identical numbers
    assert got != before                                   # and the market really moved
    assert swapped.portfolio.accounts is pf.accounts       # the portfolio itself was not recompiled
    assert cp.margin_results()[0].to_dict() == before[0]   # nor the original changed


def test_with_market_needs_every_underlying_of_the_book():
    pf = load_portfolio(EXAMPLE)
    cp = CompiledPortfolio(pf)
    partial = MarketState(pf.as_of, {"BTC": pf.market.quotes["BTC"]})
    with pytest.raises(ValueError, match="ETH"):
        cp.with_market(partial)


def test_with_marks_changes_only_the_marks():
    pf = load_portfolio(EXAMPLE)
    m = pf.market.with_marks(BTC=80_000.0)
    assert m.quotes["BTC"] == Quote(80_000.0, 91240.0, 0.52) and m.quotes["ETH"] == pf.market.quotes["ETH"]
    assert pf.market.quotes["BTC"].mark == 91250.0
