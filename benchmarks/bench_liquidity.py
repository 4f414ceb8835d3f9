"""Exit cost of 100,000 accounts against one book per underlying (goal < 1 s), vectorised
(np.cumsum + np.searchsorted) vs the named peer: a naive per-account Python loop that walks the
levels one by one, timed on a subsample and scaled.

    .venv/bin/python benchmarks/bench_liquidity.py
"""

import numpy as np

from liqrisk.liquidity.exit import exit_cost_curve
from liqrisk.liquidity.synthetic import synthetic_book
from timing import timed_once

N_ACCOUNTS, N_NAIVE = 100_000, 2_000
MARKET = {"BTC": (91250.0, 0.55, 150_000.0), "ETH": (3050.0, 0.68, 3_000_000.0)}


def naive_cost(book, order: float) -> float:
    """Per-account loop: walk level by level, cost vs mid."""
    levels = book.asks if order > 0 else book.bids
    left, cost = abs(order), 0.0
    for price, amount in levels:
        take = min(left, amount)
        cost += take * abs(price - book.mid)
        left -= take
        if left <= 0:
            break
    return cost


def main() -> None:
    rng = np.random.default_rng(1)
    books = {u: synthetic_book(p, s, 2.0, u) for u, (p, s, _) in MARKET.items()}
    und = rng.choice(list(MARKET), N_ACCOUNTS)
    sizes = np.where(und == "BTC", 1.0, 30.0) * rng.standard_t(3, N_ACCOUNTS) * 5
    cost = np.empty(N_ACCOUNTS)

    def walk_all():
        for u, b in books.items():
            m = und == u
            cost[m] = b.walk(-sizes[m]).slippage_cost

    def curves():
        for u in books:
            m = und == u
            exit_cost_curve(sizes[m], MARKET[u][0], MARKET[u][1], books[u], MARKET[u][2], stress=2.0)

    t_vec = timed_once(walk_all)[0]
    t_curve = timed_once(curves)[0]
    idx = rng.choice(N_ACCOUNTS, N_NAIVE, replace=False)
    t_naive, naive = timed_once(lambda: np.array([naive_cost(books[und[i]], -sizes[i]) for i in idx]))
    t_naive *= N_ACCOUNTS / N_NAIVE
    assert np.allclose(naive, cost[idx], rtol=1e-9, atol=1e-6), "vectorised walk disagrees with the loop"
    levels = sum(len(b.bids) for b in books.values())
    print(f"{N_ACCOUNTS:,} accounts, 2 synthetic books ({levels} bid levels in all), stress 2")
    print(f"close-now cost, vectorised book walk : {t_vec:8.3f} s")
    print(f"exit-cost curve (6 horizons, AC)     : {t_curve:8.3f} s")
    print(f"naive per-account loop (scaled from {N_NAIVE:,}): {t_naive:8.3f} s  -> x{t_naive / t_vec:,.0f}")


if __name__ == "__main__":
    main()
