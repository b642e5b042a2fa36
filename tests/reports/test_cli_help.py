"""``mfalab report --help`` says what the code does."""

from __future__ import annotations

import subprocess
import sys

from reports.billing import DEFAULT_SIGNINS_PER_USER_MONTH


def test_signins_per_user_month_help_names_the_real_default() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mfa", "report", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "1000", **__import__("os").environ},
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    help_text = text.split("--signins-per-user-month N", 1)[1]
    assert f"else {DEFAULT_SIGNINS_PER_USER_MONTH:g}" in help_text
    assert "linear" not in help_text.split("--", 1)[0]
