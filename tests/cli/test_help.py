"""Every command's --help labels values by what they are (``ASSET=PCT``, ``N``, ``PATH``), never by
typer's type names (``<str>``, ``<list[str]>``, ``<float>``)."""
import re

import pytest
import typer
from typer.testing import CliRunner

from liqrisk.cli import app


def _command_paths(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _command_paths(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


COMMANDS = sorted(_command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_value_labels_not_type_names(command):
    res = CliRunner().invoke(app, [*command, "--help"])
    assert res.exit_code == 0, res.output
    assert not re.search(r"<[a-z][a-z_\[\], ]*>", res.output), res.output


@pytest.mark.parametrize("command, labels", [
    ("what-if", ["FILE", "--shock ASSET=PCT", "--add ACCOUNT:SYMBOL:SIZE[@ENTRY]", "--reduce ACCOUNT:SYMBOL:FRACTION",
                 "--topup ACCOUNT:ASSET=AMOUNT", "--horizon DURATION", "--paths N"]),
    ("advise", ["FILE", "--target TARGET", "--account ID", "--model MODEL"]),
    ("size", ["--venue VENUE", "--leverage X", "--target TARGET", "--side SIDE"]),
    ("hedge-backtest", ["--spot X", "--type call|put", "--rebalances N", "--file PATH"]),
])
def test_the_structured_options_name_their_format(command, labels):
    out = CliRunner().invoke(app, [command, "--help"]).output
    assert all(label in out for label in labels), out
