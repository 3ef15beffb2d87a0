"""The console scripts as a newcomer meets them: help, version, start-up errors in one line,
the banner after the port is bound, the cs client configured from the banner, and one
settings precedence (defaults < INI < VMSNAP_* environment < command line) for both."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from driver import cli as driver_cli
from driver import logs
from simulator import cli as sim_cli
from simulator.config import load_config
from tests.support.console import served_simulator

BIN = os.path.dirname(sys.executable)


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """main() configures the root logger; give the next test the one it had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("make", [driver_cli.parser, sim_cli.parser])
def test_help_has_no_markup_and_every_flag_says_its_default(make):
    parser = make()
    text = parser.format_help()
    assert "``" not in text and "`" not in text
    for action in parser._actions:
        if action.dest in ("help", "version", "action"):
            continue
        assert action.help and "(default:" in action.help, action.dest


@pytest.mark.parametrize("module,prog", [("driver", "vmsnap-driver"),
                                         ("simulator", "vmsnap-simulator")])
def test_python_dash_m_and_version(module, prog):
    out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert re.fullmatch(rf"{prog} \d+\.\d+\.\d+\S*\n", out)


def one_line_error(capsys: Any, main: Any, argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


def test_a_port_in_use_is_one_line_before_any_banner(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        err = one_line_error(capsys, sim_cli.main, ["--port", str(port),
                                                    "--data-dir", str(tmp_path / "d")])
        assert err.startswith(f"vmsnap-simulator: cannot listen on 127.0.0.1:{port}: ")
        assert "choose another --port" in err
        err = one_line_error(capsys, driver_cli.main, ["--data-dir", str(tmp_path / "r"),
                                                       "serve", "--port", str(port)])
        assert err.startswith(f"vmsnap-driver: cannot listen on 127.0.0.1:{port}: ")
    assert not (tmp_path / "d").exists()  # nothing was prepared for a server that never ran


def test_a_file_that_is_not_ini_is_one_line(capsys, tmp_path):
    bad = tmp_path / "world.ini"
    bad.write_text("port: 8080\n")
    err = one_line_error(capsys, sim_cli.main, ["--config", str(bad)])
    assert "is not an INI file: it must start with a [section] line" in err
    err = one_line_error(capsys, driver_cli.main, ["--config", str(bad), "check"])
    assert "is not an INI file" in err
    bad.write_bytes(b"[simulator]\nport = \xff\n")
    err = one_line_error(capsys, sim_cli.main, ["--config", str(bad)])
    assert "is not a valid INI file" in err


def test_a_mistyped_section_is_refused_with_the_right_name(capsys, tmp_path):
    ini = tmp_path / "driver.ini"
    ini.write_text("[driverr]\nport = 9000\n")
    err = one_line_error(capsys, driver_cli.main, ["--config", str(ini), "check"])
    assert "unknown section [driverr]" in err and "(did you mean [driver]?)" in err
    ini.write_text("[simulatr]\nport = 9000\n")
    err = one_line_error(capsys, sim_cli.main, ["--config", str(ini)])
    assert "unknown section [simulatr]" in err and "(did you mean [simulator]?)" in err
    ini.write_text("[simulator]\nprot = 9000\n")
    err = one_line_error(capsys, sim_cli.main, ["--config", str(ini)])
    assert "unknown setting 'prot'" in err and "(did you mean 'port'?)" in err


@pytest.mark.parametrize("text,message", [
    ("backend = qemu", "setting backend: 'qemu' is not one of libvirt, simulated"),
    ("memory_capture = fast", "setting memory_capture: 'fast' is not one of auto, "),
    ("log_level = verbose", "setting log_level: 'VERBOSE' is not one of DEBUG, "),
    ("port = 99999", "setting port: 99999 is not a port number (0-65535)"),
])
def test_a_driver_setting_out_of_its_choices_is_one_line(capsys, tmp_path, text, message):
    ini = tmp_path / "driver.ini"
    ini.write_text(f"[driver]\n{text}\n")
    for action in ("check", "serve"):
        err = one_line_error(capsys, driver_cli.main, ["--config", str(ini), "--data-dir",
                                                       str(tmp_path / "d"), action])
        assert message in err


def test_an_unusable_data_directory_is_one_line(capsys, tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("")
    for action in ("check", "serve"):
        err = one_line_error(capsys, driver_cli.main, ["--data-dir", str(taken / "d"),
                                                       action])
        assert err.startswith(f"vmsnap-driver: cannot use the data directory {taken / 'd'}")
    err = one_line_error(capsys, sim_cli.main, ["--data-dir", str(taken), "--port", "0"])
    assert err.startswith(f"vmsnap-simulator: cannot use the data directory {taken}")


@pytest.mark.parametrize("text,message", [
    ("[template:T]\nsizegb = 3\n", "section [template:T]: unknown key 'sizegb' (did you "
                                    "mean 'size_gb'?)"),
    ("[service_offering:S]\ncpu = 4\n", "unknown key 'cpu' (did you mean 'cpus'?)"),
    ("[simulator]\ndriver_backend = qemu\n", "setting driver_backend: 'qemu' is not one"),
    ("[simulator]\nport = 99998\n", "setting port: 99998 is not a port number"),
    ("[simulator]\ndriver_url = http://127.0.0.1:9\n",
     "host kvm-zone1-1: a served driver needs its secret"),
    ("[simulator]\ndriver_url = not-a-url\ndriver_secret = s\n",
     "the driver URL 'not-a-url' is not an http:// or https:// URL"),
    ("[zone:z]\n[host:h]\nurl = http://127.0.0.1:9\n",
     "host h: a served driver needs its secret"),
])
def test_a_simulator_world_that_cannot_work_is_one_line(capsys, tmp_path, text, message):
    ini = tmp_path / "world.ini"
    ini.write_text(text)
    err = one_line_error(capsys, sim_cli.main, ["--config", str(ini), "--data-dir",
                                                str(tmp_path / "d")])
    assert message in err
    assert not (tmp_path / "d").exists()


def test_a_missing_libvirt_binding_names_the_extra(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "libvirt", None)  # what an install without it sees
    for main, argv in [(driver_cli.main, ["--data-dir", str(tmp_path), "serve"]),
                       (driver_cli.main, ["--data-dir", str(tmp_path), "check"]),
                       (sim_cli.main, ["--driver-backend", "libvirt", "--data-dir",
                                       str(tmp_path)])]:
        err = one_line_error(capsys, main, argv)
        assert "pip install 'cloudstack-vmsnap[libvirt]'" in err


def test_log_lines_name_only_the_vm_and_snapshot_they_concern():
    logs.configure("INFO", as_json=False)
    handler = logging.getLogger().handlers[0]
    lines = []
    for context in [(None, None), ("i-2-10-VM", None), ("i-2-10-VM", "s1")]:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
        with logs.log_context(*context):
            for f in handler.filters:
                f.filter(record)  # type: ignore[union-attr]
            lines.append(handler.format(record).split(" INFO x ")[1])
    assert lines == ["hello", "[vm=i-2-10-VM] hello", "[vm=i-2-10-VM snapshot=s1] hello"]


def test_the_servers_queue_warning_is_kept_but_throttled(capsys, monkeypatch):
    logs.configure("INFO", as_json=False)
    logs.configure("INFO", as_json=False)  # configured twice: still one throttle
    clock = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: clock[0])
    queue = logging.getLogger("waitress.queue")
    for depth in range(50):
        queue.warning("Task queue depth is %d", depth)
    clock[0] += 11
    queue.warning("Task queue depth is %d", 7)
    logging.getLogger("waitress").warning("other")
    assert [line.split(" WARNING ")[1].split(" ", 1)[1]
            for line in capsys.readouterr().err.splitlines()] == [
        "Task queue depth is 0",
        "Task queue depth is 7 (49 more such messages in the last 10 s held back)", "other"]


def test_check_prints_dotted_versions(capsys, tmp_path):
    pytest.importorskip("libvirt")
    assert driver_cli.main(["--uri", "test:///default", "--data-dir", str(tmp_path),
                            "check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"libvirt \d+\.\d+\.\d+, TEST \d+\.\d+\.\d+ at test:///default", out[0])
    assert out[1] == "VMs in the journal: none"


def test_simulator_settings_precedence(tmp_path):
    ini = tmp_path / "sim.ini"
    ini.write_text("[simulator]\nport = 9000\nvmsnapshot.max = 3\nhost = 127.0.0.2\n")
    env = {"VMSNAP_SIM_PORT": "9100", "VMSNAP_SIM_VMSNAPSHOT_MAX": "4"}
    assert load_config(environ={}).port == 8080
    assert load_config(str(ini), environ={}).port == 9000
    cfg = load_config(str(ini), environ=env)
    assert (cfg.port, cfg.vmsnapshot_max, cfg.host) == (9100, 4, "127.0.0.2")
    assert load_config(str(ini), environ=env, port=9200).port == 9200
    assert load_config(environ={"VMSNAP_SIM_CONFIG": str(ini)}).port == 9000
    with pytest.raises(ValueError, match="setting port: .*'many'"):
        load_config(environ={"VMSNAP_SIM_PORT": "many"})


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """``vmsnap-simulator`` as a process, with its own HOME and runtime dir (where gunicorn
    would put a control socket), as ``scripts/run.sh`` starts it."""
    tmp = tmp_path_factory.mktemp("served")
    home, runtime = tmp / "home", tmp / "run"
    home.mkdir()
    runtime.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(runtime),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               VMSNAP_SIM_DEMO_INSTANCES="true")  # as scripts/run.sh sets it
    env.pop("CLOUDSTACK_CONFIG", None)
    with served_simulator(os.path.join(BIN, "vmsnap-simulator"), tmp, env) as served:
        yield {**served, "env": env, "tmp": tmp, "home": home, "runtime": runtime}


def cs(served: dict[str, Any], script: str) -> Any:
    out = subprocess.run(["bash", "-c", script], cwd=served["tmp"], env=served["env"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_banner_configures_the_cs_cli(served):
    banner = served["banner"]
    export = banner.splitlines()[-1]
    # Exactly as the README says: paste the export line, then run cs.
    zones = cs(served, f"{export}\ncs listZones")
    assert [z["name"] for z in zones["zone"]] == ["zone1"]
    ini = re.search(r"CLOUDSTACK_CONFIG=(\S+)\)", banner).group(1)
    assert os.stat(served["tmp"] / ini).st_mode & 0o077 == 0  # it holds the secret
    users = cs(served, f"CLOUDSTACK_CONFIG={shlex.quote(ini)} cs listUsers listall=true")
    assert {"admin", "user"} <= {u["username"] for u in users["user"]}


def test_the_banner_names_the_demo_setting_and_the_demo_instances_run(served):
    assert "demo instances: on: a fresh start deploys one running instance per account " \
           "(--no-demo-instances to start empty)" in served["banner"]
    export = served["banner"].splitlines()[-1]
    vms = cs(served, f"{export}\ncs listVirtualMachines listall=true")
    assert sorted((vm["name"], vm["state"]) for vm in vms["virtualmachine"]) == [
        ("demo-admin", "Running"), ("demo-user", "Running")]


def test_the_port_is_bound_when_the_banner_shows_and_no_control_socket(served):
    # No retry loop: the socket listens before the banner is printed.
    resp = requests.get(f"http://127.0.0.1:{served['port']}/client/api", timeout=30)
    assert resp.status_code == 401
    assert not list(served["runtime"].rglob("*.ctl")) and not list(served["home"].rglob("*.ctl"))


def test_port_zero_takes_a_free_port_and_the_banner_names_it(tmp_path):
    proc = subprocess.Popen([os.path.join(BIN, "vmsnap-simulator"), "--port", "0",
                             "--data-dir", str(tmp_path / "data")], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/client/", first).group(1))
        assert port != 0
        assert requests.get(f"http://127.0.0.1:{port}/client/api",
                            timeout=30).status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_reset_keeps_the_written_cloudstack_ini_working(tmp_path):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    env.pop("CLOUDSTACK_CONFIG", None)
    with served_simulator(os.path.join(BIN, "vmsnap-simulator"), tmp_path, env) as served:
        mine = {**served, "env": env, "tmp": tmp_path}
        token = re.search(r"control token:\s+(\S+)", served["banner"]).group(1)
        ini = re.search(r"CLOUDSTACK_CONFIG=(\S+)\)", served["banner"]).group(1)
        reset = requests.post(served["url"] + "/_sim/reset", timeout=60,
                              headers={"X-Vmsnap-Sim-Token": token})
        assert reset.status_code == 200
        zones = cs(mine, f"CLOUDSTACK_CONFIG={shlex.quote(ini)} cs listZones")
        assert [z["name"] for z in zones["zone"]] == ["zone1"]
        with open(tmp_path / ini) as fh:
            assert reset.json()["secretkey"] in fh.read()


def test_the_first_ten_minutes_with_cs(served):
    """docs/first-ten-minutes.rst, "With cs": deploy, two snapshots, a revert."""
    export = served["banner"].splitlines()[-1]

    def run(command):
        return cs(served, f"{export}\ncs {command}")

    zone = run("listZones")["zone"][0]["id"]
    template = next(t["id"] for t in run("listTemplates templatefilter=featured")["template"]
                    if t["guestagent"])
    offering = run("listServiceOfferings")["serviceoffering"][0]["id"]
    vm = run(f"deployVirtualMachine zoneid={zone} templateid={template} "
             f"serviceofferingid={offering} name=web-1")["virtualmachine"]["id"]
    first = run(f"createVMSnapshot virtualmachineid={vm} snapshotmemory=true name=first")
    run(f"createVMSnapshot virtualmachineid={vm} snapshotmemory=true name=second")
    run(f"revertToVMSnapshot vmsnapshotid={first['vmsnapshot']['id']}")
    listed = run(f"listVMSnapshot virtualmachineid={vm}")["vmSnapshot"]
    assert {s["displayname"]: s["current"] for s in listed} == {"first": True, "second": False}


def test_the_console_script_serves_the_integration_port_on_loopback(tmp_path):
    from contract_tests.target import free_port

    port = free_port()
    env = dict(os.environ, VMSNAP_SIM_INTEGRATION_API_PORT=str(port))
    env.pop("VMSNAP_SIM_CONFIG", None)
    with served_simulator(os.path.join(BIN, "vmsnap-simulator"), tmp_path, env) as served:
        opened = requests.get(f"http://127.0.0.1:{port}/client/api", timeout=30,
                              params={"command": "listZones", "response": "json"})
        assert opened.status_code == 200
        assert opened.json()["listzonesresponse"]["count"] == 1
        closed = requests.get(f"{served['url']}/client/api", timeout=30,
                              params={"command": "listZones", "response": "json"})
        assert closed.status_code == 401
