"""Result objects of the cascade engine (JSON-ready through ``to_dict``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _plain(v):
    if isinstance(v, np.ndarray):
        return np.where(np.isfinite(v), v, np.nan).tolist() if v.dtype.kind == "f" else v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


@dataclass
class LiquidationMap:
    """Notional (USD) liquidated when one asset's mark reaches each price bin, the other marks
    unchanged and no impact: ``long``/``short`` by position side, per bin ``[edges[i], edges[i+1])``."""

    asset: str
    mark: float
    edges: np.ndarray
    long: np.ndarray
    short: np.ndarray

    def to_dict(self) -> dict:
        return _plain({"asset": self.asset, "mark": self.mark, "edges": self.edges,
                       "long_usd": self.long, "short_usd": self.short})


@dataclass
class CascadeResult:
    """Per-step paths (row 0 = before the shock) and the cascade's outcome.

    ``ledger`` holds, per step, the money identity's terms (USD): ``wallets`` (Σ change of
    trader wallets), ``insurance`` (fund change), ``backstop`` (venue's change: deficits the
    fund could not pay), ``book_pnl`` (PnL settled at book fills), ``adl_pnl`` (PnL settled at
    ADL fills), ``fees``, ``funding``, ``liquidators`` (what the liquidators of collateral loans
    take); identity: wallets + insurance + backstop + liquidators − book_pnl − adl_pnl − funding = 0.
    Every venue has its own fund: ``insurance_fund`` is their sum, ``insurance_fund_by_venue``
    each venue's path; each ADL event names its ``venue``.
    """

    scenario: str
    assets: tuple[str, ...]
    exogenous: np.ndarray            # (steps+1, A) USD
    marks: np.ndarray                # (steps+1, A) USD, end of each step
    liquidated_notional: np.ndarray  # (steps+1, A) USD
    liquidations: np.ndarray         # (steps+1,) liquidation events (partial + full)
    full_liquidations: np.ndarray    # (steps+1,)
    rounds: np.ndarray               # (steps+1,) liquidation rounds run in each step
    insurance_fund: np.ndarray       # (steps+1,) USD
    ledger: dict                     # name → (steps+1,) USD
    adl_events: list
    liquidated_accounts: np.ndarray  # account ids with at least one liquidation
    n_accounts: int
    liquidation_maps: list = field(default_factory=list)
    insurance_fund_by_venue: dict = field(default_factory=dict)  # venue → (steps+1,) USD

    def amplification(self) -> dict:
        """Per asset: largest mark move ÷ largest exogenous move, both in the exogenous move's
        direction (None where the exogenous path does not move)."""
        out = {}
        for i, a in enumerate(self.assets):
            exo = self.exogenous[:, i] / self.exogenous[0, i] - 1.0
            end = exo[-1] if exo[-1] != 0 else exo[np.argmax(np.abs(exo))]
            d = np.sign(end)
            ex = float(np.max(d * exo)) if d != 0 else 0.0
            mk = float(np.max(d * (self.marks[:, i] / self.marks[0, i] - 1.0)))
            out[a] = mk / ex if ex > 0 else None
        return out

    def conservation_error(self) -> np.ndarray:
        """Per step |identity residual| ÷ gross flows (0 where nothing moved; inf where a term is
        not finite — an overflowed step breaks the identity, it does not pass it)."""
        g = self.ledger
        resid = g["wallets"] + g["insurance"] + g["backstop"] + g["liquidators"] - g["book_pnl"] - g["adl_pnl"] \
            - g["funding"]
        gross = sum(np.abs(g[k]) for k in ("wallets", "insurance", "backstop", "liquidators", "book_pnl", "adl_pnl",
                                            "funding"))
        with np.errstate(invalid="ignore"):
            ratio = np.where(gross > 0, np.abs(resid) / np.where(gross > 0, gross, 1.0), 0.0)
        return np.where(np.isfinite(resid) & np.isfinite(gross), ratio, np.inf)

    def to_dict(self, include_accounts: bool = True) -> dict:
        d = {
            "scenario": self.scenario, "assets": list(self.assets), "n_accounts": self.n_accounts,
            "exogenous": {a: self.exogenous[:, i] for i, a in enumerate(self.assets)},
            "marks": {a: self.marks[:, i] for i, a in enumerate(self.assets)},
            "liquidated_notional_usd": {a: self.liquidated_notional[:, i] for i, a in enumerate(self.assets)},
            "liquidations": self.liquidations, "full_liquidations": self.full_liquidations,
            "rounds": self.rounds, "insurance_fund_usd": self.insurance_fund,
            "insurance_fund_by_venue_usd": self.insurance_fund_by_venue, "ledger_usd": self.ledger,
            "amplification": self.amplification(), "adl_events": self.adl_events,
            "n_liquidated_accounts": len(self.liquidated_accounts),
            "total_liquidated_usd": float(self.liquidated_notional.sum()),
            "liquidation_maps": [m.to_dict() for m in self.liquidation_maps],
        }
        if include_accounts:
            d["liquidated_accounts"] = self.liquidated_accounts
        return _plain(d)
