// The simulator's web UI: one more client of /client/api, signed in with a session key.
"use strict";

const ACTIVE = ["Allocated", "Creating", "Reverting", "Expunging"];
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("sessionkey"), user: sessionStorage.getItem("user"),
                admin: sessionStorage.getItem("admin") === "1",
                vm: null, snapshots: [], volumes: [], selected: null, busy: false, policy: "discard",
                hideTimer: 0, watchTimer: 0, epoch: 0, notice: "", returnTo: "" };
const EXPIRED = "Your session has ended; log in again.";

class ApiError extends Error {
  constructor(text, code) { super(text); this.code = code; }
}

// What a page started for a session that has since ended (logged out, expired): dropped
// without a word, so nothing of it reaches the next person at the screen.
class Abandoned extends Error {}

// Names are the users' own text: isolated from the sentence around them, so right-to-left
// marks inside a name cannot reverse the text that follows it.
const iso = (text) => `\u2068${text}\u2069`;

async function api(command, params = {}) {
  const body = new URLSearchParams({ command, response: "json", ...params });
  const key = state.key;
  if (key) body.set("sessionkey", key);
  const resp = await fetch("/client/api", { method: "POST", body, credentials: "same-origin" });
  let data = {};
  try { data = await resp.json(); } catch (e) { /* not JSON: reported below */ }
  const inner = Object.values(data)[0] || {};
  if (resp.status === 401 && command !== "login") {
    if (!key || key !== state.key) throw new Abandoned();  // an older session's request
    logout(EXPIRED);
    throw new Abandoned();
  }
  if (!resp.ok || inner.errorcode) throw new ApiError(inner.errortext || resp.statusText, inner.errorcode);
  return inner;
}

// Lists everything the caller may see: an administrator sees every account's resources.
function scope(params = {}) { return state.admin ? { listall: true, ...params } : params; }

// CloudStack's texts embed records as JSON (`VM instance {"id":3,...}`): the summary names
// the record instead, the full text stays one click away.
function summarize(text) {
  return text.replace(/\{"[^{}]*\}/g, (blob) => {
    try {
      const rec = JSON.parse(blob);
      return rec.instanceName || rec.name || rec.uuid || "…";
    } catch (e) { return "…"; }
  });
}

function showError(err) {
  if (err instanceof Abandoned) return;
  const box = $("error");
  box.hidden = !err;
  if (!err) return;
  const text = err.message || String(err);
  const summary = summarize(text);
  $("error-text").textContent = summary;
  const details = summary !== text || err.code;
  $("error-details").hidden = !details;
  $("error-details").open = false;
  $("error-full").textContent = `${text}${err.code ? `\n(error code ${err.code})` : ""}`;
}

// Runs an async job and follows it, showing its state and elapsed time; never blocks the page.
async function runJob(label, command, params, stateOf) {
  showError(null);
  const epoch = state.epoch;
  const box = $("progress");
  clearTimeout(state.hideTimer);  // an earlier job's "done" must not hide this one
  box.textContent = `${label}: starting`;  // never the previous job's last words
  box.hidden = false;
  const started = await api(command, params).catch((err) => { box.hidden = true; throw err; });
  const t0 = performance.now();
  for (;;) {
    if (epoch !== state.epoch) throw new Abandoned();
    const job = await api("queryAsyncJobResult", { jobid: started.jobid });
    if (epoch !== state.epoch) throw new Abandoned();
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const detail = stateOf ? await stateOf() : "";
    box.textContent = `${label}: ${job.jobstatus === 0 ? "in progress" : job.jobstatus === 1 ? "done" : "failed"}` +
      `${detail ? " — " + detail : ""} — ${seconds} s`;
    if (job.jobstatus === 1) {
      state.hideTimer = setTimeout(() => { box.hidden = true; }, 1500);
      return job.jobresult;
    }
    if (job.jobstatus === 2) { box.hidden = true; throw new ApiError(job.jobresult.errortext, job.jobresult.errorcode); }
    await new Promise((r) => setTimeout(r, 300));
  }
}

const TITLES = { "login-view": "Log in", "instances-view": "Instances", "instance-view": "Instance" };

function show(view, title) {
  for (const id of ["login-view", "instances-view", "instance-view"]) $(id).hidden = id !== view;
  document.title = `${title || TITLES[view]} — cloudstack-vmsnap simulator`;
  $("nav").hidden = view === "login-view";
  $("whoami").textContent = state.user ? `Signed in as ${state.user}` : "";
  document.body.classList.toggle("admin", state.admin);
}

// Ends the session on this page: whatever it showed or was following is dropped, so the
// next person to log in here sees nothing of it. ``notice`` says why, when it was not asked.
function logout(notice = "") {
  if (state.key && !notice) api("logout").catch(() => {});
  state.notice = notice;
  state.returnTo = notice && !location.hash.startsWith("#/login") ? location.hash : "";
  state.key = null; state.user = null; state.admin = false;
  state.epoch += 1; state.busy = false;
  clearTimeout(state.hideTimer); clearTimeout(state.watchTimer);
  clearInstance();
  $("instances").querySelector("tbody").replaceChildren();
  $("progress").hidden = true; $("progress").textContent = "";
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  showError(null);
  sessionStorage.clear();
  $("login-form").reset();  // the next person at this screen must not find the password
  if (location.hash !== "#/login") location.hash = "#/login";
  showLogin();
}

function showLogin() {
  show("login-view");
  $("login-notice").textContent = state.notice;
  $("login-notice").hidden = !state.notice;
  $("username").focus();
}

// Empties the instance page, so that nothing of one instance is shown under another's
// address, or after the session that loaded it.
function clearInstance() {
  state.vm = null; state.snapshots = []; state.volumes = []; state.selected = null;
  clearTimeout(state.watchTimer);
  $("instance-body").hidden = true;
  $("instance-name").textContent = "";
  $("instance-details").replaceChildren();
  $("volumes").querySelector("tbody").replaceChildren();
  $("snapshot-tree").replaceChildren();
  $("snapshot-detail").hidden = true;
}

async function login(event) {
  event.preventDefault();
  showError(null);
  try {
    const res = await api("login", { username: $("username").value, password: $("password").value,
                                     domain: $("domain").value || "ROOT" });
    state.key = res.sessionkey; state.user = res.username; state.admin = res.type === "1";
    sessionStorage.setItem("sessionkey", state.key); sessionStorage.setItem("user", state.user);
    sessionStorage.setItem("admin", state.admin ? "1" : "0");
    $("password").value = "";
    state.policy = (await api("listCapabilities", {})).capability.vmsnapshotofferingchange || "discard";
    state.focusAfterRoute = true;
    state.notice = "";
    $("login-notice").hidden = true;
    // Back to where an ended session left off; the login page itself leaves no history entry.
    const target = state.returnTo || "#/instances";
    state.returnTo = "";
    if (location.hash === target) route(); else location.replace(target);
  } catch (err) { showError(err); }
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? ""; row.append(td); return td; }

async function showInstances() {
  show("instances-view");
  const body = $("instances").querySelector("tbody");
  const res = await api("listVirtualMachines", scope());
  const vms = res.virtualmachine || [];
  body.replaceChildren();
  $("no-instances").hidden = vms.length > 0;
  for (const vm of vms) {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/instances/${vm.id}`; link.textContent = vm.name;
    cell(row, "").append(link);
    cell(row, vm.state); cell(row, vm.serviceofferingname); cell(row, vm.hostname || "—");
    if (state.admin) { cell(row, vm.account).className = "admin-only"; cell(row, vm.domain).className = "admin-only"; }
    body.append(row);
  }
  if (state.focusAfterRoute) (body.querySelector("a") || $("add-instance")).focus();
}

function fields(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
}

// A disabled button says why in visible text next to it (and to screen readers through
// aria-describedby); the hover title stays for pointer users.
function disable(button, wrap, reason) {
  button.disabled = Boolean(reason);
  wrap.title = reason || "";
  const why = $(button.getAttribute("aria-describedby"));
  why.textContent = reason ? `${button.textContent} is unavailable: ${reason}` : "";
  why.hidden = !reason;
}

function fmtBytes(n) {
  if (n === undefined || n === null) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0; while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function fmtDate(iso) { return iso ? iso.replace("T", " ").replace(/[+-]\d{4}$/, "") : ""; }
function typeText(s) { return s.type === "DiskAndMemory" ? "Disk and memory" : "Disk"; }

function fmtMs(ms) { return `${Number(ms).toFixed(1)} ms`; }

// The freeze window (a quiesced snapshot) and the guest pause (a memory snapshot), as known.
function pauses(s) {
  const parts = [];
  if (s.quiescevm && s.freezewindowms !== undefined) parts.push(`freeze ${fmtMs(s.freezewindowms)}`);
  if (s.guestpausems !== undefined) parts.push(`pause ${fmtMs(s.guestpausems)}`);
  return parts.join(" · ");
}

const NO_INSTANCE = "This instance does not exist or is not yours.";

async function loadInstance(id) {
  // An address that is no id at all is CloudStack's 431; one that names nothing, an empty list.
  const res = await api("listVirtualMachines", scope({ id })).catch((err) => {
    throw err instanceof ApiError && err.code === 431 ? new ApiError(NO_INSTANCE) : err;
  });
  const vm = (res.virtualmachine || [])[0];
  if (!vm) throw new ApiError(NO_INSTANCE);
  const snaps = await api("listVMSnapshot", scope({ virtualmachineid: id }));
  const volumes = await api("listVolumes", scope({ virtualmachineid: id }));
  state.vm = vm;
  state.snapshots = snaps.vmSnapshot || [];
  state.volumes = volumes.volume || [];
  return vm;
}

// ``quiet``: a refresh while the user works on the page; focus stays where it is.
async function showInstance(id, focusTree, quiet = false) {
  const opened = !state.vm || state.vm.id !== id;
  if (opened) clearInstance();
  show("instance-view", state.vm ? state.vm.name : undefined);
  let vm;
  try { vm = await loadInstance(id); } catch (err) { clearInstance(); throw err; }
  show("instance-view", vm.name);
  $("instance-body").hidden = false;
  $("instance-name").textContent = vm.name;
  fields($("instance-details"), [["State", vm.state], ["Service offering", vm.serviceofferingname],
    ["Template", vm.templatename], ["Host", vm.hostname], ["Zone", vm.zonename],
    ["Account", state.admin ? vm.account : ""], ["Domain", state.admin ? vm.domain : ""],
    ["Guest agent", vm.guestagent ? "yes" : "no"], ["Created", fmtDate(vm.created)]]);
  renderVolumes();
  renderTree();
  refreshButtons();
  if (!quiet) {
    if (focusTree) focusSelected();
    else if (opened || state.focusAfterRoute) $("instance-name").focus();
  }
  watchOthers();
}

// A snapshot operation this page did not start (another tab, another client) is followed
// until it ends, so the page does not keep showing it in progress.
function watchOthers() {
  clearTimeout(state.watchTimer);
  if (!state.vm || state.busy || !state.snapshots.some((s) => ACTIVE.includes(s.state))) return;
  const id = state.vm.id, epoch = state.epoch;
  state.watchTimer = setTimeout(() => {
    if (epoch !== state.epoch || state.busy || !state.vm || state.vm.id !== id ||
        !location.hash.startsWith(`#/instances/${id}`)) return;
    showInstance(id, false, true).catch(showError);
  }, 1000);
}

// The instance's volumes; a data disk can be detached (CloudStack refuses it while the
// instance has snapshots, and the page shows its words).
function renderVolumes() {
  const body = $("volumes").querySelector("tbody");
  body.replaceChildren();
  for (const v of state.volumes) {
    const row = document.createElement("tr");
    cell(row, v.name).className = "name";
    cell(row, v.type); cell(row, fmtBytes(v.size)); cell(row, v.state);
    const actions = cell(row, "");
    if (v.type === "DATADISK") {
      const button = document.createElement("button");
      button.type = "button"; button.textContent = "Detach"; button.className = "detach";
      button.dataset.id = v.id;
      button.setAttribute("aria-label", `Detach ${v.name}`);
      button.disabled = state.busy;
      button.addEventListener("click", () => detachVolume(v));
      actions.append(button);
    }
    body.append(row);
  }
}

async function detachVolume(volume) {
  await act(() => runJob("Detach volume", "detachVolume", { id: volume.id }),
    () => $("volumes").querySelector("button.detach") || $("attach-volume"));
}

function inProgress() {
  return state.busy || state.snapshots.some((s) => ACTIVE.includes(s.state));
}

function refreshButtons() {
  const vm = state.vm; if (!vm) return;
  const busy = inProgress() ? "A snapshot operation is in progress on this instance; wait for it to finish." : "";
  const notUp = ["Running", "Stopped"].includes(vm.state) ? "" : `The instance is ${vm.state}.`;
  disable($("take-snapshot"), $("take-wrap"), busy || notUp);
  $("start-vm").disabled = vm.state !== "Stopped" || state.busy;
  $("stop-vm").disabled = vm.state !== "Running" || state.busy;
  $("attach-volume").disabled = state.busy;
  for (const button of $("volumes").querySelectorAll("button.detach")) button.disabled = state.busy;
  disable($("change-offering"), $("offering-wrap"), state.busy ? busy || "An operation is running." :
    vm.state !== "Stopped" ? "The instance must be stopped to change its service offering (Stop it first)." : "");
  renderDetail();
}

// The tree: nested treeitems (ARIA tree pattern) whose rows share the columns of the head;
// connector lines are drawn per row from the item's ancestry, so columns stay aligned.
function renderTree() {
  const tree = $("snapshot-tree");
  const hadFocus = tree.contains(document.activeElement);
  tree.replaceChildren();
  $("no-snapshots").hidden = state.snapshots.length > 0;
  $("tree-table").hidden = state.snapshots.length === 0;
  const ids = new Set(state.snapshots.map((s) => s.id));
  const byParent = new Map();
  for (const s of [...state.snapshots].reverse()) {  // oldest first
    // Snapshots whose parent is not listed (it failed or is being deleted) show as roots.
    const key = s.parent && ids.has(s.parent) ? s.parent : "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(s);
  }
  if (!ids.has(state.selected)) state.selected = (state.snapshots.find((s) => s.current) || state.snapshots[0] || {}).id || null;
  const build = (parentId, container, level, guides) => {
    const kids = byParent.get(parentId) || [];
    kids.forEach((s, i) => {
      const last = i === kids.length - 1;
      const li = document.createElement("li");
      li.setAttribute("role", "treeitem");
      li.setAttribute("aria-level", String(level));
      li.setAttribute("aria-setsize", String(kids.length));
      li.setAttribute("aria-posinset", String(i + 1));
      li.setAttribute("aria-selected", String(state.selected === s.id));
      li.tabIndex = state.selected === s.id ? 0 : -1;
      li.dataset.id = s.id; li.dataset.name = s.displayname;
      li.id = `node-${s.id}`;
      if (s.current) li.setAttribute("aria-current", "true");
      li.setAttribute("aria-labelledby", `name-${s.id}`);
      li.setAttribute("aria-describedby", `cols-${s.id}`);
      const row = document.createElement("div");
      row.className = "tree-row" + (state.selected === s.id ? " selected" : "") + (s.current ? " current" : "");
      const first = document.createElement("span");
      first.className = "tree-name";
      const lines = document.createElement("span");
      lines.className = "connectors"; lines.setAttribute("aria-hidden", "true");
      lines.textContent = guides.map((more) => (more ? "│ " : "  ")).join("") + (level > 1 ? (last ? "└─" : "├─") : "");
      const name = document.createElement("span");
      name.id = `name-${s.id}`; name.textContent = s.displayname; name.title = s.displayname;
      name.className = "name";
      first.append(lines, name);
      if (s.current) {
        const here = document.createElement("span");
        here.className = "here"; here.setAttribute("aria-hidden", "true");
        here.textContent = "◀ You are here";
        first.append(here);
      }
      const cols = document.createElement("span");
      cols.id = `cols-${s.id}`; cols.className = "tree-cols";
      const stateCell = document.createElement("span");
      stateCell.className = `state state-${s.state}${ACTIVE.includes(s.state) ? " state-active" : ""}`;
      stateCell.textContent = s.state;
      for (const [cls, text, label] of [["created", fmtDate(s.created), "created"], ["type", typeText(s), ""],
        ["size", fmtBytes(s.physicalsize), "size"], ["pauses", pauses(s), ""],
        ["description", s.description || "", ""]]) {
        const c = document.createElement("span"); c.className = `col-${cls}`; c.textContent = text;
        if (text) c.title = text;
        if (label && text) c.setAttribute("aria-label", `${label} ${text}`);
        cols.append(c);
      }
      cols.append(stateCell);
      row.append(first, cols);
      li.append(row);
      container.append(li);
      if (byParent.get(s.id)) {
        const group = document.createElement("ul"); group.setAttribute("role", "group");
        li.setAttribute("aria-expanded", "true");
        build(s.id, group, level + 1, level > 1 ? [...guides, !last] : guides);
        li.append(group);
      }
    });
  };
  build("", tree, 1, []);
  if (hadFocus) focusSelected();
}

function items() { return [...$("snapshot-tree").querySelectorAll('li[role="treeitem"]')]; }

function focusSelected() {
  const li = state.selected && $(`node-${state.selected}`);
  if (li) li.focus(); else if (!$("instance-body").hidden) $("snapshots-title").focus();
}

function select(id, focus = true) {
  state.selected = id;
  for (const li of items()) {
    const on = li.dataset.id === id;
    li.setAttribute("aria-selected", String(on)); li.tabIndex = on ? 0 : -1;
    li.firstElementChild.classList.toggle("selected", on);
  }
  if (focus) focusSelected();
  renderDetail();
}

// Arrow keys as the ARIA tree pattern has them (every node is expanded).
function treeKey(event) {
  const list = items();
  const at = list.findIndex((li) => li.dataset.id === state.selected);
  const li = list[at];
  if (!li) return;
  let next = null;
  switch (event.key) {
    case "ArrowDown": next = list[at + 1]; break;
    case "ArrowUp": next = list[at - 1]; break;
    case "Home": next = list[0]; break;
    case "End": next = list[list.length - 1]; break;
    case "ArrowRight": next = li.querySelector('ul[role="group"] > li[role="treeitem"]'); break;
    case "ArrowLeft": next = li.parentElement.closest('li[role="treeitem"]'); break;
    case "Enter": case " ": {  // to the node's actions
      const action = [$("revert-snapshot"), $("delete-snapshot")].find((b) => !b.disabled);
      if (action) action.focus();
      break;
    }
    default: return;
  }
  event.preventDefault();
  if (next) select(next.dataset.id);
}

function selectedSnapshot() { return state.snapshots.find((s) => s.id === state.selected); }

function renderDetail() {
  const s = selectedSnapshot();
  $("snapshot-detail").hidden = !s;
  if (!s || !state.vm) return;
  $("snapshot-title").textContent = s.displayname;
  fields($("snapshot-fields"), [["Internal name", s.name], ["State", s.state],
    ["Type", typeText(s)], ["Current", s.current ? "yes" : "no"],
    ["Parent", s.parentName], ["Created", fmtDate(s.created)], ["Description", s.description],
    ["Size on storage", fmtBytes(s.physicalsize)],
    ["Freeze window", s.quiescevm && s.freezewindowms !== undefined ? fmtMs(s.freezewindowms) : ""],
    ["Guest pause", s.guestpausems !== undefined ? fmtMs(s.guestpausems) : ""]]);
  const vm = state.vm;
  let revertWhy = "";
  if (inProgress()) revertWhy = "A snapshot operation is in progress on this instance.";
  else if (s.state !== "Ready") revertWhy = "Only a Ready snapshot can be reverted to.";
  else if (vm.state === "Running" && s.type !== "DiskAndMemory")
    revertWhy = "The instance is running: it can only revert to a snapshot with memory. Stop it first.";
  else if (vm.state === "Stopped" && s.type === "DiskAndMemory")
    revertWhy = "The instance is stopped: it can only revert to a disk-only snapshot. Start it first.";
  else if (!["Running", "Stopped"].includes(vm.state)) revertWhy = `The instance is ${vm.state}.`;
  disable($("revert-snapshot"), $("revert-wrap"), revertWhy);
  let deleteWhy = "";
  if (inProgress()) deleteWhy = "A snapshot operation is in progress on this instance.";
  else if (!["Ready", "Error"].includes(s.state)) deleteWhy = `The snapshot is ${s.state}.`;
  disable($("delete-snapshot"), $("delete-wrap"), deleteWhy);
}

function confirmDialog(title, text) {
  return new Promise((resolve) => {
    const dialog = $("confirm-dialog");
    $("confirm-title").textContent = title; $("confirm-text").textContent = text;
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-cancel").focus();  // the safe choice first
  });
}

// Runs a user action on the open instance; afterwards focus goes to `after()` (a tree node,
// a button), so keyboard users are not dropped at the top of the page.
async function act(fn, after) {
  const epoch = state.epoch;
  const box = $("progress");
  clearTimeout(state.hideTimer); clearTimeout(state.watchTimer);
  box.textContent = "Working…"; box.hidden = false;  // focus needs somewhere visible to go
  state.busy = true; refreshButtons();
  box.focus({ preventScroll: true });
  try { await fn(); } catch (err) { showError(err); } finally {
    if (epoch === state.epoch) {
      state.busy = false;
      if (box.textContent === "Working…") box.hidden = true;
      if (state.vm) await showInstance(state.vm.id, false, true).catch(showError);
      const target = after ? after() : null;
      if (target && !target.disabled) target.focus(); else focusSelected();
    }
  }
}

function snapshotState() {
  return async () => {
    if (!state.vm) throw new Abandoned();
    const res = await api("listVMSnapshot", scope({ virtualmachineid: state.vm.id }));
    const fresh = res.vmSnapshot || [];
    const changed = JSON.stringify(fresh) !== JSON.stringify(state.snapshots);
    state.snapshots = fresh;
    // Re-render only what changed, so focus and hover are not lost on every poll.
    if (changed) { renderTree(); refreshButtons(); }
    const active = state.snapshots.find((s) => ACTIVE.includes(s.state));
    return active ? `${active.displayname}: ${active.state}` : "";
  };
}

function quiesceWarning() {
  $("quiesce-warning").hidden = !($("snap-quiesce").checked && !state.vm.guestagent);
}

function takeSnapshot() {
  if (inProgress()) return;  // the seed: clicking has no effect while one is in progress
  const running = state.vm.state === "Running";
  $("memory-row").hidden = !running;
  $("snap-memory").checked = false; $("snap-quiesce").checked = false;
  $("snap-name").value = ""; $("snap-description").value = "";
  quiesceWarning();
  $("take-dialog").showModal();
  $("snap-name").focus();
}

async function submitSnapshot(event) {
  event.preventDefault();
  $("take-dialog").close();
  const params = { virtualmachineid: state.vm.id, quiescevm: $("snap-quiesce").checked,
                   snapshotmemory: state.vm.state === "Running" && $("snap-memory").checked };
  if ($("snap-name").value) params.name = $("snap-name").value;
  if ($("snap-description").value) params.description = $("snap-description").value;
  let made = null;
  await act(async () => {
    made = (await runJob("Take Instance Snapshot", "createVMSnapshot", params, snapshotState())).vmsnapshot;
    state.selected = made.id;
  });
}

async function revertSnapshot() {
  const s = selectedSnapshot();
  const what = s.type === "DiskAndMemory" ? "disks and memory go" : "disks go";
  const ok = await confirmDialog("Revert to this snapshot?",
    `The instance's ${what} back to "${iso(s.displayname)}" (${fmtDate(s.created)}). Changes made since are ` +
    "lost; newer snapshots are kept, and the next snapshot will branch from this one.");
  if (ok) await act(() => runJob("Revert", "revertToVMSnapshot", { vmsnapshotid: s.id }, snapshotState()));
  else focusSelected();
}

async function deleteSnapshot() {
  const s = selectedSnapshot();
  const children = state.snapshots.filter((c) => c.parent === s.id).map((c) => `"${iso(c.displayname)}"`);
  const kept = children.length
    ? `Its children (${children.join(", ")}) are kept and re-linked to ${s.parentName ? `"${iso(s.parentName)}"` : "the root"}. `
    : "";
  const ok = await confirmDialog("Delete this snapshot?",
    `Snapshot "${iso(s.displayname)}" is deleted. ${kept}Every other snapshot still restores exactly what it captured.`);
  if (ok) await act(async () => {
    await runJob("Delete", "deleteVMSnapshot", { vmsnapshotid: s.id }, snapshotState());
    state.selected = s.parent || null;
  });
  else focusSelected();
}

async function attachVolume() {
  await act(async () => {
    const offerings = (await api("listDiskOfferings", {})).diskoffering || [];
    const offering = offerings.find((o) => !o.iscustomized);
    const created = await runJob("Create volume", "createVolume",
      { name: `${state.vm.name}-data`, diskofferingid: offering.id, zoneid: state.vm.zoneid });
    try {
      await runJob("Attach volume", "attachVolume", { id: created.volume.id, virtualmachineid: state.vm.id });
    } catch (err) {
      // A refused attach must not leave the volume made for it behind.
      await api("deleteVolume", { id: created.volume.id }).catch(() => {});
      throw err;
    }
  }, () => $("attach-volume"));
}

async function changeOffering() {
  const opener = $("change-offering");
  const offerings = (await api("listServiceOfferings", {})).serviceoffering || [];
  const select = $("offering-select");
  select.replaceChildren(...offerings.filter((o) => o.id !== state.vm.serviceofferingid).map((o) => {
    const opt = document.createElement("option"); opt.value = o.id; opt.textContent = o.name; return opt;
  }));
  const memory = state.snapshots.filter((s) => s.type === "DiskAndMemory");
  const warning = $("offering-warning");
  const policy = state.policy;
  warning.hidden = !(memory.length && policy !== "restore");
  warning.textContent = policy === "block"
    ? "This instance has snapshots: the change will be refused until they are deleted."
    : `Changing the offering deletes this instance's snapshots with memory: ${memory.map((s) => `"${iso(s.displayname)}"`).join(", ")}. Disk-only snapshots are kept.`;
  const dialog = $("offering-dialog");
  dialog.returnValue = "";
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "ok") { opener.focus(); return; }
    const chosen = select.selectedOptions[0] ? select.selectedOptions[0].textContent : "";
    await act(async () => {
      await api("changeServiceForVirtualMachine", { id: state.vm.id, serviceofferingid: select.value });
      const left = (await api("listVMSnapshot", scope({ virtualmachineid: state.vm.id }))).vmSnapshot || [];
      const gone = memory.filter((m) => !left.some((s) => s.id === m.id)).map((m) => `"${iso(m.displayname)}"`);
      const box = $("progress");
      box.textContent = `Service offering changed to ${chosen}.` +
        (gone.length ? ` Snapshots with memory deleted: ${gone.join(", ")}.` : "");
      state.hideTimer = setTimeout(() => { box.hidden = true; }, 4000);
    }, () => $("change-offering"));
  }, { once: true });
  dialog.showModal();
  select.focus();
}

function options(select, list, label) {
  select.replaceChildren(...list.map((x) => {
    const opt = document.createElement("option"); opt.value = x.id; opt.textContent = label(x); return opt;
  }));
}

// CloudStack's deploy wizard, reduced: zone, template, compute offering, name.
async function addInstance() {
  showError(null);
  try {
    const zones = (await api("listZones", {})).zone || [];
    options($("add-zone"), zones, (z) => z.name);
    const fill = async () => {
      const zoneid = $("add-zone").value;
      const templates = (await api("listTemplates", { templatefilter: "executable", zoneid })).template ||
        (await api("listTemplates", { templatefilter: "featured", zoneid })).template || [];
      options($("add-template"), templates, (t) =>
        `${t.name}${t.guestagent === false && !/guest agent/i.test(t.name) ? " — no guest agent" : ""}`);
    };
    await fill();
    $("add-zone").onchange = () => fill().catch(showError);
    const offerings = (await api("listServiceOfferings", {})).serviceoffering || [];
    options($("add-offering"), offerings, (o) => `${o.name} (${o.cpunumber} CPU, ${o.memory} MiB)`);
    $("add-name").value = "";
    $("add-dialog").showModal();
    $("add-zone").focus();
  } catch (err) { showError(err); }
}

async function submitInstance(event) {
  event.preventDefault();
  $("add-dialog").close();
  const params = { zoneid: $("add-zone").value, templateid: $("add-template").value,
                   serviceofferingid: $("add-offering").value };
  if ($("add-name").value) params.name = $("add-name").value;
  $("add-instance").disabled = true;
  try {
    const res = await runJob("Add Instance", "deployVirtualMachine", params);
    state.focusAfterRoute = true;
    location.hash = `#/instances/${res.virtualmachine.id}`;
  } catch (err) {
    $("add-instance").disabled = false;  // focus cannot land on a disabled button
    showError(err);
    $("add-instance").focus();
  } finally { $("add-instance").disabled = false; }
}

async function route() {
  showError(null);
  if (!state.key) { showLogin(); return; }
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  try {
    if (parts[0] === "instances" && parts[1]) await showInstance(parts[1], parts[2] === "snapshots");
    else await showInstances();
  } catch (err) { showError(err); }
  state.focusAfterRoute = false;
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout());
  $("take-snapshot").addEventListener("click", takeSnapshot);
  $("take-form").addEventListener("submit", submitSnapshot);
  $("take-cancel").addEventListener("click", () => $("take-dialog").close());
  $("take-dialog").addEventListener("close", () => { if (!state.busy) $("take-snapshot").focus(); });
  $("snap-quiesce").addEventListener("change", quiesceWarning);
  $("view-snapshots").addEventListener("click", () => {
    if (location.hash.endsWith("/snapshots")) focusSelected();
    else location.hash = `#/instances/${state.vm.id}/snapshots`;
  });
  $("snapshot-tree").addEventListener("keydown", treeKey);
  $("snapshot-tree").addEventListener("click", (event) => {
    const li = event.target.closest('li[role="treeitem"]');
    if (li) select(li.dataset.id);
  });
  $("revert-snapshot").addEventListener("click", revertSnapshot);
  $("delete-snapshot").addEventListener("click", deleteSnapshot);
  $("start-vm").addEventListener("click", () => act(() => runJob("Start", "startVirtualMachine", { id: state.vm.id }), () => $("stop-vm")));
  $("stop-vm").addEventListener("click", () => act(() => runJob("Stop", "stopVirtualMachine", { id: state.vm.id }), () => $("start-vm")));
  $("attach-volume").addEventListener("click", attachVolume);
  $("change-offering").addEventListener("click", changeOffering);
  $("add-instance").addEventListener("click", addInstance);
  $("add-form").addEventListener("submit", submitInstance);
  $("add-cancel").addEventListener("click", () => { $("add-dialog").close(); $("add-instance").focus(); });
  window.addEventListener("hashchange", route);
  if (state.key) {
    try { state.policy = (await api("listCapabilities", {})).capability.vmsnapshotofferingchange || "discard"; }
    catch (err) { /* signed out: route() shows the login */ }
  }
  route();
});
