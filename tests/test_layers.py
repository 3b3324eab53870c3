"""The package's layers (docs/architecture.md), enforced on the source: every import in ``playbook/`` goes down
the table of layers, never up or sideways into a later phase; the local platform is reached only through its
public interface ``playbook.local``; its runtime never imports its servers; and no import cycle exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "playbook"
# bottom to top: a package may import its own modules and those of the packages before it
LAYERS = ["core", "api", "weights", "storage", "handler", "image", "deploy", "monitor", "cost", "doctor",
          "journey", "cli"]
LOCAL_MAY_IMPORT = {"core", "api", "image", "local"}  # image: the Docker host and the images it runs
LOCAL_CALLERS = {"api.targets", "journey", "cli"}  # who may start or reach the local platform


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports(path: Path, name: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, at any depth (lazy imports count too);
    ``from playbook.x import y`` counts as playbook.x.y when that is a module."""
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                found.append((node.lineno, full if full in known else base))
    return [(line, m) for line, m in found if m == "playbook" or m.startswith("playbook.")]


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rank(module: str) -> int | None:
    pkg = package_of(module)
    return LAYERS.index(pkg) if pkg in LAYERS else None


def violations() -> list[str]:
    found = []
    for name, path in modules().items():
        if name in ("playbook", "playbook.__main__"):
            continue
        pkg = package_of(name)
        for line, target in imports(path, name):
            where = f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
            tpkg = package_of(target)
            if tpkg == pkg or not tpkg:
                if pkg == "local" and name.startswith("playbook.local.runtime") and \
                        target.startswith("playbook.local.servers"):
                    found.append(f"{where}: the local platform's runtime must not import its servers")
                continue
            if tpkg == "local":
                caller = name.removeprefix("playbook.")
                if not any(caller == c or caller.startswith(c + ".") for c in LOCAL_CALLERS):
                    found.append(f"{where}: only {sorted(LOCAL_CALLERS)} may reach the local platform")
                elif target != "playbook.local" and not target.startswith("playbook.local.background"):
                    found.append(f"{where}: outside playbook/local, import only its public interface: "
                                 "playbook.local (in this process) or playbook.local.background (a daemon)")
                continue
            if pkg == "local":
                if tpkg not in LOCAL_MAY_IMPORT:
                    found.append(f"{where}: the local platform may import only {sorted(LOCAL_MAY_IMPORT)}")
                continue
            if rank(name) is None:
                found.append(f"{where}: {pkg!r} is not a layer; add it to docs/architecture.md and LAYERS")
            elif rank(target) is None or rank(target) > rank(name):
                found.append(f"{where}: {pkg} ({rank(name)}) may not import the later layer {tpkg}")
    return found


def test_every_import_goes_down_the_layers():
    assert violations() == []


def test_no_import_cycles():
    graph = {name: {t for _, t in imports(path, name) if t in modules() and t != name}
             for name, path in modules().items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    """The rule itself: an upward import is reported (a checker that sees nothing proves nothing)."""
    fake = tmp_path / "playbook"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "__init__.py").write_text("")
    (fake / "cost").mkdir()
    (fake / "cost" / "__init__.py").write_text("")
    (fake / "core" / "bad.py").write_text("from playbook.cost import simulate\n")
    (fake / "cost" / "simulate.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "ROOT", fake)
    assert [v for v in violations() if "may not import the later layer cost" in v]


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_is_a_package_with_a_docstring(layer):
    init = ROOT / layer / "__init__.py"
    assert init.exists() and ast.get_docstring(ast.parse(init.read_text())), f"playbook/{layer}/__init__.py"
