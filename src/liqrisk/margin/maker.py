"""MakerDAO / Sky vaults, Liquidations 2.0 (``dog.sol`` / ``clip.sol``, live since 2021-04).

A vault with ``ink`` collateral and ``art·rate`` DAI of debt is unsafe when
``ink·price/mat < art·rate`` (the spot price is ``price/mat``): health weight ``w = 1/mat``.
``bark`` starts an auction of ``dart = min(art, room/rate/chop)`` — the whole vault when what would
be left is below ``dust``, and it reverts if the part taken is itself dusty — with
``tab = dart·rate·chop`` DAI to raise and ``lot = ink·dart/art`` collateral; the Dutch auction
starts at ``top = price·buf`` and falls along a linear, stair-step or exponential curve
(:func:`auction_price`); it is reset once older than ``tail`` seconds or cheaper than
``cusp·top``. Parameters per collateral type (``venue.reserves.<ASSET>``): ``mat``, ``chop``,
``dust`` (DAI), ``buf``, ``tail`` (s), ``cusp``, ``hole`` (DAI room for this ilk). Bundled
defaults are representative. Debt is given in DAI (``borrowed: {DAI: art·rate}``).

Liquidation response in a cascade (:meth:`Maker.forced_sale`): ``bark``; keepers buy at once the
part of the lot that raises ``tab`` at the oracle price (all of it if that is short), at the
market's fill price (no keeper margin), and sell it into the market; the rest of the lot goes
back to the owner (kept in the account's supply); the surplus buffer receives the proceeds and
books the debt taken (the penalty is its gain, a shortfall its loss).
"""
from __future__ import annotations

import math

from liqrisk.margin.base import LOAN_MAKER
from liqrisk.margin.loan import ForcedSale, LoanRuleSet


class Maker(LoanRuleSet):
    name = "maker"
    defaults_key = "maker"
    param_names = ("mat", "chop", "dust", "buf", "tail", "cusp", "hole")
    collateral_needs = ("mat", "chop")
    bounds = {"mat": (1.0, 100.0), "chop": (1.0, 2.0), "dust": (0.0, 1e12), "buf": (0.5, 10.0),
              "tail": (0.0, 1e9), "cusp": (0.0, 1.0), "hole": (0.0, 1e15)}

    def weight(self, asset: str, account) -> float:
        return 1.0 / float(self.reserve(asset)["mat"])

    def account_problems(self, account) -> list[str]:
        out = super().account_problems(account)
        if len(account.supplied_items()) > 1:
            out.append("field 'supplied': a Maker vault holds one collateral type; one account per vault")
        if any(a != "DAI" for a, _ in account.borrowed_items()):
            out.append("field 'borrowed': Maker vaults owe DAI only")
        return out

    def debt_floor(self, account) -> float:
        """``dust``: ``Vat.frob`` reverts ("Vat/dust") when a vault's debt is left in (0, dust)."""
        return max((float(self.reserve(a).get("dust", 0.0)) for a, _ in account.supplied_items()), default=0.0)

    def liquidation_rule(self) -> int:
        return LOAN_MAKER

    def liquidation_terms(self, asset: str) -> tuple[float, float]:
        return float(self.reserve(asset)["chop"]), 0.0

    def liquidation_call(self, account, prices, health_factor) -> dict:
        (asset, ink), = account.supplied_items()
        ((_, debt),) = account.borrowed_items() or (("DAI", 0.0),)
        r = self.reserve(asset)
        return {"protocol": "maker bark", **bark(ink, debt, prices[asset], r["chop"], r.get("dust", 0.0),
                                                 r.get("hole", math.inf), r.get("buf", 1.0))}

    def forced_sale(self, account, prices, health_factor):
        call = self.liquidation_call(account, prices, health_factor)
        if not call["allowed"] or call["debt_taken"] <= 0:
            return None
        (asset, _), = account.supplied_items()
        sold, debt = min(call["lot"], call["tab"] / prices[asset]), call["debt_taken"]
        return ForcedSale(taken={asset: sold}, repaid={"DAI": debt}, protocol={asset: sold, "DAI": -debt},
                          sold={asset: sold}, full=call["debt_left"] <= 0)


def bark(ink: float, debt: float, price: float, chop: float, dust: float, room: float = math.inf,
         buf: float = 1.0, rate: float = 1.0) -> dict:
    """``dog.bark`` on a vault of ``ink`` collateral and ``debt = art·rate`` DAI: what goes to
    auction (``tab``, ``lot``) and the auction's starting price ``top = price·buf``."""
    art = debt / rate
    if room <= 0 or room < dust:
        return {"allowed": False, "reason": "Dog/liquidation-limit-hit"}
    dart = min(art, room / rate / chop)
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art
        elif dart * rate < dust:
            return {"allowed": False, "reason": "Dog/dusty-auction-from-partial-liquidation"}
    lot = ink * dart / art
    tab = dart * rate * chop
    return {"allowed": True, "debt_taken": dart * rate, "tab": tab, "lot": lot, "top": price * buf,
            "penalty_dai": tab - dart * rate, "ink_left": ink - lot, "debt_left": (art - dart) * rate,
            "shortfall_at_oracle_usd": max(tab - lot * price, 0.0)}


def auction_price(curve: str, top: float, dur: float, tau: float = 0.0, step: float = 0.0,
                  cut: float = 1.0) -> float:
    """Clipper price ``dur`` seconds after the kick (``abaci.sol``): ``linear`` ``top·(tau − dur)/tau``
    (0 after ``tau``); ``stairstep`` ``top·cut^⌊dur/step⌋``; ``exponential`` ``top·cut^dur``."""
    if curve == "linear":
        return top * max(tau - dur, 0.0) / tau
    if curve == "stairstep":
        return top * cut ** math.floor(dur / step)
    if curve == "exponential":
        return top * cut ** dur
    raise ValueError(f"unknown auction curve '{curve}' (linear, stairstep, exponential)")


def needs_redo(price: float, top: float, dur: float, tail: float, cusp: float) -> bool:
    """An auction is reset when older than ``tail`` or cheaper than ``cusp·top``."""
    return dur > tail or price / top < cusp
