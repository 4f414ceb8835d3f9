"""Reading an input file as text or as a YAML/JSON document, with every way it can fail as a
one-line :class:`DocumentError` (no traceback): missing, a directory, too large, empty, not
UTF-8, not valid YAML/JSON, a duplicated mapping key, nesting deeper than the limit, YAML aliases
that expand beyond the limit (alias bombs). Bounds come from :mod:`liqrisk.io.limits`.

YAML is read with libyaml when it is installed (it also caps flow/block nesting at 1000 levels
by itself) and PyYAML's safe constructors; only plain data types are built.
"""
from __future__ import annotations

import json
import re
from array import array
from collections.abc import Sequence
from json.decoder import scanstring
from pathlib import Path

import yaml

from liqrisk.io import limits

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DocumentError(ValueError):
    """An input file that cannot be read as a document; the message names the file."""


def check_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is a readable file within the file-size limit, else DocumentError."""
    p = Path(path)
    if p.is_dir():
        raise DocumentError(f"{p}: is a directory, not a {what}")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise DocumentError(f"{p}: cannot read ({e.strerror})") from None
    lim = limits.current()
    if size > lim.max_file_mb * 1e6:
        raise DocumentError(lim.exceeded("max_file_mb", f"{p}: {size / 1e6:.1f} MB"))
    return p


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path`` (a BOM is dropped), within the file-size limit."""
    p = check_file(path, what)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DocumentError(f"{p}: cannot read ({e.strerror})") from None
    if not data.strip():
        raise DocumentError(f"{p}: the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{p}: UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DocumentError(f"{p}: not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r}); "
                            f"save it as UTF-8") from None


class _StrictLoader(_Base):
    """Safe YAML loader that rejects duplicated keys and measures the document before building it."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:        # a list or mapping used as a key
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a scalar",
                                                        key_node.start_mark) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicated key {key!r} (first on line {seen[key]})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        _measure(node)
        return self.construct_document(node)


def _measure(root) -> None:
    """Nesting depth and alias expansion of a composed YAML node graph, without recursion
    (an alias is the same node object appearing again under another parent)."""
    lim = limits.current()
    stack, seen, added = [(root, 1)], set(), 0
    while stack:
        node, depth = stack.pop()
        if depth > lim.max_depth:
            raise DocumentError(lim.exceeded("max_depth", f"line {node.start_mark.line + 1}: nesting depth {depth}"))
        if id(node) in seen:
            added += 1
            if added > lim.max_alias_nodes:
                raise DocumentError(lim.exceeded("max_alias_nodes", "YAML aliases expand the document (an alias bomb?)"))
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack += [(n, depth + 1) for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(n, depth + 1) for n in node.value]


def _json_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DocumentError(f"duplicated key {k!r}")
        out[k] = v
    return out


def _json_depth(doc) -> None:
    """Refuse a document nested deeper than ``max_depth`` (a value inside n containers has depth
    n + 1); only containers go on the stack."""
    lim = limits.current()
    if not isinstance(doc, (dict, list)):
        return
    stack = [(doc, 1)]
    while stack:
        x, depth = stack.pop()
        children = x.values() if isinstance(x, dict) else x
        if depth + 1 > lim.max_depth and len(children):
            raise DocumentError(lim.exceeded("max_depth", f"nesting depth {depth + 1}"))
        stack += [(v, depth + 1) for v in children if isinstance(v, (dict, list))]


def parse_document(text: str, fmt: str, name: str = "<document>"):
    """Decode YAML or JSON text (``fmt`` "yaml" | "json") under the limits."""
    if fmt == "json":
        try:
            doc = json.loads(text, object_pairs_hook=_json_pairs)
        except json.JSONDecodeError as e:
            raise DocumentError(f"{name}: not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        except RecursionError:
            raise DocumentError(limits.current().exceeded("max_depth", f"{name}: nesting")) from None
        except DocumentError as e:
            raise DocumentError(f"{name}: not valid JSON: {e}") from None
        except ValueError as e:         # an integer literal beyond Python's digit limit
            raise DocumentError(f"{name}: not valid JSON: {_value_problem(e)}") from None
        _json_depth(doc)
        return doc
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 — a safe loader
    except DocumentError as e:
        raise DocumentError(f"{name}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise DocumentError(f"{name}: not valid YAML: {problem}{where}") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as e:   # e.g. a bad timestamp
        raise DocumentError(f"{name}: not valid YAML: {_value_problem(e)}") from None


def _value_problem(e: Exception) -> str:
    """The decoder's exception as one line; an integer of more digits than Python converts (the
    interpreter's message ends "use sys.set_int_max_str_digits() to increase the limit", advice
    for programmers; from JSON it was printed without the file's name — issue 9) says so plainly."""
    import sys
    text = str(e).splitlines()[0] if str(e) else ""
    if isinstance(e, ValueError) and "integer string conversion" in text:
        return f"an integer of more than {sys.get_int_max_str_digits()} digits (no field takes such a number)"
    return f"{type(e).__name__}: {text}"


class JsonItems(Sequence):
    """The items of a JSON array kept as their text, each decoded (with the checks of
    :func:`parse_document`) when it is taken: a slice is a list of fresh objects, so a consumer
    that takes a chunk at a time holds one chunk's objects besides the text."""

    def __init__(self, text: str, starts: array, ends: array):
        self.text, self.starts, self.ends = text, starts, ends
        self._decoder = json.JSONDecoder(object_pairs_hook=_json_pairs)

    def __len__(self) -> int:
        return len(self.starts)

    def _item(self, k: int):
        return self._decoder.raw_decode(self.text[self.starts[k]:self.ends[k]])[0]

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self._item(j) for j in range(*k.indices(len(self)))]
        return self._item(range(len(self))[k])


_WS = re.compile(r"[ \t\n\r]*")


def _lazy_json_object(text: str, key: str) -> dict | None:
    """A JSON object whose member ``key`` is an array, decoded except for that array (a
    :class:`JsonItems`, each item checked once here for duplicated keys and nesting); None when
    the text is anything else or has any fault — the caller then decodes it whole, which reports
    the fault as usual."""
    dec = json.JSONDecoder(object_pairs_hook=_json_pairs)
    end = lambda i: _WS.match(text, i).end()           # noqa: E731 — the next non-blank position
    try:
        i = end(0)
        if text[i:i + 1] != "{":
            return None
        out, i = {}, end(i + 1)
        while True:
            if text[i:i + 1] != '"':
                return None
            k, i = scanstring(text, i + 1)
            i = end(i)
            if text[i:i + 1] != ":" or k in out:
                return None
            i = end(i + 1)
            if k == key and text[i:i + 1] == "[":
                starts, ends = array("q"), array("q")
                i = end(i + 1)
                closed = text[i:i + 1] == "]"
                i += closed
                while not closed:
                    item, stop = dec.raw_decode(text, i)
                    _json_depth([[item]])                 # the item's depth in the document
                    starts.append(i)
                    ends.append(stop)
                    i = end(stop)
                    closed, sep = text[i:i + 1] == "]", text[i:i + 1] == ","
                    if not (closed or sep):
                        return None
                    i = end(i + 1) if sep else i + 1
                out[k] = JsonItems(text, starts, ends)
            else:
                out[k], i = dec.raw_decode(text, i)
                _json_depth([out[k]])
            i = end(i)
            if text[i:i + 1] == "}":
                i += 1
                break
            if text[i:i + 1] != ",":
                return None
            i = end(i + 1)
        return out if end(i) == len(text) and isinstance(out.get(key), JsonItems) else None
    except (ValueError, RecursionError):              # JSONDecodeError, DocumentError, digit limit
        return None


def load_document(path: str | Path, what: str = "file", lazy_array: str | None = None):
    """Read and decode a YAML (``.yaml``/``.yml``/other) or JSON (``.json``) file. ``lazy_array``:
    a JSON object's member of that name that is an array comes back as :class:`JsonItems`."""
    p = Path(path)
    text = read_text(p, what)
    if lazy_array and p.suffix.lower() == ".json":
        doc = _lazy_json_object(text, lazy_array)
        if doc is not None:
            return doc
    return parse_document(text, "json" if p.suffix.lower() == ".json" else "yaml", str(p))

