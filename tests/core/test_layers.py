"""The project's layers, read from the source with ``ast`` (nothing is imported): no import
cycle among its modules, core free of Blender, core/motion free of torch and of
module-level SciPy (it runs inside Blender's Python), and inference free of training and
evaluation.

An import inside a function body counts as function-level, anything else (module body,
class body, ``try``, ``if``) as module-level. ``from . import x`` is an import of the
submodule ``x`` where there is one, else of the package; the parent packages that Python
imports on the way are not counted as dependencies.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import ROOT

PACKAGE = "ohgesture"
LAYERS = ("core", "ohgesture_addon")
BLENDER_MODULES = ("bpy", "bpy_extras", "mathutils", "bmesh")
INFERENCE = ("core.generation", "core.model", "core.motion", "core.audio")
NOT_FOR_INFERENCE = ("core.training", "core.evaluation")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "ohgesture.core.motion.kinematics"
    target: str  # the imported module (project modules resolved to the most specific one)
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def _project_files() -> dict[str, Path]:
    files = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[_module_name(path)] = path
    return files


MODULES = _project_files()


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve_from(node: ast.ImportFrom, module: str, path: Path) -> list[str]:
    """The modules an ``from X import a, b`` names: X.a where that is a module, else X."""
    if node.level:
        base = _package_of(module, path)
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    return list(dict.fromkeys(targets))


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, path: Path):
        self.module, self.path = module, path
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, target: str, node) -> None:
        self.found.append(Import(self.module, target, node.lineno, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for target in _resolve_from(node, self.module, self.path):
            self._add(target, node)


def _imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    collector = _ImportCollector(module, path)
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return collector.found


IMPORTS = {module: _imports_of(module) for module in MODULES}


def _top(name: str) -> str:
    return name.split(".")[0]


def _inside(module: str, *prefixes: str) -> bool:
    return any(module == f"{PACKAGE}.{p}" or module.startswith(f"{PACKAGE}.{p}.") for p in prefixes)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import),
    by Tarjan's algorithm."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _edges(include_function_level: bool) -> dict[str, set[str]]:
    edges = {module: set() for module in MODULES}
    for module, imports in IMPORTS.items():
        for imp in imports:
            if imp.target in MODULES and (include_function_level or not imp.in_function):
                edges[module].add(imp.target)
    return edges


def _describe(component: list[str], include_function_level: bool) -> str:
    inside = set(component)
    lines = [f"{imp.source}:{imp.line} -> {imp.target}{' (in a function)' if imp.in_function else ''}"
             for module in component for imp in IMPORTS[module]
             if imp.target in inside and (include_function_level or not imp.in_function)]
    return "\n  ".join(lines)


def test_the_cycle_finder_finds_planted_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"], ["d"]]


def test_the_walk_sees_every_layer():
    assert f"{PACKAGE}.core.motion.rotations" in MODULES and f"{PACKAGE}.ohgesture_addon.session" in MODULES
    assert any(imp.target == f"{PACKAGE}.core.motion.rotations"
               for imp in IMPORTS[f"{PACKAGE}.core.motion.kinematics"])


@pytest.mark.parametrize("include_function_level", [False, True], ids=["module-level", "with-function-level"])
def test_no_import_cycle(include_function_level):
    cycles = _cycles(_edges(include_function_level))
    assert not cycles, "import cycles:\n  " + "\n  ".join(_describe(c, include_function_level) for c in cycles)


def test_function_level_imports_of_project_modules_are_listed():
    """Not an error, but worth seeing: imports deferred into functions (they hide
    dependencies from a reader of the module's head)."""
    deferred = [f"{imp.source}:{imp.line} -> {imp.target}" for imports in IMPORTS.values() for imp in imports
                if imp.in_function and imp.target in MODULES]
    print(f"{len(deferred)} function-level imports of project modules:\n  " + "\n  ".join(deferred))


def test_core_never_imports_blender_or_the_addon():
    bad = [f"{imp.source}:{imp.line} imports {imp.target}" for module, imports in IMPORTS.items()
           if _inside(module, "core") for imp in imports
           if _top(imp.target) in BLENDER_MODULES or _inside(imp.target, "ohgesture_addon")]
    assert not bad, "\n".join(bad)


def test_core_motion_runs_on_numpy_alone():
    """Blender's bundled Python has numpy but maybe not scipy, and never torch."""
    bad = []
    for module, imports in IMPORTS.items():
        if not _inside(module, "core.motion"):
            continue
        for imp in imports:
            if _top(imp.target) == "torch":
                bad.append(f"{imp.source}:{imp.line} imports torch")
            elif _top(imp.target) == "scipy" and not imp.in_function:
                bad.append(f"{imp.source}:{imp.line} imports scipy at module level")
            elif imp.target in MODULES and not _inside(imp.target, "core.motion", "core.atomic"):
                bad.append(f"{imp.source}:{imp.line} imports {imp.target}, outside core.motion")
    assert not bad, "\n".join(bad)


def test_inference_imports_nothing_from_training_or_evaluation():
    bad = [f"{imp.source}:{imp.line} imports {imp.target}" for module, imports in IMPORTS.items()
           if _inside(module, *INFERENCE) for imp in imports if _inside(imp.target, *NOT_FOR_INFERENCE)]
    assert not bad, "\n".join(bad)


def test_the_addons_blender_free_modules_stay_so():
    """job.py (the subprocess) and bone_presets.py (name matching) are plain Python."""
    bad = [f"{imp.source}:{imp.line} imports {imp.target}"
           for name in ("job", "bone_presets") for imp in IMPORTS[f"{PACKAGE}.ohgesture_addon.{name}"]
           if _top(imp.target) in BLENDER_MODULES]
    assert not bad, "\n".join(bad)


def _generate_flags() -> set[str]:
    from ohgesture.core.cli.main import build_parser

    parser = build_parser("generate")
    sub = next(a for a in parser._actions if a.dest == "command").choices["generate"]
    return {flag for action in sub._actions for flag in action.option_strings if flag.startswith("--")}


def _hand_built_flags(tree: ast.AST, flags: set[str]) -> list[tuple[int, str]]:
    """String literals that are a generate flag, leaving out the flags the module declares
    itself with ``add_argument`` (a script's own, such as the batch script's --range)."""
    own = {arg.value for node in ast.walk(tree) if isinstance(node, ast.Call)
           and getattr(node.func, "attr", "") == "add_argument" for arg in node.args if isinstance(arg, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in flags - own]


def test_the_addon_builds_no_generate_command_line_by_hand():
    """The generator's command line is core/cli/protocol.py's (settings.to_argv and
    generate_argv): no ``"--seed"`` or ``"--no-foot-lock"`` written in the add-on."""
    flags = _generate_flags()
    assert {"--seed", "--no-foot-lock", "--blend", "--keep", "--progress-lines"} <= flags
    planted = ast.parse('command = ["generate", audio, "--seed", str(seed), "--range", r]\n'
                        'parser.add_argument("--range")')
    assert _hand_built_flags(planted, flags) == [(1, "--seed")]
    bad = [f"{module}:{line} {flag}" for module, path in MODULES.items() if _inside(module, "ohgesture_addon")
           for line, flag in _hand_built_flags(ast.parse(path.read_text(encoding="utf-8")), flags)]
    assert not bad, "\n".join(bad)
