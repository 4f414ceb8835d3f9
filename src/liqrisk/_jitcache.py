"""Numba's on-disk cache of liqrisk's kernels, invalidated when any kernel module changes.

Numba stamps a cached function with its own source file's hash only (cross-file invalidation is
numba/numba#8396, not merged as of 0.68), so a kernel that calls or inlines a function of another
file — the Monte Carlo kernel inlines the margin kernel's position valuation — would keep running
the old code after that other file changes (a ``git pull`` that touches only
``margin/kernel.py``). Here every liqrisk function's stamp is its file's stamp together with the
SHA-256 of all of liqrisk's modules that use numba: a change to any of them recompiles every
kernel once. Functions of other packages keep numba's own locators. Every liqrisk module that
defines a cached numba function imports this module before its first decorator.

Loading a liqrisk kernel from the cache also skips numba's ``refresh()`` of its target context:
that imports and installs every lowering registry (``load_additional_registries``, which imports
``scipy.linalg`` to probe for BLAS; 1.36 s of a 5 s run under cProfile, and measured without the
profiler 0.4 s CPU and ≈ 1 s wall of ``analyze --json`` at load 5 on a znver3, 2026-12-02) — although
a cached kernel is already machine code whose C helpers are in LLVM's symbol table from the
context's creation. What loading needs is the NRT (its allocator and reference counting), which
``rtsys.initialize`` provides; threads of a parallel kernel start through the kernel's own
``reload_init``. A compile still refreshes (numba's compiler does it in every pipeline), so a
signature that misses the cache compiles exactly as before.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from numba.core import caching
from numba.core.runtime import rtsys

ROOT = Path(__file__).resolve().parent


def kernel_sources_digest(root: Path = ROOT) -> bytes:
    """SHA-256 of the relative path and bytes of every ``.py`` file under ``root`` that
    mentions numba (sorted by path)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        data = path.read_bytes()
        if b"numba" in data:
            h.update(str(path.relative_to(root)).encode())
            h.update(data)
    return h.digest()


DIGEST = kernel_sources_digest()


def _in_package(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(ROOT)
    except OSError:
        return False


def _stamped(base: type) -> type:
    """``base`` (a numba locator) for liqrisk's files only, stamping with :data:`DIGEST` too."""
    def get_source_stamp(self):
        return (base.get_source_stamp(self), DIGEST)

    @classmethod
    def from_function(cls, py_func, py_file):
        return base.from_function.__func__(cls, py_func, py_file) if _in_package(py_file) else None

    return type(f"Liqrisk{base.__name__}", (base,),
                {"get_source_stamp": get_source_stamp, "from_function": from_function})


_LOCATORS = [_stamped(c) for c in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                                    caching.UserWideCacheLocator)]
if not any(c.__name__.startswith("Liqrisk") for c in caching.CacheImpl._locator_classes):
    caching.CacheImpl._locator_classes[:0] = _LOCATORS


_numba_load_overload = getattr(caching.Cache.load_overload, "numba_original", caching.Cache.load_overload)


def _load_overload(self, sig, target_context):
    """numba's ``Cache.load_overload`` without the registry refresh, for liqrisk's kernels."""
    if not isinstance(self._impl.locator, tuple(_LOCATORS)):
        return _numba_load_overload(self, sig, target_context)
    rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


_load_overload.numba_original = _numba_load_overload
caching.Cache.load_overload = _load_overload
