"""A portfolio with every venue, margin mode and contract the margin engine accepts (shared by
the cascade tests): linear and inverse perps and futures, options, coin collateral, isolated
positions inside cross accounts, hedge mode, scenario (portfolio) margin, several underlyings."""
from tests.builders import portfolio

EXPIRY = "2026-12-25T08:00:00Z"
MARKET = {"BTC": {"mark": 91250.0, "vol": 0.52}, "ETH": {"mark": 3050.0, "vol": 0.68},
          "SOL": {"mark": 142.5, "vol": 0.85}}


def every_venue_accounts() -> list[dict]:
    perp = lambda sym, q, e, **k: {"symbol": sym, "kind": "perp", "size": q, "entry": e, **k}  # noqa: E731
    return [
        {"id": "bn-cross", "venue": "binance-usdm", "collateral": {"USDT": 9000, "BTC": {"amount": 0.05, "haircut": 0.05}},
         "positions": [perp("BTCUSDT", 1.0, 90000), perp("ETHUSDT", -8, 3000), perp("SOLUSDT", 40, 140,
                                                                                   margin=900)]},
        {"id": "bn-hedge", "venue": "binance-usdm", "collateral": {"USDT": 4000},
         "positions": [perp("ETHUSDT", 12, 2980, position_side="long"),
                       perp("ETHUSDT", -4, 3120, position_side="short")]},
        {"id": "bn-iso", "venue": "binance-usdm", "mode": "isolated",
         "positions": [perp("BTCUSDT", -2.5, 91000, margin=20000)]},
        {"id": "bn-big", "venue": "binance-usdm", "collateral": {"USDT": 2.0e6},
         "positions": [perp("BTCUSDT", 250.0, 90500)]},
        {"id": "coinm-cross", "venue": "binance-coinm", "collateral": {"BTC": 0.6},
         "positions": [perp("BTCUSD_PERP", 150000, 90100)]},
        {"id": "coinm-iso", "venue": "binance-coinm", "mode": "isolated",
         "positions": [perp("ETHUSD_PERP", -30000, 3000, margin=2.0)]},
        {"id": "bybit-uta", "venue": "bybit-linear", "collateral": {"USDT": 7000},
         "positions": [perp("BTCUSDT", 0.8, 91500), perp("ETHUSDT", 6, 3100)]},
        {"id": "bybit-classic", "venue": {"name": "bybit-linear", "version": "classic"}, "mode": "isolated",
         "positions": [perp("BTCUSDT", 0.5, 92000, margin=4600, leverage=10)]},
        {"id": "bybit-2024", "venue": {"name": "bybit-linear", "version": "uta-2024"}, "mode": "isolated",
         "positions": [perp("ETHUSDT", -5, 3000, margin=1500, leverage=10)]},
        {"id": "bybit-inv", "venue": "bybit-inverse", "collateral": {"BTC": 0.4},
         "positions": [perp("BTCUSD", -60000, 92000)]},
        {"id": "okx-cross", "venue": "okx", "collateral": {"USDT": 9000},
         "positions": [perp("BTC-USDT-SWAP", 0.8, 90500), perp("ETH-USDT-SWAP", 5, 3000)]},
        {"id": "okx-iso", "venue": "okx", "mode": "isolated",
         "positions": [perp("ETH-USDT-SWAP", -20, 3000, margin=6000)]},
        {"id": "okx-inv", "venue": "okx", "collateral": {"BTC": 0.5},
         "positions": [perp("BTC-USD-SWAP", 100000, 91000)]},
        {"id": "hl-cross", "venue": "hyperliquid", "collateral": {"USDC": 40000},
         "positions": [perp("BTC", 3.0, 88500), perp("ETH", -30, 3150), perp("SOL", 200, 150)]},
        {"id": "hl-iso", "venue": "hyperliquid", "mode": "isolated",
         "positions": [perp("BTC", 2.0, 91000, margin=25000)]},
        {"id": "deribit-book", "venue": "deribit", "collateral": {"BTC": 1.5},
         "positions": [{"kind": "future", "underlying": "BTC", "expiry": EXPIRY, "size": 50000, "entry": 90000},
                       {"kind": "option", "underlying": "BTC", "expiry": EXPIRY, "strike": 100000, "type": "call",
                        "size": -2, "entry": 0.015},
                       {"kind": "option", "underlying": "BTC", "expiry": EXPIRY, "strike": 80000, "type": "put",
                        "size": -2, "entry": 0.012}]},
        {"id": "deribit-strangle", "venue": "deribit", "collateral": {"ETH": 40},
         "positions": [{"kind": "option", "underlying": "ETH", "expiry": EXPIRY, "strike": 3600, "type": "call",
                        "size": -150, "entry": 0.02},
                       {"kind": "option", "underlying": "ETH", "expiry": EXPIRY, "strike": 2500, "type": "put",
                        "size": -150, "entry": 0.02}]},
        {"id": "bitmex-iso", "venue": "bitmex", "mode": "isolated",
         "positions": [perp("XBTUSD", -200000, 93000, margin=0.25, leverage=10)]},
        {"id": "gate-iso", "venue": "gate", "mode": "isolated",
         "positions": [perp("BTCUSDT", 1.5, 90500, margin=9000)]},
        {"id": "bitget-cross", "venue": "bitget", "collateral": {"USDT": 8000},
         "positions": [perp("BTCUSDT", -0.9, 91000), perp("ETHUSDT", -6, 3000)]},
        {"id": "kucoin-iso", "venue": "kucoin", "mode": "isolated",
         "positions": [perp("BTCUSDTM", 1.0, 92000, margin=7000)]},
        {"id": "phemex-cross", "venue": "phemex", "collateral": {"USDT": 300000},
         "positions": [perp("BTCUSDT", 30, 95000)]},
        {"id": "deribit-pm", "venue": "deribit", "mode": "portfolio", "collateral": {"BTC": 0.8},
         "positions": [{"kind": "future", "underlying": "BTC", "expiry": EXPIRY, "size": -40000, "entry": 91000},
                       {"kind": "option", "underlying": "BTC", "expiry": EXPIRY, "strike": 105000, "type": "call",
                        "size": -3, "entry": 0.01},
                       {"kind": "option", "underlying": "BTC", "expiry": EXPIRY, "strike": 80000, "type": "put",
                        "size": -2, "entry": 0.012}]},
        {"id": "span-pm", "venue": {"name": "span", "portfolio_margin": {"price_scan_range": {"BTC": 9000, "ETH": 400}}},
         "mode": "portfolio", "collateral": {"USD": 30000},
         "positions": [{"symbol": "BTCZ6", "underlying": "BTC", "kind": "future", "expiry": EXPIRY, "size": 1.5,
                        "entry": 90000},
                       {"symbol": "ETHZ6", "underlying": "ETH", "kind": "future", "expiry": EXPIRY, "size": -10,
                        "entry": 3000}]},
        {"id": "kraken-cross", "venue": "kraken-futures",
         "collateral": {"USD": 5000, "ETH": {"amount": 2.0, "haircut": 0.1}},
         "positions": [{"symbol": "PF_XBTUSD", "underlying": "BTC", "kind": "perp", "size": 1.0, "entry": 91250}]},
    ]


def every_venue_portfolio():
    return portfolio(every_venue_accounts(), market=MARKET)
