"""Removing a large file: out of its name first, then freed from its end in steps; nothing
left behind whatever a crash interrupted; nothing a planted link points to is touched. The
memory state files, volumes and volume snapshots of the libvirt backend are removed so."""

from __future__ import annotations

import os

from driver import files

MIB = 1 << 20


def test_a_file_is_freed_in_bounded_steps_after_leaving_its_name(tmp_path, monkeypatch):
    path = str(tmp_path / "ROOT-1.qcow2")
    with open(path, "wb") as fh:
        fh.write(os.urandom(5 * MIB + 100))
    monkeypatch.setattr(files, "RELEASE_STEP", MIB)
    steps: list[tuple[int, bool]] = []
    truncate = os.ftruncate

    def recording(fd: int, length: int) -> None:
        steps.append((length, os.path.exists(path)))
        truncate(fd, length)

    monkeypatch.setattr(os, "ftruncate", recording)
    assert files.release(path)
    lengths = [length for length, _ in steps]
    assert lengths[-1] == 0
    assert all(0 < a - b <= MIB for a, b in zip([5 * MIB + 100, *lengths], lengths,
                                               strict=False))
    assert not any(under_its_name for _, under_its_name in steps)
    assert os.listdir(tmp_path) == []
    assert not files.release(path)  # idempotent: nothing left to remove


def test_a_removal_a_crash_interrupted_is_finished_by_the_next(tmp_path):
    path = str(tmp_path / "ROOT-1.qcow2")
    with open(files.doomed(path), "wb") as fh:
        fh.write(b"half freed")
    assert files.release(path)  # only the leftover: the resent delete finishes it
    assert os.listdir(tmp_path) == []
    for name in (path, files.doomed(path)):
        with open(name, "wb") as fh:
            fh.write(b"x" * 4096)
    assert files.release(path)
    assert os.listdir(tmp_path) == []


def test_a_link_planted_under_the_hidden_name_is_only_unlinked(tmp_path):
    pool, outside = tmp_path / "pool", tmp_path / "outside"
    pool.mkdir()
    outside.write_bytes(b"keep me")
    path = str(pool / "ROOT-1.qcow2")
    with open(path, "wb") as fh:
        fh.write(b"x" * 4096)
    os.symlink(outside, files.doomed(path))
    assert files.release(path)
    assert os.listdir(pool) == []
    assert outside.read_bytes() == b"keep me"
