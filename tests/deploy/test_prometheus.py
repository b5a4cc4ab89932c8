"""deploy/prometheus: the alert rules pass `promtool check rules` and their own unit tests (`promtool test
rules`, each alert made to fire and kept quiet), and use only the metric names the service exposes.

promtool comes from Debian's prometheus package (`apt-get install --no-install-recommends prometheus`, which
.ci/run does); without it those tests skip, unless CI is set, where a missing promtool is a failure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts_test.yml"

# The families /metrics exposes (chat/metrics.py); a histogram is read through its _bucket series.
METRICS = {
    "minimaria_queue_oldest_wait_seconds", "minimaria_queue_length", "minimaria_team_open", "minimaria_staff_online",
    "minimaria_error_frames_total", "minimaria_messages_stored_total", "minimaria_bus_connected",
    "minimaria_bus_reconnects_total", "minimaria_db_latency_seconds", "minimaria_ack_latency_seconds",
    "minimaria_open_sockets",
}  # fmt: skip


def promtool() -> str:
    found = shutil.which("promtool")
    if found is not None:
        return found
    reason = "promtool is not installed (apt-get install --no-install-recommends prometheus)"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def run(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_alert_rules_pass_promtool_check() -> None:
    """The rules parse, their PromQL is valid and their templates compile."""
    result = run("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rules_fire_when_they_should_and_only_then() -> None:
    """alerts_test.yml: a visitor waiting too long in an open team, an open team with nobody online, server
    errors and refused frames, the bus lost and flapping, a slow database and slow acks, an instance down."""
    result = run("test", "rules", ALERT_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_scrape_config_passes_promtool(tmp_path: Path) -> None:
    """prometheus.yml, with its token file present, is a valid configuration that loads alerts.yml."""
    token = tmp_path / "minimaria-metrics-token"
    token.write_text("a-token\n", encoding="utf-8")
    config = (PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8")
    assert "/etc/prometheus/secrets/minimaria-metrics-token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/secrets/minimaria-metrics-token", str(token)))
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    result = run("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_use_only_the_metrics_the_service_exposes(rules: list[dict[str, Any]]) -> None:
    """A misspelt metric name would make an alert silently never fire."""
    for rule in rules:
        used = {re.sub(r"_(bucket|count|sum)$", "", name) for name in re.findall(r"\bminimaria_\w+", rule["expr"])}
        assert used <= METRICS, f"{rule['alert']}: {sorted(used - METRICS)}"


def test_alerts_group_by_nothing_that_identifies_a_person(rules: list[dict[str, Any]]) -> None:
    """Aggregations keep only team, error code, histogram bucket, or Prometheus' own instance."""
    for rule in rules:
        for labels in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", rule["expr"]):
            assert {label.strip() for label in labels.split(",")} <= {"team", "code", "le", "instance"}, rule["alert"]


def test_every_alert_says_what_and_how_urgent_and_is_unit_tested(rules: list[dict[str, Any]]) -> None:
    """Each alert has a severity (page or ticket), a summary and a description, and alerts_test.yml makes it fire."""
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    tested = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))
    fired = {case["alertname"] for test in tested["tests"] for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["alert"] in fired, f"{rule['alert']} is never made to fire in alerts_test.yml"
    assert {
        "MinimariaVisitorWaitingLong", "MinimariaNoStaffOnline", "MinimariaServerErrors", "MinimariaErrorFrameRateHigh",
        "MinimariaBusDisconnected", "MinimariaBusReconnecting", "MinimariaDatabaseSlow",
    } <= set(names)  # fmt: skip
