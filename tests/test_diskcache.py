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
