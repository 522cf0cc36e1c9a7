// The instructor's exports (issue 12 items 5 and 7): a cohort's progress or grades as CSV, or its
// progress events as xAPI JSON lines, downloaded with the signed-in user's token (the exports
// function streams them; the browser saves what arrives as a file). The function decides who may:
// the `admin` claim or an instructor of the cohort.
import { $, h } from "./dom.js";
import { describeError } from "./messages.js";

const KINDS = [
  ["progress.csv", "Progress (CSV)"],
  ["grades.csv", "Grades (CSV)"],
  ["xapi.jsonl", "xAPI statements (JSON lines)"],
];

export function createExports({ api, ui }) {
  function section() {
    let el = $("exports");
    if (el) return el;
    const cohort = h("input", { id: "export-cohort", "data-testid": "export-cohort", autocomplete: "off", required: true, pattern: "[A-Za-z0-9_-]{1,128}" });
    const pathway = h("input", { id: "export-pathway", "data-testid": "export-pathway", autocomplete: "off", pattern: "[A-Za-z0-9_-]{1,128}" });
    const outcome = h("p", { id: "export-outcome", class: "hint", role: "status", "data-testid": "export-outcome" });
    const buttons = KINDS.map(([kind, label]) => {
      const b = h("button", { type: "button", "data-testid": `export-${kind}` }, label);
      b.addEventListener("click", () => download(kind, b));
      return b;
    });
    el = h(
      "section",
      { id: "exports", class: "card exports", "aria-labelledby": "exports-title", "data-testid": "exports" },
      h("h2", { id: "exports-title" }, "Exports"),
      h("div", { class: "row" }, h("label", {}, "Cohort", cohort), h("label", {}, "Pathway (optional)", pathway)),
      h("div", { class: "row" }, ...buttons),
      outcome,
    );
    $("instructor").append(el);
    return el;
  }

  async function download(kind, button) {
    const cohort = $("export-cohort").value.trim();
    const pathway = $("export-pathway").value.trim();
    if (!$("export-cohort").checkValidity() || !$("export-pathway").checkValidity()) {
      ui.error("Name the cohort (and, if you like, one of its pathways) by its id: letters, digits, - and _.");
      $("export-cohort").focus();
      return;
    }
    button.disabled = true;
    $("export-outcome").textContent = `Preparing ${kind}…`;
    try {
      const blob = await api.exportFile(cohort, kind, pathway ? { pathway } : {});
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: `${cohort}-${kind}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      ui.clear();
      $("export-outcome").textContent = `Downloaded ${cohort}-${kind} (${Math.ceil(blob.size / 1024)} KB).`;
    } catch (err) {
      $("export-outcome").textContent = "";
      ui.error(describeError(err));
    } finally {
      button.disabled = false;
    }
  }

  return {
    start: () => {
      section().hidden = false;
    },
    stop: () => {
      const el = $("exports");
      if (el) el.remove();
    },
  };
}
