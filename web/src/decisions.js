// The instructor's recent decisions and the revise button (issue 12 items 3 and 7): approved or
// rejected submissions, the latest decision first (GET /admin/submissions/decided), each with a
// "Revise" that opens a small form: the new decision, grade, comments and the reason (required).
// The form names the revision it was opened on, so a decision revised meanwhile by someone else
// is refused (409) instead of overwritten; the learner is notified again by the backend.
import { $, h, when } from "./dom.js";
import { describeError } from "./messages.js";

const PAGE = 20;

export function createDecisions({ api, ui }) {
  let running = false;
  let status = "approved";
  let cursor = null;

  function section() {
    let el = $("decisions");
    if (el) return el;
    const choose = h(
      "select",
      { id: "decisions-status", "data-testid": "decisions-status" },
      h("option", { value: "approved" }, "Approved"),
      h("option", { value: "rejected" }, "Rejected"),
    );
    choose.addEventListener("change", () => {
      status = choose.value;
      load(false);
    });
    const refresh = h("button", { type: "button", id: "decisions-refresh", "data-testid": "decisions-refresh" }, "Refresh decisions");
    refresh.addEventListener("click", () => load(false));
    const more = h("button", { type: "button", id: "decisions-more", hidden: true }, "Show older decisions");
    more.addEventListener("click", () => load(true));
    el = h(
      "section",
      { id: "decisions", class: "card decisions", "aria-labelledby": "decisions-title", "data-testid": "decisions" },
      h("div", { class: "row" }, h("h2", { id: "decisions-title" }, "Recent decisions"), h("label", {}, "Show", choose), refresh),
      h("p", { id: "decisions-empty", class: "hint", hidden: true }, "No decisions yet."),
      h(
        "table",
        { id: "decisions-table", hidden: true },
        h("caption", { class: "visually-hidden" }, "Reviewed submissions, the latest decision first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["File", "Learner", "Resource", "Attempt", "Decision", "Grade", "Decided"].map((t) => h("th", { scope: "col" }, t)),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")),
          ),
        ),
        h("tbody", { id: "decisions-rows" }),
      ),
      more,
      h("section", { id: "revise-panel", class: "card", "data-testid": "revise-panel", hidden: true }),
    );
    $("instructor").append(el);
    return el;
  }

  async function start() {
    running = true;
    section().hidden = false;
    await load(false);
  }

  function stop() {
    running = false;
    const el = $("decisions");
    if (el) el.remove();
  }

  async function load(more) {
    if (!more) cursor = null;
    let page;
    try {
      page = await api.decided({ status, limit: PAGE, cursor: more ? cursor : null });
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (!running) return;
    cursor = page.next_cursor;
    const rows = page.submissions.map(renderRow);
    if (more) $("decisions-rows").append(...rows);
    else $("decisions-rows").replaceChildren(...rows);
    const any = $("decisions-rows").children.length > 0;
    $("decisions-table").hidden = !any;
    $("decisions-empty").hidden = any;
    $("decisions-more").hidden = !cursor;
  }

  function renderRow(s) {
    const revise = h(
      "button",
      {
        type: "button",
        "data-testid": `revise-${s.submission_id}`,
        "aria-label": `Revise the decision on ${s.file_name}, attempt ${s.attempt}, from ${s.learner_name || s.learner_email || s.user_id}`,
      },
      "Revise",
    );
    revise.addEventListener("click", () => openRevise(s));
    return h(
      "tr",
      { "data-testid": `decided-${s.submission_id}` },
      h("td", {}, s.file_name),
      h("td", { title: s.learner_email || s.user_id }, s.learner_name || s.learner_email || s.user_id),
      h("td", {}, s.resource_title || s.resource_id),
      h("td", {}, String(s.attempt)),
      h("td", {}, h("span", { class: `status status-${s.status}` }, s.status), s.revision ? ` (revised ${s.revision}×)` : ""),
      h("td", {}, s.grade === null || s.grade === undefined ? "–" : String(s.grade)),
      h("td", {}, when(s.reviewed_at)),
      h("td", {}, revise),
    );
  }

  function openRevise(s) {
    const panel = $("revise-panel");
    const title = h("h3", { id: "revise-title", tabindex: "-1" }, `Revise: ${s.file_name} — attempt ${s.attempt}`);
    const decision = h(
      "select",
      { "data-testid": "revise-decision" },
      h("option", { value: "approve" }, "Approve"),
      h("option", { value: "reject" }, "Reject"),
    );
    decision.value = s.status === "approved" ? "reject" : "approve";
    const grade = h("input", { type: "number", min: "0", max: "100", step: "1", "data-testid": "revise-grade" });
    if (s.grade !== null && s.grade !== undefined) grade.value = String(s.grade);
    const comments = h("textarea", { rows: "3", maxlength: "5000", "data-testid": "revise-comments" });
    comments.value = s.review_comments || "";
    const reason = h("textarea", { rows: "2", maxlength: "2000", required: true, "data-testid": "revise-reason" });
    const send = h("button", { type: "button", class: "primary", "data-testid": "revise-send" }, "Save the revised decision");
    const outcome = h("p", { role: "status", tabindex: "-1", "data-testid": "revise-outcome" });
    send.addEventListener("click", async () => {
      const raw = grade.value.trim();
      const value = raw === "" ? null : Number(raw);
      if (value !== null && (!Number.isInteger(value) || value < 0 || value > 100)) {
        ui.error("The grade must be a whole number from 0 to 100.");
        return;
      }
      if (!reason.value.trim()) {
        ui.error("Say why the decision changes: the learner sees the reason.");
        reason.focus();
        return;
      }
      send.disabled = true;
      try {
        const reply = await api.revise(s.submission_id, {
          decision: decision.value,
          revision: s.revision || 0,
          grade: value,
          comments: comments.value,
          reason: reason.value,
        });
        ui.clear();
        outcome.textContent = `Revised: ${reply.file_name} is now ${reply.status} (revision ${reply.revision}). The learner is notified.`;
        outcome.dataset.status = reply.status;
        outcome.focus();
        await load(false);
      } catch (err) {
        send.disabled = false;
        ui.error(describeError(err));
      }
    });
    const learner = s.learner_name ? `${s.learner_name} (${s.learner_email || s.user_id})` : s.learner_email || s.user_id;
    panel.replaceChildren(
      title,
      h("p", { class: "hint" }, `${learner} · ${s.resource_title || s.resource_id} · now ${s.status}${s.grade !== null && s.grade !== undefined ? `, grade ${s.grade}` : ""}${s.review_comments ? ` — “${s.review_comments}”` : ""}`),
      h("label", {}, "New decision", decision),
      h("label", {}, "Grade (0–100, optional)", grade),
      h("label", {}, "Comments for the learner", comments),
      h("label", {}, "Reason for the change (required; the learner sees it)", reason),
      h("div", { class: "row" }, send),
      outcome,
    );
    panel.dataset.submission = s.submission_id;
    panel.setAttribute("aria-labelledby", "revise-title");
    panel.hidden = false;
    title.focus();
  }

  return { start, stop };
}
