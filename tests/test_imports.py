"""Imports among rnnviz modules go one way: no cycle, and each room imports only from rooms below.

Every ``import rnnviz...`` and ``from rnnviz... import ...`` counts, at the top of a file or
inside a function (an import inside a function still runs, later: it hides a cycle, it does not
remove it), and so do imports under ``if TYPE_CHECKING:``. ``from rnnviz.x import y`` is an edge
to ``rnnviz.x.y`` when y is a module, else to ``rnnviz.x``. A package's ``__init__`` that runs
before its modules is no edge of theirs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "rnnviz"

# The rooms, lowest first: a module imports only from its own room and the rooms before it.
ROOMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("rnnviz.config", "rnnviz.rules", "rnnviz.metrics")),
    ("data", ("rnnviz.data",)),
    ("training", ("rnnviz.training",)),
    ("attr", ("rnnviz.attr",)),
    ("experiment", ("rnnviz.experiment",)),
    ("report", ("rnnviz.report",)),
    ("serve", ("rnnviz.serve",)),
    ("sweep", ("rnnviz.sweep",)),
    ("cli, ui", ("rnnviz.cli", "rnnviz.__main__", "rnnviz.ui", "rnnviz")),
)

Edge = tuple[str, str, int]  # (importing module, imported module, line)


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root`` (a package folder)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: set[str], package: str) -> list[Edge]:
    """The ``package`` modules that ``name`` (file ``path``) imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    found: list[Edge] = []

    def add(target: str, line: int) -> None:
        while target and target not in modules:  # rnnviz.x.name -> rnnviz.x
            target = target.rpartition(".")[0]
        if target and target != name and not name.startswith(target + "."):
            found.append((name, target, line))  # a parent package's __init__ is no edge

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base != package and not base.startswith(package + "."):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in modules else base, node.lineno)
    return found


def import_graph(root: Path = ROOT) -> tuple[dict[str, Path], list[Edge]]:
    """Every module of the package at ``root`` and every import edge between them."""
    files = module_files(root)
    edges = [
        e for name, path in files.items() for e in imports_of(name, path, set(files), root.name)
    ]
    return files, edges


def find_cycle(edges: list[Edge]) -> list[Edge] | None:
    """One import cycle as its edges in order (the first closes on the last), or None."""
    graph: dict[str, list[Edge]] = {}
    for edge in sorted(set(edges)):
        graph.setdefault(edge[0], []).append(edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(node: str) -> list[Edge] | None:
        state[node] = 1
        for edge in graph.get(node, ()):
            target = edge[1]
            if state.get(target) == 1:
                start = next(i for i, e in enumerate(path) if e[0] == target) if path else 0
                if target == node:
                    return [edge]
                return [*path[start:], edge]
            if target not in state:
                path.append(edge)
                cycle = visit(target)
                if cycle:
                    return cycle
                path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def room_of(module: str) -> int | None:
    """Index of the room holding ``module`` (the longest matching prefix), None if in none."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(ROOMS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def _where(files: dict[str, Path], edge: Edge) -> str:
    return f"{files[edge[0]].relative_to(ROOT.parent)}:{edge[2]} imports {edge[1]}"


# --------------------------------------------------------------------------- the checker itself


def _package(tmp_path: Path, sources: dict[str, str]) -> Path:
    for rel, text in sources.items():
        path = tmp_path / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def test_the_checker_sees_imports_inside_functions_and_submodules_named_in_from(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "def f():\n    from pkg.b import thing\n",
            "b.py": "from pkg import c\nthing = 1\n",
            "c.py": "import os\n\ndef g():\n    import pkg.a\n",
            "d/__init__.py": "from pkg.d import e\n",
            "d/e.py": "from . import f\n",
            "d/f.py": "",
        },
    )
    _, edges = import_graph(root)
    pairs = {(a, b) for a, b, _ in edges}
    assert pairs == {
        ("pkg.a", "pkg.b"),  # inside a function
        ("pkg.b", "pkg.c"),  # from pkg import c: c is a module
        ("pkg.c", "pkg.a"),
        ("pkg.d", "pkg.d.e"),
        ("pkg.d.e", "pkg.d.f"),  # relative; pkg.d.e -> pkg.d (its own package) is no edge
    }
    cycle = find_cycle(edges)
    assert cycle is not None and {e[0] for e in cycle} == {"pkg.a", "pkg.b", "pkg.c"}
    assert find_cycle([e for e in edges if e[0] != "pkg.c"]) is None


def test_a_module_in_no_room_is_named():
    assert room_of("rnnviz.data.split") == 1
    assert room_of("rnnviz.metrics") == 0
    assert room_of("rnnviz.ui.pages.setup") == len(ROOMS) - 1
    assert room_of("rnnviz.training") == 2
    assert room_of("os") is None


# --------------------------------------------------------------------------- rnnviz


def test_no_import_cycle_among_rnnviz_modules():
    files, edges = import_graph()
    cycle = find_cycle(edges)
    assert cycle is None, (
        "import cycle: "
        + " -> ".join([cycle[0][0], *(e[1] for e in cycle)])
        + "\n"
        + "\n".join(_where(files, e) for e in cycle)
    )


def test_every_rnnviz_module_sits_in_a_room():
    files, _ = import_graph()
    homeless = [name for name in files if room_of(name) is None]
    assert not homeless, f"add these modules to a room in tests/test_imports.py: {homeless}"


def test_each_room_imports_only_from_its_own_room_and_the_rooms_before_it():
    files, edges = import_graph()
    upward = []
    for edge in sorted(set(edges)):
        low, high = room_of(edge[0]), room_of(edge[1])
        if low is not None and high is not None and high > low:
            upward.append(f"{_where(files, edge)} (room {ROOMS[high][0]}, above {ROOMS[low][0]})")
    assert not upward, "imports that climb to a later room:\n" + "\n".join(upward)
