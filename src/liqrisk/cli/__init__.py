"""The `liqrisk` command line. Each command lives in its own module and only parses arguments
and renders a result object; nothing is computed here."""
import os

# one BLAS thread unless the user says otherwise (before NumPy loads): our matrices are a few
# axes wide, and OpenBLAS's idle workers spin after each call on the cores the numba kernels
# run on (the demo spent 0.5 CPU s of 5.5 in them on 2 cores)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from liqrisk.cli._app import app  # noqa: E402
from liqrisk.cli import vol  # noqa: F401,E402
from liqrisk.cli import exit_cost  # noqa: F401,E402
from liqrisk.cli import analyze  # noqa: F401,E402
from liqrisk.cli import calibration  # noqa: F401,E402
from liqrisk.cli import cascade  # noqa: F401,E402
from liqrisk.cli import hedge  # noqa: F401,E402
from liqrisk.cli import what_if  # noqa: F401,E402
from liqrisk.cli import advise  # noqa: F401,E402
from liqrisk.cli import size  # noqa: F401,E402
from liqrisk.cli import serve  # noqa: F401,E402
from liqrisk.cli import import_  # noqa: F401,E402
from liqrisk.cli import watch  # noqa: F401,E402


def main() -> None:
    """Console-script entry point."""
    app()
