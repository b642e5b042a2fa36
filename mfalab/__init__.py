"""The composition root: wires the engine (``mfa``), the simulator (``sim``), the load tests
(``loadtests``) and the reports (``reports``) into one lab.

Only this package may import all of them; the layers below it are an import-linter contract
(``[tool.importlinter]`` in ``pyproject.toml``, run by ``make lint`` and the tests).
"""
