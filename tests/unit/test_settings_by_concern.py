"""Settings by concern (issue 25, part 7): decode limits, sampling, workers and GPU are groups
of their own, each signal's settings are its section, and an old name fails with one line that
names its new one, whichever source (environment, TOML file, keyword) gave it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.assembly import decode_config
from consumer.errors import ConfigError
from consumer.renamed_settings import RENAMED
from consumer.settings import Settings, load_settings
from consumer.signals import instances, registry


def _one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    (line,) = str(exc.value).splitlines()
    return line


def test_an_old_name_in_the_environment_names_its_new_one_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMC_DECODE__MAX_KEYFRAMES", "4")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert _one_line(err) == ("decode.max_keyframes was renamed: use sampling.max_keyframes "
                              "(VMC_SAMPLING__MAX_KEYFRAMES)")


def test_a_variable_of_a_section_that_is_gone_is_not_dropped_silently(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`audio` is no section any more: the environment source alone would ignore it, and the
    catalogues the operator meant to enforce would be off without a word."""
    monkeypatch.setenv("VMC_AUDIO__CATALOGUES", '[{"name": "c", "path": "c.vmccat"}]')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert _one_line(err) == ("audio.catalogues was renamed: use signals.music.catalogues "
                              "(VMC_SIGNALS__MUSIC__CATALOGUES)")


def test_an_old_name_in_the_toml_file_names_its_new_one(tmp_path: Path) -> None:
    config = tmp_path / "vmc.toml"
    config.write_text('[policy]\nversion = "v2"\n'
                      '[[policy.hash_lists]]\nname = "cases"\npath = "cases.csv"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert _one_line(err) == ("policy.hash_lists was renamed: use signals.known_content.lists "
                              "(VMC_SIGNALS__KNOWN_CONTENT__LISTS)")


def test_an_old_name_given_as_keyword_names_its_new_one() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(decode={"workers": 2, "timeout_s": 30})
    assert _one_line(err) == "decode.workers was renamed: use workers.count (VMC_WORKERS__COUNT)"
    with pytest.raises(ConfigError) as err:
        load_settings(audio={})
    assert _one_line(err) == "audio was renamed: use signals.music (VMC_SIGNALS__MUSIC)"


def test_several_old_names_give_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMC_DECODE__DEVICE", "nvdec")
    with pytest.raises(ConfigError) as err:
        load_settings(policy={"text_rules": []})
    assert str(err.value).splitlines() == [
        "decode.device was renamed: use gpu.decode (VMC_GPU__DECODE)",
        "policy.text_rules was renamed: use signals.text.rules (VMC_SIGNALS__TEXT__RULES)"]


def test_the_cli_stops_on_an_old_name_with_that_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from consumer.cli import main

    monkeypatch.setenv("VMC_POLICY__CATEGORIES", '{"nsfw": {"review": 0.1}}')
    assert main(["config", "show"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "vmc: policy.categories was renamed: use signals.scores.categories "
        "(VMC_SIGNALS__SCORES__CATEGORIES)"]


def test_every_new_name_in_the_table_exists() -> None:
    sections = {cls.name: cls.settings_model for cls in registry()}
    for old, new in RENAMED.items():
        parts = new.split(".")
        if parts[0] == "signals":
            model = sections[parts[1]]
            assert len(parts) == 2 or parts[2] in model.model_fields, new
        else:
            group = Settings.model_fields[parts[0]].annotation
            assert group is not None and parts[1] in group.model_fields, new  # type: ignore[union-attr]
        with pytest.raises(ConfigError, match=f"^{old} was renamed"):
            load_settings(**_nested(old, None))


def _nested(path: str, value: object) -> dict[str, object]:
    head, _, rest = path.partition(".")
    return {head: _nested(rest, value) if rest else value}


def test_the_groups_and_sections_read_from_every_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vmc.toml"
    config.write_text('[sampling]\nmax_keyframes = 5\nmode = "seek"\n[gpu]\nid = 1\n'
                      '[signals.scores]\ntag_min_score = 0.6\n'
                      '[[signals.text.rules]]\nname = "urls"\npattern = "www"\n')
    monkeypatch.setenv("VMC_WORKERS__COUNT", "3")
    monkeypatch.setenv("VMC_SIGNALS__KNOWN_CONTENT__LISTS",
                       json.dumps([{"name": "cases", "path": "cases.csv"}]))
    monkeypatch.setenv("VMC_SIGNALS__KNOWN_CONTENT__RELOAD_S", "5")
    monkeypatch.setenv("VMC_SIGNALS__MUSIC", json.dumps({"min_duration_s": 4}))
    settings = load_settings(config, decode={"timeout_s": 30})
    assert (settings.sampling.max_keyframes, settings.sampling.mode) == (5, "seek")
    assert (settings.workers.count, settings.gpu.id, settings.decode.timeout_s) == (3, 1, 30)
    sections = {signal.name: signal.section for signal in instances(settings)}
    assert sections["scores"].tag_min_score == 0.6  # type: ignore[attr-defined]
    assert [r.name for r in sections["text"].rules] == ["urls"]  # type: ignore[attr-defined]
    known = sections["known_content"]
    assert [r.name for r in known.lists] == ["cases"]  # type: ignore[attr-defined]
    assert known.reload_s == 5.0 and known.frame_hashes  # type: ignore[attr-defined]
    assert sections["music"].min_duration_s == 4.0  # type: ignore[attr-defined]


def test_a_list_without_frame_hashes_is_refused_naming_the_section() -> None:
    settings = load_settings(signals={"known_content": {
        "frame_hashes": False, "lists": [{"name": "cases", "path": "cases.csv"}]}})
    with pytest.raises(ConfigError, match=r"signals\.known_content.*lists need frame_hashes"):
        instances(settings)


def test_the_workers_are_told_what_the_signals_need() -> None:
    """Frame hashes for known content (on by default), the soundtrack only when a catalogue
    (or the switch) asks for it, with the music section's limits."""
    plain = load_settings(sampling={"max_keyframes": 3})
    config = decode_config(plain, instances(plain))
    assert config.frame_hashes and not config.soundtrack
    assert config.sampling.max_keyframes == 3 and config.limits == plain.decode
    music = load_settings(signals={
        "known_content": {"frame_hashes": False},
        "music": {"catalogues": [{"name": "c", "path": "c.vmccat"}], "max_soundtrack_s": 90,
                  "max_audio_streams": 2}})
    config = decode_config(music, instances(music))
    assert not config.frame_hashes and config.soundtrack
    assert (config.max_soundtrack_s, config.max_audio_streams) == (90.0, 2)


def test_no_decode_worker_is_refused_across_the_groups() -> None:
    with pytest.raises(ConfigError, match=r"no decode worker: set workers\.count"):
        load_settings(workers={"count": 0})
    assert load_settings(workers={"count": 0},
                         gpu={"decode": "nvdec", "nvdec_workers": 1}).workers.count == 0


def test_config_show_prints_each_signals_section_with_its_defaults(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from consumer.cli import main

    monkeypatch.setenv("VMC_SIGNALS__TEXT__RULES", '[{"name": "urls", "pattern": "www"}]')
    assert main(["config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert "audio" not in shown and "hash_lists" not in shown["policy"]
    assert shown["sampling"]["max_keyframes"] == 16 and shown["workers"]["count"] == 2
    assert shown["signals"]["scores"]["categories"]["nsfw"]["block"] == 0.8
    assert shown["signals"]["known_content"]["frame_hashes"] is True
    assert [r["name"] for r in shown["signals"]["text"]["rules"]] == ["urls"]
    assert shown["signals"]["music"]["soundtrack"] is False


ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "k8s/monitoring/dashboards/vmc-consumer.json"


def _documents() -> dict[str, str]:
    """What operators read and deploy: the README, k8s manifests, settings files, runbooks."""
    paths = [ROOT / "README.md", *sorted((ROOT / "k8s").rglob("*"))]
    return {str(p.relative_to(ROOT)): p.read_text() for p in paths
            if p.is_file() and p.suffix in (".md", ".toml", ".yaml", ".yml", ".json", ".env")}


def test_no_document_or_manifest_uses_an_old_name() -> None:
    import re

    example = "e.g. `decode.max_keyframes was renamed"  # README's one line showing the error
    stale = []
    for name, document in _documents().items():
        text = document.replace(example, "")
        for old in RENAMED:
            if "." not in old:
                continue  # a whole section ("audio"): its fields' names are checked
            env = "VMC_" + old.upper().replace(".", "__")
            if re.search(rf"(?<![\w.]){re.escape(old)}\b", text) or \
                    re.search(rf"\b{env}\b", text):
                stale.append(f"{name}: {old}")
    assert stale == []


def test_the_dashboards_descriptions_name_settings_that_exist() -> None:
    import re

    sections = {cls.name: cls.settings_model for cls in registry()}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    described = [p["description"] for p in panels if p.get("description")]
    assert len(described) >= 5
    for text in described:
        for path in re.findall(r"\b((?:signals\.)?[a-z_]+\.[a-z_]+)\b", text):
            parts = path.split(".")
            if parts[0] == "signals":
                assert parts[2] in sections[parts[1]].model_fields, path
            else:
                group = Settings.model_fields[parts[0]].annotation
                assert parts[1] in group.model_fields, path  # type: ignore[union-attr]
