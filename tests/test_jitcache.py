"""liqrisk._jitcache: numba's cache of liqrisk's kernels is stamped with every kernel module's
bytes, so editing one file (the margin kernel) invalidates the kernels that inline it (the Monte
Carlo kernel), which numba's own per-file stamp does not (numba/numba#8396); and a cached kernel
loads without numba's registry refresh, with the same results."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numba

from liqrisk import _jitcache
from liqrisk.risk.book_kernel import book_chunk_nb


def test_the_digest_follows_every_kernel_module_and_nothing_else(tmp_path):
    root = tmp_path / "liqrisk"
    shutil.copytree(_jitcache.ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = _jitcache.kernel_sources_digest(root)
    assert before == _jitcache.DIGEST
    cli = root / "cli" / "errors.py"
    cli.write_text(cli.read_text() + "\n# a comment\n")              # no numba there
    assert _jitcache.kernel_sources_digest(root) == before
    margin = root / "margin" / "kernel.py"
    margin.write_text(margin.read_text().replace("def pool_state_nb(", "def pool_state_nb(  ", 1))
    assert _jitcache.kernel_sources_digest(root) != before


def test_liqrisk_kernels_carry_the_package_stamp_and_other_functions_numbas_own():
    locator = book_chunk_nb._cache._impl.locator
    assert type(locator).__name__.startswith("Liqrisk")
    assert locator.get_source_stamp()[1] == _jitcache.DIGEST

    @numba.njit(cache=True)
    def outside(x):
        return x + 1
    assert not type(outside._cache._impl.locator).__name__.startswith("Liqrisk")


LOAD = """
import json, sys
from numba.core import caching
import liqrisk, liqrisk._jitcache
if sys.argv[1] == "numba":
    caching.Cache.load_overload = caching.Cache.load_overload.numba_original
result = liqrisk.analyze(sys.argv[2], horizons=["1d"], paths=400, seed=3, range_paths=0)
print(json.dumps({"result": result.to_dict(), "registries": "numba.np.arraymath" in sys.modules}))
"""


def test_cached_kernels_load_without_numbas_registries_and_compute_the_same():
    """The margin, boundary and Monte Carlo kernels (parallel ones included) loaded from the cache
    without numba's registry refresh give the document numba's own loader gives, bit for bit."""
    example = str(Path(__file__).resolve().parents[1] / "examples" / "multi_venue.yaml")
    runs = {}
    for loader in ("numba", "liqrisk"):   # numba's first: it writes any missing cache entry
        out = subprocess.run([sys.executable, "-c", LOAD, loader, example], capture_output=True,
                             text=True, check=True).stdout
        runs[loader] = json.loads(out)
    assert runs["numba"]["registries"] and not runs["liqrisk"]["registries"]
    assert runs["liqrisk"]["result"] == runs["numba"]["result"]


def test_a_new_signature_still_compiles_after_a_load_that_skipped_the_registries():
    """numba's compiler refreshes the context itself, so a kernel compiled after cached loads
    (here one that needs the linear-algebra registry) works."""
    code = """
import json, sys
import numpy as np, numba
import liqrisk
liqrisk.analyze(sys.argv[1])
skipped = "numba.np.arraymath" not in sys.modules
solve = numba.njit(lambda a, b: np.linalg.solve(a, b))
print(json.dumps([skipped, solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0])).tolist()]))
"""
    example = str(Path(__file__).resolve().parents[1] / "examples" / "multi_venue.yaml")
    out = subprocess.run([sys.executable, "-c", code, example], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == [True, [0.5, 0.25]]
