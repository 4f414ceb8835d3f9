"""What to do about liquidation risk: what-if, top-up, deleveraging, hedges, sizing, funding,
and back-tests of dynamic hedging and risk policies (one module per concept).

``liqrisk.advise`` is both this package and the API function :func:`liqrisk.advise.advice.advise`:
importing a submodule binds the package to the name ``advise`` on ``liqrisk``, so the package
itself is made callable and calls the function."""
import sys
import types


class _Callable(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from liqrisk.advise.advice import advise
        return advise(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable
