"""advise.changes: a what-if change the user typed is used as typed or refused naming it."""
import pytest

from liqrisk.advise.changes import Changes
from liqrisk.io.portfolio import InputError


def test_an_at_sign_without_an_entry_is_refused():
    """Issue 9 (edge fuzz, seed 11): ``--add binance-main:BTCUSDT:0.5@`` ran as a trade at the
    mark, as if no ``@`` had been typed."""
    with pytest.raises(InputError) as e:
        Changes.parse(add=["binance-main:BTCUSDT:0.5@"])
    assert e.value.problems == ["--add 'binance-main:BTCUSDT:0.5@' entry: '' is not a number"]
    assert Changes.parse(add=["binance-main:BTCUSDT:0.5"]).add[0].entry is None
    assert Changes.parse(add=["binance-main:BTCUSDT:0.5@92000"]).add[0].entry == 92000.0
