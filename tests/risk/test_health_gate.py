"""The health-bridge gate of ``book_chunk_nb`` (book_kernel.HEALTH_GATE, REFRESH_STEPS) against the
same kernel with the gate off, on the same paths (docs/montecarlo.md, "The gate's bias").

The gate skips a step's gradient (factor 1) of an affine several-axis pool walked by valuing its
positions where the exponent from the last computed gradient g_kg is ≥ HEALTH_GATE·FAR = 9·38.
On common random numbers the two kernels give different numbers only through steps whose own
exponent is < FAR = 38 (at ≥ 38 both factors are exactly 1.0):
(i) a skipped step: its exponent is ≥ 9·38·v(g_kg)/v(ḡ), < 38 only if the mid-step gradient's
    norm in the step covariance more than tripled since g_kg (≤ REFRESH_STEPS = 24 steps);
(ii) a computed step right after skipped ones, whose mid gradient uses g_kg instead of g_{k−1}:
    its exponent 2·h_{k−1}·h_k/v < 38 after 2·h_{k−2}·h_{k−1} ≥ 342·v — the health fell by
    ≥ 8/9 of itself from ≥ 13.1 step sds (√(342/2)) within two steps, a move of ≥ 11.6 one-step
    sds of the health (≥ 8.2 sds of the two-step move).
Under GBM with hourly steps (ii) has probability ≈ 2·Φ(−8.2) ≈ 2e-16 per step (≈ 1e-10 on all of
a run's 20,000 × 24 steps), and (i) cannot happen on linear perps between tier floors within a day
(each gradient component is a constant × its price, and a day's price ratios stay within a few %
— a hedged pair's norm can still grow: test_book_mc's a752 note), so the estimates are equal
bit for bit. Under FHS on daily steps the bootstrapped shocks reach 8–9 sd (docs/calibration.md
§3), so (ii) occurs on a few paths; there a step's factor 1 − e^(−a) differs by ≤ a·e^(−a)·|ln(v/v')|
≤ e^(−1)·|ln(v/v')|, v/v' the ratio of the two mid gradients' variances (one daily price move:
a few %), on a fraction of paths no larger than that of an 8-sd health move — far below a
standard error: 1e-3 of it is asserted (measured: ≤ 2.3e-6, benchmarks/health_gate_bias.py).

The gate-off kernel is ``book_chunk_nb`` compiled again from its Python source with
REFRESH_STEPS = 0 in its globals (numba freezes globals at compile time): book_kernel.py and
its cached kernels are untouched."""
import types

from numba import njit

from liqrisk.analysis import ProbabilitySettings, analyze
from liqrisk.risk import book_kernel, book_mc

AS_OF = "2026-11-23T00:00:00Z"
MARKET = {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68},
          "SOL": {"mark": 142.5, "vol": 0.85}}


def _account(venue, coin, legs, collateral, expiring=False):
    pos = [{"symbol": s, "kind": "perp", "size": q, "entry": MARKET[u]["mark"]} for s, u, q in legs]
    if expiring:             # the BTC leg a future expiring inside the run: not walked on pieces
        pos[0] = {"symbol": "BTCUSDT_261123", "kind": "future", "expiry": "2026-11-23T08:00:00Z",
                  "size": legs[0][2], "entry": MARKET["BTC"]["mark"]}
    return {"id": f"{venue}{'-expiring' if expiring else ''}-{collateral}", "venue": venue, "mode": "cross",
            "collateral": {coin: collateral}, "positions": pos}


PAIR = [("BTCUSDT", "BTC", 1.0), ("ETHUSDT", "ETH", -30.0)]
DOC = {"as_of": AS_OF, "market": MARKET, "rate": 0.0, "accounts": [
    _account("binance-usdm", "USDT", PAIR, 8000),
    _account("binance-usdm", "USDT", PAIR, 12000),
    _account("okx", "USDT", [("BTC-USDT-SWAP", "BTC", 1.0), ("ETH-USDT-SWAP", "ETH", -20.0),
                             ("SOL-USDT-SWAP", "SOL", -200.0)], 12000),
    _account("hyperliquid", "USDC", [("BTC", "BTC", 0.6), ("ETH", "ETH", 15.0)], 8000),
    _account("binance-usdm", "USDT", PAIR, 7000, expiring=True)]}


def _gate_off_kernel():
    f = book_kernel.book_chunk_nb.py_func
    glob = dict(f.__globals__)
    glob["REFRESH_STEPS"] = 0                # k − kg ≥ 0 at every step: every gradient computed
    return njit(nogil=True)(types.FunctionType(f.__code__, glob, f.__name__, f.__defaults__, f.__closure__))


def _estimates(model, horizons):
    res = analyze(DOC, ProbabilitySettings(horizons, 20_000, 7, model, 0.0, range_paths=0, risk=False))
    return {(a.id, h): a.probability[h] for a in res.accounts for h in horizons}


def test_the_health_gate_changes_no_estimate_beyond_rounding(monkeypatch):
    monkeypatch.setattr(book_mc, "AFFINE_FAST", False)     # every affine several-axis pool gated
    runs = [("gbm", ["1d", "3d"]), ("fhs", ["7d"])]
    gated = {m: _estimates(m, hs) for m, hs in runs}
    monkeypatch.setattr(book_mc, "book_chunk_nb", _gate_off_kernel())
    off = {m: _estimates(m, hs) for m, hs in runs}
    live = 0
    for key, e in gated["gbm"].items():
        assert e.p == off["gbm"][key].p, key          # GBM, hourly steps: bit for bit
        live += 1e-4 <= e.p <= 0.3
    assert live >= 5                                  # the books carry probability where it matters
    changed = 0
    for key, e in gated["fhs"].items():
        q = off["fhs"][key].p
        assert 0.0 < e.p < 1.0 and abs(e.p - q) <= 1e-3 * e.stderr, (key, e.p, q, e.stderr)
        changed += e.p != q
    # the gate-off kernel is another kernel: FHS's 8-sd daily shocks reach case (ii) on some book
    assert changed >= 1
