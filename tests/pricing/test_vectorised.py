"""The straight-line pricing loops (price, price + Greeks, the implied-vol pass, the scenario
pools' shocked options in margin.kernel._price_lanes) compile to SIMD code on every x86-64
target, not only the host.

A structural check of the generated code, not a timing: LLVM's loop vectoriser reports each loop
it vectorises ("-pass-remarks=loop-vectorize"). On AVX-512 targets it once refused the greeks
loop ("too many memory checks needed": numba's parfor alias analysis took the booleans of
``_invalid`` for aliases, so the arguments were not marked noalias) and the kernel ran scalar,
slower than its SSE2 build. Each target is compiled in a subprocess with its own empty numba
cache (cached code would compile nothing and print no remark); the CPU features are given
explicitly, since numba otherwise pairs a named CPU with the host's features.
"""

import os
import re
import subprocess
import sys

import pytest

_COMPILE = r"""
import sys
import llvmlite.binding as ll
ll.set_option("", "-pass-remarks=loop-vectorize")
from numba import types
from liqrisk.pricing import kernels
a = types.float64[::1]
for name, out in (("bsm_price_greeks_vec", types.float64[:, ::1]), ("bsm_price_vec", a),
                  ("implied_vol_vec", a)):
    sys.stderr.write(f"@@kernel {name}\n")
    sys.stderr.flush()
    getattr(kernels, name).compile((a,) * 7 + (out,))
from liqrisk.margin import kernel as margin_kernel
sys.stderr.write("@@kernel _price_lanes\n")
sys.stderr.flush()
margin_kernel._price_lanes.compile((types.int64, types.float64[:, ::1]))
sys.stderr.write("@@end\n")
"""

# (NUMBA_CPU_NAME, NUMBA_CPU_FEATURES, least vector width in doubles): AVX-512 with LLVM's two
# tunings (512-bit vectors on Zen 4, 256-bit on Intel); AVX2 and SSE2 (haswell 4, generic 2 when
# checked by hand) cost ~25 s of CPU each and are left out of the suite.
TARGETS = [("znver4", "+avx512f", 4), ("skylake-avx512", "+avx512f", 4)]


@pytest.mark.parametrize("cpu,features,width", TARGETS, ids=[t[0] for t in TARGETS])
def test_price_greeks_and_implied_vol_loops_vectorise(cpu, features, width, tmp_path):
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=features,
               NUMBA_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    sections = re.split(r"^@@kernel (\w+)\n", run.stderr.split("@@end")[0], flags=re.M)[1:]
    widths = {name: [int(w) for w in re.findall(r"vectorized loop \(vectorization width: (\d+)", text)]
              for name, text in zip(sections[::2], sections[1::2])}
    assert set(widths) == {"bsm_price_greeks_vec", "bsm_price_vec", "implied_vol_vec", "_price_lanes"}
    for name, found in widths.items():
        assert found and max(found) >= width, f"{name} on {cpu}: vector widths {found}\n{run.stderr[-2000:]}"
