"""liqrisk: liquidation risk of crypto derivatives portfolios.

The names below are imported on first use (PEP 562), so ``import liqrisk`` stays cheap:
``liqrisk.analyze``, ``liqrisk.load_portfolio``, ``liqrisk.simulate_cascade``, ``liqrisk.what_if``,
``liqrisk.advise``, ``liqrisk.hedge_backtest``, the model classes (``Portfolio``, ``Account``,
``Position``, ``Instrument``, ``MarketState``, …) and the result classes (``PortfolioAnalysis``,
``AccountResult``, …).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_HOME = {
    **dict.fromkeys(("analyze", "load_portfolio", "simulate_cascade"), "liqrisk.api"),
    **dict.fromkeys(("Account", "Collateral", "Instrument", "MarketState", "Portfolio", "Position", "Quote",
                     "Tier", "Venue"), "liqrisk.model"),
    **dict.fromkeys(("AccountResult", "CascadeAnalysis", "ExitResult", "PortfolioAnalysis", "RiskResult",
                     "VolAnalysis"), "liqrisk.results"),
    "InputError": "liqrisk.io.portfolio",
    "what_if": "liqrisk.advise.whatif",
    "hedge_backtest": "liqrisk.advise.hedging",
}
_PACKAGES = {"advise": "liqrisk.advise"}   # the package itself is callable (see its docstring)

__all__ = ["__version__", *_HOME, *_PACKAGES]


def __getattr__(name: str):
    if name in _PACKAGES:
        value = importlib.import_module(_PACKAGES[name])
    elif name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'liqrisk' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME) | set(_PACKAGES))
