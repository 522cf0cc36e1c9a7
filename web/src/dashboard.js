// The instructor's cohort dashboard: pick a cohort and pathway, see the learners x modules grid (paged),
// a chart of each module's average progress, per-resource counts, the median time spent, who has
// been inactive for N days, completions per day, and the cohort's count of uploads awaiting review,
// live (onSnapshot on cohorts/{cid}/live_counts, which firestore.rules open to the cohort's
// instructors and admins only). Everything else comes from the `dashboard` function, which serves
// it from aggregates the triggers keep. No inline styles or scripts (the production CSP): the chart
// is SVG built with DOM calls, coloured by classes from styles.css.
import { collection, onSnapshot } from "firebase/firestore";
import { $, h, pct, when } from "./dom.js";
import { describeError } from "./messages.js";

const SVG = "http://www.w3.org/2000/svg";
const PAGE = 25;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** The CSS class of a grid cell: its percentage in steps of 25. */
export function cellClass(value) {
  const v = Math.max(0, Math.min(100, Number(value) || 0)); // unrounded: 99.99 is not done
  if (v >= 100) return "cell cell-100";
  return `cell cell-${Math.floor(v / 25) * 25}`;
}

/** Minutes as "2 h 05 min" / "45 min". */
export function minutes(total) {
  if (total === null || total === undefined) return "–";
  const m = Math.max(0, Math.round(total));
  return m >= 60 ? `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min` : `${m} min`;
}

/** The median as the reply states it: exact, or the bucket it lies in. */
export function medianText(t) {
  if (!t || t.median_minutes === null || t.median_minutes === undefined) return "no time recorded yet";
  const exact = t.bucket_minutes <= 1;
  const base = minutes(t.median_minutes);
  return exact
    ? `${base} (over ${t.learners} learners with time recorded)`
    : `${base} to ${minutes(t.median_minutes + t.bucket_minutes)} (histogram bucket; ${t.learners} learners with time recorded)`;
}

/** A horizontal bar chart of each module's average percentage, as inline SVG. */
export function moduleChart(modules, learners) {
  const rowH = 26;
  const labelW = 200;
  const barW = 300;
  const height = modules.length * rowH + 10;
  const summary = modules.map((m) => `${m.title}: ${pct(m.average_percentage)} % on average, ${m.completed_learners} completed`).join("; ");
  const chart = svg("svg", {
    viewBox: `0 0 ${labelW + barW + 90} ${height}`,
    role: "img",
    "aria-label": `Average progress per module over ${learners} learners. ${summary}`,
    class: "chart",
    "data-testid": "dashboard-chart",
  });
  modules.forEach((m, i) => {
    const y = 5 + i * rowH;
    const w = Math.max(0, Math.min(barW, (barW * pct(m.average_percentage)) / 100));
    const title = m.title.length > 26 ? `${m.title.slice(0, 25)}…` : m.title;
    chart.append(
      svg("text", { x: labelW - 6, y: y + 16, class: "chart-label", "text-anchor": "end" }, title),
      svg("rect", { x: labelW, y: y + 3, width: barW, height: rowH - 8, class: "chart-track" }),
      svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 8, class: "chart-bar", "data-module": m.module_id }),
      svg("text", { x: labelW + barW + 6, y: y + 16, class: "chart-value" }, `${Math.round(pct(m.average_percentage))} % · ${m.completed_learners}✓`),
    );
  });
  return chart;
}

export function createDashboardView({ db, api, ui }) {
  let root = null;
  let choices = [];
  let current = null; // { cohort, pathway }
  let cursors = [null]; // the cursor of each page seen: back and forth
  let pageNo = 0;
  let stopLive = [];
  let liveTotal = new Map(); // cohort id -> awaiting review

  function build() {
    const pick = h("select", { id: "dash-pick", "data-testid": "dash-pick" });
    const days = h("input", { id: "dash-days", type: "number", min: "1", max: "365", value: "7", "data-testid": "dash-days" });
    pick.addEventListener("change", () => choose(pick.value));
    days.addEventListener("change", () => load());
    const prev = h("button", { type: "button", id: "dash-prev", "data-testid": "dash-prev", disabled: true }, "Previous learners");
    const next = h("button", { type: "button", id: "dash-next", "data-testid": "dash-next", disabled: true }, "Next learners");
    prev.addEventListener("click", () => turn(-1));
    next.addEventListener("click", () => turn(1));
    root = h(
      "section",
      { id: "dashboard", class: "card", "aria-labelledby": "dash-title", "data-testid": "dashboard" },
      h("div", { class: "row" }, h("h2", { id: "dash-title" }, "Cohort dashboard"), h("span", { class: "live", id: "dash-live-total", "data-testid": "dash-live-total", role: "status" }, "")),
      h("p", { id: "dash-none", class: "hint", hidden: true, "data-testid": "dash-none" }, "You are not an instructor of any cohort yet."),
      h("div", { id: "dash-controls", class: "row" }, h("label", {}, "Cohort and pathway", pick), h("label", {}, "Inactive for (days)", days)),
      h("div", { id: "dash-body", "data-testid": "dash-body", hidden: true },
        h("p", { id: "dash-summary", "data-testid": "dash-summary" }),
        h("p", { id: "dash-live", class: "live", "data-testid": "dash-live", "aria-live": "polite" }),
        h("p", { id: "dash-median", class: "hint", "data-testid": "dash-median" }),
        h("h3", {}, "Average progress per module"),
        h("div", { id: "dash-chart", class: "chart-box" }),
        h("h3", {}, "Learners"),
        h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Learners by module" }, h("table", { id: "dash-grid", "data-testid": "dash-grid" })),
        h("div", { class: "row" }, prev, next, h("span", { id: "dash-page", class: "hint" })),
        h("h3", { id: "dash-inactive-title" }, "Inactive learners"),
        h("ul", { id: "dash-inactive", "data-testid": "dash-inactive", "aria-labelledby": "dash-inactive-title" }),
        h("h3", {}, "Resources"),
        h("div", { id: "dash-resources", "data-testid": "dash-resources" }),
        h("h3", { id: "dash-completions-title" }, "Completions per day"),
        h("ul", { id: "dash-completions", "data-testid": "dash-completions", "aria-labelledby": "dash-completions-title" }),
      ),
    );
    return root;
  }

  async function start() {
    if (!root) $("instructor").append(build());
    root.hidden = false;
    try {
      const reply = await api.cohorts();
      choices = reply.cohorts || [];
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    const options = choices.flatMap((c) => c.pathways.map((p) => ({ value: `${c.cohort_id}/${p.pathway_id}`, label: `${c.name} — ${p.title}` })));
    $("dash-none").hidden = options.length > 0;
    $("dash-controls").hidden = options.length === 0;
    $("dash-pick").replaceChildren(...options.map((o) => h("option", { value: o.value }, o.label)));
    listen();
    if (options.length) await choose(options[0].value);
  }

  function stop() {
    for (const off of stopLive) off();
    stopLive = [];
    liveTotal = new Map();
    current = null;
    if (root) {
      root.hidden = true;
      $("dash-body").hidden = true;
    }
  }

  // One listener per cohort: the live count of uploads awaiting review (sharded; summed here).
  function listen() {
    for (const off of stopLive) off();
    stopLive = choices.map((c) =>
      onSnapshot(
        collection(db, "cohorts", c.cohort_id, "live_counts"),
        (snap) => {
          let total = 0;
          const byPathway = new Map();
          snap.forEach((doc) => {
            const data = doc.data();
            total += Number(data.awaiting_review) || 0;
            for (const [pid, n] of Object.entries(data.pathways || {})) byPathway.set(pid, (byPathway.get(pid) || 0) + (Number(n) || 0));
          });
          liveTotal.set(c.cohort_id, { total, byPathway });
          showLive();
        },
        (err) => ui.error(describeError(err)),
      ),
    );
  }

  function showLive() {
    let all = 0;
    for (const v of liveTotal.values()) all += v.total;
    const el = $("dash-live-total");
    el.textContent = `${all} new submission${all === 1 ? "" : "s"} awaiting review in your cohorts`;
    el.dataset.count = String(all);
    if (!current) return;
    const mine = liveTotal.get(current.cohort);
    const n = mine ? mine.total : 0;
    const live = $("dash-live");
    live.textContent = `${n} upload${n === 1 ? "" : "s"} awaiting review in this cohort (live)`;
    live.dataset.count = String(n);
  }

  async function choose(value) {
    const [cohort, pathway] = value.split("/");
    current = { cohort, pathway };
    cursors = [null];
    pageNo = 0;
    showLive();
    await load();
  }

  async function turn(step) {
    pageNo = Math.max(0, pageNo + step);
    await load();
  }

  async function load() {
    if (!current) return;
    const days = Math.max(1, Math.min(365, Math.round(Number($("dash-days").value) || 7)));
    let page;
    try {
      page = await api.dashboard(current.cohort, current.pathway, { limit: PAGE, cursor: cursors[pageNo], inactive_days: days });
    } catch (err) {
      ui.error(describeError(err));
      return;
    }
    if (!current || page.cohort_id !== current.cohort || page.pathway_id !== current.pathway) return; // changed meanwhile
    cursors[pageNo + 1] = page.next_cursor;
    render(page);
  }

  function render(page) {
    $("dash-body").hidden = false;
    const summary = $("dash-summary");
    summary.textContent = `${page.cohort_name} — ${page.pathway_title}: ${page.learners} learners, ${page.completed_learners} completed the pathway.`;
    summary.dataset.learners = String(page.learners);
    $("dash-median").textContent = `Median time spent on the pathway: ${medianText(page.time_spent)}.`;
    $("dash-chart").replaceChildren(moduleChart(page.modules, page.learners));
    $("dash-grid").replaceChildren(
      h("caption", { class: "visually-hidden" }, "Each learner's percentage per module"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Learner"), ...page.modules.map((m) => h("th", { scope: "col", title: m.title }, m.title)), h("th", { scope: "col" }, "Pathway"), h("th", { scope: "col" }, "Time"), h("th", { scope: "col" }, "Last active"), h("th", { scope: "col" }, "Completed"))),
      h(
        "tbody",
        {},
        ...page.rows.map((r) =>
          h(
            "tr",
            { "data-testid": `dash-row-${r.uid}` },
            h("th", { scope: "row", title: r.email || r.uid }, r.display_name || r.email || r.uid),
            ...r.modules.map((v, i) => h("td", { class: cellClass(v), "data-module": page.modules[i].module_id }, `${Math.round(pct(v))} %`)),
            h("td", { class: cellClass(r.percentage), "data-testid": `dash-pct-${r.uid}` }, `${Math.round(pct(r.resource_percentage))} %`),
            h("td", {}, minutes(r.minutes)),
            h("td", {}, when(r.last_activity_at)),
            h("td", {}, r.completed_at ? when(r.completed_at) : "–"),
          ),
        ),
      ),
    );
    $("dash-prev").disabled = pageNo === 0;
    $("dash-next").disabled = !page.next_cursor;
    $("dash-page").textContent = `Page ${pageNo + 1}`;
    const idle = page.inactive.learners;
    $("dash-inactive").replaceChildren(
      ...(idle.length
        ? idle.map((l) => h("li", { "data-testid": `dash-idle-${l.uid}` }, `${l.display_name || l.uid} — last active ${when(l.last_activity_at) || "never"}`))
        : [h("li", { class: "hint" }, `Everyone was active in the last ${page.inactive.days} days.`)]),
      ...(page.inactive.more ? [h("li", { class: "hint" }, "…and more")] : []),
    );
    const byModule = new Map(page.modules.map((m) => [m.module_id, { module: m, resources: [] }]));
    for (const r of page.resources) byModule.get(r.module_id)?.resources.push(r);
    $("dash-resources").replaceChildren(
      ...[...byModule.values()].map(({ module, resources }) =>
        h(
          "details",
          {},
          h("summary", {}, `${module.title} — ${module.completed_learners} of ${page.learners} completed`),
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, ...["Resource", "Started", "Completed", "Submitted", "Approved"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              ...resources.map((r) =>
                h(
                  "tr",
                  { "data-testid": `dash-res-${r.resource_id}` },
                  h("th", { scope: "row" }, r.title + (r.optional ? " (optional)" : "")),
                  h("td", {}, String(r.started)),
                  h("td", {}, String(r.completed)),
                  h("td", {}, String(r.submitted)),
                  h("td", {}, String(r.approved)),
                ),
              ),
            ),
          ),
        ),
      ),
    );
    $("dash-completions").replaceChildren(
      ...(page.completions.length
        ? page.completions.map((d) => h("li", {}, `${d.date}: ${d.count}`))
        : [h("li", { class: "hint" }, "Nobody has completed the pathway yet.")]),
    );
  }

  return { start, stop, reload: load };
}
