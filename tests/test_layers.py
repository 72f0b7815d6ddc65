"""The app and the job layer: `fulfil` never imports `workers`; every job it names exists."""
import ast
import importlib
from pathlib import Path

from fulfil import jobs

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_the_app_never_imports_the_job_layer():
    offenders = sorted(f"{path.relative_to(ROOT)}: {name}"
                       for path in (ROOT / "fulfil").rglob("*.py")
                       for name in imported_modules(path)
                       if name == "workers" or name.startswith("workers."))
    assert offenders == []


def test_every_job_the_app_enqueues_is_the_function_its_path_names():
    specs = [value for value in vars(jobs).values() if isinstance(value, jobs.JobSpec)]
    assert {spec.queue for spec in specs} == set(jobs.QUEUES)
    for spec in specs:
        module, name = spec.func.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name).spec is spec, spec.func
