"""`hub export` and `hub verify` as a user runs them: the small demo city in a real SQLite file, a
real key file, real exported files; the CLI runs in-process (in a worker thread, so its own
event loop does not meet the tests')."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from graph.ciphers import sm2
from graph.ciphers.keyring import Keyring
from graph.levels import Level
from graph.model import Place, m2_text
from graph.scope import Scope
from graph import open_store
from graph.sql import SqlStore
from hub import demo
from hub.cli import main
from hub.export import CSV_COLUMNS
from hub.loading import load

EVERYTHING = Scope.everything()
SEED = 11


@dataclass(frozen=True)
class City:
    store: SqlStore
    db: str
    keys_path: Path
    keys: Keyring
    folder: Path
    street: Place  # the street exported
    other: Place  # another street with houses


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


async def hub(capsys: pytest.CaptureFixture[str], *arguments: str) -> Run:
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(arguments))
    captured = capsys.readouterr()
    return Run(status, captured.out, captured.err)


@pytest.fixture(scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[City]:
    folder = tmp_path_factory.mktemp("export")
    keys = Keyring.generate()
    keys.save(folder / "hub.keys")
    db = f"sqlite:///{folder / 'small.sqlite'}"
    store = await open_store(db, sealer=keys.sealer())
    await load(store, demo.generate("small", SEED), progress=False)
    streets = [row.place for row in await store.stats("370200", Level.STREET, EVERYTHING) if row.houses > 0]
    assert len(streets) >= 2
    yield City(store, db, folder / "hub.keys", keys, folder, streets[0], streets[1])
    await store.close()


async def export(city: City, capsys: pytest.CaptureFixture[str], code: str, format: str, name: str) -> Path:
    path = city.folder / name
    run = await hub(
        capsys, "export", "--scope", code, "--format", format, "--output", str(path), "--db", city.db, "--keys", str(city.keys_path)
    )
    assert run.status == 0, run.err
    assert path.exists() and Path(f"{path}.sig").exists()
    return path


@pytest.fixture(scope="module")
def exported() -> dict[str, Path]:
    return {}


async def exported_file(city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path], format: str) -> Path:
    if format not in exported:
        exported[format] = await export(city, capsys, city.street.code, format, f"street.{format}")
    return exported[format]


async def all_under(store: SqlStore, code: str, level: Level) -> list[Place]:
    found: list[Place] = []
    after: str | None = None
    while True:
        page = await store.subtree(level, code, EVERYTHING, 500, after)
        found.extend(page.items)
        if not page.has_next:
            return found
        after = page.end_cursor


# -- the exports ------------------------------------------------------------------------------


async def test_geojson_holds_every_shaped_place_of_the_street_and_nothing_else(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "geojson")
    collection = json.loads(path.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    expected: dict[str, Place] = {}
    for level in range(Level.STREET, Level.BUILDING + 1):
        expected.update((place.code, place) for place in await all_under(city.store, city.street.code, Level(level)) if place.geometry)
    assert [feature["id"] for feature in features] == list(expected)  # levels top down, by code
    other = {place.code for level in Level for place in await all_under(city.store, city.other.code, level)}
    for feature in features:
        place = expected[feature["id"]]
        assert feature["type"] == "Feature"
        assert feature["geometry"] == place.geometry
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon", "Point"}
        properties = feature["properties"]
        assert properties["code"] == place.code and properties["name"] == place.name
        assert properties["level"] == place.level.name and properties["parent"] == place.parent_code
        assert properties["code"].startswith(city.street.code)
        assert feature["id"] not in other
    [street] = [feature for feature in features if feature["id"] == city.street.code]
    [stats] = await city.store.place_stats([city.street.code], EVERYTHING)
    assert stats is not None
    assert street["properties"]["houses"] == stats.houses > 0
    assert street["properties"]["owners"] == stats.owners
    assert street["properties"]["estates"] == stats.estates
    assert street["properties"]["buildings"] == stats.buildings
    assert street["properties"]["floorArea"] == stats.floor_area_centi_m2 / 100  # the exact hundredths, as JSON writes them
    levels = {feature["properties"]["level"] for feature in features}
    assert levels == {"STREET", "COMMUNITY", "ESTATE", "BUILDING"}


async def test_csv_has_one_row_per_house_of_the_street_with_a_bom_and_no_personal_data(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    content = path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")  # so Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    houses = await all_under(city.store, city.street.code, Level.HOUSE)
    assert [row[0] for row in rows[1:]] == [house.code for house in houses]
    other = {house.code for house in await all_under(city.store, city.other.code, Level.HOUSE)}
    assert other and not other & {row[0] for row in rows[1:]}
    column = {name: index for index, name in enumerate(CSV_COLUMNS)}
    for row, house, line in zip(rows[1:], houses, await city.store.ancestors([house.code for house in houses], EVERYTHING)):
        names = {place.level: place.name for place in line}
        assert row[column["name"]] == house.name
        assert row[column["area"]] == (m2_text(house.area_centi_m2) if house.area_centi_m2 is not None else "")
        assert row[column["usage"]] == (house.usage.value if house.usage else "")
        assert row[column["entrance"]] == names[Level.ENTRANCE]
        assert row[column["building"]] == names[Level.BUILDING]
        assert row[column["estate"]] == names[Level.ESTATE]
        assert row[column["community"]] == names[Level.COMMUNITY]
        assert row[column["street"]] == city.street.name
        assert row[column["district"]] == ""  # above the scope: not read
    # no personal data: none of the owners' names, ID numbers or phones, nor anything like them
    ownerships = await city.store.ownerships([house.code for house in houses], None, EVERYTHING)
    ids = sorted({ownership.owner_id for line in ownerships for ownership in line})
    owners = [owner for owner in await city.store.owners(ids, EVERYTHING) if owner is not None]
    assert len(owners) > 100
    text = content.decode("utf-8-sig")
    for owner in owners:
        assert owner.id_number not in text and owner.id not in text
        assert owner.phone is None or owner.phone not in text
        assert f",{owner.name}," not in text
    assert not re.search(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])", text)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)


async def test_geojson_has_no_personal_data(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    text = (await exported_file(city, capsys, exported, "geojson")).read_text(encoding="utf-8")
    assert not re.search(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])", text)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)
    assert '"owner' not in text.replace('"owners":', "")


async def test_an_export_is_named_after_its_scope_by_default(
    city: City, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    community = (await city.store.subtree(Level.COMMUNITY, city.street.code, EVERYTHING, 1)).items[0]
    monkeypatch.chdir(tmp_path)
    run = await hub(capsys, "export", "--scope", community.code, "--format", "csv", "--db", city.db, "--keys", str(city.keys_path))
    assert run.status == 0, run.err
    assert (tmp_path / f"export-{community.code}-csv.csv").exists()
    assert (tmp_path / f"export-{community.code}-csv.csv.sig").exists()
    assert f"export-{community.code}-csv.csv" in run.out


async def test_an_unknown_or_malformed_scope_is_refused(
    city: City, capsys: pytest.CaptureFixture[str]
) -> None:
    for code, message in (("370202999", "no place 370202999"), ("37020", "scope")):
        run = await hub(capsys, "export", "--scope", code, "--format", "csv", "--output", str(city.folder / "x.csv"), "--db", city.db, "--keys", str(city.keys_path))
        assert run.status == 2
        assert message in run.err
    assert not (city.folder / "x.csv").exists()


# -- the signatures ---------------------------------------------------------------------------


async def test_the_signature_file_says_what_was_signed(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    signature = json.loads(Path(f"{path}.sig").read_text(encoding="utf-8"))
    assert set(signature) == {"algorithm", "signer_id", "public_key", "sm3", "signature", "file", "signed_at"}
    assert signature["algorithm"] == "SM2-SM3" and signature["signer_id"] == "1234567812345678"
    assert signature["public_key"] == city.keys.sm2_public and len(signature["public_key"]) == 128
    assert signature["file"] == path.name
    from graph.ciphers.sm3 import sm3

    assert signature["sm3"] == sm3(path.read_bytes()).hex()
    assert sm2.verify(city.keys.sm2_public, path.read_bytes(), bytes.fromhex(signature["signature"]))


@pytest.mark.parametrize("format", ["geojson", "csv"])
async def test_verify_accepts_the_untouched_file(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path], format: str
) -> None:
    path = await exported_file(city, capsys, exported, format)
    with_keys = await hub(capsys, "verify", str(path), f"{path}.sig", "--keys", str(city.keys_path))
    assert with_keys.status == 0, with_keys.err
    assert f"valid: signed by {city.keys.sm2_public}" in with_keys.out
    with_key = await hub(capsys, "verify", str(path), f"{path}.sig", "--public-key", "04" + city.keys.sm2_public.upper())
    assert with_key.status == 0, with_key.err
    assert f"valid: signed by {city.keys.sm2_public}" in with_key.out
    alone = await hub(capsys, "verify", str(path), f"{path}.sig")
    assert alone.status == 0, alone.err
    assert f"valid: signed by {city.keys.sm2_public}" in alone.out
    assert "not who signed it" in alone.out


async def test_verify_rejects_a_one_byte_change(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    changed = city.folder / "changed.csv"
    content = bytearray(path.read_bytes())
    position = content.index(b"\n") + 5  # a digit of the first house code
    content[position] = ord("9") if content[position] != ord("9") else ord("8")
    changed.write_bytes(bytes(content))
    for trusted in (["--keys", str(city.keys_path)], []):
        run = await hub(capsys, "verify", str(changed), f"{path}.sig", *trusted)
        assert run.status == 1
        assert "the file was changed after signing (SM3 differs)" in run.err


async def test_verify_rejects_a_file_changed_with_its_sm3_updated(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    from graph.ciphers.sm3 import sm3

    path = await exported_file(city, capsys, exported, "geojson")
    changed = city.folder / "street-changed.geojson"
    changed.write_bytes(path.read_bytes().replace(city.street.name.encode(), "某某街道".encode()))
    signature = json.loads(Path(f"{path}.sig").read_text(encoding="utf-8"))
    signature["sm3"] = sm3(changed.read_bytes()).hex()
    forged = city.folder / "street-changed.geojson.sig"
    forged.write_text(json.dumps(signature), encoding="utf-8")
    for trusted in (["--keys", str(city.keys_path)], []):
        run = await hub(capsys, "verify", str(changed), str(forged), *trusted)
        assert run.status == 1
        assert "the signature does not match the public key" in run.err


async def test_verify_rejects_a_signature_swapped_from_another_export(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    other = await export(city, capsys, city.other.code, "csv", "other-street.csv")
    swapped = city.folder / "swapped.csv"
    shutil.copy(path, swapped)
    run = await hub(capsys, "verify", str(swapped), f"{other}.sig", "--keys", str(city.keys_path))
    assert run.status == 1
    assert "SM3 differs" in run.err and "other-street.csv" in run.err
    # the other export's signature, its sm3 set to this file's: the SM2 signature still refuses
    signature = json.loads(Path(f"{other}.sig").read_text(encoding="utf-8"))
    signature["sm3"] = json.loads(Path(f"{path}.sig").read_text(encoding="utf-8"))["sm3"]
    (city.folder / "swapped.csv.sig").write_text(json.dumps(signature), encoding="utf-8")
    run = await hub(capsys, "verify", str(swapped), str(city.folder / "swapped.csv.sig"), "--keys", str(city.keys_path))
    assert run.status == 1
    assert "the signature does not match the public key" in run.err


async def test_verify_rejects_a_wrong_public_key_or_another_hubs_keys(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path], tmp_path: Path
) -> None:
    path = await exported_file(city, capsys, exported, "geojson")
    stranger = Keyring.generate()
    run = await hub(capsys, "verify", str(path), f"{path}.sig", "--public-key", stranger.sm2_public)
    assert run.status == 1
    assert f"the signature does not match the public key {stranger.sm2_public}" in run.err
    stranger.save(tmp_path / "other.keys")
    run = await hub(capsys, "verify", str(path), f"{path}.sig", "--keys", str(tmp_path / "other.keys"))
    assert run.status == 1
    assert "the signature does not match the public key" in run.err
    # a file re-signed by the stranger, with the stranger's key in the .sig: intact, but not ours
    from hub.export import sign_file

    (tmp_path / "resigned.geojson").write_bytes(path.read_bytes())
    resigned = sign_file(tmp_path / "resigned.geojson", stranger)
    (tmp_path / "resigned.geojson.sig").write_text(resigned.to_json(), encoding="utf-8")
    alone = await hub(capsys, "verify", str(tmp_path / "resigned.geojson"), str(tmp_path / "resigned.geojson.sig"))
    assert alone.status == 0 and "not who signed it" in alone.out
    ours = await hub(capsys, "verify", str(tmp_path / "resigned.geojson"), str(tmp_path / "resigned.geojson.sig"), "--keys", str(city.keys_path))
    assert ours.status == 1
    assert "does not match the public key" in ours.err


async def test_a_malformed_public_key_is_a_usage_error(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    run = await hub(capsys, "verify", str(path), f"{path}.sig", "--public-key", "04abc")
    assert run.status == 2
    assert "--public-key" in run.err and "128 hex digits" in run.err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"algorithm": "SM2-SM3"}', "no signer_id"),
        ("RSA", "not JSON"),
        ("algorithm", "not JSON"),
    ],
)
async def test_verify_rejects_what_is_not_a_signature_file(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path], tmp_path: Path, content: str, reason: str
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    garbage = tmp_path / "garbage.sig"
    garbage.write_text(content, encoding="utf-8")
    run = await hub(capsys, "verify", str(path), str(garbage))
    assert run.status == 1
    assert f"{garbage} is not a signature file: {reason}" in run.err


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"algorithm": "RSA-SHA256"}, "algorithm is 'RSA-SHA256'"),
        ({"signature": "00"}, "signature is not 128"),
        ({"sm3": "zz"}, "sm3 is not 64"),
        ({"public_key": "04" + "0" * 128}, "not a point on the curve"),
        ({"signed_at": 5}, "no signed_at"),
    ],
)
async def test_verify_rejects_a_signature_file_with_a_bad_field(
    city: City,
    capsys: pytest.CaptureFixture[str],
    exported: dict[str, Path],
    tmp_path: Path,
    change: dict[str, object],
    reason: str,
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    signature = json.loads(Path(f"{path}.sig").read_text(encoding="utf-8"))
    signature.update(change)
    bad = tmp_path / "bad.sig"
    bad.write_text(json.dumps(signature), encoding="utf-8")
    run = await hub(capsys, "verify", str(path), str(bad))
    assert run.status == 1
    assert "is not a signature file" in run.err and reason in run.err


async def test_verify_says_when_a_file_is_missing(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path], tmp_path: Path
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    run = await hub(capsys, "verify", str(tmp_path / "absent.csv"), f"{path}.sig")
    assert run.status == 1 and "no such file" in run.err
    run = await hub(capsys, "verify", str(path), str(tmp_path / "absent.sig"))
    assert run.status == 1 and "is not a signature file: no such file" in run.err


async def test_each_export_is_audited(
    city: City, capsys: pytest.CaptureFixture[str], exported: dict[str, Path]
) -> None:
    path = await exported_file(city, capsys, exported, "csv")
    entries = [entry for entry in await city.store.audit_tail(100) if entry.action == "export"]
    signature = json.loads(Path(f"{path}.sig").read_text(encoding="utf-8"))
    assert any(
        entry.target == city.street.code and entry.detail == {"format": "csv", "file": path.name, "sm3": signature["sm3"]}
        for entry in entries
    )
