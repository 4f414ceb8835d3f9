"""Collateral loans (lending protocols) as margin pools of the one kernel.

An account supplies assets ``c_i`` and borrows ``d_j``. Every protocol here liquidates when its
weighted collateral falls short of the debt, ``Σ c_i·P_i·w_i < Σ d_j·P_j`` (Aave: w = liquidation
threshold, health factor HF = Σ c·P·w / Σ d·P < 1; Compound III: w = liquidate collateral factor;
Maker: w = 1/mat). With ``equity = Σ c_i·P_i − Σ d_j·P_j`` and ``MM = Σ c_i·P_i·(1 − w_i)`` this is
``equity − MM < 0``: the pool holds each collateral as a leg with MM factor ``1 − w_i`` and each
debt as a negative leg, so boundaries (the liquidation price of each collateral asset with the
others fixed, or of each borrowed asset going up), Monte Carlo, exit costs and cascades are the
engine's as for any venue. What a liquidator may then do is each protocol's
:meth:`LoanRuleSet.liquidation_call`; :meth:`LoanRuleSet.forced_sale` turns its best call into the
asset flows a cascade executes (:class:`ForcedSale`).

Per-asset parameters are data: bundled representative defaults (``venue_defaults.json``, flagged
as such in the results) overridden by ``venue.reserves.<ASSET>.<parameter>`` in the protocol's own
names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from liqrisk.margin.base import RuleSet, venue_defaults


@dataclass
class ForcedSale:
    """One liquidation of a loan account as flows of asset units, per asset name.

    The account's side: ``taken`` leaves its supply, ``repaid`` clears its debt (written-off bad
    debt included), ``credited`` is paid to it. The other parties' takes, in units of the assets
    they end up with: ``protocol`` (treasury, reserves or surplus buffer; negative = it pays) and
    ``liquidator`` (the liquidator, keepers or the reserves' buyers). Units are conserved:
    per asset ``−taken + repaid + credited + protocol + liquidator = 0``. ``sold`` is what those
    parties sell into the market at once and ``bought`` what they buy from it (a debt asset the
    liquidator must deliver); ``full``: nothing is left to liquidate."""

    taken: dict[str, float] = field(default_factory=dict)
    repaid: dict[str, float] = field(default_factory=dict)
    credited: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, float] = field(default_factory=dict)
    liquidator: dict[str, float] = field(default_factory=dict)
    sold: dict[str, float] = field(default_factory=dict)
    bought: dict[str, float] = field(default_factory=dict)
    full: bool = False

    def imbalance(self) -> dict[str, float]:
        """Per asset ``−taken + repaid + credited + protocol + liquidator`` (0 when conserved)."""
        names = set().union(self.taken, self.repaid, self.credited, self.protocol, self.liquidator)
        g = lambda d, a: d.get(a, 0.0)  # noqa: E731
        return {a: -g(self.taken, a) + g(self.repaid, a) + g(self.credited, a) + g(self.protocol, a)
                + g(self.liquidator, a) for a in names}


class LoanRuleSet(RuleSet):
    """Shared by the lending protocols: reserve parameters, input checks, the health weights."""

    is_loan = True
    param_names: tuple[str, ...] = ()       # reserve parameters the protocol takes
    collateral_needs: tuple[str, ...] = ()  # parameters a collateral asset must have
    bounds: dict[str, tuple[float, float]] = {}
    default_source = "bundled representative default (verify against the protocol, override)"

    def settlement_currency(self, account) -> str:
        return "USD"

    def _defaults(self) -> dict:
        return {k: v for k, v in venue_defaults().get(self.defaults_key, {}).items() if not k.startswith("_")}

    def reserve(self, asset: str) -> dict[str, float]:
        """The asset's parameters: the bundled default overridden by the user's."""
        return {**self._defaults().get(asset, {}), **self.params.reserves.get(asset, {})}

    def reserve_source(self, asset: str) -> str:
        if asset in self.params.reserves:
            return "venue override (reserves)" if asset not in self._defaults() else \
                "venue override over the bundled representative default"
        return self.default_source

    def knows(self, asset: str) -> bool:
        return asset in self.params.reserves or asset in self._defaults()

    def weight(self, asset: str, account) -> float:
        """The health weight w of a supplied asset (see the module docstring)."""
        raise NotImplementedError

    def account_problems(self, account) -> list[str]:
        """Known reserves, known parameter names within bounds, collateral parameters present."""
        out = []
        if account.positions:
            out.append(f"field 'positions': {self.name} is a lending protocol: give 'supplied' and "
                       f"'borrowed' assets, not positions")
        if account.collateral_items():
            out.append(f"field 'collateral': {self.name} accounts hold 'supplied' and 'borrowed' assets")
        for asset, params in self.params.reserves.items():
            for key, value in params.items():
                if key not in self.param_names:
                    out.append(f"field 'venue.reserves.{asset}.{key}': unknown parameter for {self.name} "
                               f"(known: {', '.join(self.param_names)})")
                elif key in self.bounds and not (self.bounds[key][0] <= value <= self.bounds[key][1]):
                    lo, hi = self.bounds[key]
                    out.append(f"field 'venue.reserves.{asset}.{key}': {value:g} is outside [{lo:g}, {hi:g}]")
        for key, items in (("supplied", account.supplied_items()), ("borrowed", account.borrowed_items())):
            for asset, _ in items:
                if not self.knows(asset):
                    out.append(f"field '{key}.{asset}': unknown reserve '{asset}' on {self.name} (bundled: "
                               f"{', '.join(sorted(self._defaults()))}; or give venue.reserves.{asset})")
                elif key == "supplied":
                    missing = [n for n in self.collateral_needs if n not in self.reserve(asset)]
                    if missing:
                        out.append(f"field 'venue.reserves.{asset}': {asset} as collateral needs "
                                   f"{', '.join(missing)}")
        both = {a for a, _ in account.supplied_items()} & {a for a, _ in account.borrowed_items()}
        for asset in sorted(both):
            out.append(f"field 'borrowed.{asset}': {asset} is also supplied; give the net amount")
        return out

    def position_problems(self, pos, account) -> list[tuple[str, str]]:
        """None per position: a lending account takes no positions at all (account_problems says
        so once), and the derivatives checks would read tiers a protocol does not have."""
        return []

    def liquidation_rule(self) -> int:
        """The ``LOAN_*`` code (:mod:`liqrisk.margin.base`) of what a liquidation leaves the holder
        in the Monte Carlo (:func:`liqrisk.margin.kernel.loan_equity_after_nb`)."""
        raise NotImplementedError

    def liquidation_terms(self, asset: str) -> tuple[float, float]:
        """(bonus / liquidation factor / chop, protocol fee share) of a supplied asset for
        :func:`liqrisk.margin.kernel.loan_equity_after_nb`."""
        raise NotImplementedError

    def debt_floor(self, account) -> float:
        """The smallest debt (USD) the protocol lets an account keep, other than none: a repayment
        must leave at least this or nothing (0: any amount)."""
        return 0.0

    def liquidation_call(self, account, prices: dict[str, float], health_factor: float) -> dict:
        """What a liquidator may do now (amounts in asset units, values in USD)."""
        raise NotImplementedError

    def forced_sale(self, account, prices: dict[str, float], health_factor: float) -> ForcedSale | None:
        """The protocol's liquidation response: the flows of the liquidation a cascade executes
        when the account's health is below 1 at ``prices`` (None: nothing can be liquidated)."""
        raise NotImplementedError


def values(items, prices) -> dict[str, float]:
    """USD value of each (asset, units) pair."""
    return {a: u * prices[a] for a, u in items}
