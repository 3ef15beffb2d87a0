"""The world INI's pods, clusters and hosts: defaults, and a world that does not fit
together refused at start-up with a line that names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.config import HostSpec, load_config


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "world.ini"
    path.write_text(text)
    return str(path)


def test_the_default_world_is_one_host_per_zone(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[zone:a]\n[zone:b]\n"), environ={},
                      driver_url="http://127.0.0.1:9", driver_secret="s")
    layout = cfg.layout()
    assert [(p.name, p.zone) for p in layout.pods] == [("a-pod1", "a"), ("b-pod1", "b")]
    assert [(c.name, c.pod) for c in layout.clusters] == [("a-pod1-cluster1", "a-pod1"),
                                                          ("b-pod1-cluster1", "b-pod1")]
    assert layout.hosts == [HostSpec("kvm-a-1", "a-pod1-cluster1", "http://127.0.0.1:9", "s"),
                            HostSpec("kvm-b-1", "b-pod1-cluster1", "http://127.0.0.1:9", "s")]
    assert layout.zone_of(layout.hosts[1]) == "b"


def test_declared_hosts_and_the_only_cluster(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[zone:z]\n[pod:p]\nzone = z\n[cluster:c]\npod = p\n"
                                      "[host:h1]\nurl = http://127.0.0.1:1\nsecret = x\n"
                                      "[host:h2]\ncluster = c\n"), environ={})
    hosts = cfg.layout().hosts
    assert [(h.name, h.cluster, h.url) for h in hosts] == [
        ("h1", "c", "http://127.0.0.1:1"), ("h2", "c", "")]


@pytest.mark.parametrize(("text", "message"), [
    ("[zone:z]\n[pod:p]\nzone = nowhere\n", "pod p: no zone 'nowhere'"),
    ("[zone:z]\n[cluster:c]\npod = nopod\n", "cluster c: no pod 'nopod'"),
    ("[zone:z]\n[host:h]\ncluster = none\n", "host h: no cluster 'none'"),
    ("[zone:y]\n[zone:z]\n[host:h]\n", "host h: name its cluster"),
    ("[zone:z]\n[pod:p]\n", "section [pod:p]: zone is required"),
])
def test_a_world_that_does_not_fit_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text), environ={})
