"""What every result object shares: strict JSON and a pandas frame of its ``to_dict``."""
from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime

import numpy as np


_LEAVES = (str, int, bool, type(None))


def plain(x):
    """``x`` as plain JSON-safe Python: NaN/±inf → None, numpy scalars and arrays → Python
    numbers and lists, tuples → lists, datetimes → ISO 8601 (UTC as ``Z``), objects with
    ``to_dict`` → their dict. Dict keys become strings."""
    t = type(x)
    if t is float:                                   # the common cases first: a result has many
        return x if math.isfinite(x) else None
    if t in _LEAVES:
        return x
    if t is dict:                                    # leaves inline: one call per container, not per value
        return {(k if type(k) is str else str(k)):
                (v if type(v) in _LEAVES else (v if math.isfinite(v) else None) if type(v) is float else plain(v))
                for k, v in x.items()}
    if t is list or t is tuple:
        return [v if type(v) in _LEAVES else (v if math.isfinite(v) else None) if type(v) is float else plain(v)
                for v in x]
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, datetime):
        return x.isoformat().replace("+00:00", "Z")
    if hasattr(x, "to_dict"):
        return plain(x.to_dict())
    return x


class Result:
    """Mixin: ``to_json`` from ``to_dict`` (which subclasses define, or dataclass fields)."""

    def to_dict(self) -> dict:
        return plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def to_json(self, **kwargs) -> str:
        """Strict JSON (``allow_nan=False``: a missing number is ``null``, never ``NaN``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def to_frame(self):
        """A one-row :class:`pandas.DataFrame` of the scalar fields (subclasses give richer ones)."""
        import pandas as pd
        return pd.DataFrame([{k: v for k, v in self.to_dict().items() if not isinstance(v, (dict, list))}])
