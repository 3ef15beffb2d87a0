"""The world INI's primary storage: the default pool, declared Filesystem and RBD pools, the
in-process driver's storage settings taken from them, and pools that do not fit refused at
start-up with a line that names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import load_config
from simulator.hosts import driver_settings

CEPH = ("[pool:ceph1]\ntype = RBD\nhost = 10.0.0.11\npath = cloudstack\ntags = ceph\n"
        "user = cloudstack\nkeyring = /etc/ceph/k\nlibvirt_secret = 0f1a\n")


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "world.ini"
    path.write_text(text)
    return str(path)


def test_without_pools_each_zone_has_one_filesystem_pool(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[zone:a]\n[zone:b]\n"), environ={},
                      data_dir=str(tmp_path / "data"))
    pools = cfg.storage()
    assert [(p.name, p.zone, p.type, p.path) for p in pools] == [
        ("a-primary", "a", "Filesystem", cfg.pool), ("b-primary", "b", "Filesystem", cfg.pool)]
    settings = driver_settings(cfg, str(tmp_path / "d"), "b")
    assert settings.storage_pools == [cfg.pool] and settings.rbd_pools == []
    assert settings.rbd_memory_dir == ""


def test_declared_pools_in_order_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[zone:z]\n[pool:files]\npath = more\n" + CEPH),
                      environ={}, data_dir=str(tmp_path / "data"))
    files, ceph = cfg.storage()
    assert (files.name, files.zone, files.type) == ("files", "z", "Filesystem")
    assert files.path == str(tmp_path / "data" / "more")
    assert (ceph.type, ceph.path, ceph.monitor, ceph.tags) == (
        "RBD", "cloudstack", "10.0.0.11:6789", ["ceph"])


def test_the_in_process_driver_gets_its_zones_storage(tmp_path: Path) -> None:
    text = "[zone:y]\n[zone:z]\n[pool:files]\nzone = y\npath = /srv/files\n" + \
        CEPH.replace("[pool:ceph1]\n", "[pool:ceph1]\nzone = z\n")
    cfg = load_config(write(tmp_path, text), environ={}, data_dir=str(tmp_path / "data"))
    y = driver_settings(cfg, str(tmp_path / "d"), "y")
    assert y.storage_pools == [cfg.pool, "/srv/files"] and y.rbd_pools == []
    z = driver_settings(cfg, str(tmp_path / "d"), "z")
    assert z.rbd_pools == ["cloudstack"] and z.ceph_monitors == "10.0.0.11:6789"
    assert (z.ceph_user, z.ceph_keyring, z.ceph_libvirt_secret) == (
        "cloudstack", "/etc/ceph/k", "0f1a")
    # The memory states of VMs on RBD are kept in the file pool the driver is given.
    assert z.rbd_memory_dir == str(Path(cfg.pool) / "vmstate")
    assert z.storage_pools == [cfg.pool]


def test_an_rbd_pool_can_keep_the_memory_states(tmp_path: Path) -> None:
    text = "[zone:z]\n" + CEPH + "[pool:states]\ntype = RBD\nhost = 10.0.0.11\n" \
        "path = vmstates\nuser = cloudstack\nkeyring = /etc/ceph/k\nlibvirt_secret = 0f1a\n" \
        "memory_states = true\n"
    cfg = load_config(write(tmp_path, text), environ={}, data_dir=str(tmp_path / "data"))
    assert [p.memory_states for p in cfg.storage()] == [False, True]
    z = driver_settings(cfg, str(tmp_path / "d"), "z")
    assert z.rbd_pools == ["cloudstack", "vmstates"] and z.rbd_memory_pool == "vmstates"
    plain = load_config(write(tmp_path, "[zone:z]\n" + CEPH), environ={},
                        data_dir=str(tmp_path / "data"))
    assert driver_settings(plain, None, "z").rbd_memory_pool == ""


def test_rbd_memory_dir_is_relative_to_data_dir(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[simulator]\nrbd_memory_dir = pool/states\n[zone:z]\n"
                            + CEPH), environ={}, data_dir=str(tmp_path / "data"))
    assert driver_settings(cfg, None, "z").rbd_memory_dir == str(
        tmp_path / "data" / "pool" / "states")


@pytest.mark.parametrize(("text", "message"), [
    ("[zone:z]\n[pool:p]\nzone = nowhere\n", "pool p: no zone 'nowhere'"),
    ("[zone:y]\n[zone:z]\n[pool:p]\n", "pool p: no zone ''"),
    ("[zone:z]\n[pool:p]\ntype = NFS\n", "pool p: type must be one of Filesystem, RBD"),
    ("[zone:z]\n[pool:p]\ntype = RBD\nhost = 10.0.0.1\n", "pool p: an RBD pool needs path"),
    ("[zone:z]\n[pool:p]\ntype = RBD\npath = rbd\n", "pool p: an RBD pool needs path"),
    ("[zone:z]\n[pool:p]\ntype = RBD\nhost = m\npath = -x\n", "pool p: Invalid RBD pool name"),
    ("[zone:z]\n[pool:p]\ntype = RBD\nhost = m\npath = a/b\n", "pool p: Invalid RBD pool name"),
    ("[zone:z]\n[pool:p]\nmonitor = m\n", "unknown key 'monitor'"),
    ("[zone:z]\n[pool:p]\nport = x\n", r"section \[pool:p\]: invalid literal"),
    ("[zone:a]\n[zone:b]\n[pool:b-primary]\nzone = a\n", "two storage pools have the same"),
    ("[zone:z]\n[pool:a]\ntype = RBD\nhost = m1\npath = a\n"
     "[pool:b]\ntype = RBD\nhost = m2\npath = b\n", "zone z: its RBD pools name different"),
    ("[zone:z]\n[pool:p]\nmemory_states = yes\n", "pool p: memory_states needs an RBD pool"),
    ("[zone:z]\n[pool:a]\ntype = RBD\nhost = m\npath = a\nmemory_states = yes\n"
     "[pool:b]\ntype = RBD\nhost = m\npath = b\nmemory_states = yes\n",
     "zone z: more than one pool has memory_states"),
    ("[zone:z]\n[pool:p]\ntype = RBD\nhost = m\npath = a\nmemory_states = maybe\n",
     "not a boolean"),
])
def test_pools_that_do_not_fit_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, text), environ={}, data_dir=str(tmp_path / "data"))
