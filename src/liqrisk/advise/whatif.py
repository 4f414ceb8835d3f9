"""What-if: the analysis of a portfolio before and after a set of changes (trades, top-ups, market
moves, time passing — :mod:`liqrisk.advise.changes`), both by the one engine
(:func:`liqrisk.analysis.analyze`) on the original and on a changed copy, side by side; with the
stress grid (:mod:`liqrisk.advise.stress`) of the changed book on request."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from liqrisk.advise.changes import Changes, apply
from liqrisk.results import PortfolioAnalysis, Result, plain

SUMMARY = ("equity", "maintenance_margin", "margin_ratio", "liquidatable_now")


@dataclass
class WhatIf(Result):
    """Before and after (full analyses), the changes, what was settled, and the stress grid."""

    changes: list[str]
    before: PortfolioAnalysis
    after: PortfolioAnalysis
    notes: list[str] = field(default_factory=list)
    grid: object | None = None

    def side_by_side(self) -> list[dict]:
        """Per account: the headline numbers before and after (settlement currency; exit USD)."""
        rows = []
        for b in self.before.accounts:
            a = self.after.account(b.id)
            rows.append({"id": b.id, "settlement_currency": b.settlement_currency,
                         "before": _headline(b.to_dict()), "after": _headline(a.to_dict())})
        return rows

    def to_dict(self) -> dict:
        return plain({"changes": self.changes, "notes": self.notes, "accounts": self.side_by_side(),
                      "before": self.before.to_dict(), "after": self.after.to_dict(),
                      **({"grid": self.grid.to_dict()} if self.grid is not None else {})})


def _headline(d: dict) -> dict:
    out = {k: d[k] for k in SUMMARY}
    out["liquidation"] = d["liquidation"]
    out["distance_daily_sd"] = {u: {"down": v["down_daily_sd"], "up": v["up_daily_sd"]} for u, v in d["distance"].items()}
    out["probability"] = {h: e["p"] for h, e in (d.get("probability") or {}).items()}
    ex = d.get("exit") or {}
    out["exit_close_now_cost"] = ex.get("close_now_cost")
    out["model"] = (d.get("risk") or {}).get("model")        # the path model that ran (None: no horizon)
    return out


def what_if(portfolio: str | Path | dict, shock=(), vol=(), time=None, add=(), reduce=(), topup=(), funding=(),
            horizons: list[str] | None = None, paths: int = 20_000, seed: int = 7, model: str = "auto",
            grid: bool = False, exit: bool = True, progress=None, fhs_tails: str = "gpd") -> WhatIf:
    """Analyse ``portfolio`` (path, document or model Portfolio) before and after the changes
    (strings as on the command line, dicts, or :class:`~liqrisk.advise.changes` objects; see
    :meth:`Changes.parse`). ``horizons`` (e.g. ``["1d", "7d"]``) adds P(liquidation) per horizon
    with the same seed before and after, under ``model`` as `analyze` resolves it (``auto``: the
    calibrated default per account; the headline says which model ran); ``grid`` adds the stress
    grid of the changed book; ``fhs_tails`` the fhs shocks' tails (`analyze`'s ``--fhs-tails``)."""
    from liqrisk.analysis import ExitSettings, ProbabilitySettings, analyze
    from liqrisk.load import load_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    ch = Changes.parse(shock, vol, time, add, reduce, topup, funding)
    pf = load_portfolio(portfolio)
    changed, notes = apply(pf, ch)
    prob = ProbabilitySettings(list(horizons), paths, seed, model, fhs_tails=fhs_tails) if horizons else None
    ex = ExitSettings() if exit else None
    before = analyze(pf, prob, ex, progress=progress)
    after = analyze(changed, prob, ex, progress=progress)
    out = WhatIf(ch.describe(), before, after, notes)
    if grid:
        from liqrisk.advise.stress import stress_grid
        out.grid = stress_grid(CompiledPortfolio(changed))
    return out
