// The instructor's view: the pending queue, open a submission, approve or reject it, or approve
// several selected ones at once.
import { collection, onSnapshot, query, where } from "firebase/firestore";
import { createDashboardView } from "./dashboard.js";
import { createDecisions } from "./decisions.js";
import { $, h, when } from "./dom.js";
import { createExcuses } from "./excuses.js";
import { createExports } from "./exports.js";
import { describeError, formatBytes } from "./messages.js";

const MAX_PAGES = 10; // the oldest 1000 waiting submissions
const MAX_BULK = 50; // what one bulk approval may name

export function createInstructorView({ db, api, ui }) {
  let stopQueue = null;
  let openId = null;
  const selected = new Map(); // submission id -> the generation the row showed
  const dashboard = createDashboardView({ db, api, ui }); // the cohort dashboard, below the queue
  const decisions = createDecisions({ api, ui }); // recent decisions, to revise one
  const exportsView = createExports({ api, ui }); // a cohort's CSV and xAPI exports
  const excuses = createExcuses({ api, ui }); // excuse a learner from a resource (excuses.js)

  async function start(user) {
    $("instructor").hidden = false;
    $("queue-refresh").onclick = () => refresh();
    $("queue-approve-selected").onclick = () => approveSelected();
    // Any submission entering or leaving "uploaded" refreshes the queue. An admin may read every
    // submission; an instructor only those of their cohorts' learners (the rules check
    // instructor_uids, so the query must name it).
    const admin = (await user.getIdTokenResult()).claims.admin === true;
    const waiting = admin
      ? query(collection(db, "submissions"), where("status", "==", "uploaded"))
      : query(
          collection(db, "submissions"),
          where("status", "==", "uploaded"),
          where("instructor_uids", "array-contains", user.uid),
        );
    fillCohorts(); // the queue's cohort filter (best effort: without it the queue is unfiltered)
    stopQueue = onSnapshot(
      waiting,
      () => refresh(),
      (err) => ui.error(describeError(err)),
    );
    await refresh();
    await dashboard.start();
    await decisions.start();
    exportsView.start();
    await excuses.start();
  }

  // The cohorts the caller teaches (an admin: every cohort) as the queue's filter.
  async function fillCohorts() {
    const select = $("queue-cohort");
    select.onchange = () => refresh();
    try {
      const { cohorts } = await api.cohortList();
      select.replaceChildren(
        h("option", { value: "" }, "All my learners"),
        ...cohorts.map((c) => h("option", { value: c.cohort_id }, c.name)),
      );
      $("queue-cohort-label").hidden = cohorts.length === 0;
    } catch {
      $("queue-cohort-label").hidden = true;
    }
  }

  function stop() {
    dashboard.stop();
    decisions.stop();
    exportsView.stop();
    excuses.stop();
    if (stopQueue) stopQueue();
    stopQueue = null;
    openId = null;
    selected.clear();
    $("bulk-outcome").hidden = true;
    $("instructor").hidden = true;
    $("queue-rows").replaceChildren();
    $("review-panel").replaceChildren();
    $("review-panel").hidden = true;
  }

  // Coalesced: a burst of queue changes causes one reload in flight and at most one after it.
  let loading = null;
  let again = false;
  function refresh() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        await load();
      } while (again && stopQueue);
      loading = null;
    })();
    return loading;
  }

  async function load() {
    const items = [];
    let cursor = null;
    try {
      for (let pages = 0; pages < MAX_PAGES; pages += 1) {
        const page = await api.pending({ limit: 100, cursor, cohort_id: $("queue-cohort").value });
        items.push(...(page.submissions || []));
        cursor = page.next_cursor;
        if (!cursor) break;
      }
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (!stopQueue) return; // signed out meanwhile
    $("queue-empty").hidden = items.length > 0;
    $("queue").hidden = items.length === 0;
    for (const id of [...selected.keys()]) {
      if (!items.some((s) => s.submission_id === id)) selected.delete(id); // decided meanwhile
    }
    $("queue-rows").replaceChildren(...items.map(renderRow));
    updateSelection();
    $("queue-more").hidden = !cursor;
    if (openId && !items.some((s) => s.submission_id === openId)) {
      // Reviewed (here or elsewhere): the panel keeps its outcome message, the actions go.
      for (const b of $("review-panel").querySelectorAll("button")) b.disabled = true;
    }
  }

  function renderRow(s) {
    // The visible word stays "Open"; its name says what it opens (WCAG: label in name).
    const open = h(
      "button",
      {
        type: "button",
        "data-testid": `open-${s.submission_id}`,
        "aria-label": `Open ${s.file_name}, attempt ${s.attempt}, from learner ${s.user_id}`,
      },
      "Open",
    );
    open.addEventListener("click", () => openSubmission(s));
    const pick = h("input", {
      type: "checkbox",
      "aria-label": `Select ${s.file_name}`,
      "data-testid": `select-${s.submission_id}`,
    });
    pick.checked = selected.has(s.submission_id);
    pick.addEventListener("change", () => {
      if (pick.checked) selected.set(s.submission_id, s.gcs_generation);
      else selected.delete(s.submission_id);
      updateSelection();
    });
    return h(
      "tr",
      { "data-testid": `queue-${s.submission_id}` },
      h("td", {}, pick),
      h("td", {}, `${s.file_name} (${formatBytes(s.size_bytes)})`),
      h("td", { title: s.learner_email || s.user_id }, s.learner_name || s.learner_email || s.user_id),
      h("td", { title: s.resource_id }, s.resource_title || s.resource_id),
      h("td", {}, String(s.attempt)),
      h(
        "td",
        {},
        when(s.uploaded_at),
        // after the learner's due time (theirs: absolute, or from their cohort's start)
        s.late ? h("span", { class: "tag", "data-testid": `late-${s.submission_id}` }, `late (due ${when(s.due_at)})`) : null,
      ),
      h("td", {}, open),
    );
  }

  async function openSubmission(s) {
    openId = s.submission_id;
    const panel = $("review-panel");
    const link = h("span", { class: "hint" }, "Getting the download link…");
    const grade = h("input", { type: "number", min: "0", max: "100", step: "1", "data-testid": "review-grade" });
    const comments = h("textarea", { rows: "3", maxlength: "5000", "data-testid": "review-comments" });
    const outcome = h("p", { "data-testid": "review-outcome", role: "status", tabindex: "-1" });
    const title = h("h3", { id: "review-title", tabindex: "-1" }, `${s.file_name} — attempt ${s.attempt}`);
    const approve = h("button", { type: "button", class: "primary", "data-testid": "approve" }, "Approve");
    const reject = h("button", { type: "button", "data-testid": "reject" }, "Reject");
    const decide = async (decision) => {
      const raw = grade.value.trim();
      const value = raw === "" ? null : Number(raw);
      if (value !== null && (!Number.isInteger(value) || value < 0 || value > 100)) {
        ui.error("The grade must be a whole number from 0 to 100.");
        return;
      }
      approve.disabled = true;
      reject.disabled = true;
      try {
        const reply = await api.review(s.submission_id, { decision, generation: s.gcs_generation, grade: value, comments: comments.value });
        ui.clear();
        outcome.textContent = `${reply.status === "approved" ? "Approved" : "Rejected"} ${reply.file_name} (attempt ${reply.attempt}).`;
        outcome.dataset.status = reply.status;
        outcome.focus(); // the buttons are gone or disabled: focus stays with what happened
        await refresh();
      } catch (err) {
        approve.disabled = false;
        reject.disabled = false;
        ui.error(describeError(err));
      }
    };
    approve.addEventListener("click", () => decide("approve"));
    reject.addEventListener("click", () => decide("reject"));
    const learner = s.learner_name ? `${s.learner_name} (${s.learner_email || s.user_id})` : s.learner_email || s.user_id;
    const where = [s.pathway_title, s.resource_title || s.resource_id].filter(Boolean).join(" › ");
    panel.replaceChildren(
      title,
      h("p", { class: "hint" }, `${learner} · ${where} · ${s.content_type}, ${formatBytes(s.size_bytes)} · uploaded ${when(s.uploaded_at)}`),
      earlierAttempts(s),
      link,
      h("label", {}, "Grade (0–100, optional)", grade),
      h("label", {}, "Comments", comments),
      h("div", { class: "row" }, approve, reject),
      outcome,
    );
    panel.dataset.submission = s.submission_id;
    panel.setAttribute("aria-labelledby", "review-title");
    panel.hidden = false;
    title.focus(); // keyboard and screen reader users land on what they opened
    try {
      const reply = await api.downloadUrl(s.submission_id);
      link.replaceWith(
        h("a", { href: reply.download_url, download: s.file_name, "data-testid": "review-download" }, `Download ${s.file_name}`),
      );
    } catch (err) {
      link.textContent = describeError(err);
    }
  }

  function updateSelection() {
    const n = selected.size;
    const button = $("queue-approve-selected");
    button.disabled = n === 0 || n > MAX_BULK;
    button.textContent = n > 0 ? `Approve selected (${n})` : "Approve selected";
  }

  async function approveSelected() {
    const submissions = [...selected].map(([submission_id, generation]) => ({ submission_id, generation }));
    if (submissions.length === 0 || submissions.length > MAX_BULK) return;
    const outcome = $("bulk-outcome");
    $("queue-approve-selected").disabled = true;
    try {
      const reply = await api.bulkApprove({ submissions });
      ui.clear();
      const failed = reply.results.filter((r) => r.status !== 200);
      outcome.textContent =
        `Approved ${reply.approved} of ${submissions.length}.` +
        (failed.length ? ` Not approved: ${failed.map((r) => `${r.submission_id} (${r.error ? r.error.message : r.status})`).join("; ")}` : "");
      outcome.dataset.approved = String(reply.approved);
      outcome.hidden = false;
      for (const r of reply.results) selected.delete(r.submission_id);
      await refresh();
    } catch (err) {
      ui.error(describeError(err));
      updateSelection();
    }
  }

  function earlierAttempts(s) {
    const earlier = s.earlier_attempts || [];
    if (earlier.length === 0) return h("p", { class: "hint", "data-testid": "earlier-attempts" }, "No earlier attempts.");
    const more = (s.earlier_attempts_total || 0) - earlier.length;
    return h(
      "div",
      { "data-testid": "earlier-attempts" },
      h("h4", {}, "Earlier attempts"),
      h(
        "ul",
        {},
        ...earlier.map((e) =>
          h(
            "li",
            { "data-testid": `earlier-${e.submission_id}` },
            `Attempt ${e.attempt}: ${e.status}` +
              (e.grade !== null && e.grade !== undefined ? `, grade ${e.grade}` : "") +
              (e.review_comments ? ` — “${e.review_comments}”` : "") +
              (e.reviewed_at ? ` (${when(e.reviewed_at)})` : ""),
          ),
        ),
      ),
      more > 0 ? h("p", { class: "hint" }, `and ${more} older`) : null,
    );
  }

  return { start, stop };
}
