"""Scenario (portfolio) margin as a pool type of the one kernel.

A scenario pool's maintenance margin is not a sum over positions but the worst loss of the pool
over a set of scenarios (:func:`liqrisk.margin.kernel.scenario_mm_nb`): each scenario moves every
position's price by ``move`` units of its range (a fraction ``sh_rel`` of the price, or
``sh_abs`` price units) and its vol to its vol-up / unchanged / vol-down value; the P&L of each
risk unit (the pool's positions on one underlying) is summed, weighted, dampened and its gains
scaled by ``pnl_offset``; the unit's loss is the worst scenario's; units add up, plus the roll
shock and any constant charge, floored, times ``mm_factor``. Because it is a pool state like any
other, boundaries (the kernel brackets every sign change of ``equity − MM``, also where the worst
scenario changes — a kink), Monte Carlo, exit costs and cascades need nothing new.

A rule set that supports ``mode: portfolio`` returns a :class:`ScenarioSet` and the per-position
scenario terms; :func:`risk_matrix` is the NumPy reference of the kernel (tested to agree) and
gives the whole matrix for the report.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liqrisk.margin.base import INVERSE, INVERSE_OPTION, LINEAR


@dataclass
class ScenarioSet:
    """The scenarios of one rule set for one pool, with what the report needs to show them."""

    model: str
    moves: list[float]           # price move in units of each position's range
    vols: list[int]              # −1 vol down, 0 unchanged, +1 vol up
    weights: list[float]
    damp: list[float]            # USD dampener shrinking each scenario's P&L toward 0
    labels: list[str]
    pnl_offset: float = 0.0      # share of a scenario's gain that offsets losses (0: gains ignored)
    mm_factor: float = 1.0
    im_factor: float = 1.0       # IM = im_factor × the scenario requirement (MM / mm_factor)
    add: float = 0.0             # USD added to the requirement (spread charges − credits)
    floor: float = 0.0           # USD minimum of the requirement (short-option minimum)
    move_labels: dict[float, str] = field(default_factory=dict)   # how to show each distinct move
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple]:
        return list(zip(self.moves, self.vols, self.weights, self.damp))

    def pm_par(self) -> tuple:
        return (self.pnl_offset, self.mm_factor, self.add, self.floor)


def risk_matrix(arrays, p: int, prices: np.ndarray, t_elapsed: float = 0.0) -> dict:
    """NumPy reference of :func:`~liqrisk.margin.kernel.scenario_mm_nb` for pool ``p``: per risk
    unit (axis) the adjusted P&L of every scenario (USD, after weight, dampener and pnl_offset),
    its worst loss and worst scenario index; the roll shock and the pool's MM (USD)."""
    from liqrisk.pricing.reference import black76   # SciPy: loaded only by this reference
    a = arrays
    s0, s1 = a.sc_start[p], a.sc_end[p]
    offset, factor, add, floor = a.pm_par[p]
    move, vcode, weight, damp = a.sc_move[s0:s1], a.sc_vol[s0:s1], a.sc_weight[s0:s1], a.sc_damp[s0:s1]
    idx = np.arange(a.pos_start[p], a.pos_end[p])
    P = prices[a.axis[idx]] * a.basis[idx]
    s_ax = a.settle_axis[p]
    contract = a.contract[idx]
    settle = np.where(contract == LINEAR, 1.0, P) if s_ax < 0 else np.full(len(idx), prices[s_ax])
    P1 = np.maximum(P[:, None] * (1 + move[None, :] * a.sh_rel[idx, None]) + move[None, :] * a.sh_abs[idx, None],
                    1e-12 * P[:, None])
    vol0 = a.vol[idx]
    vol1 = np.where(vcode[None, :] > 0, a.vol_up[idx, None], np.where(vcode[None, :] < 0, a.vol_dn[idx, None],
                                                                     vol0[:, None]))
    T = (a.expiry[idx] - t_elapsed)[:, None]
    q = a.qty[idx, None]
    opt0 = black76(P[:, None], a.strike[idx, None], T, a.rate, vol0[:, None], a.is_call[idx, None]) / P[:, None]
    opt1 = black76(P1, a.strike[idx, None], T, a.rate, vol1, a.is_call[idx, None]) / P1
    pnl = np.where(contract[:, None] == INVERSE_OPTION, q * (opt1 - opt0) * settle[:, None],
                   np.where(contract[:, None] == LINEAR, q * (P1 - P[:, None]),
                            q * (1 / P[:, None] - 1 / P1) * settle[:, None]))
    units = []
    total = 0.0
    for ax in dict.fromkeys(a.axis[idx]):
        v = pnl[a.axis[idx] == ax].sum(axis=0) * weight
        v = np.where(damp > 0, np.sign(v) * np.maximum(np.abs(v) - damp, 0.0), v)
        v = np.where(v > 0, v * offset, v)
        k = int(np.argmin(v))
        worst = max(0.0, -float(v[k]))
        total += worst
        units.append({"axis": int(ax), "pnl": v, "worst_loss": worst, "worst_index": k})
    aq = np.abs(a.qty[idx])
    size_usd = np.where(contract == LINEAR, aq * P, np.where(contract == INVERSE, aq * settle / P, aq * settle))
    roll = float(np.sum(a.roll[idx] * size_usd))
    requirement = max(total + roll + add, floor)
    return {"units": units, "roll_shock": roll, "requirement": requirement, "mm": factor * requirement}
