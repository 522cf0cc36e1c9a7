// The instructor's excuse screen (issue 13 item 4): pick a cohort one teaches, one of its learners
// and a pathway; see that learner's resources with their status, due time, late flag and excuse;
// excuse the learner from a resource (or take the excuse back) with a reason; read the excuse
// trail. Every call is scoped by the backend to the caller's cohorts (404 otherwise):
//   GET  /cohorts?limit=200, GET /cohorts/{cid}/members                    (cohorts function)
//   GET  /admin/users/{uid}/progress/{pathway_id}                         (the learner's report)
//   POST /admin/users/{uid}/resources/{rid}/excuse | unexcuse {"reason"}  (audited)
//   GET  /admin/users/{uid}/excuses?pathway_id=                           (the audit entries)
// instructor.js mounts it below the queue with createExcuses({ api, ui }).start() / .stop().
import { $, h, when } from "./dom.js";
import { describeError } from "./messages.js";

const MEMBER_PAGES = 5; // up to 1000 learners in the picker

export function createExcuses({ api, ui }) {
  let running = false;
  let cohorts = [];
  let report = null; // the shown learner's report
  let shown = null; // { uid, pathwayId }

  function section() {
    let el = $("excuses");
    if (el) return el;
    const cohort = h("select", { id: "excuses-cohort", "data-testid": "excuses-cohort" });
    const learner = h("select", { id: "excuses-learner", "data-testid": "excuses-learner", disabled: true });
    const pathway = h("select", { id: "excuses-pathway", "data-testid": "excuses-pathway", disabled: true });
    cohort.addEventListener("change", () => pickCohort());
    learner.addEventListener("change", () => show());
    pathway.addEventListener("change", () => show());
    el = h(
      "section",
      { id: "excuses", class: "card", "aria-labelledby": "excuses-title", "data-testid": "excuses" },
      h("h2", { id: "excuses-title" }, "Excuse a learner from a resource"),
      h(
        "div",
        { class: "row" },
        h("label", { for: "excuses-cohort" }, "Cohort"),
        cohort,
        h("label", { for: "excuses-learner" }, "Learner"),
        learner,
        h("label", { for: "excuses-pathway" }, "Pathway"),
        pathway,
      ),
      h("p", { id: "excuses-hint", class: "hint", "data-testid": "excuses-hint" }, "Pick a cohort, a learner and a pathway."),
      h(
        "div",
        { id: "excuses-table-box", class: "scroll", tabindex: "0", role: "region", "aria-label": "The learner's resources", hidden: true },
        h(
          "table",
          { id: "excuses-table", "data-testid": "excuses-table" },
          h("caption", { class: "visually-hidden" }, "The learner's resources in the pathway, with status, due time, late and excused"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Resource", "Status", "Due", "Late", "Excused"].map((t) => h("th", { scope: "col" }, t)),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")),
            ),
          ),
          h("tbody", { id: "excuses-rows" }),
        ),
      ),
      h("section", { id: "excuse-panel", class: "card", "data-testid": "excuse-panel", hidden: true }),
      h("h3", { id: "excuse-trail-title" }, "Excuse history"),
      h("p", { id: "excuse-trail-empty", class: "hint", "data-testid": "excuse-trail-empty" }, "No excuses yet."),
      h(
        "div",
        { id: "excuse-trail-box", class: "scroll", tabindex: "0", role: "region", "aria-labelledby": "excuse-trail-title", hidden: true },
        h(
          "table",
          { id: "excuse-trail", "data-testid": "excuse-trail" },
          h("caption", { class: "visually-hidden" }, "Excuses and their withdrawals, the latest first"),
          h("thead", {}, h("tr", {}, ...["When", "Resource", "Change", "By", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", { id: "excuse-trail-rows" }),
        ),
      ),
    );
    $("instructor").append(el);
    return el;
  }

  async function start() {
    running = true;
    section().hidden = false;
    try {
      ({ cohorts } = await api.cohortList());
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (!running) return;
    $("excuses-cohort").replaceChildren(
      h("option", { value: "" }, cohorts.length ? "Choose a cohort" : "You teach no cohort"),
      ...cohorts.map((c) => h("option", { value: c.cohort_id }, c.name)),
    );
  }

  function stop() {
    running = false;
    report = null;
    shown = null;
    const el = $("excuses");
    if (el) el.remove();
  }

  function clearLearner() {
    report = null;
    shown = null;
    $("excuses-table-box").hidden = true;
    $("excuses-rows").replaceChildren();
    $("excuse-panel").hidden = true;
    $("excuse-trail-rows").replaceChildren();
    $("excuse-trail-box").hidden = true;
    $("excuse-trail-empty").hidden = false;
  }

  async function pickCohort() {
    clearLearner();
    const learner = $("excuses-learner");
    const pathway = $("excuses-pathway");
    const cohort = cohorts.find((c) => c.cohort_id === $("excuses-cohort").value);
    learner.disabled = pathway.disabled = true;
    if (!cohort) return;
    pathway.replaceChildren(...cohort.pathway_ids.map((p) => h("option", { value: p }, p)));
    const uids = [];
    let cursor = null;
    try {
      for (let page = 0; page < MEMBER_PAGES; page += 1) {
        const reply = await api.cohortMembers(cohort.cohort_id, cursor);
        uids.push(...reply.members.map((m) => m.uid));
        cursor = reply.next_cursor;
        if (!cursor) break;
      }
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (!running || $("excuses-cohort").value !== cohort.cohort_id) return;
    learner.replaceChildren(
      h("option", { value: "" }, uids.length ? "Choose a learner" : "No learners yet"),
      ...uids.map((uid) => h("option", { value: uid }, uid)),
    );
    learner.disabled = uids.length === 0;
    pathway.disabled = cohort.pathway_ids.length === 0;
    $("excuses-hint").textContent = cohort.pathway_ids.length
      ? "Pick a learner."
      : "This cohort has no pathway yet.";
  }

  async function show() {
    const uid = $("excuses-learner").value;
    const pathwayId = $("excuses-pathway").value;
    if (!uid || !pathwayId) {
      clearLearner();
      return;
    }
    let fresh;
    let trail;
    try {
      [fresh, trail] = await Promise.all([api.learnerReport(uid, pathwayId), api.excuseTrail(uid, pathwayId)]);
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (!running || $("excuses-learner").value !== uid || $("excuses-pathway").value !== pathwayId) return;
    report = fresh;
    shown = { uid, pathwayId };
    ui.clear();
    const resources = report.modules.flatMap((m) => m.resources);
    $("excuses-rows").replaceChildren(...resources.map(renderRow));
    $("excuses-table-box").hidden = false;
    $("excuses-hint").textContent = `${uid}: ${resources.length} resources, ${resources.filter((r) => r.excused).length} excused.`;
    renderTrail(trail.entries);
  }

  function renderRow(r) {
    const rid = r.resource_id;
    const act = r.excused ? "unexcuse" : "excuse";
    const button = h(
      "button",
      { type: "button", "data-testid": `excuse-toggle-${rid}`, "aria-label": `${r.excused ? "Take back the excuse from" : "Excuse the learner from"} ${r.title}` },
      r.excused ? "Take back" : "Excuse",
    );
    button.addEventListener("click", () => openPanel(r, act));
    const due = r.due_at ? when(r.due_at) : "–";
    return h(
      "tr",
      { "data-testid": `excuse-row-${rid}`, "data-excused": r.excused ? "true" : "false", "data-late": r.late ? "true" : "false" },
      h("td", {}, r.title, r.optional ? h("span", { class: "tag" }, "optional") : null),
      h("td", {}, h("span", { class: `status status-${r.status}`, "data-testid": `excuse-status-${rid}` }, r.status.replace("_", " "))),
      h("td", { "data-testid": `excuse-due-${rid}`, "data-due": r.due_at || "" }, due),
      h("td", { "data-testid": `excuse-late-${rid}` }, r.late ? "late" : "–"),
      h(
        "td",
        { "data-testid": `excuse-excused-${rid}` },
        r.excused ? `yes${r.excuse_reason ? ` — “${r.excuse_reason}”` : ""}${r.excused_by ? ` (${r.excused_by})` : ""}` : "no",
      ),
      h("td", {}, button),
    );
  }

  function openPanel(r, act) {
    const panel = $("excuse-panel");
    const target = { ...shown };
    const title = h(
      "h3",
      { id: "excuse-panel-title", tabindex: "-1" },
      act === "excuse" ? `Excuse ${target.uid} from “${r.title}”` : `Take back the excuse of ${target.uid} from “${r.title}”`,
    );
    const reason = h("textarea", { id: "excuse-reason", rows: "2", maxlength: "2000", required: true, "data-testid": "excuse-reason" });
    const send = h("button", { type: "button", class: "primary", "data-testid": "excuse-send" }, act === "excuse" ? "Excuse" : "Take back the excuse");
    const cancel = h("button", { type: "button", "data-testid": "excuse-cancel" }, "Cancel");
    const outcome = h("p", { role: "status", "data-testid": "excuse-outcome" });
    cancel.addEventListener("click", () => {
      panel.hidden = true;
    });
    send.addEventListener("click", async () => {
      if (!reason.value.trim()) {
        ui.error("Give a reason: it is kept in the audit trail.");
        reason.focus();
        return;
      }
      send.disabled = true;
      try {
        const call = act === "excuse" ? api.excuse : api.unexcuse;
        await call(target.uid, r.resource_id, { reason: reason.value.trim() });
        ui.clear();
        panel.hidden = true;
        await show();
        const toggle = document.querySelector(`[data-testid="excuse-toggle-${r.resource_id}"]`);
        if (toggle) toggle.focus();
      } catch (err) {
        send.disabled = false;
        ui.error(describeError(err));
      }
    });
    panel.replaceChildren(
      title,
      h("p", { class: "hint" }, act === "excuse" ? "The resource leaves this learner's module and pathway numbers; what they did is kept." : "The resource counts for this learner again, as their status says."),
      h("label", { for: "excuse-reason" }, "Reason (required; kept in the audit trail)"),
      reason,
      h("div", { class: "row" }, send, cancel),
      outcome,
    );
    panel.setAttribute("aria-labelledby", "excuse-panel-title");
    panel.dataset.resource = r.resource_id;
    panel.dataset.action = act;
    panel.hidden = false;
    title.focus();
  }

  function renderTrail(entries) {
    const titles = new Map((report ? report.modules.flatMap((m) => m.resources) : []).map((r) => [r.resource_id, r.title]));
    $("excuse-trail-rows").replaceChildren(
      ...entries.map((e, i) =>
        h(
          "tr",
          { "data-testid": `excuse-trail-${i}`, "data-action": e.action, "data-resource": e.resource_id },
          h("td", {}, when(e.at)),
          h("td", {}, titles.get(e.resource_id) || e.resource_id),
          h("td", {}, e.action === "excuse" ? "excused" : "excuse taken back"),
          h("td", {}, e.by),
          h("td", {}, e.reason || ""),
        ),
      ),
    );
    $("excuse-trail-box").hidden = entries.length === 0;
    $("excuse-trail-empty").hidden = entries.length > 0;
  }

  return { start, stop };
}
