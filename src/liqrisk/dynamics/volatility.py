"""Historical volatility estimators from OHLC bars, annualised for 24/7 markets.

Every estimator gives a per-bar variance; annualised vol = sqrt(variance x periods per year) with
``periods_per_year = 365 * 86400 / bar_seconds`` (crypto trades every day: 365 daily bars,
8760 hourly bars a year).  Notation per bar t: u = ln(H/O), d = ln(L/O), c = ln(C/O),
o = ln(O_t / C_{t-1}) (the "overnight" jump, ~0 on a 24/7 venue), r = ln(C_t / C_{t-1}).

* close-to-close: sample variance of r (n - 1 denominator).
* EWMA: RiskMetrics Technical Document (J.P. Morgan/Reuters, 1996), sec. 5.2.1:
  sigma^2_t = lam sigma^2_{t-1} + (1 - lam) r_t^2, zero mean, lam = 0.94; finite-sample weights
  lam^i normalised to sum to one.
* Parkinson (1980), J. Business 53(1): (H-L range) sigma^2 = E[ln(H/L)^2] / (4 ln 2).
* Garman & Klass (1980), J. Business 53(1), "practical" estimator:
  sigma^2 = E[0.5 ln(H/L)^2 - (2 ln 2 - 1) c^2].
* Rogers & Satchell (1991), Ann. Appl. Prob. 1(4): sigma^2 = E[u (u - c) + d (d - c)], unbiased
  under any drift.
* Yang & Zhang (2000), J. Business 73(3): sigma^2 = V_o + k V_c + (1 - k) V_RS with V_o, V_c the
  sample variances of o and c, V_RS the Rogers-Satchell mean and
  k = 0.34 / (1.34 + (n + 1) / (n - 1)); unbiased under drift and opening jumps.

The rolling versions are cumulative-sum based: O(n) for any window.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from liqrisk.dynamics.ohlc import OHLC

SECONDS_PER_YEAR = 365 * 86400
RISKMETRICS_LAMBDA = 0.94
ESTIMATORS = ("close_to_close", "ewma", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang")


def periods_per_year(bar_seconds: float) -> float:
    """Number of bars in a 365-day year of continuous trading."""
    return SECONDS_PER_YEAR / bar_seconds


def annualise(variance_per_bar, bar_seconds: float):
    """Annualised vol (decimal) from a per-bar variance (scalar or array)."""
    return np.sqrt(np.asarray(variance_per_bar) * periods_per_year(bar_seconds))


# --- per-bar variance kernels: arrays in, rolling variance out (aligned to bars, NaN-padded) ----

def _window_mean(x: np.ndarray, window: int | None) -> np.ndarray:
    """Mean of the last ``window`` values at each position (NaN before the first full window);
    ``window=None`` means all values (one number, returned as a length-1 array)."""
    w = len(x) if window is None else int(window)
    if not 1 <= w <= len(x):
        raise ValueError(f"window {w} must be between 1 and the {len(x)} observations available")
    csum = np.concatenate(([0.0], np.cumsum(x)))
    out = np.full(len(x), np.nan) if window is not None else np.empty(1)
    out[-(len(x) - w + 1):] = (csum[w:] - csum[:-w]) / w
    return out


def _window_var(x: np.ndarray, window: int | None) -> np.ndarray:
    """Sample variance (n - 1 denominator) over the last ``window`` values."""
    w = len(x) if window is None else int(window)
    if w < 2:
        raise ValueError(f"a sample variance needs a window of at least 2, got {w}")
    centred = x - x.mean()  # shift-invariant; keeps the cumulative sums well conditioned
    mean = _window_mean(centred, window)
    return (_window_mean(centred**2, window) - mean**2) * w / (w - 1)


def _on_bars(per_return: np.ndarray, window: int | None) -> np.ndarray:
    """Align a rolling series over returns (bars 1..n-1) to bars 0..n-1."""
    return per_return if window is None else np.concatenate(([np.nan], per_return))


def _close_to_close_var(close, window=None):
    return _on_bars(_window_var(np.diff(np.log(close)), window), window)


def _ewma_var(close, lam=RISKMETRICS_LAMBDA):
    if not 0.0 < lam < 1.0:
        raise ValueError(f"EWMA lambda must be in (0, 1), got {lam}")
    from scipy.signal import lfilter
    r2 = np.diff(np.log(close)) ** 2
    weighted = lfilter([1.0], [1.0, -lam], r2)
    weights = lfilter([1.0], [1.0, -lam], np.ones_like(r2))
    return np.concatenate(([np.nan], weighted / weights))


def _parkinson_var(high, low, window=None):
    return _window_mean(np.log(high / low) ** 2, window) / (4.0 * np.log(2.0))


def _garman_klass_var(open, high, low, close, window=None):
    terms = 0.5 * np.log(high / low) ** 2 - (2.0 * np.log(2.0) - 1.0) * np.log(close / open) ** 2
    return _window_mean(terms, window)


def _rogers_satchell_terms(open, high, low, close):
    u, d, c = np.log(high / open), np.log(low / open), np.log(close / open)
    return u * (u - c) + d * (d - c)


def _rogers_satchell_var(open, high, low, close, window=None):
    return _window_mean(_rogers_satchell_terms(open, high, low, close), window)


def _yang_zhang_var(open, high, low, close, window=None):
    overnight = np.log(open[1:] / close[:-1])
    intraday = np.log(close[1:] / open[1:])
    rs = _rogers_satchell_terms(open[1:], high[1:], low[1:], close[1:])
    n = len(intraday) if window is None else int(window)
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    var = (_window_var(overnight, window) + k * _window_var(intraday, window)
           + (1.0 - k) * _window_mean(rs, window))
    return _on_bars(var, window)


# --- public estimators over arrays: annualised vol over the whole sample ----------------------

def close_to_close(close, *, bar_seconds: float = 86400.0) -> float:
    """Close-to-close vol: sample std of log returns, annualised."""
    return float(annualise(_close_to_close_var(np.asarray(close, float))[-1], bar_seconds))


def ewma(close, *, bar_seconds: float = 86400.0, lam: float = RISKMETRICS_LAMBDA) -> float:
    """RiskMetrics (1996) EWMA vol after the last bar (the one-bar-ahead forecast), annualised."""
    return float(annualise(_ewma_var(np.asarray(close, float), lam)[-1], bar_seconds))


def parkinson(high, low, *, bar_seconds: float = 86400.0) -> float:
    """Parkinson (1980) high-low range vol, annualised."""
    return float(annualise(_parkinson_var(*_floats(high, low))[-1], bar_seconds))


def garman_klass(open, high, low, close, *, bar_seconds: float = 86400.0) -> float:
    """Garman-Klass (1980) OHLC vol, annualised."""
    return float(annualise(_garman_klass_var(*_floats(open, high, low, close))[-1], bar_seconds))


def rogers_satchell(open, high, low, close, *, bar_seconds: float = 86400.0) -> float:
    """Rogers-Satchell (1991) drift-independent OHLC vol, annualised."""
    return float(annualise(_rogers_satchell_var(*_floats(open, high, low, close))[-1], bar_seconds))


def yang_zhang(open, high, low, close, *, bar_seconds: float = 86400.0) -> float:
    """Yang-Zhang (2000) drift- and jump-independent OHLC vol, annualised."""
    return float(annualise(_yang_zhang_var(*_floats(open, high, low, close))[-1], bar_seconds))


def _floats(*arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=float) for a in arrays]


_KERNELS: dict[str, Callable[[OHLC, int | None, float], np.ndarray]] = {
    "close_to_close": lambda b, w, lam: _close_to_close_var(b.close, w),
    "ewma": lambda b, w, lam: _ewma_var(b.close, lam),
    "parkinson": lambda b, w, lam: _parkinson_var(b.high, b.low, w),
    "garman_klass": lambda b, w, lam: _garman_klass_var(b.open, b.high, b.low, b.close, w),
    "rogers_satchell": lambda b, w, lam: _rogers_satchell_var(b.open, b.high, b.low, b.close, w),
    "yang_zhang": lambda b, w, lam: _yang_zhang_var(b.open, b.high, b.low, b.close, w),
}


def _kernel(name: str):
    if name not in _KERNELS:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    return _KERNELS[name]


def rolling_vol(ohlc: OHLC, estimator: str, window: int, *,
                lam: float = RISKMETRICS_LAMBDA) -> np.ndarray:
    """Annualised vol at every bar from the trailing ``window`` bars (``window`` returns for the
    estimators that need the previous close); NaN until the first full window.  ``ewma`` has no
    window: it is the RiskMetrics recursion over all bars up to t.  O(n) in the number of bars.
    """
    return annualise(_kernel(estimator)(ohlc, int(window), lam), ohlc.bar_seconds)


@dataclass(frozen=True)
class VolEstimates(Mapping):
    """Annualised vols (decimal) by estimator name, with the sample they were computed on."""

    vols: dict[str, float]
    bar_seconds: float
    n_bars: int
    window: int | None
    start: str
    end: str
    ewma_lambda: float

    def __getitem__(self, name: str) -> float:
        return self.vols[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.vols)

    def __len__(self) -> int:
        return len(self.vols)

    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys; vols are annualised decimals."""
        return {"vol_annualised": dict(self.vols), "bar_seconds": self.bar_seconds,
                "periods_per_year": periods_per_year(self.bar_seconds), "n_bars": self.n_bars,
                "window": self.window, "start": self.start, "end": self.end,
                "ewma_lambda": self.ewma_lambda}


def estimate_all(ohlc: OHLC, window: int | None = None, *, estimators=ESTIMATORS,
                 lam: float = RISKMETRICS_LAMBDA) -> VolEstimates:
    """Every estimator over the last ``window`` bars (the whole sample if None); the estimators
    built on returns also use the close before the window (``n_bars`` does not count it)."""
    vols = {}
    for name in estimators:
        kernel = _kernel(name)
        vols[name] = float(annualise(kernel(ohlc, window, lam)[-1], ohlc.bar_seconds))
    n = len(ohlc) if window is None else int(window)
    return VolEstimates(vols, ohlc.bar_seconds, n, window, str(ohlc.timestamps[-n]),
                        str(ohlc.timestamps[-1]), lam)
