"""deploy/Dockerfile and .dockerignore: a multi-stage build whose final stage runs `minimaria serve` as a
non-root user with a health check and no build tools, and a build context that holds what the package needs
(no container engine runs here: the Dockerfile is parsed, and the builder's install is done for real)."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chat.cli import parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "libc6-dev", "python3-dev", "apt-get install", "pip install")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def one(self, keyword: str) -> str:
        found = self.all(keyword)
        assert len(found) == 1, f"{keyword} {len(found)} times in the stage from {self.base}"
        return found[0]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, backslash continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "a continuation line ends the file"
    return result


def stages(text: str) -> list[Stage]:
    args: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = words[0]
            for name, value in args.items():
                base = base.replace("${" + name + "}", value)
            found.append(Stage(base, words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        else:
            assert found, f"{keyword} before the first FROM"
            found[-1].instructions.append((keyword, rest))
    return found


@pytest.fixture(scope="module")
def build() -> list[Stage]:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


def test_the_image_is_built_in_stages_on_a_slim_python(build: list[Stage]) -> None:
    """A builder stage installs the package; the final image is the same slim Python with only the virtualenv."""
    builder, final = build[0], build[-1]
    assert len(build) >= 2
    assert builder.name == "builder"
    assert final.base == builder.base
    assert final.base.startswith("python:3.11-slim")
    assert final.all("COPY") == ["--from=builder /opt/minimaria /opt/minimaria"]
    assert any("pip install ." in run for run in builder.all("RUN"))


def test_the_final_stage_has_no_build_tools(build: list[Stage]) -> None:
    """No compiler, headers or package installs in the image that runs; pip is removed from the venv and the base."""
    final = build[-1]
    for run in final.all("RUN"):
        for tool in BUILD_TOOLS:
            assert tool not in run, f"{tool!r} in the final stage: {run}"
    assert any("pip uninstall --yes setuptools pip" in run for run in build[0].all("RUN"))
    assert any("pip uninstall --yes --quiet pip setuptools wheel" in run for run in final.all("RUN"))


def test_the_final_stage_runs_as_a_non_root_user(build: list[Stage]) -> None:
    """USER is numeric (so Kubernetes' runAsNonRoot can check it) and not root; the user exists in the image."""
    final = build[-1]
    user, _, group = final.one("USER").partition(":")
    assert user == group == "10001"
    assert any("useradd --system --uid 10001" in run for run in final.all("RUN"))
    keywords = [kw for kw, _ in final.instructions]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw in {"RUN", "COPY"}), (
        "nothing runs or is copied as root after USER is set"
    )


def test_the_entry_point_is_minimaria_serve_on_the_health_checked_port(build: list[Stage]) -> None:
    """ENTRYPOINT minimaria, CMD serve on 0.0.0.0:8000 (options the real CLI accepts), HEALTHCHECK on that port."""
    final = build[-1]
    assert json.loads(final.one("ENTRYPOINT")) == ["minimaria"]
    command = json.loads(final.one("CMD"))
    args = parser().parse_args(command)
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8000)  # noqa: S104 - the container's own interface
    assert final.one("EXPOSE") == "8000"
    check = final.one("HEALTHCHECK")
    assert 'CMD ["python"' in check, "the slim image has no curl: python checks"
    assert f"http://127.0.0.1:{args.port}/healthz" in check


def ignore_patterns() -> list[str]:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def matches(path: str, pattern: str) -> bool:
    """A .dockerignore pattern matches the path or a folder above it; a leading **/ matches at any depth."""
    parts = path.split("/")
    if pattern.startswith("**/"):
        pattern = pattern[3:]
        candidates = ["/".join(parts[j:i]) for j in range(len(parts)) for i in range(j + 1, len(parts) + 1)]
    else:
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates)


def sent(path: str, patterns: list[str]) -> bool:
    """Whether docker sends the file in the build context: the last pattern that matches decides."""
    keep = True
    for pattern in patterns:
        if matches(path, pattern.removeprefix("!").rstrip("/")):
            keep = pattern.startswith("!")
    return keep


def test_the_build_context_holds_only_what_the_builder_copies(build: list[Stage]) -> None:
    """.dockerignore starts by ignoring everything and lets in exactly the builder's COPY sources, so secrets/,
    key files, databases and .venv never reach a build."""
    patterns = ignore_patterns()
    assert patterns[0] == "*"
    included = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    copied = [src for copy in build[0].all("COPY") for src in copy.split()[:-1]]
    assert sorted(included) == sorted(copied)
    for name in ("pyproject.toml", "README.md", "chat/cli.py", "chat/static/visitor.html", "triage/regions/dalarna.toml"):
        assert sent(name, patterns), name
    for name in (
        "secrets/minimaria-keys.json",
        "minimaria-dev-keys.json",
        "chat/minimaria.db",
        "chat/__pycache__/x.pyc",
        "minimaria.db-wal",
        ".venv/bin/python",
        "tests/conftest.py",
        ".git/config",
    ):
        assert not sent(name, patterns), name


def context_copy(destination: Path) -> Path:
    """The build context as docker would send it, laid out as the builder's COPY lines lay it out."""
    patterns = ignore_patterns()
    for name in (p[1:].rstrip("/") for p in patterns if p.startswith("!")):
        source = ROOT / name
        for file in [source] if source.is_file() else source.rglob("*"):
            relative = file.relative_to(ROOT).as_posix()
            if file.is_file() and sent(relative, patterns):
                (destination / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, destination / relative)
    return destination


def test_the_builder_install_ships_migrations_static_files_and_regions(tmp_path: Path) -> None:
    """What the builder runs (`pip install .` from the context) gives a package that upgrades a database and
    checks the bundled region without the source tree: migrations, static pages and regions are in it."""
    context = context_copy(tmp_path / "context")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(context)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("minimaria_chat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("chat/store/migrations/env.py", "chat/static/visitor.html", "triage/regions/dalarna.toml"):
        assert expected in names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    run_env = {**os.environ, "PYTHONPATH": str(site), "MINIMARIA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    run_env.pop("MINIMARIA_KEYS_FILE", None)
    script = "import sys, chat; from chat.cli import main; print(chat.__file__, flush=True); main(sys.argv[1:])"
    for command in (["db", "upgrade"], ["config", "check"]):
        done = subprocess.run(
            [sys.executable, "-c", script, *command],
            cwd=tmp_path,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(str(site)), "the installed copy ran, not the source tree"
