"""The structure the code promises: imports run one way along the data flow, no cycles between
modules, one home for the fixed-point type and for design.json, paths from the workspace."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "skipless"

# Lowest first. A module may import modules of its own layer or below, never above.
LAYERS = [
    ("errors",),
    ("fileio", "workspace", "tools", "provenance", "fixed", "parts"),
    ("data", "quant"),
    ("resnet",),
    ("fold", "zoo"),
    ("train",),
    ("hls",),
    ("rtl",),
    ("cosim",),
    ("synth",),
    ("bench",),
    ("flow",),
    ("demo", "faults", "cluster"),
    ("cli",),
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every skipless module a file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("skipless")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("skipless") and node.level == 0:
            found.add(node.module)
            for a in node.names:  # `from skipless import zoo` imports the module skipless.zoo
                candidate = f"{node.module}.{a.name}"
                if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or \
                        (PACKAGE.parent / candidate.replace(".", "/") / "__init__.py").exists():
                    found.add(candidate)
    return found - {"skipless"}


def top_of(module: str) -> str:
    return module.split(".")[1]


MODULES = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    assert {top_of(m) for m in MODULES if m != "skipless"} <= set(LAYER_OF) | {"__main__"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "skipless"))
def test_imports_run_one_way(module):
    mine = LAYER_OF.get(top_of(module))
    if mine is None:
        return
    upward = sorted(i for i in MODULES[module] if LAYER_OF.get(top_of(i), -1) > mine)
    assert not upward, f"{module} (layer {mine}) imports {upward}, which come later in the data flow"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports between modules, or None. A package importing its own submodules (its
    ``__init__`` re-exporting them) does not count."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d.startswith(m + "."):
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                if not any(cycle[i].startswith(cycle[i + 1] + ".") for i in range(len(cycle) - 1)):
                    return cycle
            elif d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycles_between_modules():
    graph = {m: {i for i in deps if i in MODULES and i != m} for m, deps in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_checkers_catch_planted_faults():
    planted = {**MODULES, "skipless.hls.project": MODULES["skipless.hls.project"] | {"skipless.flow"}}
    module = "skipless.hls.project"
    upward = [i for i in planted[module] if LAYER_OF.get(top_of(i), -1) > LAYER_OF[top_of(module)]]
    assert upward == ["skipless.flow"]
    assert find_cycle({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}}) == ["a.x", "a.y", "a.z", "a.x"]
    assert find_cycle({"a": {"a.y"}, "a.y": {"a"}}) is None  # a package and its own submodule


def test_one_fixed_point_type_and_one_design_reader():
    sources = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    fixed_classes = [p.name for p, text in sources.items() if "class FixedType" in text or "class Fixed(" in text]
    assert fixed_classes == ["fixed.py"]
    readers = [p for p, text in sources.items() if "DESIGN_FILE).read_text" in text or '"design.json").read_text' in text]
    assert [p.relative_to(PACKAGE).as_posix() for p in readers] == ["rtl/design.py"]


def test_no_paths_from_the_source_tree():
    """Data paths come from the workspace; only provenance looks at its own checkout (for the git commit)."""
    offenders = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                 if "REPO_ROOT" in p.read_text() or ("Path(__file__)" in p.read_text() and p.name != "provenance.py")]
    assert offenders == []
