"""Choosing the repository by address (MFALAB_DB_URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mfa import InMemoryRepository, User
from mfa.errors import InvalidInput
from mfa.storage import open_repository
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository

KEY = derive_key("open-repository passphrase")


def test_memory_gives_the_in_process_repository() -> None:
    assert type(open_repository("memory", secret_key=KEY)) is InMemoryRepository


def test_a_sqlite_url_gives_a_sql_repository_on_that_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "mfalab.db"
    repo = open_repository(f"sqlite:///{path}", secret_key=KEY)
    try:
        assert isinstance(repo, SqlRepository)
        repo.add_user(User("alice"))
    finally:
        repo.close()
    assert path.is_file()


@pytest.mark.parametrize("url", ["", "memory:", "redis://127.0.0.1:6379/0", "var/mfalab.db"])
def test_other_addresses_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_repository(url, secret_key=KEY)
    assert caught.value.field == "MFALAB_DB_URL"
