"""The result of a cascade (:func:`liqrisk.simulate_cascade`, ``liqrisk cascade``): the engine's
:class:`~liqrisk.cascade.result.CascadeResult` (one run) or
:class:`~liqrisk.cascade.sweep.SweepResult` (a grid of shocks × impact scales), with strict JSON
and a per-step (or per grid point) frame."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liqrisk.results.base import Result, plain


@dataclass
class CascadeAnalysis(Result):
    """``result``: the engine's outcome (its documented ``to_dict`` is the JSON document, keys
    ``scenario``, ``assets``, ``marks``, ``liquidated_accounts``, totals, ledger …)."""

    result: Any

    @property
    def is_sweep(self) -> bool:
        return hasattr(self.result, "rows")

    def to_dict(self) -> dict:
        return plain(self.result.to_dict())

    def to_frame(self):
        """One run: one row per step (row 0 = before the shock) with each asset's exogenous and
        end-of-step mark, liquidated notional (USD), liquidation events and the insurance fund.
        A sweep: one row per grid point (its documented fields)."""
        import pandas as pd
        r = self.result
        if self.is_sweep:
            d = r.to_dict()
            return pd.DataFrame(d["rows"], columns=d["fields"])
        cols = {}
        for i, a in enumerate(r.assets):
            cols[f"exogenous_{a}"], cols[f"mark_{a}"] = r.exogenous[:, i], r.marks[:, i]
            cols[f"liquidated_usd_{a}"] = r.liquidated_notional[:, i]
        cols.update(liquidations=r.liquidations, full_liquidations=r.full_liquidations, rounds=r.rounds,
                    insurance_fund_usd=r.insurance_fund)
        return pd.DataFrame(cols).rename_axis("step")
