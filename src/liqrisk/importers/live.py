"""The live path of ``liqrisk import ccxt --live EXCHANGE``: the same three ccxt calls a saved
dump holds, made now with the user's own credentials. Read-only calls only (positions, balance,
markets); keys come from the environment (``LIQRISK_CCXT_KEY``, ``LIQRISK_CCXT_SECRET``,
optional ``LIQRISK_CCXT_PASSWORD``; Hyperliquid: ``LIQRISK_CCXT_WALLET``). Needs the ``ccxt``
extra. Never run by the tests (they use saved answers)."""
from __future__ import annotations

import os
from datetime import datetime, timezone

from liqrisk.io.portfolio import InputError


def fetch_dump(exchange: str) -> dict:
    try:
        import ccxt  # noqa: PLC0415 — optional dependency
    except ImportError:
        raise InputError(["--live needs ccxt: pip install 'liqrisk[ccxt]'"]) from None
    cls = getattr(ccxt, exchange.lower(), None)
    if cls is None:
        raise InputError([f"--live {exchange}: not a ccxt exchange id"])
    config = {k: os.environ[v] for k, v in (("apiKey", "LIQRISK_CCXT_KEY"), ("secret", "LIQRISK_CCXT_SECRET"),
                                            ("password", "LIQRISK_CCXT_PASSWORD"),
                                            ("walletAddress", "LIQRISK_CCXT_WALLET")) if os.environ.get(v)}
    client = cls({**config, "enableRateLimit": True})
    try:
        markets = client.load_markets()
        positions = client.fetch_positions()
        balance = client.fetch_balance()
    except ccxt.BaseError as e:
        raise InputError([f"--live {exchange}: {type(e).__name__}: {str(e).splitlines()[0][:300]}"]) from None
    return {"exchange": exchange.lower(), "as_of": datetime.now(timezone.utc).isoformat(),
            "positions": positions, "balance": balance, "markets": list(markets.values())}
