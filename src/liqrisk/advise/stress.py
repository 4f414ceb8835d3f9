"""Stress grid: the margin ratio (MM / equity) of every account over a price × vol grid per
underlying, the other marks held. One margin-kernel call per vol level evaluates every price row
of every pool at once (:func:`~liqrisk.margin.kernel.pools_states_nb`); a vol level is the same
book re-valued in a market whose implied vols are shifted (:meth:`CompiledPortfolio.with_market`).
An account is liquidatable at a grid point when any of its margin pools has equity ≤ MM."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from liqrisk.margin import kernel as K
from liqrisk.results import Result, plain

PRICE_MOVES = (-0.5, -0.4, -0.3, -0.25, -0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
VOL_SHIFTS = (-0.2, -0.1, 0.0, 0.1, 0.2, 0.4)


@dataclass
class StressGrid(Result):
    """``moves`` (relative) and per underlying the ``vol_shifts`` used (absolute; only 0 when no
    option moves with it) and per account that moves with it ``ratio[vol][move]`` (None where
    equity ≤ 0) and ``liquidatable[vol][move]``."""

    moves: list[float]
    vol_shifts: list[float]
    grids: dict[str, dict[str, dict]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return plain({"moves": self.moves, "vol_shifts": self.vol_shifts, "underlyings": self.grids})


def stress_grid(cp, moves=PRICE_MOVES, vol_shifts=VOL_SHIFTS) -> StressGrid:
    """The grid for a :class:`~liqrisk.margin.account.CompiledPortfolio` (module docstring)."""
    from liqrisk.advise.changes import shifted_quote
    from liqrisk.margin.base import INVERSE_OPTION
    moves = np.asarray(moves, float)
    out = StressGrid(moves.tolist(), list(vol_shifts))
    state = cp.portfolio.market
    for name in cp.market.names:
        ax = cp.market.axis(name)
        plans = [(i, plan) for i, plan in enumerate(cp.plans) if any(ax in s for s in plan.pool_axes.values())]
        if not plans:
            continue
        has_options = any(cp.arrays.contract[r] == INVERSE_OPTION and cp.arrays.axis[r] == ax
                          for _, plan in plans for r in plan.position_rows if r >= 0)
        shifts = list(vol_shifts) if has_options and state.quotes[name].vol is not None else [0.0]
        pools = np.array([p for _, plan in plans for p in plan.pools], dtype=np.int64)
        owner = np.array([k for k, (_, plan) in enumerate(plans) for _ in plan.pools])
        has_pos = cp.arrays.pos_end[pools] > cp.arrays.pos_start[pools]
        prices = np.repeat(cp.market.prices[None, :], len(moves), axis=0)
        prices[:, ax] *= 1 + moves
        ratio = np.full((len(shifts), len(plans), len(moves)), np.nan)
        liq = np.zeros((len(shifts), len(plans), len(moves)), dtype=bool)
        for v, shift in enumerate(shifts):
            book = cp if shift == 0 else cp.with_market(
                replace(state, quotes={**state.quotes, name: shifted_quote(state.quotes[name], shift, name)}))
            eq, mm = K.pools_states_nb(pools, prices, 0.0, book.arrays.args())
            for k in range(len(plans)):
                cols = owner == k
                e, m = eq[:, cols].sum(axis=1), mm[:, cols].sum(axis=1)
                ratio[v, k] = np.where(e > 0, m / np.where(e > 0, e, 1.0), np.nan)
                liq[v, k] = ((eq[:, cols] - mm[:, cols] <= 0) & has_pos[cols]).any(axis=1)
        out.grids[name] = {"vol_shifts": shifts, "accounts": {
            plan.account.id: {"ratio": ratio[:, k].tolist(), "liquidatable": liq[:, k].tolist()}
            for k, (_, plan) in enumerate(plans)}}
    return out
