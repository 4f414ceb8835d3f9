"""liqrisk._gc: the cyclic collector is off inside a block and comes back as it was found."""
import gc

from liqrisk._gc import cyclic_gc_paused


def test_the_collector_is_paused_inside_and_restored_after_even_when_nested_or_raising():
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()                  # the inner block found it off
    assert gc.isenabled()
    try:
        with cyclic_gc_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()                  # off before: stays off
    finally:
        gc.enable()
