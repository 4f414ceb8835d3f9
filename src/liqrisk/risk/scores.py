"""Scores of probability forecasts of a yes/no event (liquidated within a horizon or not).

For forecasts ``p_i`` and outcomes ``o_i ∈ {0, 1}``, ``N`` of them:

* **Brier score** ``BS = mean((p − o)²)`` (Brier 1950), with Murphy's (1973) decomposition over
  the reliability bins ``BS ≈ REL − RES + UNC`` (exact when forecasts are constant in each bin):
  ``REL = Σ n_k (p̄_k − ō_k)² / N``, ``RES = Σ n_k (ō_k − ō)² / N``, ``UNC = ō(1 − ō)``.
* **Log score** ``−mean(o ln p + (1 − o) ln(1 − p))`` (nats; Good 1952), with ``p`` clipped to
  ``[LOG_FLOOR, 1 − LOG_FLOOR]``: a model that says 0 for an event that happens pays
  ``−ln 1e-6 ≈ 13.8`` for it, not infinity. Lower is better for both scores.
* **Expected calibration error** ``ECE = Σ n_k |p̄_k − ō_k| / N`` over the bins.
* **Reliability table**: per predicted-probability bin ``[lo, hi)`` the count, events, mean
  forecast, realised frequency and its exact (Clopper–Pearson 1934) 95% binomial interval. The
  interval treats outcomes as independent; outcomes of overlapping windows, or of several
  positions on the same date, are not, so the real uncertainty is larger.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

BINS = (0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class ReliabilityRow:
    """One predicted-probability bin [lo, hi) (the last bin includes 1)."""

    lo: float
    hi: float
    count: int
    events: int
    predicted: float
    realised: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class Scores:
    """All scores of one forecast set (see the module docstring)."""

    n: int
    events: int
    brier: float
    log_score: float
    ece: float
    reliability: float
    resolution: float
    uncertainty: float
    table: list[ReliabilityRow]

    def to_dict(self) -> dict:
        return asdict(self)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of ``k`` events in ``n`` trials."""
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def brier(p: np.ndarray, o: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - o) ** 2))


def log_score(p: np.ndarray, o: np.ndarray) -> float:
    q = np.clip(np.asarray(p, float), LOG_FLOOR, 1 - LOG_FLOOR)
    return float(-np.mean(np.where(np.asarray(o) > 0.5, np.log(q), np.log1p(-q))))


def bin_index(p: np.ndarray, bins=BINS) -> np.ndarray:
    """Bin of each forecast: ``bins[k] ≤ p < bins[k+1]``, 1.0 in the last bin."""
    return np.clip(np.searchsorted(bins, p, side="right") - 1, 0, len(bins) - 2)


def score(p: np.ndarray, o: np.ndarray, bins=BINS) -> Scores:
    """The scores of forecasts ``p`` of outcomes ``o`` (same shape, 0/1)."""
    p, o = np.asarray(p, float).ravel(), np.asarray(o, float).ravel()
    if len(p) == 0 or len(p) != len(o):
        raise ValueError(f"need as many forecasts as outcomes, at least one (got {len(p)}, {len(o)})")
    k = bin_index(p, bins)
    base, n = float(o.mean()), len(p)
    rows, rel, res, ece = [], 0.0, 0.0, 0.0
    for i in range(len(bins) - 1):
        m = k == i
        c = int(m.sum())
        if c:
            pk, hits = float(p[m].mean()), int(o[m].sum())
            ok = hits / c
            rel += c * (pk - ok) ** 2
            res += c * (ok - base) ** 2
            ece += c * abs(pk - ok)
            rows.append(ReliabilityRow(bins[i], bins[i + 1], c, hits, pk, ok, clopper_pearson(hits, c)))
    return Scores(n, int(o.sum()), brier(p, o), log_score(p, o), ece / n, rel / n, res / n,
                  base * (1 - base), rows)
