// Retired pathways (`python -m catalog apply --prune`): still listed, as the learner's record of
// what they did, but never as work in progress (no "Next" / "Continue"), and after the others.
import { h, setBar } from "./dom.js";
import { COUNTED, link } from "./routes.js";

/** Flag the pathways whose catalog document has `retired_at`, and move them to the end. */
export function markRetired(pathways, docs) {
  const retired = new Map(docs.filter((d) => d.data().retired_at).map((d) => [d.id, d.data().retired_at]));
  for (const p of pathways) {
    const at = retired.get(p.id);
    if (at) p.retired = typeof at.toDate === "function" ? at.toDate() : new Date(at);
  }
  pathways.sort((x, y) => Number(Boolean(x.retired)) - Number(Boolean(y.retired)));
}

/** A retired pathway's card: the numbers as they stand, and no invitation to continue. */
export function retiredCard(p, report) {
  const testid = `card-${p.id}`;
  const barName = `card-bar-name-${p.id}`;
  const bar = h("progress", { max: "100", value: "0", "aria-labelledby": barName, "data-testid": `card-bar-${p.id}` });
  const label = h("span", {}, "0 %");
  if (!report.error) setBar(bar, label, report.percentage);
  const resources = (report.modules || []).flatMap((m) => m.resources || []);
  const done = resources.filter((r) => COUNTED.has(r.status)).length;
  return h(
    "article",
    { class: "card pathway-card retired", "data-testid": testid, "data-retired": "true" },
    h("h3", {}, h("a", { href: link.pathway(p.id) }, p.title), " ", h("span", { class: "tag" }, "retired")),
    h("span", { id: barName, class: "visually-hidden" }, `Progress of ${p.title} (retired)`),
    h("div", { class: "meter" }, bar, label),
    h(
      "p",
      { class: "hint", "data-testid": `retired-${p.id}` },
      `This pathway is no longer offered (retired ${p.retired.toLocaleDateString()}). Your record of it is kept: ` +
        `${done} of ${resources.length} resources done.`,
    ),
  );
}
