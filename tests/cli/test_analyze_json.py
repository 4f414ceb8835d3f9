"""`analyze --json` of a book of several chunks: streamed, byte for byte the whole document, and
nothing printed when any chunk fails."""
import json

from typer.testing import CliRunner

from liqrisk.cli import app
from tests.test_load import book


def test_cli_json_of_a_book_of_several_chunks_is_the_whole_document(tmp_path):
    """`analyze --json` writes a book chunk by chunk (CHUNK_ACCOUNTS each): the bytes are those
    of json.dumps of the document of the book decoded whole and analysed as one chunk (the CLI
    reads the file's accounts lazily, chunk by chunk)."""
    from liqrisk.analysis import CHUNK_ACCOUNTS, ExitSettings, analyze
    n = 2 * CHUNK_ACCOUNTS + 100                                   # three chunks, the last a short one
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book(n)))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json"])
    assert out.exit_code == 0, out.output
    whole = analyze(json.loads(path.read_text()), exit=ExitSettings(), chunk_accounts=n).to_dict()
    assert out.stdout == json.dumps(whole, allow_nan=False) + "\n"
    assert len(whole["accounts"]) == n


def test_cli_json_prints_nothing_when_a_late_chunk_has_a_problem(tmp_path):
    from liqrisk.analysis import CHUNK_ACCOUNTS
    late = CHUNK_ACCOUNTS + 50                                     # in the second chunk
    doc = book(CHUNK_ACCOUNTS + 100)
    doc["accounts"][late]["collateral"] = {"USDT": -5}
    doc["accounts"][CHUNK_ACCOUNTS + 10]["id"] = "acc2"
    path = tmp_path / "book.json"
    path.write_text(json.dumps(doc))
    out = CliRunner().invoke(app, ["analyze", str(path), "--json"])
    assert out.exit_code == 2
    assert '"accounts"' not in out.output                          # no document, not even the first chunks
    assert f"account 'acc{late}', field 'collateral" in out.output and "account 'acc2', field 'id'" in out.output
    assert "Traceback" not in out.output
