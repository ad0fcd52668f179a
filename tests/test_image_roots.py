"""The image root cannot be swapped (issue 17, case 5).

An image root is opened once, as a directory descriptor, and every frame is opened below it
with ``openat(O_NOFOLLOW)`` one component at a time. Swapping the root for a symlink, or a
folder under it between directory and symlink, while frames are read never returns a file from
outside, and never raises out of the event: each read is the real frame or a dead letter.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streams.config import Settings
from streams.errors import ConfigError, EventRejected
from streams.ingest import IngestLimits, decode_frame, parse_event
from tests.hostile_inputs import event

INSIDE, OUTSIDE = (10, 200, 30), (250, 5, 5)


def _png(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)


def _limits(*roots: Path) -> IngestLimits:
    return IngestLimits.from_settings(Settings(ingest={"image_roots": [str(r) for r in roots]}))


def _read(uri: str, limits: IngestLimits) -> str:
    """``inside``/``outside`` by the frame's colour, else the dead-letter reason."""
    try:
        rgb = decode_frame(parse_event(event({"uri": uri}), limits), limits).rgb
    except EventRejected as exc:
        return exc.reason
    colour = tuple(int(v) for v in rgb[0, 0])
    return "inside" if colour == INSIDE else "outside" if colour == OUTSIDE else str(colour)


def _hammer(swap: Callable[[], None], reads: int, uri: str, limits: IngestLimits) -> Counter[str]:
    """Read ``uri`` ``reads`` times while ``swap()`` runs in a loop in another thread."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                swap()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        seen = Counter(_read(uri, limits) for _ in range(reads))
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors
    return seen


@pytest.fixture
def world(tmp_path: Path) -> Path:
    _png(tmp_path / "root" / "cam" / "f.png", INSIDE)
    _png(tmp_path / "outside" / "cam" / "f.png", OUTSIDE)
    return tmp_path


def test_swapping_the_root_for_a_symlink_never_serves_the_outside_file(world: Path) -> None:
    root, real, outside = world / "root", world / "root.real", world / "outside"
    limits = _limits(root)

    def swap() -> None:  # the root becomes a symlink to outside, then the directory again
        os.rename(root, real)
        os.symlink(outside, root)
        os.unlink(root)
        os.rename(real, root)

    seen = _hammer(swap, 3000, f"file://{root}/cam/f.png", limits)
    print(f"root swapped for a symlink while read: {dict(seen)}")
    assert seen["outside"] == 0, seen
    assert seen["inside"] == 3000, seen  # the root is held open: the swap changes nothing


def _exchange() -> Callable[[str, str], None] | None:
    """Linux ``renameat2(RENAME_EXCHANGE)``: swap two paths atomically (None where missing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return None
    at_fdcwd, rename_exchange = -100, 2

    def exchange(a: str, b: str) -> None:
        if renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(), rename_exchange) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return exchange


def test_a_folder_toggling_between_directory_and_symlink_never_serves_the_outside_file(
    world: Path,
) -> None:
    root, outside = world / "root", world / "outside"
    limits = _limits(root)
    cam, link = root / "cam", root / "cam.link"
    link.symlink_to(outside / "cam")
    exchange = _exchange()
    if exchange is not None:  # root/cam is always there: a directory or a symlink to outside

        def toggle() -> None:
            exchange(str(cam), str(link))

    else:  # pragma: no cover - renameat2 exists on every supported Linux
        kept = root / "cam.real"

        def toggle() -> None:
            os.rename(cam, kept)
            os.rename(link, cam)
            os.rename(cam, link)
            os.rename(kept, cam)

    seen = _hammer(toggle, 4000, f"file://{root}/cam/f.png", limits)
    print(f"a folder toggled between directory and symlink while read: {dict(seen)}")
    assert seen["outside"] == 0, seen
    # the frame, or the symlink refused as such: never a read error, never an exception
    assert set(seen) <= {"inside", "image_uri_refused"}, seen
    assert seen["inside"] > 0 and seen["image_uri_refused"] > 0, seen


def test_root_replaced_after_start_still_serves_the_directory_that_was_opened(
    world: Path,
) -> None:
    root = world / "root"
    limits = _limits(root)
    os.rename(root, world / "moved")
    os.symlink(world / "outside", root)
    assert _read(f"file://{root}/cam/f.png", limits) == "inside"


def test_dot_dot_is_refused_even_when_it_stays_under_the_root(world: Path) -> None:
    root = world / "root"
    limits = _limits(root)
    assert _read(f"file://{root}/cam/f.png", limits) == "inside"
    assert _read(f"file://{root}/./cam//f.png", limits) == "inside"  # '.' and '//' are no-ops
    for uri in (
        f"file://{root}/cam/../cam/f.png",
        f"file://{root}/../outside/cam/f.png",
        f"file://{root}/cam/%2e%2e/cam/f.png",
    ):
        with pytest.raises(EventRejected, match=r"'\.\.' is not allowed") as info:
            decode_frame(parse_event(event({"uri": uri}), limits), limits)
        assert info.value.reason == "image_uri_refused"


def test_symlinks_under_the_root_are_not_followed(world: Path) -> None:
    root, outside = world / "root", world / "outside"
    (root / "inside-link.png").symlink_to(root / "cam" / "f.png")  # even to a file inside
    (root / "out").symlink_to(outside / "cam")
    limits = _limits(root)
    for name in ("inside-link.png", "out/f.png"):
        with pytest.raises(EventRejected, match="symlinks under an image root are not followed"):
            decode_frame(parse_event(event({"uri": f"file://{root}/{name}"}), limits), limits)


def test_a_root_configured_through_a_symlink_serves_both_spellings(world: Path) -> None:
    (world / "alias").symlink_to(world / "root")
    limits = _limits(world / "alias")
    assert _read(f"file://{world}/alias/cam/f.png", limits) == "inside"
    assert _read(f"file://{world}/root/cam/f.png", limits) == "inside"
    assert _read(f"file://{world}/outside/cam/f.png", limits) == "image_uri_refused"


def test_a_root_that_cannot_be_opened_is_one_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for root, why in ((tmp_path / "missing", "No such file"), (tmp_path / "file", "Not a dir")):
        with pytest.raises(ConfigError, match=f"LINEWATCH_INGEST__IMAGE_ROOTS: .*{why}"):
            _limits(root)


def test_the_walk_holds_no_descriptor_after_a_read(world: Path) -> None:
    limits = _limits(world / "root")
    before = len(os.listdir("/proc/self/fd"))
    for name in ("cam/f.png", "cam/missing.png", "cam", "cam/f.png/x"):
        _read(f"file://{world}/root/{name}", limits)
    assert len(os.listdir("/proc/self/fd")) == before
    assert np.asarray(Image.open(world / "root" / "cam" / "f.png"))[0, 0].tolist() == [10, 200, 30]
