"""The result of :func:`liqrisk.analyze`: every account of a portfolio, and what was assumed."""
from __future__ import annotations

from dataclasses import dataclass, field

from liqrisk.results.account import AccountResult
from liqrisk.results.base import Result, plain


@dataclass
class PortfolioAnalysis(Result):
    """Everything `liqrisk analyze` reports: ``as_of`` (ISO 8601 UTC), ``accounts``, and ``notes``
    (what was assumed: representative tables, correlations, skipped models). For the HTML report
    ``curves`` (account id → underlying → price grid, mark and per pool equity and MM) and
    ``books`` (underlying → cumulative depth used for exit costs) when they were asked for."""

    as_of: str
    accounts: list[AccountResult]
    curves: dict = field(default_factory=dict)
    books: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The documented JSON document of ``liqrisk analyze --json``."""
        return {"as_of": plain(self.as_of), "accounts": [a.to_dict() for a in self.accounts],
                "notes": plain(self.notes)}       # an account's to_dict is plain already

    def account(self, account_id: str) -> AccountResult:
        """The result of the account with this id."""
        for a in self.accounts:
            if a.id == account_id:
                return a
        raise KeyError(f"no account '{account_id}' (accounts: {', '.join(a.id for a in self.accounts)})")

    def to_frame(self):
        """One row per account: equity, IM, MM, margin ratio (settlement currency), the nearest
        boundaries per underlying (``liq_down_BTC``, ``liq_up_BTC``), P per requested horizon
        (``p_1d``, ``p_1d_stderr``), VaR/ES (``var99_1d``, ``es99_1d``, USD) and the close-now
        exit cost (USD)."""
        import pandas as pd
        rows = []
        for a in self.accounts:
            d = a.to_dict()
            row = {k: d[k] for k in ("id", "venue", "mode", "settlement_currency", "equity", "initial_margin",
                                     "maintenance_margin", "margin_ratio", "liquidatable_now")}
            for und, side in d["liquidation"].items():
                row[f"liq_down_{und}"], row[f"liq_up_{und}"] = side["down"], side["up"]
            for h, est in (d.get("probability") or {}).items():
                row[f"p_{h}"], row[f"p_{h}_stderr"] = est["p"], est["stderr"]
            for h, v in (d.get("risk") or {}).get("var99", {}).items():
                row[f"var99_{h}"], row[f"es99_{h}"] = v, d["risk"]["es99"].get(h)
            if d.get("exit"):
                row["exit_close_now_cost"] = d["exit"]["close_now_cost"]
            rows.append(row)
        return pd.DataFrame(rows).set_index("id")
