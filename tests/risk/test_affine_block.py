"""The piece of risk/affine_block that the block-on/off comparison in test_book_mc does not pin
down alone: the step-variance bound the screens rely on (never below an exact quadratic form
inside its box)."""
import numpy as np
import pytest

from liqrisk.risk.affine_block import _step_variance_cap
from liqrisk.risk.bridge import FAR


def test_the_step_variance_cap_bounds_every_quadratic_form_inside_its_box():
    """For random slopes (hedged and not), covariances and boxes, FAR·ḡᵀ·cdt·ḡ at mid-step
    gradients ḡ_a = α_a·½(P + P')·S drawn inside the box (prices in [lo, hi], ratios in
    [smn, smx]) never exceeds the cap; and the cap is not loose by orders of magnitude for a
    narrow box (within 10 % of the exact form at the box's centre)."""
    rng = np.random.default_rng(5)
    for trial in range(300):
        n = int(rng.integers(1, 6))
        al = rng.normal(0.0, 1.0, (1, n, 1)) * rng.choice([1e-3, 1.0, 50.0])
        L = rng.normal(0.0, 1.0, (n, n))
        cdt = (L @ L.T + 1e-3 * np.eye(n)) * 1e-5
        mid = rng.uniform(0.1, 1e5, n)
        width = rng.choice([1e-4, 0.05, 0.5])
        lo, hi = mid * (1 - width), mid * (1 + width)
        smn, smx = (np.ones(n), np.ones(n)) if trial % 2 else (rng.uniform(0.5, 1, n), rng.uniform(1, 2, n))
        jlo = np.zeros(n, np.int64)
        cap = _step_variance_cap(0, jlo, lo, hi, smn, smx, al, cdt)
        for _ in range(50):
            P0, P1 = rng.uniform(lo, hi), rng.uniform(lo, hi)
            g = al[0, :, 0] * 0.5 * (P0 + P1) * rng.uniform(smn, smx)
            assert FAR * (g @ cdt @ g) <= cap
        if width == 1e-4 and trial % 2:
            g = al[0, :, 0] * mid
            exact = FAR * (g @ cdt @ g)
            assert cap <= 1.1 * exact + 1e-300
