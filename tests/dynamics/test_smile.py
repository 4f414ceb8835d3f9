"""Implied vol models built from the market block (liqrisk.dynamics.smile)."""
import math

import numpy as np
import pytest

from liqrisk.dynamics.ohlc import DataError, bundled_data_path
from liqrisk.dynamics.smile import (FlatVol, SmileSurface, TermVol, load_chain_csv,
                                    vol_model_from_market)

CHAIN = bundled_data_path("btc_option_iv_chain_2021-10-21.csv")


def test_flat_vol_broadcasts():
    v = FlatVol(0.52).vol(np.array([[50000.0], [60000.0]]), np.array([0.1, 0.5, 1.0]))
    assert v.shape == (2, 3) and (v == 0.52).all()


def test_term_vol_interpolates_total_variance_linearly_and_extrapolates_flat():
    term = TermVol([0.1, 0.5], [0.5, 0.6])
    np.testing.assert_allclose(term.vol(1.0, [0.1, 0.5]), [0.5, 0.6])
    # T = 0.3: w = (0.5^2 * 0.1 + 0.6^2 * 0.5) / 2 = 0.1025, sigma = sqrt(0.1025 / 0.3)
    assert term.vol(1.0, 0.3) == pytest.approx(math.sqrt(0.1025 / 0.3), rel=1e-12)
    np.testing.assert_allclose(term.vol(1.0, [0.01, 2.0]), [0.5, 0.6])


SLICES = [{"expiry_years": 0.1, "forward": 100.0, "strikes": [80, 90, 100, 110, 120],
           "vols": [0.70, 0.62, 0.55, 0.58, 0.64]},
          {"expiry_years": 0.5, "forward": 102.0, "strikes": [70, 100, 130],
           "vols": [0.75, 0.60, 0.66]}]


def test_smile_surface_reproduces_quotes_and_is_flat_beyond_the_wings():
    surface = SmileSurface.from_quotes(SLICES)
    np.testing.assert_allclose(surface.vol(SLICES[0]["strikes"], 0.1), SLICES[0]["vols"], rtol=1e-12)
    np.testing.assert_allclose(surface.vol(SLICES[1]["strikes"], 0.5), SLICES[1]["vols"], rtol=1e-12)
    np.testing.assert_allclose(surface.vol([10.0, 1000.0], 0.1), [0.70, 0.64])


def test_smile_is_monotone_between_quotes():
    """PCHIP does not overshoot: between two quotes the vol stays between them."""
    surface = SmileSurface.from_quotes(SLICES)
    strikes = np.linspace(100, 110, 41)
    v = surface.vol(strikes, 0.1)
    assert (v >= 0.55 - 1e-12).all() and (v <= 0.58 + 1e-12).all() and (np.diff(v) >= 0).all()


def test_between_expiries_total_variance_is_linear_at_fixed_log_moneyness():
    surface = SmileSurface.from_quotes(SLICES)
    T = 0.3
    forward = surface.forward(T)
    k = 0.05
    w = 0.5 * surface.vol(100 * math.exp(k), 0.1, forward=100.0) ** 2 * 0.1 \
        + 0.5 * surface.vol(102 * math.exp(k), 0.5, forward=102.0) ** 2 * 0.5
    assert surface.vol(forward * math.exp(k), T) == pytest.approx(math.sqrt(w / T), rel=1e-12)
    assert forward == pytest.approx(math.sqrt(100.0 * 102.0), rel=1e-12)  # log-linear in T
    assert surface.vol(forward * math.exp(k), T, forward=forward) == surface.vol(forward * math.exp(k), T)


def test_real_chain_loads_with_mid_ivs_and_forwards():
    surface = load_chain_csv(CHAIN)
    np.testing.assert_allclose(surface.expiries, [0.04289243, 0.10122576, 0.19844798, 0.43178131])
    assert [len(s.strikes) for s in surface.slices] == [12, 13, 15, 9]
    assert surface.slices[0].forward == pytest.approx(67106.444)
    # 2w 60000 put: bid 0.8621, ask 0.8856 -> mid 0.87385;  3m 300000 call: (1.1489 + 1.1736) / 2
    assert surface.vol(60000.0, 0.04289243) == pytest.approx(0.87385, rel=1e-12)
    assert surface.vol(300000.0, 0.43178131) == pytest.approx(1.16125, rel=1e-12)
    atm = surface.vol(surface.forwards, surface.expiries)
    assert ((atm > 0.85) & (atm < 1.0)).all()


def test_chain_with_crossed_quote_is_rejected(tmp_path):
    path = tmp_path / "chain.csv"
    path.write_text("expiry_id,ttm_years,forward,strike,option_type,bid_iv,ask_iv\n"
                    "1m,0.1,100,90,P,0.6,0.5\n")
    with pytest.raises(DataError, match="chain.csv: line 2, column 'bid_iv'"):
        load_chain_csv(path)


def test_vol_model_from_market_builds_each_form(tmp_path):
    assert isinstance(vol_model_from_market({"mark": 91250.0, "vol": 0.52}), FlatVol)
    term = vol_model_from_market({"term": {"expiry_years": [0.1, 0.5], "vol": [0.5, 0.6]}})
    assert isinstance(term, TermVol) and term.vol(1.0, 0.5) == pytest.approx(0.6)
    assert isinstance(vol_model_from_market({"smile": SLICES}), SmileSurface)
    assert isinstance(vol_model_from_market({"vol": {"smile": SLICES}}), SmileSurface)
    (tmp_path / "chain.csv").write_bytes(CHAIN.read_bytes())
    chain = vol_model_from_market({"chain_csv": "chain.csv"}, base_dir=tmp_path)
    assert isinstance(chain, SmileSurface) and len(chain.slices) == 4


@pytest.mark.parametrize("block, field", [
    ({"mark": 1.0}, "expected exactly one of vol, term, smile, chain_csv"),
    ({"vol": 0.5, "term": {}}, "expected exactly one of"),
    ({"vol": -0.5}, "vol: must be a positive number"),
    ({"vol": "high"}, "vol: expected a number"),
    ({"term": {"expiry_years": [0.5, 0.1], "vol": [0.5, 0.6]}}, "term.expiry_years: values must be strictly increasing"),
    ({"term": {"expiry_years": [0.1, 0.5], "vol": [0.5]}}, "term: 2 expiry_years but 1 vol"),
    ({"term": {"expiry_years": [0.1], "vols": [0.5]}}, "term: expected"),
    ({"smile": [{"expiry_years": 0.1, "forward": 100, "strikes": [90, 100], "vols": [0.5]}]}, "smile[0]: 2 strikes but 1 vols"),
    ({"smile": [{"expiry_years": 0.1, "strikes": [90], "vols": [0.5]}]}, "smile[0]: missing fields ['forward']"),
    ({"smile": [{"expiry_years": 0.1, "forward": -1, "strikes": [90], "vols": [0.5]}]}, "smile[0].forward"),
    ({"chain_csv": "does-not-exist.csv"}, "chain_csv: file not found"),
])
def test_bad_market_block_names_the_field(block, field):
    with pytest.raises(ValueError) as info:
        vol_model_from_market(block)
    assert field in str(info.value)


def test_non_positive_expiry_is_rejected():
    with pytest.raises(ValueError, match="positive"):
        TermVol([0.1, 0.5], [0.5, 0.6]).vol(1.0, 0.0)
