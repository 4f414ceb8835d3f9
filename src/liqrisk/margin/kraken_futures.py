"""Kraken Futures multi-collateral linear perpetuals (USD-margined), cross and isolated.

Rule version: Kraken support "Margining & Liquidations: Multi-Collateral" and "Multi-Collateral
Futures Margin Schedule" as published up to 2025: margin equity = balance value in USD × (1 −
haircut) + unrealised P&L; liquidation when margin equity falls below the maintenance margin.
Each contract has a margin category (Class A … G) whose position-size levels (USD) carry the
margin rates; maintenance = half the initial rate. [Inferred] the level rates are applied in the
deduction (incremental) form at mark, and the per-underlying netting of cross longs and shorts
(``max(margin longs, margin shorts)``) is not modelled (gross margin: conservative).
Level rates: PF_XBTUSD, PF_DOGEUSD, PF_SHIBUSD and FF_XBTUSD_261225 as recorded from ``GET
/derivatives/api/v3/instruments`` ``marginLevels`` on 2026-09-25 (:mod:`~liqrisk.margin.recorded`);
other contracts representative (the inverse schedule's 1%, 2%, 3%, 5%, 7.5%, 10%, 12.5%).
Haircuts: give them per collateral (``collateral: {ETH: {amount: …, haircut: …}}``).
"""
from __future__ import annotations

from liqrisk.margin.base import LINEAR, RuleSet, underlying_from_symbol


class KrakenFutures(RuleSet):
    name = "kraken-futures"
    contract = LINEAR
    #: multi-collateral perpetuals PF_XBTUSD and fixed-maturity futures FF_XBTUSD_261225 (API
    #: ``symbol``; PI_/FI_ are the inverse contracts, not margined here)
    symbol_forms = ((r"PF_[A-Z0-9]+USD", "PF_XBTUSD"), (r"FF_[A-Z0-9]+USD_\d{6}", "FF_XBTUSD_261225"))
    defaults_key = "kraken-futures"
    default_taker_fee = 0.0005
    default_leverage = 10.0

    def underlying_of(self, pos) -> str | None:
        """PF_XBTUSD, FF_ETHUSD_261225, PF_SHIBUSD → BTC, ETH, SHIB (the prefix, the maturity and
        the quote USD are not the coin: SHIBUSD is SHIB quoted in USD, not SHI in BUSD)."""
        if pos.underlying or not pos.symbol:
            return super().underlying_of(pos)
        s = pos.symbol.upper()
        if s[:3] in ("PF_", "FF_"):
            core = s[3:].split("_")[0]
            core = core[:-3] if core.endswith("USD") and len(core) > 3 else core
            return "BTC" if core == "XBT" else core
        return underlying_from_symbol(s)

    def settlement_currency(self, account) -> str:
        return "USD"
