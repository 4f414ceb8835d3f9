"""Inverse (coin-settled, Deribit-style) options: premium and delta in the base coin.

The USD value is Black-76 on the forward F; the coin premium is V_coin = V_usd / F (Deribit,
"Inverse options" in the Deribit knowledge base). The premium-adjusted delta is the coin
amount whose USD P&L matches the option's for a small move of F:
    Δ_coin = F·∂V_coin/∂F = ∂V_usd/∂F − V_coin,
i.e. the Black-76 delta e^{-rT}·N(d1) (call) or e^{-rT}·(N(d1) − 1) (put) minus the coin
premium. r discounts the USD payoff to today in both terms; Deribit uses r = 0 (the forward
already carries the funding), which gives N(d1) − premium and N(d1) − 1 − premium.
"""

import numpy as np

from liqrisk.pricing import kernels
from liqrisk.pricing._arrays import flat_inputs, launch, shaped
from liqrisk.pricing.vanilla import black76


def inverse_option_price(F, K, T, r, vol, is_call):
    """Coin price of an inverse option, Black-76 USD price / F (NaN for F ≤ 0)."""
    F = np.asarray(F, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(F > 0.0, black76(F, K, T, r, vol, is_call) / F, np.nan)[()]


def inverse_delta(F, K, T, r, vol, is_call):
    """Premium-adjusted coin delta F·∂V_coin/∂F = Black-76 delta − coin premium (NaN for F ≤ 0)."""
    shape, (F, K, T, r, vol, is_call) = flat_inputs(F, K, T, r, vol, is_call)
    out = np.empty(F.size)
    launch(kernels.inverse_delta_vec, F.size, F, K, T, r, vol, is_call, out)
    return shaped(out, shape)
