"""Option pricing: Black-Scholes-Merton, Black-76, Greeks, implied vol, inverse (coin) options.

Numba kernels in ``liqrisk.pricing.kernels`` (scalar device functions such as
``black76_price_nb`` for other kernels), NumPy/SciPy reference in ``liqrisk.pricing.reference``.
"""

from liqrisk.pricing.inverse import inverse_delta, inverse_option_price
from liqrisk.pricing.vanilla import black76, black_scholes, greeks, implied_vol

__all__ = ["black76", "black_scholes", "greeks", "implied_vol", "inverse_delta",
           "inverse_option_price"]
