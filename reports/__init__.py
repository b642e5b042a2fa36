"""Reports: reliability, billing and load-test answers from runs, as DataFrames and pages.

A library first — ``loaders`` (inputs → DataFrames with documented dtypes), ``reliability``,
``billing``, ``loadtest`` (tables), ``charts`` (matplotlib figures), ``run_report``
(``write_run_report``: the self-contained HTML page and Markdown summary, its sections in
``sim_sections``, ``comparison_sections``, ``loadtest_sections``, ``traffic_sections`` and
``billing_sections``) — and a command
second (``mfalab report``, ``mfalab.cli.report``). Submodules are imported by name so that the
``mfalab`` entry point stays fast: ``from reports import reliability``.
"""

__all__ = [
    "billing",
    "charts",
    "loaders",
    "loadtest",
    "reliability",
    "render",
    "run_report",
    "screenshot",
    "stats",
]
