"""``linewatch lab import`` / ``lab list`` and the lab-set store API on the second world's lab set
(tests/world2), written as COCO, YOLO and Pascal VOC; broken files each give a per-file error
and store nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from streams.cli.groups import CliGroups
from streams.cli.lab import register
from streams.errors import LabSetError
from streams.lab import LabImage, LabSetInfo
from streams.lab.importer import detect_format, lab_set_digest, read_lab_set
from streams.sinks import ClickHouseStore
from streams.sinks.lab_sets import lab_sets, load_lab_set, save_lab_set
from tests.world2 import LabSample, expected_lab_images

TABLES = ("lab_images", "lab_set_images", "lab_sets")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app, CliGroups.attach(app))
    return app


def _store(tmp_path: Path) -> str:
    return f"chdb://{tmp_path / 'store'}"


def _counts(dsn: str) -> dict[str, int]:
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
        return {
            t: int(store.query(f"SELECT count() FROM linewatch.{t}").result_rows[0][0])
            for t in TABLES
        }


def _import(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["lab", "import", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("fixture", ["world2_coco", "world2_yolo", "world2_voc"])
def test_each_format_reads_as_the_same_lab_images(
    fixture: str, request: pytest.FixtureRequest, world2_lab: list[LabSample]
) -> None:
    folder: Path = request.getfixturevalue(fixture)
    read = read_lab_set(folder)
    assert read.source_format == fixture.removeprefix("world2_")
    expected = expected_lab_images(world2_lab)
    assert list(read.images) == expected  # same ids, boxes, sizes, lighting, file names
    assert read.digest == lab_set_digest(expected)
    assert sorted(read.classes) == ["burr", "chip", "scratch"]
    assert all(i.lux is not None and i.colour_temp_k is not None for i in read.images)


def test_the_digest_ignores_order_and_file_names(world2_lab: list[LabSample]) -> None:
    images = expected_lab_images(world2_lab)
    renamed = [
        LabImage(
            i.image_id,
            "x" + i.file_name,
            i.data,
            i.boxes[::-1],
            i.width,
            i.height,
            i.lux,
            i.colour_temp_k,
        )
        for i in reversed(images)
    ]
    assert lab_set_digest(renamed) == lab_set_digest(images)
    moved = [images[0].boxes[0].__class__(images[0].boxes[0].class_name, (0.0, 0.0, 5.0, 5.0))]
    changed = [
        LabImage(
            images[0].image_id,
            images[0].file_name,
            images[0].data,
            tuple(moved),
            images[0].width,
            images[0].height,
        ),
        *images[1:],
    ]
    assert lab_set_digest(changed) != lab_set_digest(images)


def test_import_the_three_formats_then_list_and_load(  # noqa: PLR0917 (fixtures)
    app: typer.Typer,
    tmp_path: Path,
    world2_coco: Path,
    world2_yolo: Path,
    world2_voc: Path,
    world2_lab: list[LabSample],
) -> None:
    dsn = _store(tmp_path)
    digests = set()
    for name, folder in (("coco", world2_coco), ("yolo", world2_yolo), ("voc", world2_voc)):
        code, out = _import(app, str(folder), "--name", name, "--novel", "scratch", "--store", dsn)
        assert code == 0, out
        assert f"imported lab set {name} ({name}, 36 images" in out
        digests.add(out.split(" digest ")[1].split()[0])
    assert len(digests) == 1
    counts = _counts(dsn)
    # images are stored once for the three names; one image list per digest
    assert counts == {"lab_images": 36, "lab_set_images": 36, "lab_sets": 3}

    result = CliRunner().invoke(app, ["lab", "list", "--store", dsn])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:6] == ["name", "digest", "format", "images", "boxes", "classes"]
    assert {line.split()[0] for line in lines[1:]} == {"coco", "yolo", "voc"}
    assert all("burr,chip,scratch" in line for line in lines[1:])

    with ClickHouseStore.open(dsn) as store:
        latest, images = load_lab_set(store, None)
        assert latest.name == "voc"  # the last import
        coco, coco_images = load_lab_set(store, "coco")
        sets = lab_sets(store)
    assert images == coco_images == expected_lab_images(world2_lab)
    assert coco.novel_classes == ("scratch",) and coco.classes == ("burr", "chip", "scratch")
    assert coco.images == 36 and coco.boxes == sum(len(i.boxes) for i in images)
    assert coco.imported_at is not None and coco.imported_at.tzinfo is not None
    assert [s.name for s in sets] == ["voc", "yolo", "coco"]


def test_reimport_changes_nothing(app: typer.Typer, tmp_path: Path, world2_coco: Path) -> None:
    dsn = _store(tmp_path)
    assert _import(app, str(world2_coco), "--name", "plates", "--store", dsn)[0] == 0
    before = _counts(dsn)
    code, out = _import(app, str(world2_coco), "--name", "plates", "--store", dsn)
    assert code == 0 and "already stored, nothing changed" in out
    assert _counts(dsn) == before
    # the same images marked with a novel class: a new version of the name, no image rewritten
    code, out = _import(
        app, str(world2_coco), "--name", "plates", "--novel", "scratch", "--store", dsn
    )
    assert code == 0 and "imported lab set plates" in out
    after = _counts(dsn)
    assert after["lab_images"] == before["lab_images"]
    assert after["lab_set_images"] == before["lab_set_images"]
    with ClickHouseStore.open(dsn) as store:
        [info] = lab_sets(store)
        assert info.novel_classes == ("scratch",)
        info_again = LabSetInfo(
            info.name,
            info.digest,
            info.source_format,
            info.classes,
            info.novel_classes,
            info.images,
            info.boxes,
        )
        assert save_lab_set(store, info_again, load_lab_set(store, "plates")[1]) is False


def test_unknown_lab_set_and_empty_store_say_what_to_do(tmp_path: Path) -> None:
    with ClickHouseStore.open(_store(tmp_path)) as store:
        store.apply_schema()
        with pytest.raises(LabSetError, match="holds no lab set; import one"):
            load_lab_set(store)


def test_novel_class_must_be_a_lab_class(
    app: typer.Typer, tmp_path: Path, world2_yolo: Path
) -> None:
    dsn = _store(tmp_path)
    code, out = _import(app, str(world2_yolo), "--novel", "dent", "--store", dsn)
    assert code == 2 and "error: --novel dent: not a class of this lab set" in out
    assert _counts(dsn) == dict.fromkeys(TABLES, 0)


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def _break_coco_json(root: Path) -> str:
    path = root / "annotations.json"
    path.write_text(path.read_text()[:-40])
    return "annotations.json line"


def _box_outside(root: Path) -> str:
    path = root / "annotations.json"
    doc = json.loads(path.read_text())
    doc["annotations"][3]["bbox"] = [150, 100, 80, 20]  # 150 + 80 > 200 px wide
    path.write_text(json.dumps(doc))
    return "annotations[3].bbox: box [150.0, 100.0, 230.0, 120.0] lies outside the 200x150"


def _unknown_image(root: Path) -> str:
    path = root / "annotations.json"
    doc = json.loads(path.read_text())
    doc["images"][5]["file_name"] = "plate_9999.jpg"
    path.write_text(json.dumps(doc))
    return "images[5].file_name: no image file 'plate_9999.jpg'"


def _bad_yolo_line(root: Path) -> str:
    label = sorted((root / "labels").glob("*.txt"))[4]
    label.write_text(label.read_text() + "1 0.5 0.5 0.1\n")
    return f"{label.name} line"


def _bad_yolo_class(root: Path) -> str:
    label = sorted((root / "labels").glob("*.txt"))[2]
    label.write_text("7 0.5 0.5 0.1 0.1\n")
    return f"{label.name} line 1: class 7 has no name"


def _bad_xml(root: Path) -> str:
    xml = sorted((root / "Annotations").glob("*.xml"))[1]
    xml.write_text(xml.read_text().replace("</annotation>", "</annotaton>"))
    return f"{xml.name} line"


def _voc_not_a_number(root: Path) -> str:
    xml = sorted((root / "Annotations").glob("*.xml"))[0]
    text = xml.read_text()
    xml.write_text(
        text.replace("<size>", "<size>\n", 1).replace("<width>200</width>", "<width>2OO</width>")
    )
    return f"{xml.name} <size>/width: must be a whole number"


def _truncated_image(root: Path) -> str:
    image = sorted((root / "images").glob("*.jpg"))[0]
    image.write_bytes(image.read_bytes()[:300])
    return f"{image.name}: is not a readable JPEG or PNG image"


def _bad_sidecar(root: Path) -> str:
    (root / "lighting.csv").write_text("file_name,lux,colour_temp_k\nplate_0000.jpg,bright,5000\n")
    return "lighting.csv line 2 lux: must be a number"


BROKEN: dict[str, tuple[str, Callable[[Path], str]]] = {
    "bad JSON": ("world2_coco", _break_coco_json),
    "box outside the image": ("world2_coco", _box_outside),
    "unknown image file": ("world2_coco", _unknown_image),
    "bad YOLO line": ("world2_yolo", _bad_yolo_line),
    "YOLO class without a name": ("world2_yolo", _bad_yolo_class),
    "bad XML": ("world2_voc", _bad_xml),
    "VOC size not a number": ("world2_voc", _voc_not_a_number),
    "truncated image": ("world2_coco", _truncated_image),
    "bad lighting sidecar": ("world2_yolo", _bad_sidecar),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_file_names_itself_and_stores_nothing(
    case: str, app: typer.Typer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fixture, breaker = BROKEN[case]
    root = _copy(request.getfixturevalue(fixture), tmp_path)
    expected = breaker(root)
    code, out = _import(app, str(root), "--name", "broken", "--store", _store(tmp_path))
    assert code == 2 and expected in out
    assert not (tmp_path / "store").exists()  # checked before the store is even opened
    with pytest.raises(LabSetError) as info:
        read_lab_set(root)
    message = str(info.value)
    assert expected in message, message
    assert "nothing was imported" in message.splitlines()[0]


def test_a_failed_import_leaves_the_stored_sets_as_they_were(
    app: typer.Typer, tmp_path: Path, world2_coco: Path
) -> None:
    dsn = _store(tmp_path)
    assert _import(app, str(world2_coco), "--name", "plates", "--store", dsn)[0] == 0
    before = _counts(dsn)
    root = _copy(world2_coco, tmp_path)
    _box_outside(root)
    assert _import(app, str(root), "--name", "plates", "--store", dsn)[0] == 2
    assert _counts(dsn) == before


def test_format_detection(
    world2_coco: Path, world2_yolo: Path, world2_voc: Path, tmp_path: Path
) -> None:
    assert detect_format(world2_coco) == "coco"
    assert detect_format(world2_coco / "annotations.json") == "coco"
    assert detect_format(world2_yolo) == "yolo"
    assert detect_format(world2_yolo / "data.yaml") == "yolo"
    assert detect_format(world2_voc) == "voc"
    with pytest.raises(LabSetError, match=r"matches no format.*--format"):
        detect_format(tmp_path)


def test_images_elsewhere_with_images_option(
    app: typer.Typer, tmp_path: Path, world2_coco: Path, world2_lab: list[LabSample]
) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    shutil.copy(world2_coco / "annotations.json", labels / "annotations.json")
    frames = Path(shutil.copytree(world2_coco / "images", tmp_path / "frames"))
    with pytest.raises(LabSetError, match="no image file"):
        read_lab_set(labels / "annotations.json")
    read = read_lab_set(labels / "annotations.json", "coco", images=frames)
    assert list(read.images) == expected_lab_images(world2_lab)


def test_row_models_match_the_tables(tmp_path: Path) -> None:
    from streams.sinks import lab_sets as module

    rows = (module._LabImageRow, module._LabSetImageRow, module._LabSetRow)
    with ClickHouseStore.open(_store(tmp_path)) as store:
        store.apply_schema()
        for model in rows:
            columns = [
                r[0]
                for r in store.query(
                    "SELECT name FROM system.columns WHERE database = 'linewatch' "
                    "AND table = {t:String} ORDER BY position",
                    {"t": model.__table__},
                ).result_rows
            ]
            assert columns == list(model.model_fields), model.__table__


def test_list_on_a_new_store_says_how_to_import(app: typer.Typer, tmp_path: Path) -> None:
    dsn = _store(tmp_path)
    with ClickHouseStore.open(dsn) as store:
        store.apply_schema()
    result = CliRunner().invoke(app, ["lab", "list", "--store", dsn])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"no lab set in {dsn}; import one with `linewatch lab import PATH --store {dsn}`"
    )


def test_files_written_on_windows_read_the_same(
    tmp_path: Path, world2_yolo: Path, world2_coco: Path
) -> None:
    for src in (world2_yolo, world2_coco):
        root = _copy(src, tmp_path)
        for path in [*root.rglob("*.txt"), *root.rglob("*.yaml"), *root.rglob("*.json")]:
            text = path.read_text().replace("\n", "\r\n")
            path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert read_lab_set(root).digest == read_lab_set(src).digest


def test_the_cli_starts_without_the_lab_readers() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, streams.cli; "
        "print('yaml' in sys.modules, 'streams.lab.importer' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]
