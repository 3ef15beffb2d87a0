"""A memory state file and its partial twin are removed the way every large file is
(:mod:`driver.files`): whatever a crash left of them, nothing stays behind."""

from __future__ import annotations

import os

from driver import files
from driver.hypervisors.libvirt import memstate


def test_a_state_file_and_everything_a_crash_left_of_it_are_removed(tmp_path):
    path = memstate.state_path(str(tmp_path), "i-2-10-VM", "s1")
    partial = memstate.partial_path(path)
    for name in (path, partial, files.doomed(path), files.doomed(partial)):
        with open(name, "wb") as fh:
            fh.write(memstate.MAGIC_COMPLETE + b"y" * 1000)
    memstate.remove(path)
    assert os.listdir(tmp_path) == []
    memstate.remove(path)  # idempotent
    assert not memstate.exists(path)


def test_a_partial_file_a_writer_finds_is_removed_before_it_writes(tmp_path):
    path = memstate.state_path(str(tmp_path), "i-2-10-VM", "s1")
    with open(memstate.partial_path(path), "wb") as fh:
        fh.write(b"z" * (3 << 20))
    writer = memstate.StateWriter(path, "<domain/>", running=True)
    os.write(writer.fd, b"stream")
    writer.commit()
    assert os.listdir(tmp_path) == [os.path.basename(path)]
    assert memstate.is_complete(path)
    writer.discard()  # after the commit: the complete file stays
    assert memstate.is_complete(path)
