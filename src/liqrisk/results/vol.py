"""The result of ``liqrisk vol``: historical volatility estimators over the whole file and its
last window, and a GARCH(1,1) forecast (annualised decimals, 365-day year)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liqrisk.results.base import Result, plain

FORECAST_HORIZONS_DAYS = {"1d": 1, "7d": 7, "30d": 30}


@dataclass
class VolAnalysis(Result):
    """``full_sample``/``last_window``: :class:`~liqrisk.dynamics.volatility.VolEstimates`;
    ``garch``: the :class:`~liqrisk.dynamics.garch.GarchFit` (None if not fitted) and its
    ``forecast`` (horizon → average annualised vol over it); ``warnings`` about the data."""

    file: str
    asset: str | None
    bar_seconds: float
    estimators: tuple[str, ...]
    window: int
    full_sample: Any
    last_window: Any
    garch: Any = None
    forecast: dict[str, float] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return plain({"file": self.file, "asset": self.asset, "full_sample": self.full_sample.to_dict(),
                      "last_window": self.last_window.to_dict(),
                      "garch": None if self.garch is None else {**self.garch.to_dict(),
                                                                "forecast_vol_annualised": self.forecast},
                      "warnings": self.warnings})

    def to_frame(self):
        """One row per estimator: full-sample and last-window annualised vol."""
        import pandas as pd
        return pd.DataFrame({"full_sample": [self.full_sample[n] for n in self.estimators],
                             "last_window": [self.last_window[n] for n in self.estimators]},
                            index=pd.Index(self.estimators, name="estimator"))


def vol_analysis(file, estimators, window: int, garch: bool, asset: str | None = None) -> VolAnalysis:
    """Estimate every estimator in ``estimators`` over the file and its last ``window`` bars, and
    (``garch``) fit GARCH(1,1) and forecast :data:`FORECAST_HORIZONS_DAYS`."""
    from liqrisk.dynamics.ohlc import DataError, MultiAssetFileError, load_ohlc
    from liqrisk.dynamics.volatility import estimate_all
    try:
        bars = load_ohlc(file, asset=asset)
    except MultiAssetFileError as e:
        raise DataError(f"{e.name}: columns of several assets: choose one with --asset "
                        f"({' | '.join(e.assets)})") from None
    if len(bars) < 3:
        raise DataError(f"{Path(file).name}: {len(bars)} bars; a volatility needs at least 3 (two returns)")
    if window > len(bars) - 1:
        raise DataError(f"{Path(file).name}: --window {window} is longer than its {len(bars)} bars allow "
                        f"(at most {len(bars) - 1}: one return per pair of bars)")
    names = tuple(estimators)
    full = estimate_all(bars, estimators=names)
    last = estimate_all(bars, window, estimators=names)
    fit = forecast = None
    if garch:
        from liqrisk.dynamics.garch import fit_garch
        fit = fit_garch(bars.log_returns(), bar_seconds=bars.bar_seconds)
        forecast = {label: fit.forecast_vol(days * 86400.0) for label, days in FORECAST_HORIZONS_DAYS.items()}
    return VolAnalysis(str(file), asset, bars.bar_seconds, names, window, full, last, fit, forecast,
                       _range_warnings(full))


def _range_warnings(full) -> list[str]:
    """Range-based estimators far above close-to-close usually mean a bad high/low tick."""
    if "close_to_close" not in full:
        return []
    base = full["close_to_close"]
    high = [n for n in ("parkinson", "garman_klass", "rogers_satchell", "yang_zhang") if n in full and full[n] > 2 * base]
    return ([f"{', '.join(high)} exceed twice close-to-close ({100 * base:.1f}%): check the file for bad "
             f"high/low ticks (range estimators are sensitive to a single bad bar)"] if high else [])
