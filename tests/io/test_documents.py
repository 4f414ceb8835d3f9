"""io.documents: an input file's every failure is one line naming the file."""
import sys

import pytest

from liqrisk.io.documents import DocumentError, parse_document


@pytest.mark.parametrize("fmt, text", [("json", '{"a": ' + "9" * 5000 + "}"), ("yaml", "a: " + "9" * 5000 + "\n")])
def test_an_integer_beyond_pythons_digit_limit_names_the_file(fmt, text):
    """Issue 9 (hand probes): from JSON the interpreter's ValueError reached the CLI as "error:
    Exceeds the limit (4300 digits) for integer string conversion: … use
    sys.set_int_max_str_digits() to increase the limit" — no file, advice for programmers."""
    with pytest.raises(DocumentError) as e:
        parse_document(text, fmt, "book.x")
    kind = "JSON" if fmt == "json" else "YAML"
    assert str(e.value) == (f"book.x: not valid {kind}: an integer of more than {sys.get_int_max_str_digits()} "
                            "digits (no field takes such a number)")


def test_an_integer_within_the_limit_reads():
    assert parse_document('{"a": ' + "9" * 400 + "}", "json") == {"a": int("9" * 400)}


LAZY_CASES = [
    '{"as_of": "2026-11-23", "accounts": [{"id": "a", "x": [1, 2.5, null]}, {"id": "b"}], "market": {}}',
    ' \n{ "accounts" :[ ] ,"market":{"BTC":{"mark":1e5}} } \n',
    '{"market": {"accounts": [1]}, "accounts": [[], {}, "s", 3, true, {"id": "\\u00e9\\"x"}]}',
]


@pytest.mark.parametrize("text", LAZY_CASES)
def test_a_lazily_read_array_decodes_to_the_document(tmp_path, text):
    import json
    from liqrisk.io.documents import JsonItems, load_document
    path = tmp_path / "book.json"
    path.write_text(text)
    lazy = load_document(path, lazy_array="accounts")
    whole = json.loads(text)
    assert isinstance(lazy["accounts"], JsonItems)
    assert {k: v for k, v in lazy.items() if k != "accounts"} == {k: v for k, v in whole.items() if k != "accounts"}
    assert lazy["accounts"][:] == whole["accounts"] and len(lazy["accounts"]) == len(whole["accounts"])
    assert list(lazy["accounts"]) == whole["accounts"]
    assert lazy["accounts"][1:3] == whole["accounts"][1:3]
    if whole["accounts"]:
        assert lazy["accounts"][-1] == whole["accounts"][-1]


@pytest.mark.parametrize("text, message", [
    ('{"accounts": [{"id": "a", "id": "b"}]}', "duplicated key 'id'"),
    ('{"accounts": [1,]}', "not valid JSON"),
    ('{"accounts": [1]} x', "Extra data"),
    ('{"accounts": [1], "accounts": [2]}', "duplicated key 'accounts'"),
    ('{"accounts": [' + "[" * 30 + "]" * 30 + "]}", "nesting depth"),
])
def test_a_faulty_file_read_lazily_gets_the_whole_decoders_message(tmp_path, text, message):
    from liqrisk.io.documents import load_document
    path = tmp_path / "book.json"
    path.write_text(text)
    with pytest.raises(DocumentError, match=message):
        load_document(path, lazy_array="accounts")
    with pytest.raises(DocumentError, match=message):
        load_document(path)
