"""Order-book loading, validation and the book walk on hand-built books with known answers."""
import json
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from liqrisk.liquidity.book import BookError, OrderBook, book_from_ccxt, load_book
from liqrisk.liquidity.synthetic import amihud_illiquidity, calibration, corwin_schultz_spread, synthetic_book

BIDS = [[100, 1], [99, 2], [98, 3]]
ASKS = [[101, 1], [102, 2], [104, 4]]


def book():
    return OrderBook(BIDS, ASKS, name="hand")


def test_sell_2_5_hits_two_bid_levels_avg_99_4():
    w = book().walk(-2.5)
    avg = (F(100) * 1 + F(99) * F(3, 2)) / F(5, 2)  # = 99.4
    assert w.avg_price[()] == float(avg)
    assert w.levels[()] == 2 and w.worst_price[()] == 99 and w.unfilled[()] == 0
    assert w.slippage_cost[()] == pytest.approx(float((F(201, 2) - avg) * F(5, 2)), rel=1e-15)
    assert w.slippage_bps[()] == pytest.approx(float((F(201, 2) - avg) / F(201, 2) * 10000), rel=1e-15)


def test_buy_7_lifts_all_asks_avg_103():
    w = book().walk(7.0)
    assert w.avg_price[()] == float((F(101) + F(204) + F(416)) / 7) == 103.0
    assert w.levels[()] == 3 and w.worst_price[()] == 104 and w.filled[()] == 7


def test_book_running_out_reports_unfilled_never_invents_liquidity():
    w = book().walk(-10.0)
    assert w.filled[()] == -6 and w.unfilled[()] == -4
    assert w.avg_price[()] == float(F(100 + 198 + 294, 6))


def test_vectorised_walk_equals_one_by_one_and_zero_order_is_free():
    orders = np.array([-10.0, -2.5, 0.0, 0.5, 3.0, 7.0, 50.0])
    many = book().walk(orders)
    for i, q in enumerate(orders):
        one = book().walk(q)
        assert many.avg_price[i] == one.avg_price[()] and many.levels[i] == one.levels[()]
    assert many.slippage_cost[2] == 0 and many.levels[2] == 0


def test_stress_doubles_spread_and_halves_depth():
    b, s = book(), book().stressed(2.0)
    assert s.spread == pytest.approx(2 * b.spread) and s.mid == b.mid
    assert s.bids[:, 1].tolist() == [0.5, 1.0, 1.5]
    assert np.diff(s.bids[:, 0]).tolist() == np.diff(b.bids[:, 0]).tolist()


@pytest.mark.parametrize("bids, asks, match", [
    ([[101, 1]], [[100, 1]], "crossed"),
    ([[99, 1], [100, 1]], [[101, 1]], r"bids\[1\] price 100 breaks strictly descending"),
    ([[100, -1]], [[101, 1]], r"bids\[0\].*> 0"),
    ([[100, 1]], [[float("nan"), 1]], r"asks\[0\].*finite"),
    ([], [[101, 1]], "no bids"),
])
def test_bad_books_raise_one_line_book_error(bids, asks, match):
    with pytest.raises(BookError, match=match) as err:
        OrderBook(bids, asks, name="x.json")
    assert "x.json" in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_ccxt_json_and_csv_files(tmp_path):
    j = tmp_path / "b.json"
    j.write_text(json.dumps({"bids": [[100, 1, 3]], "asks": [[101, 2, 1]], "timestamp": 1}))
    assert load_book(j).mid == 100.5 and load_book(j).book_source == "snapshot"
    c = tmp_path / "b.csv"
    c.write_text("side,price,amount\nbid,100,1\nask,101,2\n")
    assert load_book(c).asks.tolist() == [[101, 2]]
    c.write_text("side,price,amount\nbid,100,1\nmid,101,2\n")
    with pytest.raises(BookError, match="line 3"):
        load_book(c)
    with pytest.raises(BookError, match="expected an object"):
        book_from_ccxt([1, 2])


def test_example_book_loads_and_says_it_is_illustrative():
    doc = json.loads(open("examples/books/btc_book.json").read())
    assert "not real" in doc["note"].lower()
    assert abs(load_book("examples/books/btc_book.json").mid - 91250) < 1


levels = st.lists(st.floats(0.01, 100), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(levels, st.floats(0, 500), st.floats(0, 500), st.floats(1, 10))
def test_cost_monotone_in_size_and_more_depth_never_costs_more(amounts, q1, q2, k):
    prices = 100 - np.arange(len(amounts)) * 0.5
    b = OrderBook(np.column_stack([prices, amounts]), [[101, 1]])
    deep = OrderBook(np.column_stack([prices, np.array(amounts) * k]), [[101, 1]])
    lo, hi = sorted((q1, q2))
    w_lo, w_hi = b.walk(-lo), b.walk(-hi)
    assert w_lo.slippage_cost[()] <= w_hi.slippage_cost[()] * (1 + 1e-12) + 1e-9
    assert w_lo.avg_price[()] >= w_hi.avg_price[()] - 1e-9
    full = min(hi, float(np.sum(amounts)))  # an order the thinner book fills completely
    assert deep.walk(-full).slippage_cost[()] <= b.walk(-full).slippage_cost[()] * (1 + 1e-12) + 1e-9


def test_amihud_and_corwin_schultz_on_hand_examples():
    assert amihud_illiquidity([100, 110, 99], [5, 10, 20]) == pytest.approx(
        (np.log(1.1) / 10 + abs(np.log(0.9)) / 20) / 2)
    # Constant bars with H/L = e^0.01: beta = 2e-4, gamma = 1e-4 (CS 2012 eqs. 11-14 by hand)
    beta, gamma = 2 * 0.01**2, 0.01**2
    k = 3 - 2 * np.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    s = 2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))
    h = np.full(5, np.exp(0.01))
    assert corwin_schultz_spread(h, np.ones(5)) == pytest.approx(max(s, 0))


def test_synthetic_book_is_labelled_and_follows_its_documented_scaling():
    b1, b2 = synthetic_book(91250, 0.55), synthetic_book(91250, 0.55, stress=2.0)
    cal = calibration("BTC")
    assert b1.book_source == "synthetic" and b1.walk(-1.0).book_source == "synthetic"
    assert b1.spread == pytest.approx(cal.spread_ref * 0.55 / cal.sigma_ref, rel=1e-9)
    assert b2.spread == pytest.approx(2 * b1.spread, rel=1e-9)
    assert b2.bids[0, 1] == pytest.approx(b1.bids[0, 1] / 2)
    assert synthetic_book(91250, 1.1).bids[0, 1] == pytest.approx(b1.bids[0, 1] / 2)
    with pytest.raises(BookError, match="no synthetic-book calibration"):
        synthetic_book(100, 0.5, underlying="DOGE")
