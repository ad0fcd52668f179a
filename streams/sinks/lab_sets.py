"""The store side of a plant's lab sets: typed functions over ``lab_images``, ``lab_set_images``
and ``lab_sets`` (``schemas/clickhouse/120_lab_sets.sql``).

A set version is identified by its digest (:func:`streams.lab.importer.lab_set_digest`) and named;
:func:`save_lab_set` writes its images (each distinct image once), its boxes and lighting, and
last its ``lab_sets`` row, so :func:`load_lab_set` never sees half a set. Saving a name and digest
that are stored already writes nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from schemas.records import StoreRecord
from streams.errors import LabSetError
from streams.evaluation.boxes import TruthBox
from streams.lab.sample import LabImage, LabSetInfo
from streams.sinks.clickhouse import ClickHouseStore

__all__ = ["lab_sets", "load_lab_set", "save_lab_set"]

_CHUNK = 200  # images per INSERT: bounds the memory of one insert block


class _LabImageRow(StoreRecord):
    __table__: ClassVar[str] = "lab_images"
    __key__: ClassVar[tuple[str, ...]] = ("image_id",)
    image_id: str
    encoding: str
    width: int
    height: int
    data: bytes


class _LabSetImageRow(StoreRecord):
    __table__: ClassVar[str] = "lab_set_images"
    __key__: ClassVar[tuple[str, ...]] = ("set_digest", "image_id")
    set_digest: str
    image_id: str
    file_name: str
    lux: float | None
    colour_temp_k: float | None
    box_class: list[str]
    box_x1: list[float]
    box_y1: list[float]
    box_x2: list[float]
    box_y2: list[float]


class _LabSetRow(StoreRecord):
    __table__: ClassVar[str] = "lab_sets"
    __key__: ClassVar[tuple[str, ...]] = ("name", "set_digest", "imported_at")
    name: str
    set_digest: str
    source_format: str
    source_path: str
    classes: list[str]
    novel_classes: list[str]
    images: int
    boxes: int
    imported_at: datetime


_LATEST = """
SELECT name, set_digest, source_format, classes, novel_classes, images, boxes, imported_at
FROM linewatch.lab_sets FINAL
ORDER BY imported_at DESC, name
"""


def _info(row: Sequence[Any]) -> LabSetInfo:
    name, digest, fmt, classes, novel, images, boxes, imported_at = row
    return LabSetInfo(
        name=str(name),
        digest=str(digest),
        source_format=str(fmt),
        classes=tuple(classes),
        novel_classes=tuple(novel),
        images=int(images),
        boxes=int(boxes),
        imported_at=imported_at.astimezone(UTC) if imported_at is not None else None,
    )


def _encoding(data: bytes) -> str:
    return "png" if data.startswith(b"\x89PNG") else "jpeg"


def _stored_images(store: ClickHouseStore, ids: Sequence[str]) -> set[str]:
    rows = store.query(
        "SELECT image_id FROM linewatch.lab_images WHERE image_id IN {ids:Array(String)}",
        {"ids": list(ids)},
    ).result_rows
    return {str(r[0]) for r in rows}


def _save_images(store: ClickHouseStore, digest: str, chunk: Sequence[LabImage]) -> None:
    """Store a chunk of a set's images: the image bytes not stored yet (an image can belong
    to several sets) and the set's row of each (file name, lighting, boxes)."""
    have = _stored_images(store, [i.image_id for i in chunk])
    store.insert_new_rows(
        _LabImageRow,
        [
            (i.image_id, _encoding(i.data), i.width, i.height, i.data)
            for i in chunk
            if i.image_id not in have
        ],
    )
    store.insert_new_rows(
        _LabSetImageRow,
        [
            (
                digest,
                i.image_id,
                i.file_name,
                i.lux,
                i.colour_temp_k,
                [b.class_name for b in i.boxes],
                [float(b.box[0]) for b in i.boxes],
                [float(b.box[1]) for b in i.boxes],
                [float(b.box[2]) for b in i.boxes],
                [float(b.box[3]) for b in i.boxes],
            )
            for i in chunk
        ],
    )


def save_lab_set(
    store: ClickHouseStore,
    info: LabSetInfo,
    images: Sequence[LabImage],
    *,
    source_path: str = "",
    imported_at: datetime | None = None,
) -> bool:
    """Store the lab set ``info`` with its ``images``; ``False`` when it was stored already
    (same name, digest and novel classes: nothing written).

    ``info.digest`` must be the digest of ``images`` and ``info.images`` / ``info.boxes`` their
    counts (the importer's :class:`~streams.lab.importer.LabSetRead` gives all three).
    """
    if info.images != len(images) or info.boxes != sum(len(i.boxes) for i in images):
        raise LabSetError(
            f"lab set {info.name}: info says {info.images} images / {info.boxes} boxes, "
            f"got {len(images)} / {sum(len(i.boxes) for i in images)}",
            [],
        )
    stored = store.query(
        "SELECT count() FROM linewatch.lab_sets FINAL WHERE name = {n:String} "
        "AND set_digest = {d:String} AND novel_classes = {v:Array(String)}",
        {"n": info.name, "d": info.digest, "v": list(info.novel_classes)},
    ).result_rows
    if stored and int(stored[0][0]):
        return False
    listed = store.query(
        "SELECT uniqExact(image_id) FROM linewatch.lab_set_images WHERE set_digest = {d:String}",
        {"d": info.digest},
    ).result_rows
    complete = bool(listed) and int(listed[0][0]) == len(images)  # the digest stored, other name
    for start in range(0 if not complete else len(images), len(images), _CHUNK):
        _save_images(store, info.digest, images[start : start + _CHUNK])
    store.insert_new_rows(
        _LabSetRow,
        [
            (
                info.name,
                info.digest,
                info.source_format,
                source_path,
                list(info.classes),
                list(info.novel_classes),
                info.images,
                info.boxes,
                imported_at or datetime.now(UTC),
            )
        ],
    )
    return True


def lab_sets(store: ClickHouseStore) -> list[LabSetInfo]:
    """The latest version of every named lab set, most recently imported first (none on a store
    without the lab tables yet)."""
    present = store.query(
        "SELECT count() FROM system.tables WHERE database = 'linewatch' AND name = 'lab_sets'"
    ).result_rows
    if not present or not int(present[0][0]):
        return []
    rows = store.query(_LATEST + "LIMIT 1 BY name").result_rows
    return [_info(r) for r in rows]


def load_lab_set(
    store: ClickHouseStore, name: str | None = None
) -> tuple[LabSetInfo, list[LabImage]]:
    """The lab set ``name`` (its latest version; ``None``: the most recently imported set) and
    its images, ordered by file name.

    Raises :class:`~streams.errors.LabSetError` when there is no such set.
    """
    sets = lab_sets(store)
    if not sets:
        raise LabSetError(
            f"the store {store.dsn} holds no lab set; import one with `linewatch lab import PATH "
            f"--store {store.dsn}`",
            [],
        )
    chosen = sets[0] if name is None else next((s for s in sets if s.name == name), None)
    if chosen is None:
        raise LabSetError(
            f"no lab set named {name!r} in {store.dsn} (lab sets: "
            f"{', '.join(s.name for s in sets)}); see `linewatch lab list`",
            [],
        )
    images = _load_images(store, chosen.digest)
    if len(images) != chosen.images:
        raise LabSetError(
            f"lab set {chosen.name} ({chosen.digest[:12]}) lists {chosen.images} images but "
            f"{len(images)} are stored; import it again (`linewatch lab import`)",
            [],
        )
    return chosen, images


def _load_images(store: ClickHouseStore, digest: str) -> list[LabImage]:
    """The images of the set with ``digest``, with their boxes, ordered by file name."""
    rows = store.query(
        """
        SELECT s.image_id, s.file_name, s.lux, s.colour_temp_k,
               s.box_class, s.box_x1, s.box_y1, s.box_x2, s.box_y2,
               i.width, i.height, base64Encode(i.data)
        FROM (SELECT * FROM linewatch.lab_set_images FINAL WHERE set_digest = {d:String}) AS s
        INNER JOIN (
            SELECT image_id, width, height, data FROM linewatch.lab_images FINAL
            WHERE image_id IN (
                SELECT image_id FROM linewatch.lab_set_images WHERE set_digest = {d:String}
            )
        ) AS i ON s.image_id = i.image_id
        ORDER BY s.file_name
        """,
        {"d": digest},
    ).result_rows
    return [
        LabImage(
            image_id=str(image_id),
            file_name=str(file_name),
            data=base64.b64decode(data),
            boxes=tuple(
                TruthBox(str(c), (float(a), float(b), float(x), float(y)))
                for c, a, b, x, y in zip(cls, x1, y1, x2, y2, strict=True)
            ),
            width=int(width),
            height=int(height),
            lux=None if lux is None else float(lux),
            colour_temp_k=None if colour is None else float(colour),
        )
        for image_id, file_name, lux, colour, cls, x1, y1, x2, y2, width, height, data in rows
    ]
