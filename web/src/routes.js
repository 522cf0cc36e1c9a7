// The learner page's routes (the URL hash) and what the overview derives from a progress report.
// Pure: no DOM, no network (web/tests/unit.test.mjs).

/** Resource statuses that count as done. */
export const COUNTED = new Set(["completed", "submitted", "reviewed"]);

const enc = encodeURIComponent;
/** Deep links to each view. */
export const link = {
  overview: () => "#/",
  pathway: (p) => `#/pathway/${enc(p)}`,
  module: (p, m) => `#/pathway/${enc(p)}/module/${enc(m)}`,
  resource: (p, r) => `#/pathway/${enc(p)}/resource/${enc(r)}`,
};

/** The route of a URL hash: { view: "overview" } or { view, pathway, module?, resource? }. */
export function parseRoute(hash) {
  const parts = String(hash || "").replace(/^#\/?/, "").split("/").filter(Boolean);
  let decoded;
  try {
    decoded = parts.map(decodeURIComponent);
  } catch {
    return { view: "overview" };
  }
  const [head, pathway, kind, id] = decoded;
  if (head !== "pathway" || !pathway) return { view: "overview" };
  if (kind === "module" && id) return { view: "module", pathway, module: id };
  if (kind === "resource" && id) return { view: "resource", pathway, resource: id };
  return { view: "pathway", pathway };
}

/** The resource to do next in a progress report: the first, in catalog order, not yet done. */
export function nextResource(report) {
  const all = (report.modules || []).flatMap((m) => m.resources || []);
  const open = all.filter((r) => !COUNTED.has(r.status));
  return open[0] || null;
}

