"""Policy back-test: the dynamic risk rules traders use against holding, on the same simulated
paths (GBM at the market vol) or on the bundled real hourly BTC history rescaled to the mark.

The account is one linear perp (cross or isolated), compiled by the margin engine; at every
monitoring step its pool is valued with the margin kernel's position function:

* **hold** — liquidated when equity ≤ MM; the forced close leaves max(equity − fee·|q|·S, 0);
* **cut** — when the boundary is under ``k`` daily sd away (for a one-position pool, concave in
  the price: exactly when equity ≤ MM already at ``S·e^{∓k·σ_d}``), cut half the position at the
  taker fee (realised P&L stays in the account's wealth);
* **top up** — when the boundary is under ``d`` daily sd away, add the collateral that puts it at
  ``d`` sd (``MM − equity`` at ``S·e^{∓d·σ_d}``: equity is linear in collateral, so exact).

P&L = final wealth − initial wealth − capital added. The step loop is one numba kernel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

import liqrisk._jitcache  # noqa: F401,E402  (before any cached kernel: see its docstring)

from liqrisk.margin.kernel import QTY, ENTRY, position_value_mm_nb
from liqrisk.results import Result, plain

HOLD, CUT, TOPUP = 0, 1, 2


@njit(cache=True, nogil=True, inline="always")
def _state(S, q, i, pos_i, pos_f, tiers):
    """(value, MM) in USD of the pool's one linear position ``i`` at price ``S`` and size ``q``
    (written into this call's ``pos_f``), by the margin kernel."""
    pos_f[QTY, i] = q
    return position_value_mm_nb(i, S, 1.0, 0.0, pos_i, pos_f, tiers, 0.0)


@njit(cache=True, nogil=True)
def policy_paths_nb(incr, s0, i, const0, pos_i, pos_f, tiers, policy, level, sd_step, fee, liq_fee, pnl,
                    liquidated, costs, capital, actions):
    """Run ``policy`` (HOLD / CUT / TOPUP at ``level`` daily sd; ``sd_step`` = one daily sd in log
    price) on every path of ``incr`` (n_paths, n_steps) log increments for position ``i`` of the
    book's ``pos_i``/``pos_f``/``tiers`` (``pos_f`` this call's own copy; module docstring)."""
    n_paths, n_steps = incr.shape
    q0, entry = pos_f[QTY, i], pos_f[ENTRY, i]
    side = 1.0 if q0 > 0 else -1.0
    for p in range(n_paths):
        S, q, const = s0, q0, const0
        banked = cost = added = 0.0
        n_act = 0
        dead = False
        for k in range(n_steps + 1):
            v, m = _state(S, q, i, pos_i, pos_f, tiers)
            if const + v - m <= 0.0:
                const, q, dead = max(const + v - liq_fee * abs(q) * S, 0.0), 0.0, True
                break
            if policy != HOLD and k < n_steps:
                x = S * math.exp(-side * level * sd_step)
                vx, mx = _state(x, q, i, pos_i, pos_f, tiers)
                g = const + vx - mx
                if g < 0.0:
                    if policy == CUT:
                        cut = 0.5 * q
                        banked += cut * (S - entry)
                        c = fee * abs(cut) * S
                        cost += c
                        banked -= c
                        q -= cut
                    else:
                        const -= g
                        added -= g
                    n_act += 1
            if k < n_steps:
                S *= math.exp(incr[p, k])
        eq = const + (0.0 if dead else _state(S, q, i, pos_i, pos_f, tiers)[0])
        pnl[p] = eq + banked - const0 - added - _state(s0, q0, i, pos_i, pos_f, tiers)[0]
        liquidated[p] = dead
        costs[p] = cost
        capital[p] = added
        actions[p] = n_act
    return 0


@dataclass
class PolicyBacktest(Result):
    account: str
    model: str
    paths: int
    horizon_days: float
    policies: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return plain({"account": self.account, "model": self.model, "paths": self.paths,
                      "horizon_days": self.horizon_days, "currency": "USD", "policies": self.policies,
                      "notes": self.notes})


def policy_backtest(portfolio: str | Path | dict, account: str, cut_below: float = 2.0, topup_to: float = 3.0,
                    horizon_days: float = 30, steps_per_day: int = 24, paths: int = 10_000, model: str = "gbm",
                    seed: int = 7, progress=None) -> PolicyBacktest:
    """Hold vs "cut 50% when the boundary is under ``cut_below`` daily sd" vs "top up to
    ``topup_to`` daily sd" for a one-linear-perp account of ``portfolio``; the paths run in
    chunks on threads, ``progress(done, total)`` counts policy × path runs."""
    from liqrisk.advise.hedging import history_increments, HedgeSpec
    from liqrisk.dynamics import paths as P
    from liqrisk.io.portfolio import InputError
    from liqrisk.load import load_portfolio
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.margin.base import LINEAR
    from liqrisk.model import Portfolio
    from liqrisk.io import limits
    from liqrisk.io.limits import out_of_range
    lim = limits.current()
    bad = [p for p in (out_of_range("--cut-below", cut_below, 0.0, 100.0), out_of_range("--topup-to", topup_to, 0.0, 100.0),
                       out_of_range("--days", horizon_days, 0.0, lim.max_horizon_days, lo_open=True),
                       out_of_range("--steps-per-day", steps_per_day, 1, 24 * 60)) if p]
    if not bad and horizon_days * steps_per_day < 1:
        bad.append(f"--days {horizon_days:g} × --steps-per-day {steps_per_day}: less than one monitoring step")
    if not bad and paths * horizon_days * steps_per_day > lim.max_path_steps:
        bad.append(lim.exceeded("max_path_steps", f"--paths {paths:,} × {horizon_days * steps_per_day:,.0f} time steps",
                                "fewer --paths, --days or --steps-per-day"))
    if bad:
        raise InputError(bad)
    pf = load_portfolio(portfolio)
    acc = next((a for a in pf.accounts if a.id == account), None)
    if acc is None:
        raise InputError([f"--account: no account '{account}' (accounts: {', '.join(a.id for a in pf.accounts)})"])
    cp = CompiledPortfolio(Portfolio(pf.market, (acc,)))
    a, plan = cp.arrays, cp.plans[0]
    rows = [r for r in plan.position_rows if r >= 0]
    if len(acc.positions) != 1 or len(rows) != 1 or a.contract[rows[0]] != LINEAR or acc.positions[0].kind != "perp":
        held = ", ".join(f"{p.kind} {p.symbol or p.underlying}" for p in acc.positions)
        raise InputError([f"account '{account}': the policy back-test takes one linear (USD-margined) perp; "
                          f"it holds {held or 'nothing'}"])
    i = rows[0]
    pool = plan.position_pools[0]
    if a.leg_end[pool] > a.leg_start[pool] or a.sc_end[pool] > a.sc_start[pool]:
        raise InputError([f"account '{account}': coin collateral or portfolio margin is not supported here"])
    und = cp.market.names[a.axis[i]]
    s0 = float(cp.market.prices[a.axis[i]])
    sigma = cp.market.atm_vol(und)
    if not sigma:
        raise InputError([f"market '{und}', field 'vol': needed for the policy back-test"])
    n_steps = int(round(horizon_days * steps_per_day))
    dt = horizon_days / 365 / n_steps
    if model == "history":
        incr = history_increments(HedgeSpec(s0, s0, horizon_days, sigma, rebalances=n_steps), paths)
    elif model == "gbm":
        incr = P.simulate(P.gbm(sigma), paths, n_steps, dt, seed)[0][:, :, 0]
    else:
        raise InputError([f"--model '{model}': expected gbm or history"])
    incr = np.ascontiguousarray(incr)
    rules = plan.rules
    out = PolicyBacktest(account, model, len(incr), horizon_days)
    base = None
    policies = (("hold", HOLD, 0.0), (f"cut 50% under {cut_below:g} sd", CUT, cut_below),
                (f"top up to {topup_to:g} sd", TOPUP, topup_to))
    n = len(incr)
    chunks = [(k, min(k + P.CHUNK, n)) for k in range(0, n, P.CHUNK)]
    done = [0]
    for name, policy, level in policies:
        res = [np.empty(n), np.empty(n, dtype=np.bool_), np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)]

        def run(c, policy=policy, level=level, res=res):
            lo, hi = c
            policy_paths_nb(incr[lo:hi], s0, i, a.const_usd[pool], a.pos_i, a.pos_f.copy(), a.tiers, policy, level,
                            sigma / math.sqrt(365), rules.params.taker_fee, rules.params.liquidation_fee,
                            *(x[lo:hi] for x in res))
            done[0] += hi - lo
            if progress:
                progress(done[0], len(policies) * n)
        P.map_chunks(run, chunks)
        pnl, liq, cost, capital, acts = res
        if base is None:
            base = liq
        out.policies[name] = {
            "liquidation_probability": float(liq.mean()), "liquidations": int(liq.sum()),
            "liquidations_avoided": int(base.sum() - liq.sum()), "cost_mean": float(cost.mean()),
            "capital_added_mean": float(capital.mean()), "actions_mean": float(acts.mean()),
            "pnl_mean": float(pnl.mean()), "pnl_std": float(pnl.std(ddof=1)) if n > 1 else 0.0,
            "pnl_quantiles": {str(q): float(np.quantile(pnl, q)) for q in (0.01, 0.05, 0.5, 0.95, 0.99)}}
    if model == "history":
        out.notes.append(f"{len(incr)} windows of the bundled hourly BTC-USD history, rescaled to the mark")
    return out
