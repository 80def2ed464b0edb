"""Repository root conftest: registers the harness pytest plugin for `pytest suites/` and `pytest tests/`."""

pytest_plugins = ("harness.plugin",)
