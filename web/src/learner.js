// The learner's view: a pathway's resources by module, check-offs, uploads, submissions, and
// progress bars fed by Firestore listeners on the learner's own progress documents.
import {
  collection,
  doc,
  getDoc,
  getDocs,
  onSnapshot,
  query,
  where,
} from "firebase/firestore";
import { $, h, setBar, when } from "./dom.js";
import { describeAccepted, describeError, formatBytes } from "./messages.js";
import { checkFile, fileType, putFile } from "./upload.js";

const COUNTED = new Set(["completed", "submitted", "reviewed"]);
const STATUS_TEXT = {
  not_started: "not started",
  in_progress: "in progress",
  completed: "completed",
  submitted: "submitted",
  reviewed: "reviewed",
  pending_upload: "waiting for the file",
  uploaded: "waiting for review",
  approved: "approved",
  rejected: "rejected",
  invalid: "refused",
  expired: "expired",
  deleted: "deleted",
};
const UPLOAD_STATE = {
  uploaded: "Received. Waiting for review.",
  approved: "Approved.",
  rejected: "Returned with comments. Upload a new version when it is ready.",
  invalid: (s) => `The last file was refused${s.invalid_reason ? `: ${s.invalid_reason}` : ""}. Please upload another.`,
  expired: "The last upload never arrived. Please upload again.",
};
const TYPE_TEXT = { video: "Video", article: "Article", exercise: "Exercise", project: "Project", quiz: "Quiz" };

export function createLearnerView({ db, api, ui }) {
  let uid = null;
  let pathwayId = null;
  let listeners = [];
  let rows = new Map(); // resource_id -> row state
  let generation = 0; // bumps on every pathway switch, so late replies of an old one are dropped

  function stopListening() {
    for (const stop of listeners) stop();
    listeners = [];
  }

  async function start(user) {
    uid = user.uid;
    $("learner").hidden = false;
    const select = $("pathway-select");
    select.onchange = () => choose(select.value);
    $("access-form").onsubmit = (e) => {
      e.preventDefault();
      tryRead($("access-uid").value.trim());
    };
    try {
      const snap = await getDocs(collection(db, "pathways"));
      const pathways = snap.docs.map((d) => ({ id: d.id, title: d.data().title || d.id }));
      pathways.sort((a, b) => a.title.localeCompare(b.title));
      select.replaceChildren(
        h("option", { value: "" }, "Choose a pathway…"),
        ...pathways.map((p) => h("option", { value: p.id }, p.title)),
      );
    } catch (err) {
      ui.error(describeError(err));
    }
  }

  function stop() {
    stopListening();
    generation += 1;
    uid = null;
    pathwayId = null;
    rows = new Map();
    $("learner").hidden = true;
    $("pathway").hidden = true;
    $("modules").replaceChildren();
    $("access-result").textContent = "";
  }

  async function choose(id) {
    stopListening();
    const mine = ++generation;
    pathwayId = id || null;
    rows = new Map();
    $("modules").replaceChildren();
    $("pathway").hidden = !pathwayId;
    if (!pathwayId) return;
    let listing;
    try {
      listing = await api.listing(pathwayId);
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (mine !== generation) return;
    $("pathway-title").textContent = listing.title;
    setBar($("pathway-bar"), $("pathway-label"), 0);
    $("pathway-detail").textContent = "";
    $("modules").replaceChildren(...listing.modules.map(renderModule));
    listen(listing);
    for (const row of rows.values()) {
      if (row.resource.requires_upload) refreshSubmissions(row);
    }
  }

  function listen(listing) {
    const onError = (err) => ui.error(describeError(err));
    const base = ["users", uid];
    listeners.push(
      onSnapshot(
        doc(db, ...base, "pathway_progress", listing.pathway_id),
        (snap) => showPathway(snap.exists() ? snap.data() : null),
        onError,
      ),
    );
    for (const module of listing.modules) {
      listeners.push(
        onSnapshot(
          doc(db, ...base, "module_progress", module.module_id),
          (snap) => showModule(module.module_id, snap.exists() ? snap.data() : null),
          onError,
        ),
      );
    }
    listeners.push(
      onSnapshot(
        query(collection(db, ...base, "resource_progress"), where("pathway_id", "==", listing.pathway_id)),
        (snap) => {
          for (const change of snap.docChanges()) {
            const row = rows.get(change.doc.id);
            if (row) showResource(row, change.type === "removed" ? null : change.doc.data());
          }
        },
        onError,
      ),
    );
    // A submission's status changes (recorded, refused, reviewed) refresh that resource's list.
    listeners.push(
      onSnapshot(
        query(
          collection(db, "submissions"),
          where("user_id", "==", uid),
          where("pathway_id", "==", listing.pathway_id),
        ),
        (snap) => {
          const touched = new Set(snap.docChanges().map((c) => c.doc.data().resource_id));
          for (const rid of touched) {
            const row = rows.get(rid);
            if (row) refreshSubmissions(row);
          }
        },
        onError,
      ),
    );
  }

  function showPathway(data) {
    const percentage = data ? data.percentage : 0;
    setBar($("pathway-bar"), $("pathway-label"), percentage);
    $("pathway").dataset.percentage = String(Math.round(Number(percentage) || 0));
    if (!data) {
      $("pathway-detail").textContent = "Not started yet.";
      return;
    }
    const parts = [
      `${data.completed_modules ?? 0} of ${data.total_modules ?? 0} modules complete`,
    ];
    if (data.total_resources != null) {
      parts.push(`${data.completed_resources ?? 0} of ${data.total_resources} resources (${Math.round(data.resource_percentage || 0)} %)`);
    }
    if (data.completed_at) parts.push("pathway complete");
    $("pathway-detail").textContent = `${parts.join(" · ")}.`;
  }

  function showModule(moduleId, data) {
    const el = $(`module-${moduleId}`);
    if (!el) return;
    const bar = el.querySelector("progress");
    const label = el.querySelector(".meter span");
    setBar(bar, label, data ? data.percentage : 0);
    el.dataset.percentage = String(Math.round(Number(data && data.percentage) || 0));
    el.querySelector(".module-detail").textContent = data
      ? `${data.completed_resources} of ${data.total_resources} resources done.`
      : "Not started yet.";
  }

  function renderModule(module) {
    return h(
      "section",
      { class: "module", id: `module-${module.module_id}`, "data-testid": `module-${module.module_id}` },
      h("h3", {}, module.title),
      h(
        "div",
        { class: "meter" },
        h("progress", { max: "100", value: "0", "data-testid": `module-bar-${module.module_id}` }),
        h("span", {}, "0 %"),
      ),
      h("p", { class: "hint module-detail" }, ""),
      ...module.resources.map(renderResource),
    );
  }

  function renderResource(resource) {
    const rid = resource.resource_id;
    const row = { resource, status: resource.status || "not_started", progress: 0 };
    row.badge = h("span", { class: "status", "data-testid": `status-${rid}` }, "");
    row.bar = h("progress", { max: "100", value: "0", "data-testid": `resource-bar-${rid}` });
    row.barLabel = h("span", {}, "0 %");
    const title = resource.url
      ? h("a", { class: "resource-title", href: resource.url, target: "_blank", rel: "noopener" }, resource.title)
      : h("span", { class: "resource-title" }, resource.title);
    row.el = h(
      "div",
      { class: "resource", "data-testid": `resource-${rid}` },
      h(
        "div",
        { class: "resource-head" },
        title,
        h("span", { class: "tag" }, TYPE_TEXT[resource.type] || resource.type),
        resource.duration_minutes ? h("span", { class: "tag" }, `${resource.duration_minutes} min`) : null,
        resource.optional ? h("span", { class: "tag" }, "optional") : null,
        row.badge,
      ),
      h("div", { class: "meter" }, row.bar, row.barLabel),
      resource.requires_upload ? renderUpload(row) : renderCheck(row),
    );
    rows.set(rid, row);
    showResource(row, resource.status ? { status: resource.status } : null);
    return row.el;
  }

  function renderCheck(row) {
    const rid = row.resource.resource_id;
    row.button = h("button", { type: "button", "data-testid": `complete-${rid}` }, "Mark as done");
    row.button.addEventListener("click", async () => {
      const done = COUNTED.has(row.status);
      row.button.disabled = true;
      try {
        if (done) await api.uncomplete(rid);
        else await api.complete(rid);
        ui.clear();
      } catch (err) {
        ui.error(describeError(err));
      } finally {
        row.button.disabled = false;
      }
    });
    return h("div", { class: "row" }, row.button);
  }

  function renderUpload(row) {
    const { resource } = row;
    const rid = resource.resource_id;
    row.input = h("input", {
      type: "file",
      "data-testid": `file-${rid}`,
      accept: (resource.accepted_file_types || []).join(","),
      "aria-label": `File for ${resource.title}`,
    });
    row.send = h("button", { type: "button", class: "primary", "data-testid": `upload-${rid}` }, "Upload");
    row.sendBar = h("progress", { max: "100", value: "0", hidden: true, "data-testid": `upload-progress-${rid}` });
    row.sendLabel = h("span", { class: "hint", "data-testid": `upload-state-${rid}` }, "");
    row.list = h("ul", { class: "submissions", "data-testid": `submissions-${rid}` });
    row.send.addEventListener("click", () => upload(row));
    return h(
      "div",
      {},
      h("div", { class: "upload" }, row.input, row.send, row.sendBar, row.sendLabel),
      h("p", { class: "hint" }, `Accepted: ${describeAccepted(resource.accepted_file_types, resource.max_file_size_mb)}.`),
      row.list,
    );
  }

  function showResource(row, data) {
    row.status = (data && data.status) || "not_started";
    const counted = COUNTED.has(row.status);
    const progress = counted ? 100 : Number((data && data.progress_percentage) || 0);
    row.badge.textContent = STATUS_TEXT[row.status] || row.status;
    row.badge.className = `status status-${row.status}`;
    row.el.dataset.status = row.status;
    setBar(row.bar, row.barLabel, progress);
    if (row.button) row.button.textContent = counted ? "Mark as not done" : "Mark as done";
  }

  async function upload(row) {
    const { resource } = row;
    const file = row.input.files && row.input.files[0];
    if (!file) {
      ui.error("Choose a file to upload first.");
      return;
    }
    const refused = checkFile(resource, file);
    if (refused) {
      refused.maxMb = refused.maxMb || resource.max_file_size_mb;
      ui.error(describeError(refused));
      return;
    }
    row.send.disabled = true;
    row.sending = true;
    row.sendBar.hidden = false;
    row.sendBar.value = 0;
    row.sendLabel.textContent = "Preparing…";
    try {
      const grant = await api.uploadUrl(resource.resource_id, {
        file_name: file.name,
        content_type: fileType(file),
        size_bytes: file.size,
      });
      row.sendLabel.textContent = "Sending… 0 %";
      await putFile(grant, file, (fraction) => {
        row.sendBar.value = Math.round(fraction * 100);
        row.sendLabel.textContent = `Sending… ${Math.round(fraction * 100)} %`;
      });
      row.sendLabel.textContent = `Sent ${file.name} (${formatBytes(file.size)}). Checking the file…`;
      row.input.value = "";
      ui.clear();
    } catch (err) {
      if (err.status === 413) err.maxMb = resource.max_file_size_mb;
      row.sendLabel.textContent = "Not sent.";
      ui.error(describeError(err));
    } finally {
      row.sending = false;
      row.send.disabled = false;
    }
  }

  async function refreshSubmissions(row) {
    const mine = generation;
    let reply;
    try {
      reply = await api.submissions(row.resource.resource_id);
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (mine !== generation) return;
    const items = reply.submissions || [];
    row.list.replaceChildren(...items.map((s) => renderSubmission(s)));
    const latest = items[0];
    if (!latest || row.sending) return;
    const state = UPLOAD_STATE[latest.status];
    if (state) {
      row.sendBar.hidden = true;
      row.sendLabel.textContent = typeof state === "function" ? state(latest) : state;
    }
  }

  function renderSubmission(s) {
    const bits = [
      `Attempt ${s.attempt}: ${s.file_name} (${formatBytes(s.size_bytes)})`,
    ];
    const status = h("span", { class: `status status-${s.status}`, "data-testid": `submission-status-${s.submission_id}` }, STATUS_TEXT[s.status] || s.status);
    const extra = [];
    if (s.grade != null) extra.push(`grade ${s.grade}`);
    if (s.review_comments) extra.push(`“${s.review_comments}”`);
    if (s.invalid_reason) extra.push(s.invalid_reason);
    if (s.uploaded_at) extra.push(`uploaded ${when(s.uploaded_at)}`);
    const li = h(
      "li",
      { "data-testid": `submission-${s.submission_id}`, "data-status": s.status },
      bits.join(""),
      " ",
      status,
      extra.length ? ` ${extra.join(" · ")} ` : " ",
    );
    if (["uploaded", "approved", "rejected"].includes(s.status)) {
      li.append(downloadControl(s));
    }
    return li;
  }

  function downloadControl(s) {
    const button = h("button", { type: "button", "data-testid": `get-download-${s.submission_id}` }, "Get download link");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const reply = await api.downloadUrl(s.submission_id);
        button.replaceWith(
          h("a", { href: reply.download_url, download: s.file_name, "data-testid": `download-${s.submission_id}` }, `Download ${s.file_name}`),
        );
      } catch (err) {
        button.disabled = false;
        ui.error(describeError(err));
      }
    });
    return button;
  }

  async function tryRead(otherUid) {
    const out = $("access-result");
    if (!otherUid) return;
    out.textContent = "Reading…";
    delete out.dataset.outcome;
    const target = pathwayId || "prompt-engineering";
    const attempts = [
      [`users/${otherUid}/pathway_progress/${target}`, () => getDoc(doc(db, "users", otherUid, "pathway_progress", target))],
      [`submissions of ${otherUid}`, () => getDocs(query(collection(db, "submissions"), where("user_id", "==", otherUid)))],
    ];
    const lines = [];
    let refused = 0;
    for (const [what, read] of attempts) {
      try {
        await read();
        lines.push(`Allowed: ${what} could be read.`);
      } catch (err) {
        if (err && err.code === "permission-denied") refused += 1;
        lines.push(`${describeError(err)} (${what})`);
      }
    }
    out.dataset.outcome = refused === attempts.length ? "refused" : "allowed";
    out.replaceChildren(...lines.flatMap((line, i) => (i ? [h("br"), line] : [line])));
  }

  return { start, stop };
}
