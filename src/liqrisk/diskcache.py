"""An on-disk cache for deterministic results that are slow to recompute (a GARCH fit of the
bundled history: importing ``arch`` and fitting takes ~1.2 s of every ``analyze`` run).

Entries are ``.npz`` files named by the SHA-256 of everything the result depends on (the
caller's ``parts``: input bytes, the method's name and version, the library versions), so a
changed input or library never reads a stale entry. The directory is ``$LIQRISK_CACHE_DIR``,
else ``$XDG_CACHE_HOME/liqrisk``, else ``~/.cache/liqrisk``; ``LIQRISK_CACHE_DIR=off`` turns the
cache off. A directory that cannot be written, or an entry that cannot be read, is the same as
a miss: the result is computed and the run goes on.

The cache is bounded: after each write the least recently used entries (a hit counts as a use)
are deleted until the entries take at most ``$LIQRISK_CACHE_MAX_MB`` (default
:data:`DEFAULT_MAX_MB`; a fit of the bundled history is ~40 kB), and leftovers of interrupted
writes older than an hour go too.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

DEFAULT_MAX_MB = 64.0
STALE_TMP_SECONDS = 3600.0


def cache_dir() -> Path | None:
    """Where entries live (None: the cache is off)."""
    explicit = os.environ.get("LIQRISK_CACHE_DIR")
    if explicit == "off":
        return None
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "liqrisk"


def max_bytes() -> float:
    """The cache's size bound in bytes (``$LIQRISK_CACHE_MAX_MB``; unreadable or negative: the default)."""
    try:
        mb = float(os.environ.get("LIQRISK_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return (mb if mb >= 0 else DEFAULT_MAX_MB) * 2 ** 20


def evict(where: Path, keep: Path | None = None) -> None:
    """Delete the least recently used entries of ``where`` (never ``keep``) until they fit in
    :func:`max_bytes`, and temporary files of interrupted writes older than an hour."""
    now = time.time()
    entries = []
    for path in where.iterdir():
        try:
            st = path.stat()
        except OSError:
            continue
        if path.suffix == ".tmp" and now - st.st_mtime > STALE_TMP_SECONDS:
            path.unlink(missing_ok=True)
        elif path.suffix == ".npz":
            entries.append((st.st_mtime, st.st_size, path))
    total, limit = sum(size for _, size, _ in entries), max_bytes()
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        if path != keep:
            try:
                path.unlink()
                total -= size
            except OSError:
                pass


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
                out = {name: z[name] for name in z.files}
            os.utime(path)                    # a use: least recently used entries go first
            return out
        except (OSError, ValueError):
            pass
    out = compute()
    if path is not None:
        try:
            where.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=where, suffix=".tmp", delete=False) as f:
                np.savez(f, **out)
            os.replace(f.name, path)          # atomic: concurrent runs never read half a file
            evict(where, keep=path)
        except OSError:
            pass
    return out
