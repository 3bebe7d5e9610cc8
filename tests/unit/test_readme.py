"""README.md stays true: two set-up commands on its first screen, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

from consumer.settings import setting_env_vars
from consumer.signals import env_vars

README = Path(__file__).resolve().parents[2] / "README.md"


def test_first_screen_has_exactly_two_setup_commands() -> None:
    first_screen = "\n".join(README.read_text().splitlines()[:25])
    block = re.search(r"```bash\n(.*?)```", first_screen, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert commands[0].startswith("bash scripts/demo.sh")
    assert commands[1].startswith("bash scripts/test.sh")


def test_every_setting_is_in_the_configuration_table() -> None:
    text = README.read_text()
    documented = set(re.findall(r"`(VMC_[A-Z0-9_]+)(?:__<PROP>)?`", text))
    for var in setting_env_vars() + env_vars():
        assert var in documented, f"{var} missing from README's configuration table"


def test_ci_runs_the_test_command_of_the_readme() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
