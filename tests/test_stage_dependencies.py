"""Every DVC stage declares, as dependencies, exactly the project's code its command can import.

The import graph is read statically (every `import` statement of a module, also inside functions), from the
stage's entry module through the project's own modules. A module missing from a stage's `deps` would leave
that stage's outputs stale when it is edited; a module listed but never imported re-runs the stage (and every
stage after it) for nothing, so both directions are checked. The project's own imports have no circles.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cips", "stages")


def module_file(name: str) -> Path | None:
    """The file of project module `name` (a package's __init__.py), None outside the project."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(path: Path, parents: bool = True) -> set[str]:
    """Project modules named by the import statements of one file (with their parent packages, which
    importing a module runs, unless `parents` is false)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(REPO).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + (path.name == "__init__.py")])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import module`
    out = set(names)
    for name in names if parents else ():
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {n for n in out if module_file(n) is not None}


def closure(entry: str) -> set[Path]:
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imports_of(module_file(name)) - seen)
    return {module_file(n) for n in seen}


def entry_module(cmd: str) -> str:
    words = cmd.split()
    if words[:2] == ["python", "-m"]:
        return words[2]
    if words[0] == "cips-report":
        return "cips.report.cli"
    raise AssertionError(f"unknown stage command {cmd!r}: teach this test its entry module")


def lookup(params: dict, ref: str):
    """The value of `${a.b.c}` in params.yaml."""
    value = params
    for part in ref.removeprefix("${").removesuffix("}").split("."):
        value = value[part]
    return value


def interpolate(text: str, key: str, item: dict) -> str:
    """`text` of a foreach stage with ${key} and ${item.<field>} of one of its items filled in."""
    text = text.replace("${key}", key)
    return re.sub(r"\$\{item\.(\w+)\}", lambda m: str(item[m.group(1)]), text)


def code_deps(body: dict) -> list[str]:
    return [d for d in body.get("deps", []) if isinstance(d, str) and d.split("/")[0] in PACKAGES]


def stages() -> list[tuple[str, str, list[str]]]:
    """(stage, cmd, code deps) of every stage of dvc.yaml. A `foreach` stage (they iterate the generated `dvc:`
    section of params.yaml) is expanded over its items as DVC does; it is checked once, under its own name,
    when every item gives the same command module and code deps, else once per item (train@fashion-cips)."""
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    out = []
    for name, stage in spec.items():
        if "foreach" not in stage:
            out.append((name, stage["cmd"], code_deps(stage)))
            continue
        items = lookup(params, stage["foreach"])
        assert isinstance(items, dict) and items, f"dvc.yaml stage {name!r}: {stage['foreach']} is empty"
        expanded = []
        for key, item in items.items():
            body = yaml.safe_load(interpolate(yaml.safe_dump(stage["do"]), key, item))
            assert "${" not in body["cmd"] + "".join(code_deps(body)), f"{name}@{key}: unresolved {body}"
            expanded.append((f"{name}@{key}", body["cmd"], code_deps(body)))
        if len({(entry_module(cmd), tuple(deps)) for _, cmd, deps in expanded}) == 1:
            expanded = [(name, *expanded[0][1:])]
        out.extend(expanded)
    return out


def docstring_only(path: Path) -> bool:
    """Only a docstring and constants (a version string): no imports, no calls."""
    return not any(isinstance(n, ast.Import | ast.ImportFrom | ast.Call) for n in ast.walk(ast.parse(path.read_text())))


def uncovered(files: set[Path], deps: list[str]) -> list[str]:
    missing = []
    for f in sorted(files):
        rel = f.relative_to(REPO).as_posix()
        if f.name == "__init__.py" and docstring_only(f):  # a package marker changes nothing
            continue
        if not any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps):
            missing.append(rel)
    return missing


def extra(files: set[Path], deps: list[str]) -> list[str]:
    """Listed code the stage never imports: a listed file outside `files`, or a listed folder holding one."""
    used = {f.relative_to(REPO).as_posix() for f in files}
    out = []
    for d in deps:
        path = REPO / d
        listed = [p.relative_to(REPO).as_posix() for p in sorted(path.rglob("*.py"))] if path.is_dir() else [d]
        out.extend(f for f in listed if f not in used)
    return out


@pytest.mark.parametrize("name,cmd,deps", stages(), ids=[s[0] for s in stages()])
def test_stage_declares_exactly_the_code_it_imports(name, cmd, deps):
    files = closure(entry_module(cmd))
    missing = uncovered(files, deps)
    assert not missing, f"dvc.yaml stage {name!r} does not list {missing}"
    needless = extra(files, deps)
    assert not needless, f"dvc.yaml stage {name!r} lists {needless}, which it never imports"


def test_the_check_fails_on_a_listed_module_that_is_never_imported():
    """cips/paper.py (the published numbers) is imported by the report only: listed for evaluate@ it is extra."""
    name, cmd, deps = next(s for s in stages() if s[0].startswith("evaluate"))
    files = closure(entry_module(cmd))
    assert extra(files, deps) == [] and extra(files, [*deps, "cips/paper.py"]) == ["cips/paper.py"]
    assert "cips/report/tables.py" in extra(files, [*deps, "cips/report"])


def test_published_numbers_and_report_prose_reach_only_the_report_stage():
    """Editing a published number (cips/paper.py) or the report's text (cips/report/) re-runs report@ only."""
    for name, _cmd, deps in stages():
        touches = [d for d in deps if d == "cips/paper.py" or d.startswith("cips/report")]
        assert bool(touches) == name.startswith("report"), f"{name}: {touches}"


def project_modules() -> list[str]:
    return sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                  for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def cycles() -> list[list[str]]:
    """Import circles among the project's modules, by the modules each one names (a package that imports its
    submodules, which import one another, is not a circle)."""
    graph = {m: imports_of(module_file(m), parents=False) - {m} for m in project_modules()}
    found, state = [], {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                found.append(path[path.index(n):] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = "done"

    for m in graph:
        if m not in state:
            visit(m, [m])
    return found


def test_the_project_imports_have_no_circles():
    assert cycles() == []


def test_the_check_sees_a_lazy_import_inside_a_function():
    """The reader finds imports inside functions (stages import the library lazily)."""
    files = {f.relative_to(REPO).as_posix() for f in closure("stages.evaluate")}
    assert "cips/metrics/evaluate.py" in files and "cips/images.py" in files


@pytest.mark.parametrize("name,cmd,deps", stages(), ids=[s[0] for s in stages()])
def test_the_check_fails_when_a_stage_misses_a_module(name, cmd, deps):
    """A copy of each stage's deps with cips/layout.py (every stage reads the layout) left out is reported
    as missing exactly that module."""
    files = closure(entry_module(cmd))
    assert "cips/layout.py" in deps and REPO / "cips/layout.py" in files
    without = [d for d in deps if d != "cips/layout.py"]
    assert set(uncovered(files, without)) - set(uncovered(files, deps)) == {"cips/layout.py"}
