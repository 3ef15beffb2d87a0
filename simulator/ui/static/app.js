// The simulator's web UI: one more client of /client/api, signed in with a session key.
"use strict";

const ACTIVE = ["Allocated", "Creating", "Reverting", "Expunging"];
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("sessionkey"), user: sessionStorage.getItem("user"),
                vm: null, snapshots: [], selected: null, busy: false, policy: "discard",
                hideTimer: 0 };

class ApiError extends Error {
  constructor(text, code) { super(text); this.code = code; }
}

async function api(command, params = {}) {
  const body = new URLSearchParams({ command, response: "json", ...params });
  if (state.key) body.set("sessionkey", state.key);
  const resp = await fetch("/client/api", { method: "POST", body, credentials: "same-origin" });
  let data = {};
  try { data = await resp.json(); } catch (e) { /* not JSON: reported below */ }
  const inner = Object.values(data)[0] || {};
  if (resp.status === 401) { logout(); throw new ApiError("Your session has ended; log in again.", 401); }
  if (!resp.ok || inner.errorcode) throw new ApiError(inner.errortext || resp.statusText, inner.errorcode);
  return inner;
}

function showError(err) {
  const box = $("error");
  box.textContent = err ? (err.message || String(err)) : "";
  box.hidden = !err;
}

// Runs an async job and follows it, showing its state and elapsed time; never blocks the page.
async function runJob(label, command, params, stateOf) {
  showError(null);
  const started = await api(command, params);
  const box = $("progress");
  const t0 = performance.now();
  clearTimeout(state.hideTimer);  // an earlier job's "done" must not hide this one
  box.hidden = false;
  for (;;) {
    const job = await api("queryAsyncJobResult", { jobid: started.jobid });
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

function show(view) {
  for (const id of ["login-view", "instances-view", "instance-view"]) $(id).hidden = id !== view;
  $("nav").hidden = view === "login-view";
  $("whoami").textContent = state.user ? `Signed in as ${state.user}` : "";
}

function logout() {
  if (state.key) api("logout").catch(() => {});
  state.key = null; state.user = null;
  sessionStorage.clear();
  location.hash = "#/login";
  show("login-view");
}

async function login(event) {
  event.preventDefault();
  showError(null);
  try {
    const res = await api("login", { username: $("username").value, password: $("password").value,
                                     domain: $("domain").value || "ROOT" });
    state.key = res.sessionkey; state.user = res.username;
    sessionStorage.setItem("sessionkey", state.key); sessionStorage.setItem("user", state.user);
    state.policy = (await api("listCapabilities", {})).capability.vmsnapshotofferingchange || "discard";
    if (location.hash === "#/instances") route(); else location.hash = "#/instances";
  } catch (err) { showError(err); }
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text ?? ""; row.append(td); return td; }

async function showInstances() {
  show("instances-view");
  const body = $("instances").querySelector("tbody");
  body.replaceChildren();
  const res = await api("listVirtualMachines", {});
  const vms = res.virtualmachine || [];
  $("no-instances").hidden = vms.length > 0;
  for (const vm of vms) {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = `#/instances/${vm.id}`; link.textContent = vm.name;
    cell(row, "").append(link);
    cell(row, vm.state); cell(row, vm.serviceofferingname); cell(row, vm.hostname || "—");
    body.append(row);
  }
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

function disable(button, wrap, reason) {
  button.disabled = Boolean(reason);
  // A disabled button gets no hover events: the reason sits on its wrapper too.
  wrap.title = reason || "";
  button.title = reason || "";
  button.setAttribute("aria-description", reason || "");
}

function fmtBytes(n) {
  if (n === undefined || n === null) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0; while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function loadInstance(id) {
  const res = await api("listVirtualMachines", { id });
  const vm = (res.virtualmachine || [])[0];
  if (!vm) throw new ApiError("This instance does not exist or is not yours.");
  state.vm = vm;
  const snaps = await api("listVMSnapshot", { virtualmachineid: id });
  state.snapshots = snaps.vmSnapshot || [];
  return vm;
}

async function showInstance(id, withSnapshots) {
  show("instance-view");
  const vm = await loadInstance(id);
  $("instance-name").textContent = vm.name;
  fields($("instance-details"), [["State", vm.state], ["Service offering", vm.serviceofferingname],
    ["Template", vm.templatename], ["Host", vm.hostname], ["Zone", vm.zonename],
    ["Guest agent", vm.guestagent ? "yes" : "no"], ["Created", vm.created]]);
  refreshButtons();
  $("snapshots-panel").hidden = !withSnapshots;
  if (withSnapshots) renderTree();
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
  if (state.selected) renderDetail();
}

function renderTree() {
  const tree = $("snapshot-tree");
  tree.replaceChildren();
  $("no-snapshots").hidden = state.snapshots.length > 0;
  const byParent = new Map();
  for (const s of [...state.snapshots].reverse()) {  // oldest first
    const key = s.parent || "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(s);
  }
  const ids = new Set(state.snapshots.map((s) => s.id));
  const build = (parentId, container) => {
    for (const s of byParent.get(parentId) || []) {
      const li = document.createElement("li");
      li.setAttribute("role", "treeitem");
      li.dataset.id = s.id;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "node" + (state.selected === s.id ? " selected" : "");
      button.dataset.name = s.displayname;
      button.textContent = `${s.displayname} — ${s.state}, ${s.type === "DiskAndMemory" ? "disk and memory" : "disk"}`;
      if (s.current) {
        button.setAttribute("aria-current", "true");
        const badge = document.createElement("span"); badge.className = "badge"; badge.textContent = "current";
        button.append(badge);
      }
      button.addEventListener("click", () => { state.selected = s.id; renderTree(); });
      li.append(button);
      const children = byParent.get(s.id);
      if (children) {
        const group = document.createElement("ul"); group.setAttribute("role", "group");
        li.setAttribute("aria-expanded", "true");
        build(s.id, group); li.append(group);
      }
      container.append(li);
    }
  };
  build("", tree);
  // Snapshots whose parent is not listed (it failed or is being deleted) show as roots.
  for (const s of state.snapshots) if (s.parent && !ids.has(s.parent) && !tree.querySelector(`[data-id="${s.id}"]`)) {
    byParent.set("orphan", [s]); build("orphan", tree);
  }
  renderDetail();
}

function selectedSnapshot() { return state.snapshots.find((s) => s.id === state.selected); }

function renderDetail() {
  const s = selectedSnapshot();
  $("snapshot-detail").hidden = !s;
  if (!s) return;
  $("snapshot-title").textContent = s.displayname;
  fields($("snapshot-fields"), [["Internal name", s.name], ["State", s.state],
    ["Type", s.type === "DiskAndMemory" ? "Disk and memory" : "Disk"], ["Current", s.current ? "yes" : "no"],
    ["Parent", s.parentName], ["Created", s.created], ["Description", s.description],
    ["Size on storage", fmtBytes(s.physicalsize)],
    ["Freeze window", s.quiescevm && s.freezewindowms !== undefined ? `${s.freezewindowms} ms` : ""]]);
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
    dialog.showModal();
  });
}

async function act(fn) {
  state.busy = true; refreshButtons();
  try { await fn(); } catch (err) { showError(err); } finally {
    state.busy = false;
    if (state.vm) await showInstance(state.vm.id, !$("snapshots-panel").hidden).catch(showError);
  }
}

function snapshotState() {
  return async () => {
    const res = await api("listVMSnapshot", { virtualmachineid: state.vm.id });
    const fresh = res.vmSnapshot || [];
    const changed = JSON.stringify(fresh) !== JSON.stringify(state.snapshots);
    state.snapshots = fresh;
    // Re-render only what changed, so focus and hover are not lost on every poll.
    if (changed && !$("snapshots-panel").hidden) renderTree();
    const active = state.snapshots.find((s) => ACTIVE.includes(s.state));
    return active ? `${active.displayname}: ${active.state}` : "";
  };
}

function takeSnapshot() {
  if (inProgress()) return;  // the seed: clicking has no effect while one is in progress
  const running = state.vm.state === "Running";
  $("memory-row").hidden = !running;
  $("snap-memory").checked = false; $("snap-quiesce").checked = false;
  $("snap-name").value = ""; $("snap-description").value = "";
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
  await act(() => runJob("Take Instance Snapshot", "createVMSnapshot", params, snapshotState()));
}

async function revertSnapshot() {
  const s = selectedSnapshot();
  const what = s.type === "DiskAndMemory" ? "disks and memory go" : "disks go";
  const ok = await confirmDialog("Revert to this snapshot?",
    `The instance's ${what} back to "${s.displayname}" (${s.created}). Changes made since are ` +
    "lost; newer snapshots are kept, and the next snapshot will branch from this one.");
  if (ok) await act(() => runJob("Revert", "revertToVMSnapshot", { vmsnapshotid: s.id }, snapshotState()));
}

async function deleteSnapshot() {
  const s = selectedSnapshot();
  const children = state.snapshots.filter((c) => c.parent === s.id).map((c) => `"${c.displayname}"`);
  const kept = children.length
    ? `Its children (${children.join(", ")}) are kept and re-linked to ${s.parentName ? `"${s.parentName}"` : "the root"}. `
    : "";
  const ok = await confirmDialog("Delete this snapshot?",
    `Snapshot "${s.displayname}" is deleted. ${kept}Every other snapshot still restores exactly what it captured.`);
  if (ok) await act(async () => {
    await runJob("Delete", "deleteVMSnapshot", { vmsnapshotid: s.id }, snapshotState());
    state.selected = null;
  });
}

async function attachVolume() {
  await act(async () => {
    const offerings = (await api("listDiskOfferings", {})).diskoffering || [];
    const offering = offerings.find((o) => !o.iscustomized);
    const created = await runJob("Create volume", "createVolume",
      { name: `${state.vm.name}-data`, diskofferingid: offering.id, zoneid: state.vm.zoneid });
    await runJob("Attach volume", "attachVolume", { id: created.volume.id, virtualmachineid: state.vm.id });
  });
}

async function changeOffering() {
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
    : `Changing the offering deletes this instance's snapshots with memory: ${memory.map((s) => `"${s.displayname}"`).join(", ")}. Disk-only snapshots are kept.`;
  const dialog = $("offering-dialog");
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "ok") return;
    await act(() => api("changeServiceForVirtualMachine", { id: state.vm.id, serviceofferingid: select.value }));
  }, { once: true });
  dialog.showModal();
}

async function route() {
  showError(null);
  if (!state.key) { show("login-view"); $("username").focus(); return; }
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  try {
    if (parts[0] === "instances" && parts[1]) await showInstance(parts[1], parts[2] === "snapshots");
    else await showInstances();
  } catch (err) { showError(err); }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("take-snapshot").addEventListener("click", takeSnapshot);
  $("take-form").addEventListener("submit", submitSnapshot);
  $("take-cancel").addEventListener("click", () => $("take-dialog").close());
  $("view-snapshots").addEventListener("click", () => { location.hash = `#/instances/${state.vm.id}/snapshots`; });
  $("revert-snapshot").addEventListener("click", revertSnapshot);
  $("delete-snapshot").addEventListener("click", deleteSnapshot);
  $("start-vm").addEventListener("click", () => act(() => runJob("Start", "startVirtualMachine", { id: state.vm.id })));
  $("stop-vm").addEventListener("click", () => act(() => runJob("Stop", "stopVirtualMachine", { id: state.vm.id })));
  $("attach-volume").addEventListener("click", attachVolume);
  $("change-offering").addEventListener("click", changeOffering);
  window.addEventListener("hashchange", route);
  if (state.key) {
    try { state.policy = (await api("listCapabilities", {})).capability.vmsnapshotofferingchange || "discard"; }
    catch (err) { /* signed out: route() shows the login */ }
  }
  route();
});
