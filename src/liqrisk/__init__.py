"""liqrisk: liquidation risk of crypto derivatives portfolios.

The names below are imported on first use (PEP 562), so ``import liqrisk`` stays cheap:
``liqrisk.analyze``, ``liqrisk.load_portfolio``, ``liqrisk.simulate_cascade``, the model classes
(``Portfolio``, ``Account``, ``Position``, ``Instrument``, ``MarketState``, …) and the result
classes (``PortfolioAnalysis``, ``AccountResult``, …).
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
}

__all__ = ["__version__", *_HOME]


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'liqrisk' has no attribute '{name}'")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
