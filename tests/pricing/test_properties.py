"""Property tests (hypothesis) for liqrisk.pricing: put-call parity, implied-vol round trip,
no-arbitrage bounds, inverse-option parity. Ranges are the crypto ones of the spec:
vol 5%–300%, expiry 1 hour–3 years, log-moneyness ±3 (deep OTM and deep ITM)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.error_bounds import ULPS_TWO, implied_vol_error_bound
from liqrisk import pricing
from liqrisk.pricing.kernels import _IV_REL_STEP_TOL as IV_STOP

pytestmark = pytest.mark.numerics

HOUR = 1.0 / (365 * 24)
EPS = np.finfo(float).eps

spots = st.floats(1e-2, 1e6)
log_moneyness = st.floats(-3.0, 3.0)
expiries = st.floats(HOUR, 3.0)
vols = st.floats(0.05, 3.0)
rates = st.floats(-0.05, 0.2)
yields = st.floats(-0.1, 0.2)

settings.register_profile("pricing", max_examples=400, deadline=None)
settings.load_profile("pricing")


@given(spots, log_moneyness, expiries, rates, yields, vols)
def test_put_call_parity_call_minus_put_is_discounted_forward_minus_strike(S, m, T, r, q, vol):
    # C − P = S·e^{-qT} − K·e^{-rT} (Merton 1973). Both share F and N(±d): N(d) + N(−d) = 1 to
    # ~2ε and each product/discount adds ε, so the difference errs by a few ε × the scale.
    K = S * math.exp(m)
    call, put = pricing.black_scholes(S, K, T, r, vol, np.array([True, False]), q=q)
    scale = S * math.exp(-q * T) + K * math.exp(-r * T)
    assert abs((call - put) - (S * math.exp(-q * T) - K * math.exp(-r * T))) <= 8 * EPS * scale


@given(spots, log_moneyness, expiries, rates, yields, vols)
def test_greeks_put_call_parity_delta_gamma_vega(S, m, T, r, q, vol):
    # ∂/∂S, ∂²/∂S², ∂/∂σ of C − P = S·e^{-qT} − K·e^{-rT}: e^{-qT}, 0, 0. Delta: N(d) + N(−d)
    # = 1 to ~2ε; gamma and vega of a call and a put are the same float operations on n(d1).
    g = pricing.greeks(S, S * math.exp(m), T, r, vol, np.array([True, False]), q=q)
    assert abs(g["delta"][0] - g["delta"][1] - math.exp(-q * T)) <= 4 * EPS
    assert math.isclose(g["gamma"][0], g["gamma"][1], rel_tol=2 * EPS, abs_tol=1e-300)
    assert math.isclose(g["vega"][0], g["vega"][1], rel_tol=2 * EPS, abs_tol=1e-300)


@given(spots, log_moneyness, expiries, rates, yields, vols, st.booleans())
def test_implied_vol_round_trip_within_its_conditioning_bound(S, m, T, r, q, vol, is_call):
    # The price carries its evaluation error (B_V) and, in the money, the rounding of the
    # intrinsic value stored with it; divided by vega, that is how far the vol can be moved
    # (error_bounds.implied_vol_error_bound), plus the solver's stopping rule.
    K = S * math.exp(m)
    price = pricing.black_scholes(S, K, T, r, vol, is_call, q=q)
    forward, discount = S * math.exp((r - q) * T), math.exp(-r * T)
    intrinsic = discount * max((1 if is_call else -1) * (forward - K), 0.0)
    if price - intrinsic <= 1e-8 * S:
        return
    iv = pricing.implied_vol(price, S, K, T, r, is_call, q=q)
    bound = ULPS_TWO * implied_vol_error_bound(S, K, T, r, vol, is_call, q=q) + IV_STOP * vol
    assert abs(iv - vol) <= bound


@given(spots, log_moneyness, expiries, rates, yields, vols, st.booleans())
def test_implied_vol_of_out_of_the_money_prices_within_1e_10(S, m, T, r, q, vol, is_call):
    # The documented accuracy: quoted on the out-of-the-money side with a time value above
    # 1e-8·S, the bound above is ≲ ULPS·ε·(|d1| + |d2|)/√T + IV_STOP·σ: |d| ≤ 6 at N ≥ 1e-8,
    # T ≥ 1 hour, σ ≤ 3 give < 5e-12, well inside 1e-10.
    K = S * math.exp(m)
    is_call = K >= S * math.exp((r - q) * T)
    price = pricing.black_scholes(S, K, T, r, vol, is_call, q=q)
    if price <= 1e-8 * S:
        return
    iv = pricing.implied_vol(price, S, K, T, r, is_call, q=q)
    assert abs(iv - vol) <= ULPS_TWO * implied_vol_error_bound(S, K, T, r, vol, is_call, q=q) + IV_STOP * vol
    assert abs(iv - vol) < 1e-10


@given(spots, log_moneyness, expiries, rates, yields, st.booleans(), st.floats(1e-12, 0.5))
def test_implied_vol_is_nan_below_intrinsic_and_above_upper_bound(S, m, T, r, q, is_call, gap):
    K = S * math.exp(m)
    forward, discount = S * math.exp((r - q) * T), math.exp(-r * T)
    w = 1 if is_call else -1
    intrinsic = discount * max(w * (forward - K), 0.0)
    upper = discount * (forward if is_call else K)
    below = intrinsic - gap * max(intrinsic, S)
    above = upper * (1 + gap)
    assert np.isnan(pricing.implied_vol([below, above], S, K, T, r, is_call, q=q)).all()


@given(st.floats(100.0, 1e6), log_moneyness, expiries, rates, vols)
def test_inverse_call_minus_put_coin_value_and_delta(F, m, T, r, vol):
    # Coin parity: (C − P)/F = e^{-rT}(1 − K/F); premium-adjusted deltas differ by e^{-rT}·K/F.
    K = F * math.exp(m)
    both = np.array([True, False])
    call, put = pricing.inverse_option_price(F, K, T, r, vol, both)
    delta_call, delta_put = pricing.inverse_delta(F, K, T, r, vol, both)
    discount = math.exp(-r * T)
    scale = discount * (1 + K / F)
    assert abs((call - put) - discount * (1 - K / F)) <= 8 * EPS * scale
    assert abs((delta_call - delta_put) - discount * K / F) <= 8 * EPS * scale
