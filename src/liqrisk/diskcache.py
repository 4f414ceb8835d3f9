"""An on-disk cache for deterministic results that are slow to recompute (a GARCH fit of the
bundled history: importing ``arch`` and fitting takes ~1.2 s of every ``analyze`` run).

Entries are ``.npz`` files named by the SHA-256 of everything the result depends on (the
caller's ``parts``: input bytes, the method's name and version, the library versions), so a
changed input or library never reads a stale entry. The directory is ``$LIQRISK_CACHE_DIR``,
else ``$XDG_CACHE_HOME/liqrisk``, else ``~/.cache/liqrisk``; ``LIQRISK_CACHE_DIR=off`` turns the
cache off. A directory that cannot be written, or an entry that cannot be read, is the same as
a miss: the result is computed and the run goes on.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def cache_dir() -> Path | None:
    """Where entries live (None: the cache is off)."""
    explicit = os.environ.get("LIQRISK_CACHE_DIR")
    if explicit == "off":
        return None
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "liqrisk"


def key_of(*parts: bytes | str) -> str:
    """The SHA-256 (hex) of ``parts``, each length-prefixed so that no two lists collide."""
    h = hashlib.sha256()
    for part in parts:
        b = part.encode() if isinstance(part, str) else bytes(part)
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def cached_arrays(key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays stored under ``key``, else ``compute()``'s (stored for the next run). Arrays
    round-trip exactly (``.npz``), so a hit gives bit-for-bit the numbers a miss computes."""
    where = cache_dir()
    path = where / f"{key}.npz" if where is not None else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {name: z[name] for name in z.files}
        except (OSError, ValueError):
            pass
    out = compute()
    if path is not None:
        try:
            where.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=where, suffix=".tmp", delete=False) as f:
                np.savez(f, **out)
            os.replace(f.name, path)          # atomic: concurrent runs never read half a file
        except OSError:
            pass
    return out
