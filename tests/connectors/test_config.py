"""The connectors file: kinds, schedules, settings from the environment, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.config import (
    ConfigFileError,
    ConnectorSet,
    load_connectors,
    open_source,
    parse_connectors,
    parse_every,
)
from graph.errors import InvalidInput
from tests.connectors.sample import SampleFirms

SAMPLE = "tests.connectors.sample:SampleFirms"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connectors.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_declares_connectors_in_order_with_their_schedules(tmp_path: Path) -> None:
    path = _file(tmp_path, f"""
[connectors.firms]
kind = "{SAMPLE}"
every = "15m"
url_env = "FIRMS_URL"

[connectors.archive]
kind = "{SAMPLE}"
url = "sqlite+aiosqlite:///archive.sqlite"
label = "旧档案"
""")
    specs = load_connectors(path, environ={"FIRMS_URL": "postgresql://firms:s3cret@db/firms"})
    assert [(s.name, s.kind, s.every) for s in specs] == [("firms", SAMPLE, 900), ("archive", SAMPLE, None)]
    firms = specs[0]
    assert firms.config["url"] == "postgresql://firms:s3cret@db/firms"
    assert firms.redacted() == {"url": "***", "label": "register"}
    assert "s3cret" not in repr(firms)
    source = open_source(firms)
    assert isinstance(source, SampleFirms) and source.name == "firms" and source.config is firms.config
    assert specs[1].config["label"] == "旧档案"


def test_no_file_means_no_connectors(tmp_path: Path) -> None:
    assert load_connectors(tmp_path / "absent.toml") == []
    assert load_connectors(_file(tmp_path, "# nothing yet\n")) == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("45", 45), (600, 600)]
)
def test_schedules(text: object, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["5s", "soon", "1w", "", True, 1.5, "-3m"])
def test_schedules_that_are_not(text: object) -> None:
    with pytest.raises(InvalidInput, match="every"):
        parse_every(text)


@pytest.mark.parametrize(
    ("body", "where", "rule"),
    [
        ('kind = "registry-xl"\n', "connectors.reg.kind", "is not a connector kind; use one of"),
        ('every = "15m"\n', "connectors.reg.kind", "is required"),
        (f'kind = "{SAMPLE}"\n', "connectors.reg.url", "is required"),
        (f'kind = "{SAMPLE}"\nurl = "nota-url"\n', "connectors.reg.url", "must be a URL"),
        (f'kind = "{SAMPLE}"\nurl = "sqlite:///x"\nport = 5432\n', "connectors.reg.port", "is not a setting"),
        (f'kind = "{SAMPLE}"\nurl = "sqlite:///x"\nevery = "often"\n', "connectors.reg.every", "30s, 15m"),
        (f'kind = "{SAMPLE}"\nurl_env = "NOT_SET_ANYWHERE"\n', "connectors.reg.url_env", "NOT_SET_ANYWHERE, which is not set"),
        (f'kind = "{SAMPLE}"\nurl = "sqlite:///x"\nurl_env = "X"\n', "connectors.reg.url_env", "not both"),
        ('kind = "tests.connectors.sample:Nothing"\n', "connectors.reg.kind", "cannot be imported"),
        ('kind = "tests.connectors.sample:SampleDatabase"\n', "connectors.reg.kind", "not a connector class"),
    ],
)
def test_errors_name_the_file_the_connector_and_the_setting(tmp_path: Path, body: str, where: str, rule: str) -> None:
    path = _file(tmp_path, "[connectors.reg]\n" + body)
    with pytest.raises(ConfigFileError) as caught:
        load_connectors(path, environ={"X": "sqlite:///y"})
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert rule in message


def test_a_secret_in_a_bad_setting_is_not_repeated(tmp_path: Path) -> None:
    path = _file(tmp_path, f'[connectors.reg]\nkind = "{SAMPLE}"\nurl = "pa55word-no-scheme"\n')
    with pytest.raises(ConfigFileError) as caught:
        load_connectors(path)
    assert "pa55word" not in str(caught.value) and "***" in str(caught.value)


def test_a_file_that_is_not_toml_or_not_connectors(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="is not valid TOML"):
        load_connectors(_file(tmp_path, "[connectors.reg\nkind = 1"))
    with pytest.raises(ConfigFileError, match="connectors go in"):
        parse_connectors("[registry]\nkind = 'registry-db'\n")
    with pytest.raises(ConfigFileError, match="connector name"):
        parse_connectors(f'[connectors.Registry]\nkind = "{SAMPLE}"\n')
    with pytest.raises(ConfigFileError, match="must be a table"):
        parse_connectors('[connectors]\nreg = "registry-db"\n')


def test_a_connector_set_finds_by_name_or_lists_the_names(tmp_path: Path) -> None:
    specs = parse_connectors(f'[connectors.firms]\nkind = "{SAMPLE}"\nurl = "sqlite:///x"\n')
    connectors = ConnectorSet(specs)
    assert connectors.get("firms").name == "firms"
    with pytest.raises(InvalidInput, match=r"'water' is not a configured connector \(firms\)"):
        connectors.get("water")
    with pytest.raises(InvalidInput, match="none are configured"):
        ConnectorSet().get("water")


def test_an_integer_setting_outside_its_bounds_is_refused_naming_it() -> None:
    from connectors.base import ConfigField, ConfigSchema, FieldType
    from graph.errors import InvalidInput

    schema = ConfigSchema((ConfigField("page_size", FieldType.INTEGER, "per page", required=False, default=200, bounds=(1, 500)),))
    assert schema.validate("hotline", {"page_size": "500"})["page_size"] == 500
    with pytest.raises(InvalidInput, match=r"connectors\.hotline\.page_size: '501' must be 1 to 500"):
        schema.validate("hotline", {"page_size": 501})
