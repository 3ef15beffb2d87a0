"""Removing a memory state file: out of its name first, then freed from its end in steps;
nothing left behind, whatever a crash interrupted; nothing outside the pool touched."""

from __future__ import annotations

import os

from driver.hypervisors.libvirt import memstate

MIB = 1 << 20


def _state(folder: str, data: bytes) -> str:
    path = memstate.state_path(folder, "i-2-10-VM", "s1")
    with open(path, "wb") as fh:
        fh.write(memstate.MAGIC_COMPLETE + data)
    return path


def test_a_state_file_is_freed_in_bounded_steps_after_leaving_its_name(tmp_path, monkeypatch):
    path = _state(str(tmp_path), os.urandom(5 * MIB))
    size = os.path.getsize(path)
    monkeypatch.setattr(memstate, "RELEASE_STEP", MIB)
    steps: list[tuple[int, bool]] = []
    truncate = os.ftruncate

    def recording(fd: int, length: int) -> None:
        steps.append((length, os.path.exists(path)))
        truncate(fd, length)

    monkeypatch.setattr(os, "ftruncate", recording)
    memstate.remove(path)
    lengths = [length for length, _ in steps]
    assert lengths[-1] == 0
    assert all(0 < a - b <= MIB for a, b in zip([size, *lengths], lengths, strict=False))
    assert not any(under_its_name for _, under_its_name in steps)
    assert os.listdir(tmp_path) == []


def test_a_removal_a_crash_interrupted_is_finished(tmp_path):
    path = _state(str(tmp_path), b"x" * 4096)
    partial = memstate.partial_path(path)
    for leftover in (memstate._doomed(path), memstate._doomed(partial), partial):
        with open(leftover, "wb") as fh:
            fh.write(b"y" * 1000)
    memstate.remove(path)
    assert os.listdir(tmp_path) == []
    memstate.remove(path)  # idempotent
    assert not memstate.exists(path)


def test_a_link_planted_under_the_removal_name_is_only_unlinked(tmp_path):
    pool, outside = tmp_path / "pool", tmp_path / "outside"
    pool.mkdir()
    outside.write_bytes(b"keep me")
    path = _state(str(pool), b"x" * 4096)
    os.symlink(outside, memstate._doomed(path))
    memstate.remove(path)
    assert os.listdir(pool) == []
    assert outside.read_bytes() == b"keep me"


def test_a_partial_file_a_writer_finds_is_removed_the_same_way(tmp_path):
    path = memstate.state_path(str(tmp_path), "i-2-10-VM", "s1")
    partial = memstate.partial_path(path)
    with open(partial, "wb") as fh:
        fh.write(b"z" * 3 * MIB)
    writer = memstate.StateWriter(path, "<domain/>", running=True)
    os.write(writer.fd, b"stream")
    writer.commit()
    assert os.listdir(tmp_path) == [os.path.basename(path)]
    assert memstate.is_complete(path)
    writer.discard()  # after commit: nothing of the complete file goes
    assert memstate.is_complete(path)
