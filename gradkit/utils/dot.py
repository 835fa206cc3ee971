"""Graphviz DOT text, and rendering it with Graphviz's ``dot`` program.

gradkit writes the DOT text itself (a few lines, deterministic, so drawings can
be snapshot-tested and saved without any extra installed); only turning it into
a picture needs Graphviz (Debian: ``apt-get install graphviz``). Without ``dot``
on the PATH, :func:`render` saves the DOT text and says how to render it.

Example:
    >>> g = Digraph("demo", rankdir="LR")
    >>> g.node("a", "input"); g.node("b", "dense"); g.edge("a", "b", "(None, 4)")
    >>> print(g.source().splitlines()[0])
    digraph "demo" {
"""

from __future__ import annotations

import os
import shutil
import warnings

#: output formats ``render`` asks ``dot`` for, by file extension
FORMATS = ("png", "svg", "pdf", "jpg", "gif")


def quote(text) -> str:
    """``text`` as a DOT double-quoted string; newlines become centred line breaks."""
    s = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s.replace("\n", "\\n") + '"'


def _attrs(attrs: dict) -> str:
    items = [f"{k}={quote(v)}" for k, v in attrs.items() if v is not None]
    return f" [{', '.join(items)}]" if items else ""


class Digraph:
    """A directed graph accumulated as DOT statements, in the order they were added.

    Args:
        name: the graph's name (written into the DOT text).
        **graph_attrs: graph attributes, e.g. ``rankdir="LR"``.

    ``node``/``edge``/``subgraph`` add statements; :meth:`source` is the DOT text.
    """

    def __init__(self, name: str = "G", *, cluster: bool = False, **graph_attrs):
        self.name = name
        self.cluster = cluster
        self.graph_attrs = graph_attrs
        self.node_defaults: dict = {}
        self.edge_defaults: dict = {}
        self._body: list = []  # strings and nested Digraphs

    def node(self, node_id: str, label=None, **attrs):
        """Add a node; ``label`` may span lines (``\\n``)."""
        self._body.append(f"{quote(node_id)}{_attrs({'label': label, **attrs})};")

    def edge(self, tail: str, head: str, label=None, **attrs):
        """Add an edge ``tail -> head`` with an optional label."""
        self._body.append(f"{quote(tail)} -> {quote(head)}{_attrs({'label': label, **attrs})};")

    def subgraph(self, name: str, label=None, **graph_attrs) -> Digraph:
        """A cluster drawn as a box around its nodes (returned, to fill in)."""
        sub = Digraph(name, cluster=True, label=label, **graph_attrs)
        self._body.append(sub)
        return sub

    def _lines(self, indent: str) -> list:
        head = "subgraph" if self.cluster else "digraph"
        name = ("cluster_" + self.name) if self.cluster else self.name
        lines = [f"{indent}{head} {quote(name)} {{"]
        inner = indent + "  "
        for k, v in self.graph_attrs.items():
            if v is not None:
                lines.append(f"{inner}{k}={quote(v)};")
        if self.node_defaults:
            lines.append(f"{inner}node{_attrs(self.node_defaults)};")
        if self.edge_defaults:
            lines.append(f"{inner}edge{_attrs(self.edge_defaults)};")
        for item in self._body:
            lines.extend(item._lines(inner) if isinstance(item, Digraph) else [inner + item])
        lines.append(indent + "}")
        return lines

    def source(self) -> str:
        """The DOT text (ends with a newline)."""
        return "\n".join(self._lines("")) + "\n"


def dot_binary():
    """Path of Graphviz's ``dot`` program, or None when Graphviz is not installed."""
    return shutil.which("dot")


def render(source: str, to_file, caller: str) -> str:
    """Save DOT ``source`` as ``to_file``: a picture (by extension) through Graphviz.

    Args:
        source: DOT text.
        to_file: ``.png``, ``.svg``, ``.pdf``, ``.jpg``, ``.gif`` (drawn by ``dot``) or
            ``.dot``/``.gv`` (the text itself).
        caller: the public function's name, for messages.

    Returns:
        The path written. When a picture was asked for and ``dot`` is missing, the
        DOT text is written beside it (``<name>.dot``) with a warning that says how
        to render it, and that path is returned.
    """
    path = os.fspath(to_file)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in ("dot", "gv"):
        _write_text(path, source)
        return path
    if ext not in FORMATS:
        raise ValueError(f"{caller}: to_file must end in .{', .'.join(FORMATS)}, .dot or .gv, "
                         f"received {path!r}")
    exe = dot_binary()
    if exe is None:
        dot_path = os.path.splitext(path)[0] + ".dot"
        _write_text(dot_path, source)
        warnings.warn(f"{caller}: Graphviz's 'dot' program was not found, so no {ext.upper()} "
                      f"was drawn; wrote the DOT text to {dot_path}. Install Graphviz "
                      f"(apt-get install graphviz) and run: dot -T{ext} {dot_path} -o {path}",
                      stacklevel=3)
        return dot_path
    _write_bytes(path, run_dot(source, ext, caller))
    return path


def run_dot(source: str, fmt: str, caller: str) -> bytes:
    """``dot -T<fmt>`` on ``source``; the output bytes. Needs Graphviz installed."""
    exe = dot_binary()
    if exe is None:
        raise RuntimeError(f"{caller}: Graphviz's 'dot' program is not installed "
                           "(apt-get install graphviz)")
    import subprocess  # only when Graphviz is run: import gradkit stays light

    proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{caller}: Graphviz's dot failed (exit {proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _write_text(path, text):
    _write_bytes(path, text.encode())


def _write_bytes(path, data):
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
