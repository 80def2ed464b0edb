"""The harness's test suites, installed as ``harness.suites``.

In the repository: ``pytest suites/``. Installed: ``pytest --pyargs harness.suites`` or
``harness run`` from the folder that holds ``harness.toml`` (or ``[tool.harness]`` in
``pyproject.toml``).
"""
