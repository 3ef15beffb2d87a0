"""The seed's "Using Instance Snapshots" flow in a real headless Chromium (Selenium with
Debian's chromium and chromium-driver) against a simulator on a real HTTP server."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import requests

from contract_tests.client import Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.ui
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = os.environ.get("VMSNAP_ARTIFACTS", "test-artifacts")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = ThreadedServer(SimConfig(data_dir=str(tmp_path_factory.mktemp("ui")))).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are needed (scripts/setup.sh --test)")
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=20):
    try:
        # The page re-renders the tree while a job runs: a stale element is a retry.
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException]
                             ).until(condition)
    except Exception:
        os.makedirs(ARTIFACTS, exist_ok=True)
        driver.save_screenshot(os.path.join(ARTIFACTS, "ui-failure.png"))
        with open(os.path.join(ARTIFACTS, "ui-failure.html"), "w") as fh:
            fh.write(driver.page_source)
        raise


def node(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f'#snapshot-tree button[data-name="{name}"]')


def tree(driver):
    """display name -> parent's display name, read from the nested list on the page."""
    out = {}
    for button in driver.find_elements(By.CSS_SELECTOR, "#snapshot-tree button.node"):
        item = button.find_element(By.XPATH, "..")
        parents = item.find_elements(By.XPATH, "ancestor::li[@role='treeitem'][1]/button")
        out[button.get_attribute("data-name")] = (
            parents[0].get_attribute("data-name") if parents else None)
    return out


def click_node(driver, name):
    wait(driver, lambda d: node(d, name).click() or True)


def tree_is(driver, expected):
    wait(driver, lambda d: tree(d) == expected)


def take(driver, name, memory):
    wait(driver, ec.element_to_be_clickable((By.ID, "take-snapshot"))).click()
    wait(driver, ec.visibility_of_element_located((By.ID, "snap-name"))).send_keys(name)
    if memory:
        driver.find_element(By.ID, "snap-memory").click()
    driver.find_element(By.ID, "take-ok").click()
    wait(driver, lambda d: "Ready" in node(d, name).text if d.find_elements(
        By.CSS_SELECTOR, f'#snapshot-tree button[data-name="{name}"]') else False)


def confirm(driver, button_id):
    wait(driver, ec.element_to_be_clickable((By.ID, button_id))).click()
    wait(driver, ec.visibility_of_element_located((By.ID, "confirm-text")))
    text = driver.find_element(By.ID, "confirm-text").text
    driver.find_element(By.ID, "confirm-ok").click()
    return text


def test_the_instance_snapshot_flow(sim, browser):
    key_user = Client(sim.endpoint)
    key_user.login("user", "password")
    zone = key_user.list("listZones", "zone")[0]["id"]
    template = key_user.list("listTemplates", "template", templatefilter="featured")[0]["id"]
    offering = key_user.list("listServiceOfferings", "serviceoffering")[0]["id"]
    vm = key_user.run("deployVirtualMachine", zoneid=zone, templateid=template,
                      serviceofferingid=offering, name="web-1")["virtualmachine"]
    d = browser
    d.get(sim.url + "/")
    wait(d, ec.visibility_of_element_located((By.ID, "username"))).send_keys("user")
    d.find_element(By.ID, "password").send_keys("password")
    d.find_element(By.ID, "login-button").click()

    # Instances: a list with name, state, service offering and host; open the instance.
    link = wait(d, ec.element_to_be_clickable((By.LINK_TEXT, "web-1")))
    row = link.find_element(By.XPATH, "ancestor::tr").text
    assert "Running" in row and "Small Instance" in row
    link.click()
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    d.find_element(By.ID, "view-snapshots").click()
    wait(d, ec.visibility_of_element_located((By.ID, "no-snapshots")))

    # A chain, a revert, a branch.
    for name in ("first", "second", "third"):
        take(d, name, memory=True)
    tree_is(d, {"first": None, "second": "first", "third": "second"})
    click_node(d, "first")
    text = confirm(d, "revert-snapshot")
    assert "disks and memory go back" in text and "newer snapshots are kept" in text
    wait(d, lambda dr: node(dr, "first").get_attribute("aria-current") == "true")
    take(d, "fourth", memory=True)
    tree_is(d, {"first": None, "second": "first", "third": "second", "fourth": "first"})
    wait(d, lambda dr: node(dr, "fourth").get_attribute("aria-current") == "true")

    # Delete the middle one: its child is re-linked to its parent.
    click_node(d, "second")
    text = confirm(d, "delete-snapshot")
    assert '"third"' in text and 're-linked to "first"' in text
    wait(d, lambda dr: not dr.find_elements(By.CSS_SELECTOR,
                                            '#snapshot-tree button[data-name="second"]'))
    tree_is(d, {"first": None, "third": "first", "fourth": "first"})
    wait(d, ec.element_to_be_clickable((By.ID, "take-snapshot")))
    click_node(d, "third")
    wait(d, lambda dr: dr.find_element(By.ID, "snapshot-title").text == "third")
    wait(d, ec.invisibility_of_element_located((By.ID, "progress")))
    os.makedirs(ARTIFACTS, exist_ok=True)
    d.save_screenshot(os.path.join(ARTIFACTS, "ui-snapshot-tree.png"))

    # A revert across power states (a running VM, a disk-only snapshot) is disabled, with
    # the reason on hover.
    take(d, "disk-only", memory=False)
    click_node(d, "disk-only")
    wait(d, lambda dr: dr.find_element(By.ID, "snapshot-title").text == "disk-only")
    wait(d, lambda dr: "only revert to a snapshot with memory" in dr.find_element(
        By.ID, "revert-wrap").get_attribute("title"))
    assert not d.find_element(By.ID, "revert-snapshot").is_enabled()

    # While a slow snapshot runs, Take Instance Snapshot is disabled with the reason.
    requests.post(sim.url + "/_sim/jobs", json={"delay_ms": 4000}, timeout=10,
                  headers={"X-Vmsnap-Sim-Token": sim.control_token})
    try:
        wait(d, ec.element_to_be_clickable((By.ID, "take-snapshot"))).click()
        wait(d, ec.visibility_of_element_located((By.ID, "snap-name"))).send_keys("slow")
        d.find_element(By.ID, "take-ok").click()
        wait(d, lambda dr: "Take Instance Snapshot: in progress" in dr.find_element(
            By.ID, "progress").text and "Creating" in dr.find_element(By.ID, "progress").text)
        assert not d.find_element(By.ID, "take-snapshot").is_enabled()
        assert "in progress" in d.find_element(By.ID, "take-wrap").get_attribute("title")
        assert re.search(r"\d+\.\d s$", d.find_element(By.ID, "progress").text)
        wait(d, lambda dr: dr.find_element(By.ID, "take-snapshot").is_enabled(), timeout=30)
    finally:
        requests.post(sim.url + "/_sim/jobs", json={"delay_ms": 0}, timeout=10,
                      headers={"X-Vmsnap-Sim-Token": sim.control_token})

    # A forbidden action shows CloudStack's message.
    wait(d, ec.element_to_be_clickable((By.ID, "attach-volume"))).click()
    error = wait(d, ec.visibility_of_element_located((By.ID, "error")))
    assert error.text == (f"Unable to attach volume to VM web-1/{vm['id']}, please specify a VM "
                          "that does not have VM snapshots")
