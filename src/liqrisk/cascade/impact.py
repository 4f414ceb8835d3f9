"""Price impact of liquidation flow inside a time step, and its decay between steps.

Within a step the liquidation orders of successive rounds walk one book: after a cumulative
signed flow ``V`` (base units, + buys) the price is displaced by ``f(V) = c·sign(V)·|V|^α``
(relative), and an order taking the flow from ``V0`` to ``V1`` fills at the average
displacement ``(G(V1) − G(V0))/(V1 − V0)``, ``G(V) = c·|V|^(α+1)/(α+1)`` (a book walk).
Parameters are those of :mod:`liqrisk.liquidity.impact`:

* :class:`~liqrisk.liquidity.impact.SquareRootImpact` → ``α = ½``,
  ``c = Y·σ_annual/√365/√(daily volume)`` (Tóth et al. 2011);
* :class:`~liqrisk.liquidity.impact.LinearImpact` → ``α = 1``, ``c = λ·price`` (Kyle 1985).

After the step, the ``permanent_fraction`` of the displacement stays; the rest decays by
``exp(−resilience)`` per step (book resilience).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqrisk.liquidity.impact import LinearImpact, SquareRootImpact


@dataclass(frozen=True)
class CascadeImpact:
    """One impact model per asset (``None`` = no impact) and the per-step resilience rate."""

    models: tuple
    resilience: float = 0.0

    def coefficients(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(c, α, permanent fraction) per asset at ``prices`` (USD)."""
        c = np.zeros(len(self.models))
        alpha = np.ones(len(self.models))
        perm = np.ones(len(self.models))
        for i, m in enumerate(self.models):
            if isinstance(m, SquareRootImpact):
                c[i] = m.y * m.sigma / np.sqrt(365.0) / np.sqrt(m.daily_volume)
                alpha[i], perm[i] = 0.5, m.permanent_fraction
            elif isinstance(m, LinearImpact):
                c[i] = m.kyle_lambda * prices[i]
                perm[i] = m.permanent_fraction
            elif m is not None:
                raise TypeError(f"unsupported impact model {type(m).__name__}")
        return c, alpha, perm

    def scaled(self, factor: float) -> "CascadeImpact":
        """The same models with depth thinned by ``factor`` (``model.stressed``). ``factor`` 0 is
        infinite depth: no impact, the limit of every model (a sweep's zero-impact baseline)."""
        if factor == 0:
            return CascadeImpact(tuple(None for _ in self.models), self.resilience)
        return CascadeImpact(tuple(m if m is None else m.stressed(factor) for m in self.models),
                             self.resilience)


def displacement(c, alpha, v):
    """Relative price displacement after cumulative signed flow ``v`` (base units)."""
    return c * np.sign(v) * np.abs(v) ** alpha


def average_displacement(c, alpha, v0, v1):
    """Average relative displacement of fills taking the flow from ``v0`` to ``v1``."""
    g = lambda v: c * np.abs(v) ** (alpha + 1.0) / (alpha + 1.0)  # noqa: E731
    dv = v1 - v0
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = (g(v1) - g(v0)) / dv
    return np.where(dv != 0, avg, displacement(c, alpha, v0))
