"""cascade.scenario: a field's problem is one line naming it, in words that match the value."""
import pytest

from liqrisk.cascade.scenario import ScenarioError, scenario_from_dict


def _scenario(stress):
    return {"name": "t", "assets": {"BTC": {"price": 91250, "vol": 0.55}}, "shock": {"kind": "gap", "steps": 3,
            "moves": {"BTC": -0.2}}, "impact": {"model": "sqrt", "stress": stress}, "insurance_fund_usd": 1e6,
            "population": {"synthetic": {"n_accounts": 10, "seed": 1}}}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "-inf"])
def test_a_non_finite_stress_says_so(value):
    """Issue 9 (hand probes): ``impact.stress: .nan`` said "out of range: nan (allowed [-inf, inf])"."""
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(_scenario(value))
    assert str(e.value) == f"impact.stress: not a finite number: {float(value):g}"
