"""``--workers`` and ``--scheduler`` on ``mfalab run`` and ``mfalab sweep``: replications on
every core by default, and the same output byte for byte on one worker or two."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mfalab.cli import main
from sim.parallel import available_cores

ROOT = Path(__file__).parents[3]
SHIPPED = str(ROOT / "scenarios" / "three_servers_round_robin.yaml")
SMALL = ["--scale", "0.05", "--seed", "7"]


def _files(run: Path) -> dict[str, bytes]:
    """Every file the command wrote but ``meta.json``: it records the wall-clock time (and
    ``ran_on``, where the replications ran), the only things allowed to differ."""
    return {
        str(path.relative_to(run)): path.read_bytes()
        for path in sorted(run.rglob("*"))
        if path.is_file() and path.name != "meta.json"
    }


def _in(directory: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> int:
    """Run ``mfalab`` from ``directory`` with a relative ``--out run``: the report names its
    run directory, and it should read the same whichever worker count wrote it."""
    directory.mkdir()
    monkeypatch.chdir(directory)
    return main([*argv, "--out", "run"])


def test_run_on_two_workers_writes_the_same_bytes_as_on_one(tmp_path, monkeypatch, capsys):
    for workers in ("1", "2"):
        argv = ["run", SHIPPED, *SMALL, "--replications", "3", "--workers", workers]
        assert _in(tmp_path / workers, monkeypatch, argv) == 0
    one, two = tmp_path / "1" / "run", tmp_path / "2" / "run"
    files = _files(one)
    assert {"report.html", "summary.json", "resources.parquet"} <= set(files)
    assert len([name for name in files if name.startswith("auths/")]) == 3
    assert files == _files(two)
    assert json.loads((one / "meta.json").read_text())["ran_on"] == "this process"
    assert json.loads((two / "meta.json").read_text())["ran_on"] == "2 processes"
    capsys.readouterr()


def test_sweep_on_two_workers_writes_the_same_bytes_as_on_one(tmp_path, monkeypatch, capsys):
    for workers in ("1", "2"):
        argv = [
            "sweep",
            SHIPPED,
            *SMALL,
            "--set",
            "servers.count=1,3",
            "--replications",
            "2",
            "--workers",
            workers,
            "--no-report",
        ]
        assert _in(tmp_path / workers, monkeypatch, argv) == 0
    files = _files(tmp_path / "1" / "run")
    assert len([name for name in files if name.startswith("auths/")]) == 4  # 2 points x 2
    assert files == _files(tmp_path / "2" / "run")
    capsys.readouterr()


def test_by_default_a_run_uses_every_core(tmp_path, monkeypatch, capsys):
    argv = ["run", SHIPPED, *SMALL, "--replications", "3", "--no-report"]
    assert _in(tmp_path / "default", monkeypatch, argv) == 0
    meta = json.loads((tmp_path / "default" / "run" / "meta.json").read_text())
    processes = min(available_cores(), 3)
    assert meta["ran_on"] == ("this process" if processes == 1 else f"{processes} processes")
    capsys.readouterr()


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "0"], "--workers: '0' must be at least 1"),
        (["--workers", "two"], "--workers: 'two' is not a whole number"),
        (["--scheduler", "http://host:8786"], "unknown scheme 'http'"),
        (["--scheduler", "tcp://host"], "such as tcp://HOST:8786"),
        (["--scheduler", "host:port"], "such as tcp://HOST:8786"),
    ],
)
def test_a_bad_value_is_refused_with_its_flag_named(command, flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, SHIPPED, "--set", "servers.count=1", *flags, "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything ran


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_workers_and_a_scheduler_together_are_refused(command, tmp_path, capsys):
    argv = [command, SHIPPED, "--set", "servers.count=1", "--out", str(tmp_path / "out")]
    code = main([*argv, "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"])
    assert code == 2
    assert "--workers and --scheduler: choose one" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_exits_with_a_clear_message(tmp_path, monkeypatch, capsys):
    from sim import parallel

    monkeypatch.setattr(parallel, "_CONNECT_TIMEOUT", "1s")
    argv = ["run", SHIPPED, *SMALL, "--replications", "1", "--no-report"]
    code = main([*argv, "--scheduler", "127.0.0.1:1", "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:1" in err
    assert "Traceback" not in err


def test_help_names_both_flags(capsys):
    for command in ("run", "sweep"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        printed = capsys.readouterr().out
        assert "--workers N" in printed and "--scheduler tcp://HOST:8786" in printed
