"""The on-disk cache: a hit returns exactly what a miss computed; a different key or an
unwritable directory computes again; ``off`` never writes."""
import numpy as np

from liqrisk.diskcache import cached_arrays, key_of


def _compute(calls):
    def f():
        calls.append(1)
        return {"x": np.random.default_rng(len(calls)).normal(size=5), "s": np.array(["a", "b"])}
    return f


def test_a_hit_returns_the_computed_arrays_bit_for_bit(tmp_path, monkeypatch):
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path))
    calls = []
    first = cached_arrays(key_of("k", b"\x00\x01"), _compute(calls))
    second = cached_arrays(key_of("k", b"\x00\x01"), _compute(calls))
    assert len(calls) == 1
    assert first["x"].tobytes() == second["x"].tobytes() and list(second["s"]) == ["a", "b"]
    cached_arrays(key_of("k", b"\x00\x02"), _compute(calls))
    assert len(calls) == 2


def test_keys_are_length_prefixed():
    assert key_of("ab", "c") != key_of("a", "bc")


def test_an_unwritable_or_disabled_cache_still_computes(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    calls = []
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(blocker / "sub"))
    assert cached_arrays("k", _compute(calls))["x"].shape == (5,)
    monkeypatch.setenv("LIQRISK_CACHE_DIR", "off")
    cached_arrays("k", _compute(calls))
    cached_arrays("k", _compute(calls))
    assert len(calls) == 3 and not any(tmp_path.glob("*.npz"))


def test_a_corrupt_entry_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path))
    (tmp_path / "k.npz").write_bytes(b"garbage")
    calls = []
    cached_arrays("k", _compute(calls))
    assert len(calls) == 1


def test_the_cache_keeps_the_most_recently_used_entries_within_its_bound(tmp_path, monkeypatch):
    """Bound 0.05 MB with entries of ~16 kB: after five writes at most three remain, the newest
    write always stays, and an entry read (a use) outlives older unread ones."""
    import os
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LIQRISK_CACHE_MAX_MB", "0.05")
    big = lambda: {"x": np.zeros(2000)}            # 16,000 bytes of data + the npz header
    for k in range(3):
        cached_arrays(f"k{k}", big)
        os.utime(tmp_path / f"k{k}.npz", (1000 + k, 1000 + k))   # k0 oldest
    calls = []
    cached_arrays("k0", _compute(calls))            # a hit: k0 is now the most recently used
    assert not calls
    cached_arrays("k3", big)
    cached_arrays("k4", big)
    left = sorted(p.stem for p in tmp_path.glob("*.npz"))
    assert sum(p.stat().st_size for p in tmp_path.glob("*.npz")) <= 0.05 * 2 ** 20
    assert "k4" in left and "k0" in left and "k1" not in left, left


def test_stale_temporary_files_are_removed_and_fresh_ones_kept(tmp_path, monkeypatch):
    import os
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path))
    old, fresh = tmp_path / "a.tmp", tmp_path / "b.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (1.0, 1.0))
    cached_arrays("k", _compute([]))
    assert not old.exists() and fresh.exists()


def test_an_unreadable_bound_falls_back_to_the_default(monkeypatch):
    from liqrisk import diskcache
    monkeypatch.setenv("LIQRISK_CACHE_MAX_MB", "lots")
    assert diskcache.max_bytes() == diskcache.DEFAULT_MAX_MB * 2 ** 20
