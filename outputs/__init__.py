"""What a run writes and what its figures mean: the contract between producers and readers.

``outputs.records`` is the schema of a run directory (its row types and column order),
``outputs.metrics`` the metric catalogue (every figure's name, unit, definition and format),
``outputs.estimates`` the estimators behind their intervals. The simulator writes and
summarises through them; ``reports`` and the notebooks read a run through them; neither
reaches into the other. This package is a leaf: it imports nothing of ``mfa``, ``sim``,
``loadtests``, ``reports`` or ``mfalab`` (the import-linter contract in ``pyproject.toml``).
"""
