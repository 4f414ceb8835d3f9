"""Scenario sweeps: many shocks × impact scales over one population, in chunks on an executor.

Each grid point rescales the scenario's move of ``asset`` and thins depth by an impact scale
(``CascadeImpact.scaled``); the scenario's noise seed (if any) is fixed per point, so a sweep
gives identical results on every executor and any chunking.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from itertools import product

import numpy as np

from liqrisk.batch import LocalExecutor
from liqrisk.cascade.engine import simulate
from liqrisk.cascade.book import Population
from liqrisk.cascade.scenario import Scenario

FIELDS = ("move", "impact_scale", "liquidated_usd", "liquidations", "accounts_liquidated",
          "final_move", "amplification", "insurance_fund_end", "adl_events")


@dataclass
class SweepResult:
    """One row per grid point (columns :data:`FIELDS`, amounts USD, moves as returns)."""

    asset: str
    rows: np.ndarray  # (n_points, len(FIELDS))

    def column(self, name: str) -> np.ndarray:
        return self.rows[:, FIELDS.index(name)]

    def to_dict(self) -> dict:
        return {"asset": self.asset, "fields": list(FIELDS),
                "rows": [[v if np.isfinite(v) else None for v in row] for row in self.rows.tolist()]}


def run_points(points, population: Population, scenario: Scenario, asset: str, on_step=None) -> np.ndarray:
    """Simulate a chunk of (move, impact_scale) points; one summary row each (``on_step``: see
    :func:`~liqrisk.cascade.engine.simulate`)."""
    i = scenario.assets.index(asset)
    out = []
    for move, scale in points:
        sc = replace(scenario.with_move(asset, move), impact=scenario.impact.scaled(scale))
        r = simulate(population, sc, on_step=on_step)
        amp = r.amplification()[asset]
        out.append([move, scale, r.liquidated_notional.sum(), r.liquidations.sum(), len(r.liquidated_accounts),
                    r.marks[:, i].min() / r.marks[0, i] - 1.0 if move < 0 else r.marks[:, i].max() / r.marks[0, i] - 1.0,
                    np.nan if amp is None else amp, r.insurance_fund[-1], len(r.adl_events)])
    return np.array(out, float).reshape(-1, len(FIELDS))


def sweep(population: Population, scenario: Scenario, asset: str, moves, impact_scales,
          executor=None, chunk_size: int = 25, on_step=None) -> SweepResult:
    """Run the grid ``moves × impact_scales`` in chunks of ``chunk_size`` points."""
    points = list(product([float(m) for m in moves], [float(s) for s in impact_scales]))
    chunks = [points[k:k + chunk_size] for k in range(0, len(points), chunk_size)]
    fn = partial(run_points, population=population, scenario=scenario, asset=asset, on_step=on_step)
    parts = (executor or LocalExecutor()).map_chunks(fn, chunks)
    return SweepResult(asset, np.vstack(parts) if parts else np.empty((0, len(FIELDS))))
