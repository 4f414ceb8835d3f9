"""load.portfolio_chunks: a book validated and converted chunk by chunk is the book parsed whole,
and a file's problems are all reported, wherever they are."""
import pytest

from liqrisk.io.portfolio import InputError
from liqrisk.load import load_portfolio, portfolio_chunks


def book(n: int) -> dict:
    """n Binance USDⓈ-M accounts: a cross BTC perp and, every third account, an isolated ETH short."""
    accounts = []
    for i in range(n):
        pos = [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.01 * (1 + i % 7), "entry": 90_000.0 + 10 * i}]
        if i % 3 == 0:
            pos.append({"symbol": "ETHUSDT", "kind": "perp", "size": -0.5, "entry": 3_000.0, "margin": 150.0})
        accounts.append({"id": f"acc{i}", "venue": "binance-usdm", "collateral": {"USDT": 2_000.0 + i},
                         "positions": pos})
    return {"as_of": "2026-11-23T00:00:00Z",
            "market": {"BTC": {"mark": 91_250.0, "vol": 0.52}, "ETH": {"mark": 3_050.0, "vol": 0.68}},
            "accounts": accounts}


def test_chunks_are_the_whole_book_in_order():
    doc = book(23)
    whole = load_portfolio(doc)
    chunks = list(portfolio_chunks(doc, 5))
    assert [len(c.accounts) for c in chunks] == [5, 5, 5, 5, 3]
    assert sum((c.accounts for c in chunks), ()) == whole.accounts
    assert all(c.market == whole.market for c in chunks)
    assert [len(c.accounts) for c in portfolio_chunks(whole, 10)] == [10, 10, 3]


def test_every_problem_of_every_chunk_is_reported_and_no_chunk_after_the_first():
    doc = book(23)
    doc["accounts"][1]["positions"][0]["size"] = "lots"          # chunk 1
    doc["accounts"][12]["id"] = "acc3"                           # chunk 3 repeats an id of chunk 1
    del doc["accounts"][21]["id"]                                # chunk 5: no id, known by its place
    seen = []
    with pytest.raises(InputError) as err:
        for c in portfolio_chunks(doc, 5):
            seen.append(c)
    assert seen == []
    text = "\n".join(err.value.problems)
    assert "account 'acc1', position 1 (BTCUSDT), field 'size'" in text
    assert "account 'acc3', field 'id': duplicate account id" in text
    assert "account #22, field 'id': missing" in text
    whole = set()                                                # the same problems as the file parsed whole
    with pytest.raises(InputError) as one:
        load_portfolio(doc)
    whole.update(one.value.problems)
    assert set(err.value.problems) == whole


def test_a_later_chunk_with_a_problem_stops_the_chunks_there():
    doc = book(12)
    doc["accounts"][7]["venue"] = "nowhere"
    seen = []
    with pytest.raises(InputError, match="account 'acc7', field 'venue'"):
        for c in portfolio_chunks(doc, 5):
            seen.append(c)
    assert [len(c.accounts) for c in seen] == [5]


def test_the_file_limits_count_the_whole_file():
    from liqrisk.io import limits
    with limits.using(max_accounts=10), pytest.raises(InputError, match="12 accounts"):
        list(portfolio_chunks(book(12), 5))
