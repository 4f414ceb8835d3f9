"""``mode: portfolio`` for venues that margin one risk unit per underlying (OKX, Bybit): the
rule-set side shared by them — options accepted, positions carry no margin of their own (the
pool's scenario margin covers them), parameters checked per unit. The venue's own module
(:mod:`~liqrisk.margin.okx_pm`, :mod:`~liqrisk.margin.bybit_pm`) gives the unit parameters,
each position's scenario terms, its charges on matched offsets and the scenario set."""
from __future__ import annotations

from liqrisk.margin.base import INVERSE_OPTION, MM_NONE, PositionTerms


class RiskUnitPortfolio:
    """Mixin before a :class:`~liqrisk.margin.base.RuleSet`; ``pm`` is the venue's module."""

    supports_portfolio = True
    pm = None

    def _unit(self, pos) -> dict:
        return self.pm.unit_parameters(self.underlying_of(pos), self.params.portfolio_margin)

    def account_problems(self, account) -> list[str]:
        if account.mode != "portfolio":
            return super().account_problems(account)
        unds = {self.underlying_of(p) for p in account.positions}
        return self.pm.account_problems(self.params.portfolio_margin, account, unds)

    def position_problems(self, pos, account):
        out = super().position_problems(pos, account)
        if account.mode != "portfolio":
            return out
        out = [p for p in out if p[1] not in ("kind", "symbol")]   # options allowed, no tier tables
        if pos.kind == "spot":
            out.append((f"spot holdings of a {self.name} portfolio-margin account go in 'collateral'", "kind"))
        if pos.margin is not None:
            out.append(("portfolio margin has no isolated positions", "margin"))
        return out

    def settlement_currency(self, account) -> str:
        return "USD" if account.mode == "portfolio" else super().settlement_currency(account)

    def terms(self, pos, account, years, vol) -> PositionTerms:
        if pos.kind == "option":
            return PositionTerms(contract=INVERSE_OPTION, qty=pos.size, entry=pos.entry, mm_code=MM_NONE,
                                 strike=pos.strike, is_call=pos.type == "call", expiry_years=years, vol=vol)
        if account.mode == "portfolio":
            return PositionTerms(contract=self.contract_of(pos), qty=pos.size, entry=pos.entry, mm_code=MM_NONE)
        return super().terms(pos, account, years, vol)

    def scenario_terms(self, pos, t, account):
        out = self.pm.position_terms(t, self._unit(pos))
        extra = self._offsets_of(account)[0].get(id(pos), 0.0)
        if extra:
            out["roll"] = out.get("roll", 0.0) + extra
        return out

    def _offsets_of(self, account) -> tuple[dict, list[str]]:
        """The venue's charges on matched offsets (``pm.offset_rates``, :mod:`~liqrisk.margin.
        offsets`): per position of ``account`` its rate, and notes; computed once per account."""
        cached = getattr(self, "_offsets", None)
        if cached is None or cached[0] is not account:
            self._offsets = (account, self.pm.offset_rates(account, self))
        return self._offsets[1]

    def scenario_set(self, account, terms):
        units = {self.underlying_of(p): self._unit(p) for p in account.positions}
        sset = self.pm.scenario_set(units, self.params.portfolio_margin, account)
        sset.notes += self._offsets_of(account)[1]
        return sset
