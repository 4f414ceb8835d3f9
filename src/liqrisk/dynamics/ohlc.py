"""OHLC bars: loading and validating CSV files of open/high/low/close/volume.

Two layouts are read:

* one asset per file: ``timestamp,open,high,low,close,volume`` (e.g. the bundled Coinbase files);
* several assets side by side: ``date,btc_open,...,btc_volume,eth_open,...`` (the bundled Bitstamp
  file) -- pick one with ``asset="eth"``; rows where that asset is entirely empty are dropped.

Timestamps are parsed as UTC and stored as ``datetime64[s]``; prices in the quote currency.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

FIELDS = ("open", "high", "low", "close", "volume")
TIME_COLUMNS = ("timestamp", "date")


class DataError(ValueError):
    """A market-data file is malformed; the message names the file, the row and the column."""


class MultiAssetFileError(DataError):
    """An OHLC file with several assets' columns (``btc_open``, ``eth_open``, …) read without
    choosing one; ``assets`` lists them (a command that can choose says how)."""

    def __init__(self, name: str, assets: list[str]):
        self.name, self.assets = name, assets
        super().__init__(f"{name}: columns of several assets ({', '.join(assets)}) and no plain 'open', 'high', "
                         f"'low', 'close': give one asset's bars as timestamp,open,high,low,close[,volume]")


@dataclass(frozen=True)
class OHLC:
    """Bars as parallel arrays (float64 prices, ``datetime64[s]`` UTC timestamps).

    ``bar_seconds`` is the median spacing of the timestamps (3600 for hourly bars).
    """

    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    bar_seconds: float
    source: str = ""

    def __len__(self) -> int:
        return len(self.close)

    def log_returns(self) -> np.ndarray:
        """Close-to-close log returns ln(C_t / C_{t-1}), length ``len(self) - 1``."""
        return np.diff(np.log(self.close))

    @classmethod
    def from_arrays(cls, open, high, low, close, *, bar_seconds: float, volume=None,
                    start: str = "1970-01-01T00:00:00") -> OHLC:
        """Bars from price arrays (e.g. a simulation), timestamps spaced ``bar_seconds`` apart."""
        close = np.asarray(close, dtype=float)
        step = np.timedelta64(int(round(bar_seconds)), "s")
        timestamps = np.datetime64(start, "s") + step * np.arange(len(close))
        volume = np.zeros_like(close) if volume is None else np.asarray(volume, dtype=float)
        return cls(timestamps, np.asarray(open, dtype=float), np.asarray(high, dtype=float),
                   np.asarray(low, dtype=float), close, volume, float(bar_seconds), "arrays")


def bundled_columns(name: str, last: int | None = None) -> dict[str, np.ndarray]:
    """The numeric columns of the complete rows (no empty field) of a bundled CSV whose first
    column is its date — the last ``last`` of them, or all (the stdlib reader: no pandas)."""
    import csv
    lines = resources.files("liqrisk.data").joinpath(name).read_text().splitlines()
    header, rows = lines[0].split(","), []
    for row in csv.reader(reversed(lines[1:])):
        if all(row):
            rows.append(row[1:])
            if len(rows) == last:
                break
    return dict(zip(header[1:], np.array(rows[::-1], dtype=float).T))


def bundled_data_path(name: str) -> Path:
    """Path of a data file shipped in ``liqrisk/data`` (e.g. ``"btcusd_1h_coinbase.csv"``)."""
    path = Path(str(resources.files("liqrisk") / "data" / name))
    if not path.is_file():
        available = sorted(p.name for p in path.parent.iterdir() if p.suffix in (".csv", ".json"))
        raise FileNotFoundError(f"no bundled data file {name!r}; available: {', '.join(available)}")
    return path


def load_ohlc(path: str | Path, asset: str | None = None) -> OHLC:
    """Read and validate an OHLC CSV file (the stdlib ``csv`` reader: no pandas).

    ``asset`` selects the ``{asset}_open, ...`` columns of a multi-asset file. Raises
    :class:`DataError` on a missing column, a row with more fields than the header, an
    unparseable or non-increasing (unsorted or duplicate) timestamp, a missing or non-positive
    price, a negative volume, or a bar whose high is below its low or does not contain its open
    and close.
    """
    from liqrisk.io.documents import DocumentError, read_text
    path = Path(path)
    name = path.name
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        text = read_text(path, "OHLC CSV")         # a directory, the file-size limit, UTF-8
    except DocumentError as e:
        raise DataError(str(e)) from None
    # parsed and validated once per file content (≈ 0.1 s for a year of hourly bars), then read
    # back from the on-disk cache: the same arrays bit for bit
    from liqrisk.diskcache import cached_arrays, key_of
    z = cached_arrays(key_of("ohlc-v1", name, asset or "", text), lambda: _parsed(name, text, asset))
    return OHLC(z["timestamps"], z["open"], z["high"], z["low"], z["close"], z["volume"], float(z["bar_seconds"]),
                str(path))


def _parsed(name: str, text: str, asset: str | None) -> dict[str, np.ndarray]:
    """The validated columns of :func:`load_ohlc` (raises :class:`DataError`)."""
    header, cells, lines = _table(name, text)

    time_col = next((c for c in TIME_COLUMNS if c in header), None)
    if time_col is None:
        raise DataError(f"{name}: missing column 'timestamp' (or 'date'); found {header}")
    prefix = f"{asset.lower()}_" if asset else ""
    columns = [prefix + f for f in FIELDS]
    missing = [c for c in columns if c not in header]
    if missing:
        assets = sorted(c[: -len("_open")] for c in header if c.endswith("_open"))
        if assets and not asset:
            raise MultiAssetFileError(name, assets)
        raise DataError(f"{name}: missing column {missing[0]!r}")

    raw = cells[:, [header.index(c) for c in columns]]
    times = cells[:, header.index(time_col)]
    if asset:  # the multi-asset file leaves an asset's cells empty before it was listed
        keep = (raw != "").any(axis=1)
        raw, times, lines = raw[keep], times[keep], lines[keep]
    if len(raw) < 2:
        raise DataError(f"{name}: needs at least 2 bars, found {len(raw)}")

    values = {}
    for k, (field, col) in enumerate(zip(FIELDS, columns)):
        numbers = _numbers(raw[:, k])
        _check(name, lines, col, ~np.isfinite(numbers), raw[:, k], "is not a number")
        values[field] = numbers

    timestamps = _timestamps(times)
    _check(name, lines, time_col, np.isnat(timestamps), times, "is not an ISO 8601 timestamp")
    step = np.diff(timestamps).astype(np.int64)
    _check(name, lines[1:], time_col, step <= 0, times[1:],
           "is not after the previous row (unsorted or duplicate timestamp)")

    from liqrisk.io.limits import AMOUNT_MAX, PRICE_RANGE
    o, h, lo, c, v = (values[f] for f in FIELDS)
    for field, col in zip(FIELDS[:4], columns[:4]):
        _check(name, lines, col, values[field] <= 0, values[field], "is not a positive price")
        _check(name, lines, col, (values[field] < PRICE_RANGE[0]) | (values[field] > PRICE_RANGE[1]), values[field],
               f"is outside the supported price range [{PRICE_RANGE[0]:g}, {PRICE_RANGE[1]:g}]")
    _check(name, lines, columns[4], v < 0, v, "is a negative volume")
    _check(name, lines, columns[4], v > AMOUNT_MAX, v, f"is above the supported volume {AMOUNT_MAX:g}")
    _check(name, lines, columns[1], h < lo, h, "is below the low")
    _check(name, lines, columns[1], h < np.maximum(o, c), h, "is below the open or close")
    _check(name, lines, columns[2], lo > np.minimum(o, c), lo, "is above the open or close")

    return dict(timestamps=timestamps, open=o, high=h, low=lo, close=c, volume=v,
                bar_seconds=np.array(float(np.median(step))))


def _table(name: str, text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(header, stripped cells as a 2-D str array padded with "", file line of each row) of a CSV
    text; blank lines are skipped, a row longer than the header is an error."""
    import csv
    import io
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
        rows, lines = [], []
        for row in reader:
            if row:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{name}: line {reader.line_num}: cannot read CSV ({exc})") from None
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            if len(row) > width:
                raise DataError(f"{name}: line {lines[i]}: {len(row)} fields, the header has {width}")
            rows[i] = row + [""] * (width - len(row))
    cells = np.char.strip(np.array(rows, dtype=str).reshape(len(rows), width))
    return header, cells, np.array(lines, dtype=np.int64)


def _numbers(cells: np.ndarray) -> np.ndarray:
    """float64 of each cell; NaN where a cell is not a number."""
    try:
        return cells.astype(float)
    except ValueError:
        out = np.empty(len(cells))
        for i, x in enumerate(cells):
            try:
                out[i] = float(x)
            except ValueError:
                out[i] = np.nan
        return out


def _timestamps(cells: np.ndarray) -> np.ndarray:
    """``datetime64[s]`` UTC of ISO 8601 cells (naive ones are UTC, offsets are converted); NaT
    where a cell is not one."""
    from datetime import datetime, timezone
    seconds = np.empty(len(cells))
    for i, x in enumerate(cells.tolist()):
        try:
            t = datetime.fromisoformat(x)
        except ValueError:
            seconds[i] = np.nan
            continue
        seconds[i] = (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()
    out = np.floor(np.nan_to_num(seconds)).astype(np.int64).astype("datetime64[s]")
    out[np.isnan(seconds)] = np.datetime64("NaT")
    return out


def _check(name: str, lines: np.ndarray, column: str, bad: np.ndarray, shown, what: str) -> None:
    """Raise a one-line DataError for the first row flagged in ``bad``."""
    if bad.any():
        i = int(np.argmax(bad))
        value = shown[i]
        text = ("empty" if value == "" else repr(str(value))) if isinstance(value, str) else f"{value:g}"
        raise DataError(f"{name}: line {lines[i]}, column {column!r}: value {text} {what}")
