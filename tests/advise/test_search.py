"""The bracketing search of advise on gaps whose root is known in closed form."""
import math

import pytest
from scipy.stats import norm

from liqrisk.advise.search import REL_TOL, round_up, smallest


def _p_gap(a: float, b: float, p_star: float = 0.01):
    """ln P − ln p* for P(x) = 2Φ(−(a + b·x)) (hitting a barrier a + b·x sd away); root
    x* = (Φ⁻¹(1 − p*/2) − a)/b."""
    def gap(x):
        p = 2 * norm.sf(a + b * x)
        return math.log(p) - math.log(p_star) if p > 0 else -math.inf      # P = 0 as Target.gap
    return gap, (norm.isf(p_star / 2) - a) / b


@pytest.mark.parametrize("a,b,first", [(1.0, 1e-3, 100.0), (1.0, 1e-3, 1e5), (0.2, 4.0, 0.5), (2.0, 0.5, 0.01)])
def test_answer_meets_and_lies_within_the_tolerance_above_the_root(a, b, first):
    gap, root = _p_gap(a, b)
    x, n = smallest(lambda x: x, gap, first, cap=1e7, at_zero=gap(0.0))
    assert gap(x) <= 0 and root <= x <= root * (1 + REL_TOL) + 1e-9
    assert n <= 12                     # a bisection to 0.2% from a ×1000 bracket takes ~20


def test_out_of_reach_costs_one_evaluation_and_a_jump_at_the_cap_two():
    gap, _ = _p_gap(0.0, 1e-6)
    assert smallest(lambda x: x, gap, 1.0, cap=1e3) == (None, 1)
    step = lambda f: -math.inf if f >= 1.0 else 1.0            # meets only at 100%
    assert smallest(lambda f: f, step, 0.5, cap=1.0, digits=4, at_zero=1.0) == (1.0, 3)


def test_round_up_keeps_a_rounded_number():
    assert round_up(0.4445, 4) == 0.4445 and round_up(5403.04) == 5403.04
    assert round_up(0.44451, 4) == 0.4446
