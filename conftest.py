"""Repository root conftest: makes sure the harness pytest plugin is loaded for `pytest suites/` and
`pytest tests/`.

Installed (`pip install`, `dev.py`), pytest loads the plugin through its `pytest11` entry point,
which is named after the module, `harness.plugin`: this line then finds it registered under that
name and does nothing (the same holds for `-p harness.plugin`). It still loads the plugin where
entry points are not read: PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, or a checkout on PYTHONPATH without
an install.
"""

pytest_plugins = ("harness.plugin",)
