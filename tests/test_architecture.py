"""The layout's rules, checked on the source (docs/architecture.md says why):

- a name starting with `_` is private to its module: no other module imports it;
- the project's modules import each other without a circle, lazy imports inside functions included;
- the apps import one way, reminders, waitlist -> scheduling -> visits -> push, webhooks, messaging -> clinic;
  only the project layer imports every app.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("clinic", "push", "visits", "scheduling", "webhooks", "messaging", "reminders", "waitlist")


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path):
    """(imported module, imported names) for every import statement of the file, wherever it stands."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            package = ".".join(path.relative_to(ROOT).parts[: -node.level])
            yield ".".join(filter(None, [package, node.module])), [alias.name for alias in node.names]


def _edges(name: str, path: Path) -> set[str]:
    targets = set()
    for module, names in _imports(path):
        for imported in names or [None]:
            submodule = f"{module}.{imported}" if imported else None
            target = submodule if submodule in MODULES else module
            if target in MODULES and target != name:
                targets.add(target)
    return targets


def test_no_module_imports_another_modules_private_names():
    offences = [
        f"{name} imports {module}.{imported}"
        for name, path in MODULES.items()
        for module, names in _imports(path)
        if module.split(".")[0] in APPS
        for imported in names
        if imported.startswith("_") and not imported.startswith("__")
    ]
    assert offences == []


def test_no_import_circle_among_the_apps_modules():
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    circles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


# May import every app: the URL configurations and the demo data. Nothing imports them.
PROJECT_LAYER = {"clinic.urls", "clinic.api_urls", "clinic.demo", "clinic.management.commands.seed_demo"}
# The apps each app may import, besides itself.
LOWER_APPS = {
    "clinic": set(),
    "push": {"clinic"},
    "webhooks": {"clinic"},
    "messaging": {"clinic"},
    "visits": {"clinic", "push", "webhooks", "messaging"},
    "scheduling": {"clinic", "visits", "push", "messaging"},
    "reminders": {"clinic", "visits", "scheduling", "push", "webhooks", "messaging"},
    "waitlist": {"clinic", "visits", "scheduling", "push", "webhooks", "messaging"},
}


def test_the_apps_import_one_way():
    upward = [
        f"{name} imports {target}"
        for name, path in MODULES.items()
        if name not in PROJECT_LAYER
        for target in _edges(name, path)
        if target.split(".")[0] not in LOWER_APPS[name.split(".")[0]] | {name.split(".")[0]}
    ]
    assert upward == []


def test_the_checks_see_the_code():
    # Guards the two tests above against passing because they read nothing.
    assert {"visits.lifecycle", "visits.services", "visits.tasks", "scheduling.services"} <= set(MODULES)
    assert {"messaging.services", "messaging.links"} <= set(MODULES)
    assert "visits.lifecycle" in _edges("scheduling.services", MODULES["scheduling.services"])
