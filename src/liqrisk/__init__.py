"""liqrisk: liquidation risk of crypto derivatives portfolios.

The Python API is imported lazily (PEP 562): ``import liqrisk`` is cheap, and
``liqrisk.what_if`` / ``liqrisk.advise`` / ``liqrisk.hedge_backtest`` load their modules on
first use."""
__version__ = "0.1.0"

_API = {
    "what_if": ("liqrisk.advise.whatif", "what_if"),
    "advise": ("liqrisk.advise", None),           # the package, callable (see its docstring)
    "hedge_backtest": ("liqrisk.advise.hedging", "hedge_backtest"),
}


def __getattr__(name: str):
    if name in _API:
        import importlib
        module, attr = _API[name]
        value = importlib.import_module(module)
        value = getattr(value, attr) if attr else value
        globals()[name] = value
        return value
    raise AttributeError(f"module 'liqrisk' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
