"""Settings from the environment: the database password from a file (a compose or Kubernetes secret), so the
password is in neither the URL nor an environment file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from chat.settings import Settings, SettingsError
from chat.store.db import create_engine
from tests import services

URL = "postgresql+asyncpg://minimaria@postgres:5432/minimaria"


def with_password_file(tmp_path: Path, password: str, url: str = URL) -> Settings:
    secret = tmp_path / "postgres-password"
    secret.write_text(password, encoding="utf-8")
    return Settings.from_env({"MINIMARIA_DATABASE_URL": url, "MINIMARIA_DATABASE_PASSWORD_FILE": str(secret)})


def test_password_file_fills_the_password_into_the_url(tmp_path: Path) -> None:
    """Characters that mean something in a URL reach the driver as they are written in the file."""
    password = "p@ss:w/rd%?#é secret"
    parsed = make_url(with_password_file(tmp_path, password + "\n").database_url)
    assert parsed.password == password
    assert (parsed.username, parsed.host, parsed.port, parsed.database) == ("minimaria", "postgres", 5432, "minimaria")


def test_without_a_password_file_the_url_is_as_given() -> None:
    """The usual case and the embedded default stay untouched."""
    assert Settings.from_env({"MINIMARIA_DATABASE_URL": URL}).database_url == URL
    assert Settings.from_env({}).database_url == Settings.database_url


def test_a_password_in_both_the_url_and_a_file_is_refused(tmp_path: Path) -> None:
    """Two passwords: the service cannot know which one the operator meant."""
    with pytest.raises(SettingsError, match="not both"):
        with_password_file(tmp_path, "secret", url="postgresql+asyncpg://minimaria:other@postgres/minimaria")


def test_a_url_without_a_user_is_refused(tmp_path: Path) -> None:
    """The password belongs to a user; without one there is nowhere to put it (the SQLite default included)."""
    with pytest.raises(SettingsError, match="must name the user"):
        with_password_file(tmp_path, "secret", url="postgresql+asyncpg://postgres-host/minimaria")
    with pytest.raises(SettingsError, match="must name the user"):
        with_password_file(tmp_path, "secret", url="sqlite+aiosqlite:///minimaria.db")


def test_a_missing_or_empty_password_file_is_refused(tmp_path: Path) -> None:
    """A secret that was not mounted stops the start with a clear message, not a failed login later."""
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.from_env({"MINIMARIA_DATABASE_URL": URL, "MINIMARIA_DATABASE_PASSWORD_FILE": str(tmp_path / "none")})
    with pytest.raises(SettingsError, match="is empty"):
        with_password_file(tmp_path, "\n")


async def test_the_filled_in_url_connects_to_postgresql(tmp_path: Path) -> None:
    """The URL with the password from the file is one the driver connects with, as the named user."""
    services.require_pg()
    url = with_password_file(tmp_path, "s3cret/with@signs", url="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    engine = create_engine(url.database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar_one() == "postgres"
    finally:
        await engine.dispose()
