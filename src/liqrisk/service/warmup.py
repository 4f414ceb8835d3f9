"""Load the compiled kernels when the service starts, not on the first request.

The first analysis in a process loads every numba kernel from its on-disk cache (about a second
of CPU; on a first run ever, compiling them takes about two minutes) and fits or reads the
filtered-history models. :class:`Warmup` runs one small analysis with a horizon on a
background thread at startup — the kernels' argument types do not depend on the portfolio, so
this one run loads every kernel a request uses — and ``GET /healthz`` says where it stands
(``kernels``: ``loading``, ``ready`` or ``failed: …``). Requests are served meanwhile; they wait
only for what they need.
"""
from __future__ import annotations

import threading
import time

#: a cross and an isolated linear perp and a coin-settled one on the two bundled histories
PORTFOLIO = {
    "as_of": "2026-11-23T00:00:00Z",
    "market": {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68}},
    "accounts": [
        {"id": "warmup-cross", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 20000},
         "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90000, "leverage": 20},
                       {"symbol": "ETHUSDT", "kind": "perp", "size": -5, "entry": 3100, "margin": 1500}]},
        {"id": "warmup-coin", "venue": "binance-coinm", "mode": "cross", "collateral": {"BTC": 0.5},
         "positions": [{"symbol": "BTCUSD_PERP", "kind": "perp", "size": 50000, "entry": 90100}]},
    ],
}


class Warmup:
    """One background analysis of :data:`PORTFOLIO`; :attr:`state` for ``/healthz``."""

    def __init__(self):
        self.state = "loading"
        self.seconds: float | None = None
        self._thread = threading.Thread(target=self._run, name="liqrisk-warmup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start = time.perf_counter()
        try:
            from liqrisk.analysis import ProbabilitySettings, analyze
            analyze(PORTFOLIO, ProbabilitySettings(horizons=["1d"], paths=256, range_paths=0))
        except Exception as e:   # the service still answers; /healthz names what failed
            self.state = f"failed: {type(e).__name__}: {e}".splitlines()[0]
        else:
            self.state = "ready"
        self.seconds = round(time.perf_counter() - start, 3)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def to_dict(self) -> dict:
        return {"kernels": self.state, "warmup_seconds": self.seconds}
