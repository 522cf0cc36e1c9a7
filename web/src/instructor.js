// The instructor's view: the pending queue, open a submission, approve or reject it.
import { collection, onSnapshot, query, where } from "firebase/firestore";
import { $, h, when } from "./dom.js";
import { describeError, formatBytes } from "./messages.js";

const MAX_PAGES = 10; // the oldest 1000 waiting submissions

export function createInstructorView({ db, api, ui }) {
  let stopQueue = null;
  let openId = null;

  async function start() {
    $("instructor").hidden = false;
    $("queue-refresh").onclick = () => refresh();
    // Any submission entering or leaving "uploaded" refreshes the queue (instructors may read all).
    stopQueue = onSnapshot(
      query(collection(db, "submissions"), where("status", "==", "uploaded")),
      () => refresh(),
      (err) => ui.error(describeError(err)),
    );
    await refresh();
  }

  function stop() {
    if (stopQueue) stopQueue();
    stopQueue = null;
    openId = null;
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
        const page = await api.pending({ limit: 100, cursor });
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
    $("queue-rows").replaceChildren(...items.map(renderRow));
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
    return h(
      "tr",
      { "data-testid": `queue-${s.submission_id}` },
      h("td", {}, `${s.file_name} (${formatBytes(s.size_bytes)})`),
      h("td", {}, s.user_id),
      h("td", {}, s.resource_id),
      h("td", {}, String(s.attempt)),
      h("td", {}, when(s.uploaded_at)),
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
        const reply = await api.review(s.submission_id, { decision, grade: value, comments: comments.value });
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
    panel.replaceChildren(
      title,
      h("p", { class: "hint" }, `Learner ${s.user_id} · ${s.resource_id} · ${s.content_type}, ${formatBytes(s.size_bytes)} · uploaded ${when(s.uploaded_at)}`),
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

  return { start, stop };
}
