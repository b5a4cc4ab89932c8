"""docker-compose.yml: valid under the Compose specification (the schema check-jsonschema ships), and the
production shape a reviewer relies on: two app replicas behind nginx, a one-shot migration they wait for,
secrets as files, health checks, and settings the service really reads. No container engine runs here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chat.settings import Settings
from tests.deploy.names import settings_read

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
APPS = ("app1", "app2")


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves the << merges as compose does
    assert isinstance(loaded, dict)
    return loaded


def env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping, so the tests can read it"
    return {k: str(v) for k, v in environment.items()}


def interpolated(value: str) -> str:
    """Compose's ${NAME:-default} with nothing set in the shell: the default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_file_validates_against_the_compose_specification() -> None:
    """The file as written (anchors, merges, x- extensions) is valid under the Compose specification schema."""
    result = validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    """The check has teeth: a misspelt key in a service fails it."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("    restart: unless-stopped\n", "    restrat: always\n", 1))
    result = validate(broken)
    assert result.returncode != 0
    assert "restrat" in result.stdout + result.stderr


def test_two_app_replicas_run_the_same_image_behind_nginx(compose: dict[str, Any]) -> None:
    """app1 and app2 are the same image, command and settings; nginx waits for both to be healthy."""
    services = compose["services"]
    first, second = (services[name] for name in APPS)
    assert first == second
    assert first["image"].startswith("minimaria-chat:")
    assert first["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert first["command"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - the container's own interface
    nginx = services["nginx"]
    assert nginx["image"].startswith("nginx:1.27")
    assert nginx["depends_on"] == {name: {"condition": "service_healthy"} for name in APPS}
    assert sorted(nginx["ports"]) == ["443:443", "80:80"]
    assert sorted(nginx["volumes"]) == [
        "./deploy/nginx/certs:/etc/nginx/certs:ro",
        "./deploy/nginx/conf.d:/etc/nginx/conf.d:ro",
    ]
    assert "ports" not in first, "the apps are reached through nginx only"


def test_migration_is_one_shot_and_the_apps_wait_for_it(compose: dict[str, Any]) -> None:
    """`minimaria db upgrade` runs once after PostgreSQL is healthy; the apps start only when it exited 0."""
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["image"] == services["app1"]["image"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert {"minimaria_keys", "postgres_password"} <= set(migrate["secrets"]), "migration 0013 seals rows: it needs the keys"
    for name in APPS:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    """Every service but the one-shot migration says how to tell it is alive."""
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        if name == "migrate":
            assert check == {"disable": True}
            continue
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), name
    assert compose["services"]["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert compose["services"]["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in APPS:
        assert "/healthz" in " ".join(compose["services"][name]["healthcheck"]["test"])


def test_secrets_are_files_mounted_into_the_containers(compose: dict[str, Any]) -> None:
    """The key file and the database password come from files under secrets/, not from environment values."""
    secrets = compose["secrets"]
    assert secrets == {
        "minimaria_keys": {"file": "./secrets/minimaria-keys.json"},
        "postgres_password": {"file": "./secrets/postgres-password"},
    }
    services = compose["services"]
    for name in (*APPS, "migrate"):
        assert {"minimaria_keys", "postgres_password"} <= set(services[name]["secrets"])
        settings = env(services[name])
        assert settings["MINIMARIA_KEYS_FILE"] == "/run/secrets/minimaria_keys"
        assert settings["MINIMARIA_DATABASE_PASSWORD_FILE"] == "/run/secrets/postgres_password"
        assert "MINIMARIA_KEYS" not in settings, "the key ring itself never goes in the environment"
    assert services["postgres"]["secrets"] == ["postgres_password"]
    assert env(services["postgres"])["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    # Only the top-level compose folder is ignored: deploy/k8s/secrets holds placeholders that are committed.
    assert "/secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_no_password_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    """No URL with user:password@, no *PASSWORD* or *SECRET* variable with a value, no env_file to hide one in."""
    text = COMPOSE.read_text(encoding="utf-8")
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "a password inside a URL"
    for name, service in compose["services"].items():
        assert "env_file" not in service, name
        for key, value in env(service).items():
            if re.search("PASSWORD|SECRET|KEYS", key) and not key.endswith("_FILE"):
                pytest.fail(f"{name}: {key} is given as a value, not as a file")
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/"), f"{name}: {key} points outside the mounted secrets"


def test_the_app_containers_are_locked_down(compose: dict[str, Any]) -> None:
    """Read-only root, a tmpfs /tmp, no capabilities, no privilege escalation, secure cookies behind TLS."""
    for name in (*APPS, "migrate"):
        service = compose["services"][name]
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]  # noqa: S108 - a mount point, not a file the test writes
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert env(service)["MINIMARIA_SECURE_COOKIES"] == "true"


def test_only_the_front_network_is_trusted_to_forward_client_addresses(compose: dict[str, Any]) -> None:
    """MINIMARIA_TRUSTED_PROXIES is the front network, where nginx is; PostgreSQL and Redis sit on an internal one."""
    networks = compose["networks"]
    front = networks["front"]["ipam"]["config"][0]["subnet"]
    services = compose["services"]
    for name in APPS:
        assert env(services[name])["MINIMARIA_TRUSTED_PROXIES"] == front
        assert sorted(services[name]["networks"]) == ["back", "front"]
    assert services["nginx"]["networks"] == ["front"]
    assert networks["back"]["internal"] is True
    for name in ("postgres", "redis", "migrate"):
        assert services[name]["networks"] == ["back"]


def test_the_app_environment_is_one_the_service_reads(compose: dict[str, Any], tmp_path: Path) -> None:
    """Every MINIMARIA_ name is one chat/settings.py reads (a typo would be silently ignored), and together they
    give PostgreSQL with the password from the secret, Redis, the key file and secure cookies."""
    app = {key: interpolated(value) for key, value in env(compose["services"]["app1"]).items()}
    unknown = set(app) - settings_read()
    assert not unknown, f"settings the service does not read: {sorted(unknown)}"

    password = tmp_path / "postgres_password"
    password.write_text("from-the-secret\n", encoding="utf-8")
    settings = Settings.from_env({**app, "MINIMARIA_DATABASE_PASSWORD_FILE": str(password)})
    assert settings.database_url == "postgresql+asyncpg://minimaria:from-the-secret@postgres:5432/minimaria"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.keys_file == Path("/run/secrets/minimaria_keys")
    assert settings.secure_cookies is True
    assert settings.metrics_token is None, "empty until the operator sets MINIMARIA_METRICS_TOKEN"
    assert settings.retention_days is None
