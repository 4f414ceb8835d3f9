"""risk/tails: the K largest losses kept per account and horizon are exactly those of a full sort
(as a multiset), whatever the order, the ties and the way they are offered (one by one, in passes
of any size, into several threads' stores merged at the end)."""
import numpy as np
import pytest

from liqrisk.risk.tails import (ROOM, SAMPLE, _largest, _select, insert_loss_nb, kept_losses, largest_losses,
                                offer_losses_nb, tail_store)

KINDS = ["normal", "ties", "constant", "sorted", "reversed", "two-values"]


def _values(kind, n, seed):
    rng = np.random.default_rng(seed)
    return {"normal": rng.standard_normal(n), "ties": np.round(rng.standard_normal(n) * 3),
            "constant": np.full(n, 2.5), "sorted": np.sort(rng.standard_normal(n)),
            "reversed": np.sort(rng.standard_normal(n))[::-1].copy(),
            "two-values": rng.choice([0.0, 1.0], n)}[kind]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, K", [(1, 1), (7, 3), (101, 101), (500, 101), (1024, 101), (3000, 101), (1024, 1)])
def test_the_k_largest_are_those_of_a_full_sort(kind, n, K):
    """_largest returns exactly the K largest values (as a multiset) of x[:n], leaves x alone,
    whatever the order and however many ties; _select does the same in place."""
    x = _values(kind, n, n * 31 + K)
    K = min(K, n)
    want = np.sort(x)[n - K:]
    keep, cand = x.copy(), np.empty(n)
    m = _largest(x, n, K, cand)
    assert np.array_equal(x, keep)
    assert K <= m <= n
    assert np.array_equal(np.sort(cand[m - K:m]), want)
    y = x.copy()
    _select(y, n, K)
    assert np.array_equal(np.sort(y[n - K:]), want)
    assert np.array_equal(np.sort(y), np.sort(x))          # a permutation
    if n >= 4 * SAMPLE * K and kind == "normal":
        assert m < n // 2                                  # the sampled threshold did pre-select




@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, K", [(1, 1), (5, 1), (7, 3), (101, 101), (1000, 11), (10_000, 101), (3000, 300)])
def test_offered_losses_keep_the_k_largest_of_a_full_sort(kind, n, K):
    """Losses offered in passes of random sizes (1 … 3,000, as affine_block's passes), one by one
    (as book_chunk_nb's paths) or mixed, spread over 1–3 stores (threads) and merged: the K
    largest, descending, equal to the full sort's; fewer than K values come out padded with −∞."""
    x = _values(kind, n, n * 7 + K)
    want = np.sort(x)[::-1][:K]
    want = np.concatenate([want, np.full(K - len(want), -np.inf)])
    rng = np.random.default_rng(K)
    for how in ("passes", "one by one", "mixed"):
        n_st = int(rng.integers(1, 4))
        stores = [tail_store(2, 1, K) for _ in range(n_st)]
        cand, t = np.empty(max(n, 1)), 0
        while t < n:
            top, top_n, top_min = stores[int(rng.integers(n_st))]
            size = int(rng.integers(1, 3001))
            seg = x[t:t + size].copy()
            if how == "one by one" or (how == "mixed" and rng.random() < 0.5):
                for v in seg:
                    insert_loss_nb(top, top_n, top_min, 1, 0, v, K)
            else:
                offer_losses_nb(top, top_n, top_min, 1, 0, seg, len(seg), K, cand)
            t += size
            assert top.shape == (2, 1, ROOM * K)
            assert np.all(top[0] == -np.inf)                    # the other account untouched
        got = largest_losses([s[0] for s in stores], K)[1, 0]
        assert np.array_equal(got, want), how


def test_kept_losses_are_those_at_or_above_the_99_percent_quantile():
    """VaR99 reads the ⌈0.99·n⌉-th smallest of n losses: the K = n − ⌈0.99n⌉ + 1 largest hold it."""
    assert [kept_losses(n) for n in (1, 99, 100, 101, 10_000, 20_000)] == [1, 1, 2, 2, 101, 201]
