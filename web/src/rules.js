// Completion rules, due dates and excuses on the learner's resource view (docs/API.md:
// `completion`, `min_minutes`, `pass_score`, `due_at` (the caller's), `due_after` in the listing; `late`, `excused`, `score`
// on the resource's progress). learner.js calls these three hooks; nothing here talks to Firestore.
import { h, when } from "./dom.js";
import { describeError } from "./messages.js";
import { formatMinutes } from "./timer.js";

/** Tags for the resource's head: what completes it (beyond a check-off) and when it is due. */
export function ruleTags(resource) {
  const rid = resource.resource_id;
  const tags = [];
  if (resource.completion === "min_time" && resource.min_minutes) {
    tags.push(h("span", { class: "tag", "data-testid": `needs-time-${rid}` }, `needs ${formatMinutes(resource.min_minutes)}`));
  }
  if (resource.completion === "score" && resource.pass_score != null) {
    tags.push(h("span", { class: "tag", "data-testid": `needs-score-${rid}` }, `pass mark ${resource.pass_score}`));
  }
  if (resource.completion === "approved") {
    tags.push(h("span", { class: "tag" }, "needs approval"));
  }
  if (resource.due_at) {
    // the caller's due time: absolute, or counted from the start of their cohort (due_after)
    tags.push(h("span", { class: "tag", "data-testid": `due-${rid}` }, `due ${when(resource.due_at)}`));
  } else if (resource.due_after) {
    // relative, and no cohort of the caller with this pathway has a start yet
    tags.push(h("span", { class: "tag", "data-testid": `due-${rid}` }, describeDueAfter(resource.due_after)));
  }
  return tags;
}

/** A relative due date in words: `{days: 14, hours: 6}` -> "due 14 days 6 hours after your cohort starts". */
export function describeDueAfter({ days = 0, hours = 0 } = {}) {
  const unit = (n, word) => (n ? `${n} ${word}${n === 1 ? "" : "s"}` : "");
  const span = [unit(days, "day"), unit(hours, "hour")].filter(Boolean).join(" ");
  return span ? `due ${span} after your cohort starts` : "due when your cohort starts";
}

/** The learner's state of the rule: late, excused, best score (updated from each snapshot). */
export function ruleState(resource) {
  const el = h("span", { class: "rule-state", "data-testid": `rule-state-${resource.resource_id}` }, "");
  return {
    el,
    show(data) {
      const parts = [];
      if (data && data.excused) parts.push(`excused${data.excuse_reason ? ` (${data.excuse_reason})` : ""}`);
      if (data && data.late) parts.push("late");
      if (data && data.score != null) parts.push(`best score ${data.score}`);
      el.textContent = parts.join(" · ");
      el.dataset.excused = data && data.excused ? "true" : "false";
      el.dataset.late = data && data.late ? "true" : "false";
    },
  };
}

/** A score form for a `score` quiz: PUT progress with the score (0-100). */
export function renderScore(resource, { api, ui }) {
  const rid = resource.resource_id;
  const input = h("input", {
    type: "number",
    min: "0",
    max: "100",
    step: "1",
    id: `score-${rid}`,
    "data-testid": `score-${rid}`,
  });
  const button = h("button", { type: "button", "data-testid": `send-score-${rid}` }, "Report score");
  button.addEventListener("click", async () => {
    const score = Number(input.value);
    if (input.value === "" || !Number.isInteger(score) || score < 0 || score > 100) {
      ui.error("A score is a whole number from 0 to 100.");
      return;
    }
    button.disabled = true;
    try {
      await api.heartbeat(rid, { progress_percentage: 100, time_spent_minutes: 0, score });
      ui.clear();
    } catch (err) {
      ui.error(describeError(err));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "row" }, h("label", { for: `score-${rid}` }, "Your score (0–100)"), input, button);
}
