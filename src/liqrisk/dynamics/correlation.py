"""Correlation and volatility of several assets' returns, and the nearest correlation matrix.

Sample estimate: Pearson correlation of log returns (n - 1 covariance).  EWMA estimate:
RiskMetrics Technical Document (J.P. Morgan/Reuters, 1996), sec. 5.2: zero-mean covariance with
weights lam^i on the return i bars back, normalised to sum to one.  Either is positive
semi-definite in exact arithmetic; ``nearest_psd`` (Higham 2002, IMA J. Numer. Anal. 22(3),
alternating projections with Dykstra's correction) repairs a matrix that is not, e.g. one
assembled by hand or from pairwise overlaps.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np

from liqrisk.dynamics.ohlc import OHLC
from liqrisk.dynamics.volatility import annualise


@dataclass(frozen=True)
class CorrelationEstimate:
    """Correlation matrix, annualised vols (decimal) and asset names, in the same order.

    Unpacks as ``corr, vols, names = estimate_correlation(...)``."""

    corr: np.ndarray
    vols: np.ndarray
    names: tuple[str, ...]
    n_obs: int
    bar_seconds: float
    ewma_lambda: float | None

    def __iter__(self) -> Iterator:
        return iter((self.corr, self.vols, self.names))

    @property
    def covariance(self) -> np.ndarray:
        """Annualised covariance matrix of log returns."""
        return self.corr * np.outer(self.vols, self.vols)

    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys."""
        return {"names": list(self.names), "corr": self.corr.tolist(),
                "vol_annualised": self.vols.tolist(), "n_obs": self.n_obs,
                "bar_seconds": self.bar_seconds, "ewma_lambda": self.ewma_lambda}


def _aligned_returns(data) -> tuple[np.ndarray, tuple[str, ...], float | None]:
    """Log returns (T x N), names, and bar_seconds if the data carry it."""
    if not isinstance(data, Mapping):
        returns = np.asarray(data, dtype=float)
        if returns.ndim != 2 or returns.shape[1] < 1:
            raise ValueError(f"returns matrix must be 2-D (observations x assets), got shape {returns.shape}")
        return returns[np.isfinite(returns).all(axis=1)], tuple(f"x{i}" for i in range(returns.shape[1])), None
    names = tuple(str(name) for name in data)
    if all(isinstance(v, OHLC) for v in data.values()):
        common = reduce(np.intersect1d, [v.timestamps for v in data.values()])
        closes = np.column_stack([v.close[np.isin(v.timestamps, common)] for v in data.values()])
        bar_seconds = float(np.median(np.diff(common).astype(np.int64))) if len(common) > 1 else None
    else:
        columns = [np.asarray(v, dtype=float) for v in data.values()]
        if len({c.shape for c in columns}) != 1 or columns[0].ndim != 1:
            raise ValueError("close series must be 1-D arrays of the same length (aligned by date)")
        closes = np.column_stack(columns)
        closes = closes[np.isfinite(closes).all(axis=1)]
        bar_seconds = None
    if (closes <= 0).any():
        raise ValueError("close prices must be positive")
    return np.diff(np.log(closes), axis=0), names, bar_seconds


def estimate_correlation(data, *, ewma_lambda: float | None = None,
                         bar_seconds: float = 86400.0) -> CorrelationEstimate:
    """Correlation and annualised vols from ``data``: a returns matrix (observations x assets),
    a dict of aligned close series (NaN where an asset has no price; only dates where all have
    one are used), or a dict of :class:`OHLC` (aligned on common timestamps, bar size taken from
    them).  ``ewma_lambda`` (e.g. 0.94) switches from the sample to the RiskMetrics estimate."""
    returns, names, data_bar_seconds = _aligned_returns(data)
    n = len(returns)
    if n < 2:
        raise ValueError(f"need at least 2 overlapping returns, got {n}")
    if ewma_lambda is None:
        dev = returns - returns.mean(axis=0)
        cov = np.einsum("ti,tj->ij", dev, dev) / (n - 1)     # einsum, not BLAS: the same sums on any thread count
    else:
        if not 0.0 < ewma_lambda < 1.0:
            raise ValueError(f"ewma_lambda must be in (0, 1), got {ewma_lambda}")
        weights = ewma_lambda ** np.arange(n - 1, -1, -1.0)
        cov = np.einsum("ti,tj->ij", returns * (weights / weights.sum())[:, None], returns)
    sd = np.sqrt(np.diag(cov))
    if (sd == 0).any():
        raise ValueError(f"zero variance for {[names[i] for i in np.flatnonzero(sd == 0)]}")
    corr = cov / np.outer(sd, sd)
    if np.linalg.eigvalsh(corr)[0] < -1e-12:
        corr = nearest_psd(corr)
    corr = 0.5 * (corr + corr.T)
    np.fill_diagonal(corr, 1.0)
    bar = data_bar_seconds or bar_seconds
    return CorrelationEstimate(corr, annualise(sd**2, bar), names, n, bar, ewma_lambda)


def nearest_psd(corr, *, tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Nearest (Frobenius norm) correlation matrix -- symmetric, positive semi-definite, unit
    diagonal -- to a symmetric matrix (Higham 2002, Algorithm 3.3).  The converged iterate is
    projected once more onto the PSD cone and rescaled to a unit diagonal, so that the result is
    PSD to machine precision rather than to ``tol``."""
    a = np.asarray(corr, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {a.shape}")
    y = 0.5 * (a + a.T)
    correction = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - correction
        eigval, eigvec = np.linalg.eigh(r)
        x = (eigvec * np.maximum(eigval, 0.0)) @ eigvec.T
        correction = x - r
        y_next = x.copy()
        np.fill_diagonal(y_next, 1.0)
        done = np.linalg.norm(y_next - y) <= tol * np.linalg.norm(y_next)
        y = y_next
        if done:
            break
    eigval, eigvec = np.linalg.eigh(y)
    x = (eigvec * np.maximum(eigval, 0.0)) @ eigvec.T
    scale = np.sqrt(np.diag(x))
    x = x / np.outer(scale, scale)
    return 0.5 * (x + x.T)
