"""The alert rules parse, their promtool unit tests pass, and both copies say the same."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[3] / "k8s" / "monitoring"
RULES = MONITORING / "alerts" / "vmc-consumer.rules.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: apt-get install prometheus (scripts/bootstrap.sh does)")
    return subprocess.run([promtool, *args], capture_output=True, text=True, check=False,
                          cwd=RULES.parent)


def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_promtool_case() -> None:
    tests_file = RULES.with_name("vmc-consumer.rules.test.yml")
    result = _promtool("test", "rules", tests_file.name)
    assert result.returncode == 0, result.stdout + result.stderr
    cases = yaml.safe_load(tests_file.read_text())["tests"]
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    firing = {t["alertname"] for case in cases for t in case["alert_rule_test"] if t["exp_alerts"]}
    silent = {t["alertname"] for case in cases for t in case["alert_rule_test"]
              if not t["exp_alerts"]}
    assert firing == alerts and silent == alerts


def test_prometheusrule_carries_the_same_groups_as_the_rules_file() -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())


def test_every_alert_has_summary_description_and_a_runbook_in_the_readme() -> None:
    readme = (MONITORING.parents[1] / "README.md").read_text().lower()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            notes = rule["annotations"]
            assert notes["summary"] and notes["description"]
            anchor = notes["runbook_url"].rsplit("#", 1)[1]
            assert f"### runbook: {rule['alert'].lower()}" in readme, anchor
