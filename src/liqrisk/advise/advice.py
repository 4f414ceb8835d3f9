"""`advise`: for every account that misses a target, the ways to meet it — top-up per asset,
deleveraging, perp/future hedge, protective put — each the smallest that meets the target,
verified by re-running the engine on the changed account, ranked by cost (USD)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from liqrisk.advise.search import Action
from liqrisk.advise.targets import Evaluator, Target
from liqrisk.results import Result, plain


@dataclass
class AccountAdvice:
    id: str
    venue: str
    settlement_currency: str
    metric: float | None            # None: not evaluated (no probability; Advice.notes says why)
    meets: bool | None              # None: not evaluated
    actions: list[Action] = field(default_factory=list)
    model: str | None = None       # the path model of its probability (`analyze`'s; None: distance target)


@dataclass
class Advice(Result):
    """Per account: the target's metric now, whether it meets it, and the actions (cheapest
    first among those that meet it). ``evaluations``: engine runs spent."""

    target: str
    kind: str
    accounts: list[AccountAdvice]
    evaluations: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return plain({"target": self.target, "metric": _METRIC[self.kind], "evaluations": self.evaluations,
                      "accounts": [asdict(a) for a in self.accounts], "notes": self.notes})


_METRIC = {"distance": "smallest distance to a liquidation boundary (daily sd)",
           "probability": "P(liquidation within the horizon)"}


def _rank(actions: list[Action]) -> list[Action]:
    key = lambda a: (not a.meets, math.inf if a.cost_usd is None or not math.isfinite(a.cost_usd) else a.cost_usd)
    return sorted(actions, key=key)


def advise(portfolio: str | Path | dict, target: str, paths: int = 20_000, seed: int = 7, model: str = "auto",
           accounts: list[str] | None = None, progress=None, fhs_tails: str = "gpd") -> Advice:
    """Advice for ``portfolio`` (path, document or model Portfolio) against ``target``
    (``"p(7d)<=1%"`` or ``"distance>=3sd"``); ``accounts`` limits it to these ids; ``model`` the
    path model of a probability target as `analyze` resolves it (``auto``: the calibrated default
    per account, reported per account). The accounts
    are analysed together once (accounts on the same underlyings share one simulation), and
    every evaluation of a changed account reads back the paths of its underlyings drawn there."""
    from liqrisk.load import load_portfolio
    from liqrisk.risk.book_mc import reuse_paths
    t = Target.parse(target)
    pf = load_portfolio(portfolio)
    ev = Evaluator(pf, t, paths, seed, model, fhs_tails=fhs_tails)
    chosen = [a for a in pf.accounts if accounts is None or a.id in accounts]
    out, notes = [], []
    with reuse_paths():
        nows = ev.analyses(chosen) if chosen else []
        for done, (acc, now) in enumerate(zip(chosen, nows), 1):
            out.append(_advise_account(ev, acc, now))
            if out[-1].meets is None:
                notes.append(f"account '{acc.id}': {t.text} not evaluated — no probability: "
                             f"{ev.why_not.get(acc.id, 'the model gave none')}")
            if progress:
                progress(done, len(chosen))
    return Advice(t.text, t.kind, out, ev.calls, notes)


def _advise_account(ev: Evaluator, acc, now) -> AccountAdvice:
    from liqrisk.advise.deleverage import deleverages
    from liqrisk.advise.hedges import perp_hedges, put_hedges
    from liqrisk.advise.targets import one_numba_thread
    from liqrisk.advise.topup import topups
    value = _metric(now, ev.target)
    adv = AccountAdvice(acc.id, now.venue, now.settlement_currency, value,
                        None if value is None else ev.target.meets(value),
                        model=now.risk.model if now.risk is not None else None)
    if adv.meets is False:
        with one_numba_thread():
            cuts = deleverages(ev, acc, now)
            alone = {c.details["positions"][0]: c.amount for c in cuts if len(c.details.get("positions", ())) == 1}
            adv.actions = _rank(topups(ev, acc, now) + cuts + perp_hedges(ev, acc, now, alone) + put_hedges(ev, acc, now))
    for x in adv.actions:
        if x.model is not None and adv.model is not None and x.model != adv.model:
            x.details["model_switch"] = f"{adv.model} → {x.model}"
    return adv


def _metric(result, t: Target) -> float | None:
    from liqrisk.advise.targets import metric_of
    return metric_of(result, t)
