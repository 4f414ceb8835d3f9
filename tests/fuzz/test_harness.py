"""The fuzz harness's time limit never breaks the process it measures: the alarm waits while
numba compiles or a module imports (raised there it broke every later input of the run —
numba's 'no compiled object yet for pool_states_serial_nb', a partially initialised pandas)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


def test_the_alarm_waits_until_a_numba_compile_is_done():
    from numba.core.compiler_lock import global_compiler_lock
    done = False
    with pytest.raises(harness.Hang):
        with harness._alarm(0.01):
            with global_compiler_lock:          # held by numba for the whole compile
                time.sleep(0.3)                 # the alarm fires here and must not raise
            done = True
            time.sleep(30)                      # ... it raises here instead
    assert done


def test_the_alarm_waits_until_an_import_is_done(tmp_path, monkeypatch):
    (tmp_path / "fuzz_probe_module.py").write_text(
        "import sys, harness\nINSIDE = harness._inside_compile_or_import(sys._getframe())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fuzz_probe_module
    assert fuzz_probe_module.INSIDE
    assert not harness._inside_compile_or_import(sys._getframe())


def test_a_cascade_document_with_null_marks_or_ledger_terms_is_wrong():
    """Null (a NaN the JSON writer turned into null) is no number the ledger identity holds for
    (the campaign's own check raised TypeError on one)."""
    terms = ("wallets", "insurance", "backstop", "liquidators", "book_pnl", "adl_pnl", "funding")
    doc = {"marks": {"BTC": [91250.0, None]}, "ledger_usd": {k: [0.0, None] for k in terms}}
    assert harness.check_numbers("cascade", doc) == ["mark of BTC null or ≤ 0", "ledger term null at step 1"]
