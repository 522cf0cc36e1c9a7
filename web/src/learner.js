// The learner's view. Routes (the URL hash, so every view has a deep link):
//   #/                                  overview: every pathway, progress, next resource, activity
//   #/pathway/{id}                      a pathway's resources by module
//   #/pathway/{id}/module/{module_id}   one module of it
//   #/pathway/{id}/resource/{rid}       one resource: opening it starts it, and while it is
//                                       visible its time spent accrues (timer.js)
// Progress bars are fed by Firestore listeners on the learner's own progress documents.
import {
  collection,
  doc,
  getDocs,
  limit,
  onSnapshot,
  orderBy,
  query,
  where,
} from "firebase/firestore";
import { $, h, setBar, when } from "./dom.js";
import { createNotifications } from "./notifications.js";
import { describeAccepted, describeError, describeRefusal, formatBytes, NOTHING_DROPPED } from "./messages.js";
import { showMyCertificates } from "./certificates.js";
import { COUNTED, link, nextResource, parseRoute } from "./routes.js";
import { formatMinutes, startHeartbeat } from "./timer.js";
import { renderScore, ruleState, ruleTags } from "./rules.js";
import { markRetired, retiredCard } from "./retired.js";
import { checkFile, droppedFiles, fileType, putFile, UploadCancelled } from "./upload.js";

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
const ACTION_TEXT = { start: "Started", complete: "Completed", uncomplete: "Reopened" };

export function createLearnerView({ db, api, ui }) {
  let uid = null;
  let pathwayId = null;
  let listing = null;
  let listeners = [];
  let rows = new Map(); // resource_id -> row state
  let generation = 0; // bumps on every pathway switch, so late replies of an old one are dropped
  let routed = 0; // bumps on every route, so a slow overview does not draw over a later view
  let beating = null; // { rid, heartbeat } of the open resource view
  const carried = new Map(); // resource_id -> ms measured but under a minute, for the next visit
  let firstRoute = true;
  const notifications = createNotifications({ db, ui }); // review notifications, live

  function stopListening() {
    for (const stop of listeners) stop();
    listeners = [];
  }

  async function start(user) {
    uid = user.uid;
    firstRoute = true;
    $("learner").hidden = false;
    notifications.start(user);
    window.addEventListener("hashchange", route);
    await route();
  }

  function stop() {
    window.removeEventListener("hashchange", route);
    notifications.stop();
    stopBeating();
    stopListening();
    generation += 1;
    routed += 1;
    uid = null;
    pathwayId = null;
    listing = null;
    rows = new Map();
    $("learner").hidden = true;
    $("pathway").hidden = true;
    $("overview").hidden = true;
    $("crumbs").hidden = true;
    $("modules").replaceChildren();
    $("pathway-cards").replaceChildren();
    $("activity").replaceChildren();
  }

  /** Move focus to a view's heading when the learner navigated (not on the first paint). */
  function focusHeading(el) {
    if (firstRoute) return;
    el.focus({ preventScroll: false });
  }

  async function route() {
    const r = parseRoute(window.location.hash);
    const mine = ++routed;
    if (!firstRoute) {
      ui.clear();
      ui.info("");
    }
    if (!beating || r.view !== "resource" || beating.rid !== r.resource) stopBeating();
    if (r.view === "overview") {
      await showOverview(mine);
    } else {
      $("overview").hidden = true;
      if (r.pathway !== pathwayId || !listing) await choose(r.pathway);
      if (mine !== routed || !listing) return;
      applyRoute(r);
    }
    firstRoute = false;
  }

  // ---- the overview ------------------------------------------------------------------------

  async function showOverview(mine) {
    stopListening();
    generation += 1;
    pathwayId = null;
    listing = null;
    rows = new Map();
    $("modules").replaceChildren();
    $("pathway").hidden = true;
    $("crumbs").hidden = true;
    $("overview").hidden = false;
    focusHeading($("overview-title"));
    $("overview").setAttribute("aria-busy", "true");
    delete $("overview").dataset.ready;
    delete $("activity").dataset.count;
    let pathways;
    try {
      const snap = await getDocs(collection(db, "pathways"));
      pathways = snap.docs.map((d) => ({ id: d.id, title: d.data().title || d.id, description: d.data().description || "" }));
      pathways.sort((x, y) => x.title.localeCompare(y.title));
      markRetired(pathways, snap.docs);
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    const reports = await Promise.all(
      pathways.map((p) => api.report(p.id).catch((err) => ({ error: err }))),
    );
    if (mine !== routed) return;
    const titles = new Map();
    const cards = pathways.map((p, i) => {
      const report = reports[i];
      for (const m of report.modules || []) {
        for (const res of m.resources || []) titles.set(res.resource_id, { title: res.title, pathway: p.id });
      }
      return renderCard(p, report);
    });
    $("pathway-cards").replaceChildren(...cards);
    $("overview").dataset.ready = "true";
    $("overview").removeAttribute("aria-busy");
    showActivity(mine, titles);
    showMyCertificates(api);
  }

  function renderCard(p, report) {
    if (p.retired) return retiredCard(p, report);
    const testid = `card-${p.id}`;
    if (report.error) {
      return h("article", { class: "card", "data-testid": testid }, h("h3", {}, p.title), h("p", { class: "hint" }, describeError(report.error)));
    }
    const resources = (report.modules || []).flatMap((m) => m.resources || []);
    const done = resources.filter((r) => COUNTED.has(r.status)).length;
    const minutes = resources.reduce((sum, r) => sum + (Number(r.time_spent_minutes) || 0), 0);
    const next = nextResource(report);
    const barName = `card-bar-name-${p.id}`;
    const bar = h("progress", { max: "100", value: "0", "aria-labelledby": barName, "data-testid": `card-bar-${p.id}` });
    const label = h("span", {}, "0 %");
    setBar(bar, label, report.percentage);
    return h(
      "article",
      { class: "card pathway-card", "data-testid": testid, "data-percentage": String(Math.round(Number(report.percentage) || 0)) },
      h("h3", {}, h("a", { href: link.pathway(p.id), "data-testid": `open-pathway-${p.id}` }, p.title)),
      p.description ? h("p", { class: "hint" }, p.description) : null,
      h("span", { id: barName, class: "visually-hidden" }, `Progress of ${p.title}`),
      h("div", { class: "meter" }, bar, label),
      h(
        "p",
        { class: "hint", "data-testid": `card-detail-${p.id}` },
        `${done} of ${resources.length} resources done · ${formatMinutes(minutes)} spent`,
      ),
      next
        ? h(
            "p",
            { class: "next" },
            `${next.status === "not_started" ? "Next" : "Continue"}: `,
            h("a", { href: link.resource(p.id, next.resource_id), "data-testid": `next-${p.id}` }, next.title),
          )
        : h("p", { class: "next", "data-testid": `next-${p.id}` }, "Every resource is done."),
    );
  }

  /**
   * The learner's last few actions. Every event says whether it is one (`activity`; time heartbeats
   * are events too, one a minute of reading, and are not), so one indexed query reads just those.
   * Events written before `activity` existed lack the field: only when that query finds fewer than
   * wanted is one page of the newest events read too, and its actions merged in.
   */
  async function recentEvents(wanted = 8, legacyPage = 50) {
    const marked = await getDocs(
      query(collection(db, "users", uid, "progress_events"), where("activity", "==", true), orderBy("at", "desc"), limit(wanted)),
    );
    const found = marked.docs.map((d) => d.data()).filter((e) => ACTION_TEXT[e.action]);
    if (marked.docs.length < wanted) {
      const older = await getDocs(query(collection(db, "users", uid, "progress_events"), orderBy("at", "desc"), limit(legacyPage)));
      const legacy = older.docs.map((d) => d.data()).filter((e) => e.activity === undefined && ACTION_TEXT[e.action]);
      found.push(...legacy);
      found.sort((a, b) => (b.at?.toMillis?.() ?? 0) - (a.at?.toMillis?.() ?? 0));
    }
    return found.slice(0, wanted);
  }

  async function showActivity(mine, titles) {
    let events;
    try {
      events = await recentEvents();
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (mine !== routed) return;
    $("activity").replaceChildren(
      ...events.map((e) => {
        const known = titles.get(e.resource_id);
        const at = e.at && typeof e.at.toDate === "function" ? e.at.toDate() : null;
        return h(
          "li",
          {},
          `${ACTION_TEXT[e.action]} `,
          known ? h("a", { href: link.resource(known.pathway, e.resource_id) }, known.title) : e.resource_id,
          at ? h("span", { class: "hint" }, ` · ${at.toLocaleString()}`) : null,
        );
      }),
    );
    $("activity-empty").hidden = events.length > 0;
    $("activity").hidden = events.length === 0;
    $("activity").dataset.count = String(events.length);
  }

  // ---- a pathway, a module, a resource ------------------------------------------------------

  async function choose(id) {
    stopListening();
    const mine = ++generation;
    pathwayId = id || null;
    listing = null;
    rows = new Map();
    $("modules").replaceChildren();
    $("pathway").hidden = true;
    if (!pathwayId) return;
    let reply;
    try {
      reply = await api.listing(pathwayId);
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (mine !== generation) return;
    listing = reply;
    $("pathway-title").textContent = listing.title;
    // A retired pathway (`catalog apply --prune`) is the learner's record: shown as it stands,
    // taking no new work (the API answers 409 pathway_retired): no start, no time, no "Done".
    const retired = Boolean(listing.retired_at);
    $("pathway").dataset.retired = retired ? "true" : "false";
    $("pathway-retired").hidden = !retired;
    $("pathway-retired").textContent = retired
      ? "This pathway is no longer offered. Your record of it is kept as it stands, and it takes no new work."
      : "";
    setBar($("pathway-bar"), $("pathway-label"), 0);
    $("pathway-detail").textContent = "";
    $("pathway-time").textContent = formatMinutes(0);
    $("modules").replaceChildren(...listing.modules.map(renderModule));
    listen(listing);
    for (const row of rows.values()) {
      if (row.resource.requires_upload) refreshSubmissions(row);
    }
  }

  function applyRoute(r) {
    const crumb = $("crumb-pathway");
    $("crumbs").hidden = false;
    $("pathway").hidden = false;
    $("pathway").dataset.view = r.view;
    let moduleId = r.module || null;
    if (r.view === "resource") {
      const row = rows.get(r.resource);
      if (!row) {
        ui.error("That resource could not be found in this pathway. It may have been removed.");
        moduleId = null;
      } else {
        moduleId = row.resource.module_id;
      }
    }
    for (const section of $("modules").children) {
      section.hidden = Boolean(moduleId) && section.dataset.module !== moduleId;
    }
    for (const [rid, row] of rows) {
      row.el.hidden = r.view === "resource" && rid !== r.resource;
      row.el.classList.toggle("focused", r.view === "resource" && rid === r.resource);
    }
    $("focus-note").hidden = r.view === "pathway";
    $("show-all").href = link.pathway(pathwayId);
    crumb.replaceChildren(" › ", h("a", { href: link.pathway(pathwayId) }, listing.title));
    if (moduleId && r.view !== "pathway") {
      const m = listing.modules.find((x) => x.module_id === moduleId);
      if (m) crumb.append(" › ", h("a", { href: link.module(pathwayId, moduleId) }, m.title));
    }
    if (r.view === "resource" && rows.has(r.resource)) {
      const row = rows.get(r.resource);
      crumb.append(" › ", h("span", { "aria-current": "page" }, row.resource.title));
      focusHeading(row.heading);
      openResource(row);
    } else if (r.view === "module" && moduleId) {
      const section = $(`module-${moduleId}`);
      if (section) focusHeading(section.querySelector("h3"));
    } else {
      focusHeading($("pathway-title"));
    }
  }

  /** Opening a resource starts it, and its time accrues while this view is visible. */
  function openResource(row) {
    const rid = row.resource.resource_id;
    if (beating && beating.rid === rid) return;
    stopBeating();
    if (listing && listing.retired_at) return; // a record: nothing starts, no time accrues
    if (row.status === "not_started") {
      api.start(rid).catch((err) => ui.error(describeError(err)));
    }
    const heartbeat = startHeartbeat({
      lockName: `aibc-time-${uid}`,
      carriedMs: carried.get(rid) || 0,
      send: (minutes) =>
        api.heartbeat(rid, {
          progress_percentage: Math.round(Math.max(0, Math.min(100, row.progress || 0))),
          time_spent_minutes: minutes,
        }),
    });
    beating = { rid, heartbeat };
    row.el.dataset.timing = "on";
  }

  function stopBeating() {
    if (!beating) return;
    carried.set(beating.rid, beating.heartbeat.stop());
    const row = rows.get(beating.rid);
    if (row) delete row.el.dataset.timing;
    beating = null;
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
          showTimes();
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

  /** Time spent per module and for the pathway: the sums of the resources' stored minutes. */
  function showTimes() {
    let total = 0;
    const byModule = new Map();
    for (const row of rows.values()) {
      total += row.minutes;
      const mid = row.resource.module_id;
      byModule.set(mid, (byModule.get(mid) || 0) + row.minutes);
    }
    $("pathway-time").textContent = formatMinutes(total);
    $("pathway-time").dataset.minutes = String(total);
    for (const [mid, minutes] of byModule) {
      const el = $(`module-time-${mid}`);
      if (el) {
        el.textContent = formatMinutes(minutes);
        el.dataset.minutes = String(minutes);
      }
    }
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
    const mid = module.module_id;
    return h(
      "section",
      { class: "module", id: `module-${mid}`, "data-testid": `module-${mid}`, "data-module": mid, "aria-labelledby": `module-title-${mid}` },
      h("h3", { id: `module-title-${mid}`, tabindex: "-1" }, h("a", { href: link.module(pathwayId, mid) }, module.title)),
      h(
        "div",
        { class: "meter" },
        h("progress", { max: "100", value: "0", "data-testid": `module-bar-${mid}`, "aria-label": `Progress of module ${module.title}` }),
        h("span", {}, "0 %"),
      ),
      h("p", { class: "hint" }, h("span", { class: "module-detail" }, ""), " Time spent: ", h("span", { id: `module-time-${mid}`, "data-testid": `module-time-${mid}` }, formatMinutes(0)), "."),
      ...module.resources.map((r) => renderResource({ ...r, module_id: mid })),
    );
  }

  function renderResource(resource) {
    const rid = resource.resource_id;
    const row = { resource, status: resource.status || "not_started", progress: 0, minutes: 0 };
    row.badge = h("span", { class: "status", "data-testid": `status-${rid}` }, "");
    row.bar = h("progress", { max: "100", value: "0", "data-testid": `resource-bar-${rid}`, "aria-label": `Progress of ${resource.title}` });
    row.barLabel = h("span", {}, "0 %");
    row.time = h("span", { class: "tag", "data-testid": `time-${rid}`, title: "Time spent" }, `${formatMinutes(0)} spent`);
    row.heading = h(
      "h4",
      { class: "resource-title", tabindex: "-1" },
      h("a", { href: link.resource(pathwayId, rid), "data-testid": `open-resource-${rid}` }, resource.title),
    );
    row.el = h(
      "div",
      { class: "resource", "data-testid": `resource-${rid}` },
      h(
        "div",
        { class: "resource-head" },
        row.heading,
        h("span", { class: "tag" }, TYPE_TEXT[resource.type] || resource.type),
        resource.duration_minutes ? h("span", { class: "tag" }, `${resource.duration_minutes} min`) : null,
        resource.optional ? h("span", { class: "tag" }, "optional") : null,
        ...ruleTags(resource),
        row.badge,
        row.time,
        (row.rule = ruleState(resource)).el,
      ),
      h("div", { class: "meter" }, row.bar, row.barLabel),
      resource.url
        ? h(
            "p",
            { class: "resource-link" },
            h("a", { href: resource.url, target: "_blank", rel: "noopener" }, `Open the ${(TYPE_TEXT[resource.type] || "resource").toLowerCase()}: ${resource.title}`),
            h("span", { class: "visually-hidden" }, " (opens in a new tab)"),
          )
        : null,
      resource.requires_upload ? renderUpload(row) : renderCheck(row),
      resource.completion === "score" ? renderScore(resource, { api, ui }) : null,
    );
    rows.set(rid, row);
    showResource(row, resource.status ? { status: resource.status } : null);
    return row.el;
  }

  function renderCheck(row) {
    const rid = row.resource.resource_id;
    row.button = h(
      "button",
      { type: "button", class: "toggle", "data-testid": `complete-${rid}`, "aria-pressed": "false", "aria-label": `Done: ${row.resource.title}` },
      "Done",
    );
    if (listing && listing.retired_at) row.button.disabled = true;
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

  // ---- uploads: a drop zone and a file input feed one queue, sent one file after another ----

  function renderUpload(row) {
    const { resource } = row;
    const rid = resource.resource_id;
    row.queue = [];
    row.queued = 0;
    row.input = h("input", {
      type: "file",
      multiple: true,
      id: `file-${rid}`,
      "data-testid": `file-${rid}`,
      accept: (resource.accepted_file_types || []).join(","),
    });
    row.input.addEventListener("change", () => {
      addFiles(row, Array.from(row.input.files || []));
      row.input.value = "";
    });
    row.sendBar = h("progress", { max: "100", value: "0", hidden: true, "data-testid": `upload-progress-${rid}`, "aria-label": `Upload of a file for ${resource.title}` });
    row.sendLabel = h("span", { class: "hint", "data-testid": `upload-state-${rid}`, role: "status" }, "");
    row.queueList = h("ul", { class: "queue-list", "data-testid": `queue-${rid}`, "aria-label": `Files being sent for ${resource.title}` });
    row.list = h("ul", { class: "submissions", "data-testid": `submissions-${rid}`, "aria-label": `Your submissions for ${resource.title}` });
    const zone = h(
      "div",
      { class: "drop", "data-testid": `drop-${rid}` },
      h("label", { for: `file-${rid}` }, `Files for ${resource.title}: drop them here, or choose them`),
      h("div", { class: "upload" }, row.input, row.sendBar, row.sendLabel),
      h("p", { class: "hint" }, `Accepted: ${describeAccepted(resource.accepted_file_types, resource.max_file_size_mb)}. Several files are sent one after another.`),
      row.queueList,
    );
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const files = droppedFiles(e.dataTransfer);
      if (!files.length) {
        ui.error(NOTHING_DROPPED);
        return;
      }
      addFiles(row, files);
    });
    return h("div", {}, zone, row.list);
  }

  /** Check each file as the file input would; queue the good ones, say why the others are not. */
  function addFiles(row, files) {
    const { resource } = row;
    const refusals = [];
    for (const file of files) {
      const refused = checkFile(resource, file);
      if (refused) {
        refused.maxMb = refused.maxMb || resource.max_file_size_mb;
        refusals.push(describeRefusal(file.name, refused));
        continue;
      }
      row.queued += 1;
      const item = { file, n: row.queued, state: "waiting", controller: new AbortController() };
      item.text = h("span", {}, "");
      item.button = h(
        "button",
        { type: "button", "data-testid": `cancel-${resource.resource_id}-${item.n}`, "aria-label": `Cancel sending ${file.name}` },
        "Cancel",
      );
      item.button.addEventListener("click", () => {
        item.controller.abort();
        if (item.state === "waiting") setItem(item, "cancelled", "cancelled");
      });
      item.el = h("li", { "data-testid": `queued-${resource.resource_id}-${item.n}` }, item.text, item.button);
      setItem(item, "waiting", "waiting");
      row.queue.push(item);
      row.queueList.append(item.el);
    }
    if (refusals.length) ui.error(refusals.join(" "));
    else if (files.length) ui.clear();
    drain(row);
  }

  function setItem(item, state, words) {
    item.state = state;
    item.el.dataset.state = state;
    item.text.textContent = `${item.file.name} (${formatBytes(item.file.size)}): ${words}`;
    item.button.hidden = !["waiting", "sending"].includes(state);
  }

  /** Send the queue one file after another (one runner per resource). */
  async function drain(row) {
    if (row.sending) return;
    row.sending = true;
    try {
      for (;;) {
        const item = row.queue.find((i) => i.state === "waiting");
        if (!item) break;
        await sendOne(row, item);
      }
    } finally {
      row.sending = false;
    }
  }

  async function sendOne(row, item) {
    const { resource } = row;
    const { file } = item;
    setItem(item, "sending", "preparing…");
    row.sendBar.hidden = false;
    row.sendBar.value = 0;
    row.sendLabel.textContent = `Preparing ${file.name}…`;
    let grant = null;
    try {
      grant = await api.uploadUrl(resource.resource_id, {
        file_name: file.name,
        content_type: fileType(file),
        size_bytes: file.size,
      });
      row.sendLabel.textContent = `Sending ${file.name}… 0 %`;
      await putFile(
        grant,
        file,
        (fraction) => {
          const p = Math.round(fraction * 100);
          row.sendBar.value = p;
          row.sendLabel.textContent = `Sending ${file.name}… ${p} %`;
          setItem(item, "sending", `sending, ${p} %`);
        },
        item.controller.signal,
      );
      setItem(item, "sent", "sent");
      row.sendLabel.textContent = `Sent ${file.name} (${formatBytes(file.size)}). Checking the file…`;
    } catch (err) {
      if (err instanceof UploadCancelled || item.controller.signal.aborted) {
        setItem(item, "cancelled", "cancelled");
        row.sendBar.hidden = true;
        row.sendLabel.textContent = `Cancelled ${file.name}.`;
        // The reserved attempt will never get its file: withdraw it rather than wait for expiry.
        if (grant) api.deleteSubmission(grant.submission_id).catch(() => {});
        return;
      }
      if (err.status === 413) err.maxMb = resource.max_file_size_mb;
      setItem(item, "failed", "not sent");
      row.sendLabel.textContent = `${file.name} was not sent.`;
      ui.error(describeRefusal(file.name, err));
    }
  }

  function showResource(row, data) {
    row.status = (data && data.status) || "not_started";
    const counted = COUNTED.has(row.status);
    const progress = counted ? 100 : Number((data && data.progress_percentage) || 0);
    row.progress = Number((data && data.progress_percentage) || 0);
    row.minutes = Number((data && data.time_spent_minutes) || 0);
    row.time.textContent = `${formatMinutes(row.minutes)} spent`;
    row.time.dataset.minutes = String(row.minutes);
    row.badge.textContent = STATUS_TEXT[row.status] || row.status;
    row.badge.className = `status status-${row.status}`;
    row.el.dataset.status = row.status;
    setBar(row.bar, row.barLabel, progress);
    if (row.rule) row.rule.show(data);
    if (row.button) row.button.setAttribute("aria-pressed", counted ? "true" : "false");
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
    row.list.replaceChildren(...items.map((s) => renderSubmission(row, s)));
    const latest = items[0];
    if (row.sending) return;
    if (!latest) {
      row.sendBar.hidden = true;
      row.sendLabel.textContent = "";
      return;
    }
    const state = UPLOAD_STATE[latest.status];
    if (state) {
      row.sendBar.hidden = true;
      row.sendLabel.textContent = typeof state === "function" ? state(latest) : state;
    }
  }

  function renderSubmission(row, s) {
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
    if (!["approved", "rejected", "deleted"].includes(s.status)) {
      li.append(" ", deleteControl(row, s));
    }
    return li;
  }

  /** A submission not yet reviewed can be withdrawn. */
  function deleteControl(row, s) {
    const button = h(
      "button",
      { type: "button", "data-testid": `delete-${s.submission_id}`, "aria-label": `Delete attempt ${s.attempt}, ${s.file_name}` },
      "Delete",
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api.deleteSubmission(s.submission_id);
        ui.info(`Deleted attempt ${s.attempt}, ${s.file_name}.`);
        await refreshSubmissions(row);
      } catch (err) {
        button.disabled = false;
        ui.error(describeError(err));
      }
    });
    return button;
  }

  function downloadControl(s) {
    const button = h("button", { type: "button", "data-testid": `get-download-${s.submission_id}` }, "Get download link");
    button.setAttribute("aria-label", `Get download link for ${s.file_name}`);
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

  return { start, stop };
}
