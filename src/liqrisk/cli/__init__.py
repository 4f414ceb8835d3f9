"""The `liqrisk` command line. Each command lives in its own module and only parses arguments
and renders a result object; nothing is computed here."""
from liqrisk.cli._app import app
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
