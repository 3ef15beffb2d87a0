"""The web UI in a real headless Chromium (Selenium with Debian's chromium and
chromium-driver) against a simulator on a real HTTP server: the seed's "Using Instance
Snapshots" flow, a first instance from an empty account, the tree with its columns, the
keyboard and screen-reader behaviour, an administrator's view, and the side effects that
must not happen."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import requests

from contract_tests.client import ApiError, Client
from simulator.app import ThreadedServer
from simulator.config import SimConfig

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

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
                "--disable-sync", "--no-first-run", "--window-size=1400,900",
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


NODE = '#snapshot-tree li[role="treeitem"][data-name="{}"]'


def node(driver, name):
    return driver.find_element(By.CSS_SELECTOR, NODE.format(name))


def has_node(driver, name):
    return bool(driver.find_elements(By.CSS_SELECTOR, NODE.format(name)))


def tree(driver):
    """display name -> parent's display name, read from the nested treeitems."""
    out = {}
    for item in driver.find_elements(By.CSS_SELECTOR, '#snapshot-tree li[role="treeitem"]'):
        parents = item.find_elements(By.XPATH, "ancestor::li[@role='treeitem'][1]")
        out[item.get_attribute("data-name")] = (
            parents[0].get_attribute("data-name") if parents else None)
    return out


def row_text(driver, name):
    # read through wait(): a re-render between finding the row and reading it is a retry
    return wait(driver, lambda d: node(d, name).find_element(By.CSS_SELECTOR,
                                                             ".tree-row").text)


def click_node(driver, name):
    wait(driver, lambda d: node(d, name).find_element(By.CSS_SELECTOR, ".tree-name").click()
         or True)
    wait(driver, lambda d: d.find_element(By.ID, "snapshot-title").text == name)


def tree_is(driver, expected):
    wait(driver, lambda d: tree(d) == expected)


def focused(driver):
    return driver.switch_to.active_element


def focused_is(driver, element_id=None, name=None):
    def check(d):
        el = focused(d)
        if name is not None:
            return el.get_attribute("data-name") == name
        return el.get_attribute("id") == element_id
    wait(driver, check)


def state_of(driver, name):
    return node(driver, name).find_element(By.CSS_SELECTOR, ".state")


def take(driver, name, memory=True, quiesce=False, expect="Ready", description=""):
    wait(driver, ec.element_to_be_clickable((By.ID, "take-snapshot"))).click()
    wait(driver, ec.visibility_of_element_located((By.ID, "snap-name"))).send_keys(name)
    driver.find_element(By.ID, "snap-description").send_keys(description)
    if memory:
        driver.find_element(By.ID, "snap-memory").click()
    if quiesce:
        driver.find_element(By.ID, "snap-quiesce").click()
    driver.find_element(By.ID, "take-ok").click()
    wait(driver, lambda d: has_node(d, name) and state_of(d, name).text == expect)


def confirm(driver, button_id, ok=True):
    wait(driver, ec.element_to_be_clickable((By.ID, button_id))).click()
    wait(driver, ec.visibility_of_element_located((By.ID, "confirm-text")))
    text = driver.find_element(By.ID, "confirm-text").text
    focused_is(driver, "confirm-cancel")  # the safe choice has the focus
    driver.find_element(By.ID, "confirm-ok" if ok else "confirm-cancel").click()
    return text.replace("\u2068", "").replace("\u2069", "")  # names are isolated


def log_in(driver, sim, username):
    driver.get(sim.url + "/")
    wait(driver, ec.visibility_of_element_located((By.ID, "username")))
    for field, value in (("username", username), ("password", "password")):
        wait(driver, lambda d, f=field, v=value: _typed(d.find_element(By.ID, f), v))
    wait(driver, lambda d: d.find_element(By.ID, "login-button").click() or True)
    wait(driver, ec.visibility_of_element_located((By.ID, "instances-view")))


def _typed(element, value):
    """Type ``value`` into an input (from empty); whether it now holds exactly that."""
    element.clear()
    element.send_keys(value)
    return element.get_attribute("value") == value


def log_out(driver):
    driver.find_element(By.ID, "logout").click()
    wait(driver, ec.visibility_of_element_located((By.ID, "login-view")))


def control(sim, path, body):
    resp = requests.post(sim.url + "/_sim" + path, json=body, timeout=10,
                         headers={"X-Vmsnap-Sim-Token": sim.control_token})
    assert resp.status_code == 200, resp.text


def test_a_first_instance_from_an_empty_account(sim, browser):
    d = browser
    log_in(d, sim, "user")
    wait(d, ec.visibility_of_element_located((By.ID, "no-instances")))
    assert "Add Instance" in d.find_element(By.ID, "no-instances").text
    focused_is(d, "add-instance")  # nothing to open: the next step has the focus

    d.find_element(By.ID, "add-instance").click()
    wait(d, ec.visibility_of_element_located((By.ID, "add-template")))
    focused_is(d, "add-zone")
    Select(d.find_element(By.ID, "add-template")).select_by_visible_text(
        "Debian 12 (with qemu-guest-agent)")
    Select(d.find_element(By.ID, "add-offering")).select_by_index(0)
    d.find_element(By.ID, "add-name").send_keys("web-1")
    d.find_element(By.ID, "add-ok").click()
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    focused_is(d, "instance-name")
    details = d.find_element(By.ID, "instance-details").text
    assert "Running" in details and "Debian 12 (with qemu-guest-agent)" in details

    # Logging out leaves nothing of the last user in the form.
    log_out(d)
    assert d.find_element(By.ID, "username").get_attribute("value") == ""
    assert d.find_element(By.ID, "password").get_attribute("value") == ""
    focused_is(d, "username")


def test_the_instance_snapshot_flow(sim, browser):
    d = browser
    log_in(d, sim, "user")
    # Instances: a list with name, state, service offering and host; open the instance.
    link = wait(d, ec.element_to_be_clickable((By.LINK_TEXT, "web-1")))
    wait(d, lambda dr: focused(dr).text == "web-1")  # after login: the first instance
    row = link.find_element(By.XPATH, "ancestor::tr").text
    assert "Running" in row and "Small Instance" in row
    assert not d.find_element(By.XPATH, "//th[text()='Account']").is_displayed()
    link.click()
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    focused_is(d, "instance-name")
    # The snapshots are on the instance page itself.
    wait(d, ec.visibility_of_element_located((By.ID, "no-snapshots")))

    # Cancel puts the focus back on the button that opened the dialog.
    d.find_element(By.ID, "take-snapshot").click()
    wait(d, ec.visibility_of_element_located((By.ID, "snap-name")))
    d.find_element(By.ID, "take-cancel").click()
    focused_is(d, "take-snapshot")

    # A chain, a revert, a branch.
    for name in ("first", "second", "third"):
        take(d, name)
        focused_is(d, name=name)  # the new snapshot has the focus
    tree_is(d, {"first": None, "second": "first", "third": "second"})
    click_node(d, "first")
    confirm(d, "revert-snapshot", ok=False)  # Cancel: back in the tree, nothing reverted
    focused_is(d, name="first")
    assert node(d, "third").get_attribute("aria-current") == "true"
    text = confirm(d, "revert-snapshot")
    assert "disks and memory go back" in text and "newer snapshots are kept" in text
    wait(d, lambda dr: node(dr, "first").get_attribute("aria-current") == "true")
    focused_is(d, name="first")
    take(d, "fourth", quiesce=True, description="after the upgrade")
    tree_is(d, {"first": None, "second": "first", "third": "second", "fourth": "first"})
    wait(d, lambda dr: node(dr, "fourth").get_attribute("aria-current") == "true")

    # A tree that reads as one: connector lines, the current position marked, columns.
    assert row_text(d, "second").startswith("├─second")
    assert row_text(d, "third").startswith("│ └─third")
    assert row_text(d, "fourth").startswith("└─fourth")
    fourth = row_text(d, "fourth")
    assert "You are here" in fourth and "You are here" not in row_text(d, "first")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fourth)
    assert "Disk and memory" in fourth and re.search(r"\d+(\.\d)? (B|KiB|MiB)", fourth)
    assert re.search(r"freeze \d+\.\d ms", fourth) and fourth.endswith("after the upgrade\nReady")
    # A host that reports the guest pause of a memory snapshot: shown beside the freeze window.
    assert d.execute_script("return pauses({quiescevm: true, freezewindowms: 5.4, "
                            "guestpausems: 80})") == "freeze 5.4 ms · pause 80.0 ms"
    assert d.execute_script("return pauses({quiescevm: false, guestpausems: 7})") == \
        "pause 7.0 ms"
    head = d.find_element(By.CSS_SELECTOR, ".tree-head").text
    for column in ("Created", "Type", "Size", "Freeze / guest pause", "Description", "State"):
        assert column in head

    # The ARIA tree pattern: levels, one selected node, a clean accessible name.
    assert node(d, "third").get_attribute("aria-level") == "3"
    assert node(d, "fourth").accessible_name == "fourth"
    click_node(d, "second")
    assert [n.get_attribute("data-name") for n in d.find_elements(
        By.CSS_SELECTOR, '#snapshot-tree [aria-selected="true"]')] == ["second"]
    keys = [(Keys.ARROW_DOWN, "third"), (Keys.ARROW_LEFT, "second"), (Keys.ARROW_LEFT, "first"),
            (Keys.ARROW_RIGHT, "second"), (Keys.END, "fourth"), (Keys.HOME, "first"),
            (Keys.ARROW_UP, "first")]
    for key, expected in keys:
        focused(d).send_keys(key)
        focused_is(d, name=expected)
        assert node(d, expected).get_attribute("aria-selected") == "true"
        wait(d, lambda dr, e=expected: dr.find_element(By.ID, "snapshot-title").text == e)
    assert [n.get_attribute("tabindex") for n in d.find_elements(
        By.CSS_SELECTOR, '#snapshot-tree li[role="treeitem"]')].count("0") == 1

    # Delete the middle one: its child is re-linked to its parent; the focus stays in the tree.
    click_node(d, "second")
    text = confirm(d, "delete-snapshot")
    assert '"third"' in text and 're-linked to "first"' in text
    wait(d, lambda dr: not has_node(dr, "second"))
    tree_is(d, {"first": None, "third": "first", "fourth": "first"})
    focused_is(d, name="first")
    wait(d, ec.element_to_be_clickable((By.ID, "take-snapshot")))
    click_node(d, "third")
    wait(d, ec.invisibility_of_element_located((By.ID, "progress")))
    os.makedirs(ARTIFACTS, exist_ok=True)
    d.execute_script("document.getElementById('instance-name').scrollIntoView()")
    d.save_screenshot(os.path.join(ARTIFACTS, "ui-snapshot-tree.png"))

    # A revert across power states (a running VM, a disk-only snapshot) is disabled, and
    # the reason is there to read, not only on hover.
    take(d, "disk-only", memory=False)
    click_node(d, "disk-only")
    wait(d, lambda dr: "only revert to a snapshot with memory" in dr.find_element(
        By.ID, "revert-reason").text)
    assert d.find_element(By.ID, "revert-reason").is_displayed()
    assert not d.find_element(By.ID, "revert-snapshot").is_enabled()

    # While a slow snapshot runs: the progress line is the new job's from its first moment,
    # the state is shown as transitional, and the actions that would interfere are disabled.
    control(sim, "/jobs", {"delay_ms": 4000})
    try:
        wait(d, ec.element_to_be_clickable((By.ID, "take-snapshot"))).click()
        wait(d, ec.visibility_of_element_located((By.ID, "snap-name"))).send_keys("slow")
        d.find_element(By.ID, "take-ok").click()
        progress = d.find_element(By.ID, "progress")
        assert progress.is_displayed() and progress.text.startswith("Take Instance Snapshot")
        wait(d, lambda dr: "Take Instance Snapshot: in progress" in dr.find_element(
            By.ID, "progress").text and "Creating" in dr.find_element(By.ID, "progress").text)
        wait(d, lambda dr: has_node(dr, "slow") and "state-active" in state_of(
            dr, "slow").get_attribute("class"))
        for button in ("take-snapshot", "attach-volume", "change-offering"):
            assert not d.find_element(By.ID, button).is_enabled(), button
        assert "in progress" in d.find_element(By.ID, "take-reason").text
        assert re.search(r"\d+\.\d s$", d.find_element(By.ID, "progress").text)
        wait(d, lambda dr: dr.find_element(By.ID, "take-snapshot").is_enabled(), timeout=30)
    finally:
        control(sim, "/jobs", {"delay_ms": 0})

    # A failed snapshot shows as Error, in its own colour.
    vm_id = re.search(r"#/instances/([^/]+)", d.current_url).group(1)
    control(sim, "/faults", {"step": "capture", "action": "fail", "vm": vm_id, "count": 1})
    take(d, "broken", memory=False, expect="Error")
    colours = {n: state_of(d, n).value_of_css_property("background-color")
               for n in ("broken", "third")}
    assert colours["broken"] != colours["third"]
    assert "state-Error" in state_of(d, "broken").get_attribute("class")
    wait(d, ec.visibility_of_element_located((By.ID, "error")))

    # A forbidden action shows CloudStack's message, and leaves no volume behind.
    user = Client(sim.endpoint)
    user.login("user", "password")
    volumes = len(user.list("listVolumes", "volume"))
    wait(d, ec.element_to_be_clickable((By.ID, "attach-volume"))).click()
    wait(d, lambda dr: dr.find_element(By.ID, "error-text").text.startswith(
        "Unable to attach volume to VM web-1/"))
    assert d.find_element(By.ID, "error-text").text == (
        f"Unable to attach volume to VM web-1/{vm_id}, please specify a VM that does not "
        "have VM snapshots")
    for _ in range(2):
        d.find_element(By.ID, "attach-volume").click()
        wait(d, ec.visibility_of_element_located((By.ID, "error")))
    wait(d, ec.element_to_be_clickable((By.ID, "attach-volume")))
    assert len(user.list("listVolumes", "volume")) == volumes
    focused_is(d, "attach-volume")

    # CloudStack changes the offering of a stopped instance only: on a running one the
    # button is disabled and says so.
    assert not d.find_element(By.ID, "change-offering").is_enabled()
    assert "must be stopped" in d.find_element(By.ID, "offering-reason").text
    # An error quoting an internal record (CloudStack's own refusal of that change, asked
    # for through the API) reads as one line; the raw text is folded.
    offering = next(o["id"] for o in user.list("listServiceOfferings", "serviceoffering")
                    if o["name"] != "Small Instance")
    with pytest.raises(ApiError) as refused:
        user.call("changeServiceForVirtualMachine", id=vm_id, serviceofferingid=offering)
    d.execute_script("showError(new ApiError(arguments[0], arguments[1]))",
                     refused.value.errortext, refused.value.errorcode)
    summary = wait(d, ec.visibility_of_element_located((By.ID, "error-text"))).text
    assert summary.startswith("Unable to upgrade virtual machine VM instance i-")
    assert "{" not in summary and "in state Running" in summary
    details = d.find_element(By.ID, "error-details")
    assert details.is_displayed() and details.get_attribute("open") is None
    details.find_element(By.TAG_NAME, "summary").click()
    assert '"instanceName"' in d.find_element(By.ID, "error-full").text
    log_out(d)


def test_quiesce_without_a_guest_agent_is_warned_before_ok(sim, browser):
    user = Client(sim.endpoint)
    user.login("user", "password")
    template = next(t["id"] for t in user.list("listTemplates", "template",
                                               templatefilter="featured")
                    if not t["guestagent"])
    vm = user.run("deployVirtualMachine", name="no-agent", templateid=template,
                  zoneid=user.list("listZones", "zone")[0]["id"],
                  serviceofferingid=user.list("listServiceOfferings",
                                              "serviceoffering")[0]["id"])["virtualmachine"]
    d = browser
    log_in(d, sim, "user")
    d.get(f"{sim.url}/client/#/instances/{vm['id']}")
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "no-agent"))
    wait(d, ec.element_to_be_clickable((By.ID, "take-snapshot"))).click()
    wait(d, ec.visibility_of_element_located((By.ID, "snap-quiesce")))
    assert not d.find_element(By.ID, "quiesce-warning").is_displayed()
    d.find_element(By.ID, "snap-quiesce").click()
    warning = d.find_element(By.ID, "quiesce-warning")
    assert warning.is_displayed() and "no guest agent" in warning.text
    d.find_element(By.ID, "snap-quiesce").click()
    assert not warning.is_displayed()
    d.find_element(By.ID, "take-cancel").click()
    log_out(d)


def test_an_administrator_sees_every_account(sim, browser):
    d = browser
    log_in(d, sim, "admin")
    link = wait(d, ec.element_to_be_clickable((By.LINK_TEXT, "web-1")))
    assert d.find_element(By.XPATH, "//th[text()='Account']").is_displayed()
    assert d.find_element(By.XPATH, "//th[text()='Domain']").is_displayed()
    cells = [c.text for c in link.find_elements(By.XPATH, "ancestor::tr/td")]
    assert cells[-2:] == ["user", "ROOT"]
    link.click()
    wait(d, lambda dr: has_node(dr, "fourth"))  # another account's snapshots
    assert "Account\nuser" in d.find_element(By.ID, "instance-details").text
    log_out(d)


def _session(driver):
    """The page's session key and cookies, to act as the same user from outside the page."""
    key = driver.execute_script("return sessionStorage.getItem('sessionkey')")
    return key, {c["name"]: c["value"] for c in driver.get_cookies()}


def _as_page(sim, driver, command, **params):
    key, cookies = _session(driver)
    resp = requests.post(sim.endpoint, data={"command": command, "response": "json",
                                             "sessionkey": key, **params},
                         cookies=cookies, timeout=10)
    assert resp.status_code == 200, resp.text
    return next(iter(resp.json().values()))


def _open_web1(driver):
    wait(driver, ec.element_to_be_clickable((By.LINK_TEXT, "web-1"))).click()
    wait(driver, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    return re.search(r"#/instances/([^/]+)", driver.current_url).group(1)


def test_a_page_shows_nothing_of_an_ended_session_or_of_another_address(sim, browser):
    d = browser
    log_in(d, sim, "user")
    vm_id = _open_web1(d)
    assert d.title.startswith("web-1 —")
    # An address that names no instance of the caller: the error, and nothing of the
    # instance shown before.
    d.execute_script("location.hash = '#/instances/no-such-instance'")
    wait(d, lambda dr: "does not exist or is not yours" in dr.find_element(
        By.ID, "error-text").text)
    assert not d.find_element(By.ID, "instance-body").is_displayed()
    assert d.find_element(By.ID, "instance-name").get_attribute("textContent") == ""
    assert d.find_element(By.ID, "snapshot-tree").get_attribute("innerHTML") == ""
    d.execute_script(f"location.hash = '#/instances/{vm_id}'")
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    d.execute_script("location.hash = '#/instances/00000000-0000-4000-8000-000000000000'")
    wait(d, lambda dr: "does not exist or is not yours" in dr.find_element(
        By.ID, "error-text").text)
    assert not d.find_element(By.ID, "instance-body").is_displayed()
    d.execute_script(f"location.hash = '#/instances/{vm_id}'")
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    # Logged out: nothing of the instance or the list is left in the page for the next
    # person, and the login page says nothing it was not asked.
    log_out(d)
    assert d.title.startswith("Log in")
    for element_id in ("instance-name", "instance-details", "snapshot-tree"):
        assert d.find_element(By.ID, element_id).get_attribute("textContent") == ""
    assert d.find_elements(By.CSS_SELECTOR, "#instances tbody tr") == []
    assert not d.find_element(By.ID, "login-notice").is_displayed()


def test_a_session_ended_elsewhere_says_so_and_comes_back_to_the_same_page(sim, browser):
    d = browser
    log_in(d, sim, "user")
    _open_web1(d)
    url = d.current_url
    _as_page(sim, d, "logout")  # the session ends on the server (expiry, another login)
    wait(d, ec.element_to_be_clickable((By.ID, "stop-vm"))).click()
    notice = wait(d, ec.visibility_of_element_located((By.ID, "login-notice")))
    assert notice.text == "Your session has ended; log in again."
    assert not d.find_element(By.ID, "error").is_displayed()
    for field in ("username", "password"):
        wait(d, lambda dr, f=field: _typed(dr.find_element(By.ID, f), {
            "username": "user", "password": "password"}[f]))
    d.find_element(By.ID, "login-button").click()
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "web-1"))
    assert d.current_url == url
    assert not d.find_element(By.ID, "login-notice").is_displayed()
    log_out(d)


def test_a_snapshot_another_client_started_is_followed_to_its_end(sim, browser):
    d = browser
    log_in(d, sim, "user")
    vm_id = _open_web1(d)
    control(sim, "/jobs", {"delay_ms": 3000})
    try:
        _as_page(sim, d, "createVMSnapshot", virtualmachineid=vm_id, name="elsewhere",
                 snapshotmemory="false")
        d.refresh()  # the page is opened while that snapshot is being taken
        wait(d, lambda dr: has_node(dr, "elsewhere"))
        assert state_of(d, "elsewhere").text == "Creating"
        assert not d.find_element(By.ID, "take-snapshot").is_enabled()
        # No reload: the page follows the job to its end.
        wait(d, lambda dr: state_of(dr, "elsewhere").text in ("Ready", "Error"), timeout=30)
        wait(d, lambda dr: dr.find_element(By.ID, "take-snapshot").is_enabled())
    finally:
        control(sim, "/jobs", {"delay_ms": 0})
    log_out(d)


def test_text_that_users_type_cannot_break_the_page(sim, browser):
    d = browser
    log_in(d, sim, "user")
    _open_web1(d)
    # Every input pattern compiles as browsers now read it (the `v` flag).
    for pattern in d.execute_script(
            "return [...document.querySelectorAll('input[pattern]')].map(i => i.pattern)"):
        assert d.execute_script("try { new RegExp(arguments[0], 'v'); return true; }"
                                " catch (e) { return false; }", pattern), pattern
    # A name with a right-to-left override stays inside itself in the tree.
    isolated = d.execute_script(
        "const s = document.createElement('span'); s.className = 'name';"
        "document.body.append(s); const v = getComputedStyle(s).unicodeBidi; s.remove();"
        "return v")
    assert isolated == "isolate"
    # At a phone's width, the page does not scroll sideways.
    d.set_window_size(390, 844)
    try:
        wait(d, lambda dr: dr.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"))
    finally:
        d.set_window_size(1400, 900)
    log_out(d)


def test_a_data_disk_is_detached_only_from_an_instance_without_snapshots(sim, browser):
    d = browser
    user = Client(sim.endpoint)
    user.login("user", "password")
    zone = user.list("listZones", "zone")[0]["id"]
    template = next(t["id"] for t in user.list("listTemplates", "template",
                                                templatefilter="featured") if t["guestagent"])
    offering = user.list("listServiceOfferings", "serviceoffering")[0]["id"]
    disk = next(o["id"] for o in user.list("listDiskOfferings", "diskoffering")
                if not o["iscustomized"])
    vm = user.run("deployVirtualMachine", zoneid=zone, templateid=template,
                  serviceofferingid=offering, diskofferingid=disk, name="disky")["virtualmachine"]
    snap = user.run("createVMSnapshot", virtualmachineid=vm["id"])["vmsnapshot"]
    log_in(d, sim, "user")
    d.execute_script(f"location.hash = '#/instances/{vm['id']}'")
    wait(d, ec.text_to_be_present_in_element((By.ID, "instance-name"), "disky"))
    rows = [r.text for r in d.find_elements(By.CSS_SELECTOR, "#volumes tbody tr")]
    assert any("ROOT" in r for r in rows) and any("DATADISK" in r for r in rows)
    wait(d, ec.element_to_be_clickable((By.CSS_SELECTOR, "#volumes button.detach"))).click()
    wait(d, lambda dr: dr.find_element(By.ID, "error-text").text.startswith(
        "Unable to detach volume"))
    assert len(d.find_elements(By.CSS_SELECTOR, "#volumes button.detach")) == 1  # still there
    user.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    d.refresh()
    wait(d, ec.element_to_be_clickable((By.CSS_SELECTOR, "#volumes button.detach"))).click()
    wait(d, lambda dr: not dr.find_elements(By.CSS_SELECTOR, "#volumes button.detach"))
    assert [v["type"] for v in user.list("listVolumes", "volume",
                                         virtualmachineid=vm["id"])] == ["ROOT"]
    log_out(d)
