"""liqrisk._jitcache: numba's cache of liqrisk's kernels is stamped with every kernel module's
bytes, so editing one file (the margin kernel) invalidates the kernels that inline it (the Monte
Carlo kernel), which numba's own per-file stamp does not (numba/numba#8396)."""
import shutil

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
