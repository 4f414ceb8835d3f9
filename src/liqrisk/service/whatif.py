"""What-if inputs for the dashboard's controls: the same portfolio document with every mark (and
index) moved by a relative price shock, every vol scaled, and collateral added to accounts. The
shocked document is analysed by the one engine like any other portfolio."""
from __future__ import annotations

import copy

from pydantic import BaseModel, ConfigDict, Field


class TopUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1)
    currency: str = Field(min_length=1, max_length=20)
    amount: float = Field(gt=0, lt=1e15)


class WhatIf(BaseModel):
    """``price``: underlying → relative move (−0.1 = −10 %), ``"*"`` for every underlying;
    ``vol``: multiplier of every vol — flat ``vol`` and ``term.vol`` (1 = unchanged); ``top_up``: collateral added."""

    model_config = ConfigDict(extra="forbid")
    price: dict[str, float] = Field(default_factory=dict)
    vol: float = Field(default=1.0, gt=0, le=10)
    top_up: list[TopUp] = Field(default_factory=list, max_length=100)


def apply_what_if(doc: dict, w: WhatIf) -> dict:
    """A shocked deep copy of ``doc`` (``doc`` is not mutated). Raises ``ValueError`` naming the
    field when a shock refers to something the document does not have."""
    out = copy.deepcopy(doc)
    market = out.get("market")
    if not isinstance(market, dict):
        raise ValueError("portfolio.market: missing")
    for name, move in w.price.items():
        if not -0.99 <= move <= 10:
            raise ValueError(f"what_if.price.{name}: a relative move in [-0.99, 10] (−0.1 = −10%)")
        targets = [k for k, b in market.items() if isinstance(b, dict)] if name == "*" else [name.upper()]
        for k in targets:
            if not isinstance(market.get(k), dict):
                raise ValueError(f"what_if.price.{name}: no market entry '{k}'")
            for key in ("mark", "index"):
                if isinstance(market[k].get(key), (int, float)):
                    market[k][key] = market[k][key] * (1 + move)
    if w.vol != 1.0:
        for k, b in market.items():
            if not isinstance(b, dict):
                continue
            if b.get("smile") is not None:
                raise ValueError(f"what_if.vol: market.{k} has a smile; a vol multiplier applies to "
                                 "'vol' and 'term' only")
            if isinstance(b.get("vol"), (int, float)):
                b["vol"] = b["vol"] * w.vol
            term = b.get("term")
            if isinstance(term, dict) and isinstance(term.get("vol"), list):
                b["term"] = {**term, "vol": [v * w.vol if isinstance(v, (int, float)) else v for v in term["vol"]]}
    accounts = {a.get("id"): a for a in out.get("accounts") or [] if isinstance(a, dict)}
    for t in w.top_up:
        acc = accounts.get(t.account)
        if acc is None:
            raise ValueError(f"what_if.top_up: no account '{t.account}'")
        coll = acc.setdefault("collateral", {})
        ccy = next((c for c in coll if c.upper() == t.currency.upper()), t.currency.upper())
        cur = coll.get(ccy, 0.0)
        if isinstance(cur, dict):
            cur["amount"] = cur.get("amount", 0.0) + t.amount
        else:
            coll[ccy] = cur + t.amount
    return out
