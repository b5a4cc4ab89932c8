"""Settings: the frozen view of the ``MINIMARIA_*`` environment.

``Settings.from_env(os.environ)`` runs once (in ``cli.py``) and the result is passed down; nothing
else reads the environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

PREFIX = "MINIMARIA_"


class SettingsError(ValueError):
    """A setting has a value the service cannot use."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false")


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise SettingsError(f"{PREFIX}{name} must be more than 0")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{PREFIX}{name} must be 1 or more")
    return value


def _days(env: Mapping[str, str]) -> int:
    days = _int(env, "RETENTION_DAYS", 0)
    if days < 0:
        raise SettingsError(f"{PREFIX}RETENTION_DAYS must be 0 or more")
    return days


def _audit_days(env: Mapping[str, str]) -> int:
    days = _int(env, "AUDIT_RETENTION_DAYS", 3650)
    if days < 1:
        raise SettingsError(f"{PREFIX}AUDIT_RETENTION_DAYS must be 1 or more")
    return days


def _database_url(env: Mapping[str, str], default: str) -> str:
    """MINIMARIA_DATABASE_URL, with the password from MINIMARIA_DATABASE_PASSWORD_FILE filled in when that is set:
    a container secret (compose, Kubernetes) holds the password, so neither the URL in the environment nor an
    environment file ever carries it."""
    url = env.get(PREFIX + "DATABASE_URL") or default
    password_file = env.get(PREFIX + "DATABASE_PASSWORD_FILE")
    if not password_file:
        return url
    try:
        password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")  # editors end files with a newline
    except OSError as err:
        raise SettingsError(f"{PREFIX}DATABASE_PASSWORD_FILE cannot be read: {err.strerror or type(err).__name__}") from None
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not at or not user:
        raise SettingsError(f"{PREFIX}DATABASE_URL must name the user (user@host) when a password file is set")
    if ":" in user:
        raise SettingsError(f"{PREFIX}DATABASE_URL has a password already; give it there or in the file, not both")
    if not password:
        raise SettingsError(f"{PREFIX}DATABASE_PASSWORD_FILE is empty")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///minimaria.db"
    redis_url: str | None = None
    bus_prefix: str = "mm"
    keys_file: Path | None = None
    keys_json: str | None = None
    region_config: Path | None = None
    retention_days: int | None = None
    retention_interval_s: float = 3600.0  # how often `serve` runs retention when retention_days is set
    # How long audit entries are kept (pruned by each retention run, the chain kept verifiable): ten years, as a
    # clinic's log review under patientdatalagen needs years (docs/security.md, "The audit trail").
    audit_retention_days: int = 3650
    keys_reload_s: float = 60.0  # how often `serve` re-reads the key file (and how long `keys retire` waits for it)
    allowed_origins: tuple[str, ...] = ()
    metrics_token: str | None = None
    # prometheus-client's own PROMETHEUS_MULTIPROC_DIR (it reads it too, when it is imported): set when several
    # worker processes share one port, so a scrape sums them (chat/metrics.py).
    metrics_multiproc_dir: str | None = None
    secure_cookies: bool = False
    log_level: str = "INFO"
    # Limits of the message path.
    max_text_chars: int = 4000
    max_frame_bytes: int = 64 * 1024
    frames_per_second: float = 5.0
    frame_burst: int = 20
    hello_timeout_s: float = 10.0
    # Hellos served at once per instance, and how long one may wait for its turn (service/admission.py).
    hello_concurrency: int = 8
    hello_wait_s: float = 8.0
    send_queue_size: int = 256
    # Lifetimes.
    visitor_token_hours: int = 24
    # Visitor limits (service/limits.py): per client (a daily-keyed HMAC of the address) and for everyone,
    # across all instances (Redis) or this one (memory). 0 turns a limit off.
    return_code_attempts_per_minute: int = 600  # everyone together: the ceiling
    return_code_attempts_per_client_per_minute: int = 10
    starts_per_minute: int = 300  # everyone together
    starts_per_client_per_hour: int = 30
    # Proxies whose X-Forwarded-For / -Proto are believed (uvicorn's forwarded_allow_ips): comma-separated
    # addresses or networks, "*" for any, empty for none. Behind nginx on another host, name it here, or
    # every visitor is one client to the limits above.
    trusted_proxies: str = "127.0.0.1"
    header_timeout_s: float = 10.0  # a connection must finish its request headers within this
    dispatch_interval_s: float = 1.0  # offers expire and overflow is checked at least this often
    idle_close_days: int = 14  # an open conversation with no message for this long is closed
    visitor_grace_s: float = 120.0  # a waiting visitor with no socket for this long leaves the queue (gone)
    staff_session_hours: int = 10
    # Staff login (service/login_guard.py, docs/security.md "Staff login").
    login_max_failures: int = 5  # attempts per username verified at once; each further one waits 2, 4, 8 … s
    login_max_delay_s: int = 300  # the longest wait between two attempts at one username
    login_window_minutes: int = 60  # a username's count is forgotten after this long with no attempt
    login_global_failures_per_minute: int = 100  # failed (or running) verifications a minute, every username
    login_concurrency: int = 2  # argon2 verifications running at once in one instance
    login_queue_timeout_s: float = 10.0  # how long a login waits for one of those before 503
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        origins = tuple(
            o.strip().rstrip("/") for o in env.get(PREFIX + "ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        keys = env.get(PREFIX + "KEYS_FILE")
        region = env.get(PREFIX + "REGION_CONFIG")
        retention = env.get(PREFIX + "RETENTION_DAYS")
        return cls(
            database_url=_database_url(env, cls.database_url),
            redis_url=env.get(PREFIX + "REDIS_URL") or None,
            bus_prefix=env.get(PREFIX + "BUS_PREFIX") or cls.bus_prefix,
            keys_file=Path(keys) if keys else None,
            keys_json=env.get(PREFIX + "KEYS") or None,
            region_config=Path(region) if region else None,
            retention_days=_days(env) if retention else None,
            retention_interval_s=_positive(env, "RETENTION_INTERVAL_S", cls.retention_interval_s),
            audit_retention_days=_audit_days(env),
            keys_reload_s=_positive(env, "KEYS_RELOAD_S", cls.keys_reload_s),
            allowed_origins=origins,
            metrics_token=env.get(PREFIX + "METRICS_TOKEN") or None,
            metrics_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            secure_cookies=_bool(env, "SECURE_COOKIES", False),
            log_level=(env.get(PREFIX + "LOG_LEVEL") or "INFO").upper(),
            max_text_chars=_int(env, "MAX_TEXT_CHARS", cls.max_text_chars),
            frames_per_second=_float(env, "FRAMES_PER_SECOND", cls.frames_per_second),
            frame_burst=_int(env, "FRAME_BURST", cls.frame_burst),
            hello_concurrency=max(1, _int(env, "HELLO_CONCURRENCY", cls.hello_concurrency)),
            hello_wait_s=_positive(env, "HELLO_WAIT_S", cls.hello_wait_s),
            visitor_token_hours=_int(env, "VISITOR_TOKEN_HOURS", cls.visitor_token_hours),
            return_code_attempts_per_minute=_int(env, "RETURN_CODE_ATTEMPTS_PER_MINUTE", cls.return_code_attempts_per_minute),
            return_code_attempts_per_client_per_minute=_int(
                env, "RETURN_CODE_ATTEMPTS_PER_CLIENT_PER_MINUTE", cls.return_code_attempts_per_client_per_minute
            ),
            starts_per_minute=_int(env, "STARTS_PER_MINUTE", cls.starts_per_minute),
            starts_per_client_per_hour=_int(env, "STARTS_PER_CLIENT_PER_HOUR", cls.starts_per_client_per_hour),
            # Set but empty: no proxy is trusted (the connection's own address is the client's).
            trusted_proxies=env.get(PREFIX + "TRUSTED_PROXIES", cls.trusted_proxies).strip(),
            header_timeout_s=_positive(env, "HEADER_TIMEOUT_S", cls.header_timeout_s),
            dispatch_interval_s=_float(env, "DISPATCH_INTERVAL_S", cls.dispatch_interval_s),
            idle_close_days=_int(env, "IDLE_CLOSE_DAYS", cls.idle_close_days),
            visitor_grace_s=_float(env, "VISITOR_GRACE_S", cls.visitor_grace_s),
            staff_session_hours=_int(env, "STAFF_SESSION_HOURS", cls.staff_session_hours),
            login_max_failures=_count(env, "LOGIN_MAX_FAILURES", cls.login_max_failures),
            login_max_delay_s=_count(env, "LOGIN_MAX_DELAY_S", cls.login_max_delay_s),
            login_window_minutes=_count(env, "LOGIN_WINDOW_MINUTES", cls.login_window_minutes),
            login_global_failures_per_minute=_count(
                env, "LOGIN_GLOBAL_FAILURES_PER_MINUTE", cls.login_global_failures_per_minute
            ),
            login_concurrency=_count(env, "LOGIN_CONCURRENCY", cls.login_concurrency),
            login_queue_timeout_s=_positive(env, "LOGIN_QUEUE_TIMEOUT_S", cls.login_queue_timeout_s),
        )

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, when the database is one (None for in-memory or PostgreSQL)."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[-1]
        return None if path in {"", ":memory:"} else Path(path)

    @property
    def dev_keys_file(self) -> Path | None:
        """Where the embedded default keeps its generated development key file: beside the SQLite file."""
        db = self.sqlite_path
        return db.with_name(db.stem + "-keys.json") if db is not None else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Exact match against the allowlist; with none configured, only the page's own origin."""
        if origin is None:
            return False
        origin = origin.rstrip("/")
        if self.allowed_origins:
            return origin in self.allowed_origins
        if host is None:
            return False
        return origin in {f"http://{host}", f"https://{host}"}
