"""The import rules of issue 11, read from the code with `ast`: no circles, nothing imports `app`,
features import only what the layout allows.

The graph holds the repository's own modules (not tests/, bench/, .venv/) and every import in them,
top-level and inside functions, absolute and relative. An edge points at the most specific module
named: `from blueprints.shared import vault` is an edge to `blueprints.shared.vault`,
`from . import bp` in a package's module an edge to that package. The parent packages Python runs
on the way are not edges, so a package whose `__init__` imports its own routes is not a circle.

The allowlists below are the violations that existed when the rules were written. A new violation
fails `test_it_*`; fixing one fails `test_the_allowlists_only_shrink` until its line is deleted.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {"tests", "bench", "instance", "node_modules", "__pycache__"}

# The factory: the entry point, which nothing else imports.
FACTORY = "app"
# The shared package for the helpers every feature uses (style guide: `blueprints/shared.py`, "not a
# blueprint"); it may grow from a module into a package under the same name.
SHARED = "blueprints.shared"
# Feature packages are the packages under blueprints/ (except SHARED).
FEATURES_ROOT = "blueprints"
# What any feature may import besides itself.
ALLOWED_FOR_FEATURES = (
    "relay",
    "blueprints.providers",
    "blueprints.auth",
    SHARED,
    "database",
    "extensions",
)
# What some features may import in addition.
ALLOWED_EXTRA = {
    "usage": ("blueprints.keys",),
    "alerts": ("blueprints.keys",),
    "playground": ("blueprints.keys",),
}
# Where features are put together: admin (the admin pages of every feature), the scheduler (every
# feature's jobs) and metrics (every feature's stored figures, for Prometheus). Besides what any
# feature may import, they may import any feature's package: its `__init__` is the door, exporting
# what the feature offers them; its other modules stay internal.
# Nothing imports them back but the registration list in `blueprints/__init__.py`.
ASSEMBLERS = ("admin", "scheduler", "metrics")
# The shared package is below every feature: it imports none of them.
ALLOWED_FOR_SHARED = ("relay", SHARED, "database", "extensions")
# Features whose submodules nobody outside them imports (their package's `__init__` is the door).
PRIVATE_INTERNALS = ("blueprints.lookup", "blueprints.status", "blueprints.usage")

# No exceptions: since issue 11 every edge keeps the rule (before it, app → blueprints → … → app
# was one circle of 86 modules and 19 imports reached into other features' internals).


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _sources() -> dict[str, Path]:
    """Every module of the application, by dotted name."""
    sources = {}
    for path in sorted(ROOT.rglob("*.py")):
        dirs = path.relative_to(ROOT).parts[:-1]
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in dirs):
            continue
        sources[_module_name(path)] = path
    return sources


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names one import statement reaches, most specific first."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = ".".join(part for part in (package, node.module) if part)
    else:
        base = node.module or ""
    return [f"{base}.{alias.name}" if alias.name != "*" else base for alias in node.names]


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is one of our modules (None for stdlib and packages)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def _graph() -> dict[str, frozenset[str]]:
    """module → the modules it imports (anywhere in its body)."""
    known = _sources()
    graph = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name in _targets(node, module, is_package):
                    target = _resolve(name, known)
                    if target and target != module:
                        edges.add(target)
        graph[module] = frozenset(edges)
    return graph


def _components(graph: dict[str, set[str] | frozenset[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _a_cycle(graph: dict[str, set[str] | frozenset[str]], component: set[str]) -> list[str]:
    """One shortest circle through the component's first module, for the failure message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    for node in queue:
        for child in sorted(graph[node]):
            if child == start:
                return [*paths[node], start]
            if child in component and child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"no circle through {start}")


def _feature_of(module: str) -> str | None:
    """`keys` for `blueprints.keys.poller`; None outside the feature packages."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != FEATURES_ROOT or _within(module, SHARED):
        return None
    path = _sources().get(f"{FEATURES_ROOT}.{parts[1]}")
    return parts[1] if path is not None and path.name == "__init__.py" else None


def _is_door(module: str) -> bool:
    """True for a feature's package itself (`blueprints.status`), not one of its modules."""
    feature = _feature_of(module)
    return feature is not None and module == f"{FEATURES_ROOT}.{feature}"


def _breaks_feature_rule(source: str, target: str) -> str | None:
    """Why the edge breaks the feature rule, or None when it does not."""
    feature = _feature_of(source)
    target_feature = _feature_of(target)
    if feature is not None and target_feature != feature:
        allowed = ALLOWED_FOR_FEATURES + ALLOWED_EXTRA.get(feature, ())
        door = feature in ASSEMBLERS and _is_door(target)
        if not door and not any(_within(target, package) for package in allowed):
            return f"feature {feature} may not import {target}"
    if target_feature in ASSEMBLERS and feature != target_feature and source != FEATURES_ROOT:
        return f"only the registration list imports {target}"
    if _within(source, SHARED) and not any(_within(target, p) for p in ALLOWED_FOR_SHARED):
        return f"the shared package may not import {target}"
    for package in PRIVATE_INTERNALS:
        if _within(target, package) and target != package and not _within(source, package):
            return f"{target} is internal to {package}"
    return None


def _feature_violations() -> dict[tuple[str, str], str]:
    graph = _graph()
    found = {}
    for source in graph:
        for target in graph[source]:
            reason = _breaks_feature_rule(source, target)
            if reason:
                found[(source, target)] = reason
    return found


def _lines(edges) -> str:
    return "\n".join(f"  {a} -> {b}" for a, b in sorted(edges))


def test_it_finds_the_application_modules():
    """The graph is not vacuous: the factory, the leaves and the features are in it."""
    graph = _graph()
    assert {
        FACTORY,
        "database",
        "extensions",
        "blueprints",
        "relay",
        "migrations.env",
    } <= graph.keys()
    assert graph[FACTORY] >= {"blueprints", "database", "extensions"}
    # `from .lease import …` (relative) and `from .shared import vault` (a submodule).
    assert "blueprints.scheduler.lease" in graph["blueprints.scheduler.runner"]
    assert "blueprints.shared.vault" in graph["blueprints"]
    assert not any(module.startswith(("tests", "bench", ".venv")) for module in graph)


def test_it_has_no_import_circles():
    """Zero circles, counting function-level imports."""
    graph = _graph()
    circles = [" -> ".join(_a_cycle(graph, c)) for c in _components(graph)]
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_it_lets_nothing_import_the_factory():
    """Only tests and bench scripts import `app`; everything else gets db and friends elsewhere."""
    graph = _graph()
    importers = {(module, FACTORY) for module, targets in graph.items() if FACTORY in targets}
    assert not importers, "modules importing the factory:\n" + _lines(importers)


def test_it_keeps_features_to_the_allowed_imports():
    """A feature imports relay, providers, auth, shared, database, extensions (+ keys for some);
    admin and the scheduler also import the other features' packages, never their modules."""
    new = _feature_violations()
    message = "\n".join(f"  {a} -> {b}: {why}" for (a, b), why in sorted(new.items()))
    assert not new, "imports breaking the feature rule:\n" + message


def test_it_lets_only_admin_and_the_scheduler_through_a_features_door():
    """The assemblers may import `blueprints.status`, not its modules; features neither."""
    assert _breaks_feature_rule("blueprints.admin.monitor", "blueprints.status") is None
    assert _breaks_feature_rule("blueprints.scheduler.runner", "blueprints.keys") is None
    assert _breaks_feature_rule("blueprints.admin.monitor", "blueprints.status.settings")
    assert _breaks_feature_rule("blueprints.alerts.service", "blueprints.status")
    assert _breaks_feature_rule("blueprints.keys.routes", "blueprints.admin")
    assert _breaks_feature_rule("blueprints", "blueprints.scheduler.runner") is None
