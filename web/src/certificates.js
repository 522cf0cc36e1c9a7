// Certificates: the learner's own (a card on the overview) and the public verification page
// (#/verify/{id}), which is also the certificate's page: the name, the pathway, the date, whether
// it is valid or revoked, and its PDF. The page needs no sign-in: anyone holding the id may check it.
import { $, h } from "./dom.js";
import { describeError } from "./messages.js";

const VERIFY = /^#\/verify\/([A-Za-z0-9_-]{1,128})\/?$/;

/** The certificate id of a verification URL hash, or null. */
export function verifyId(hash) {
  const m = VERIFY.exec(String(hash || ""));
  return m ? m[1] : null;
}

export const verifyLink = (id) => `#/verify/${encodeURIComponent(id)}`;

export function pdfUrl(config, id) {
  return `${config.functions.certificates}/certificates/${encodeURIComponent(id)}.pdf`;
}

function day(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
}

function dateEl(iso) {
  return h("time", { datetime: iso }, day(iso));
}

function certificateCard(config, c) {
  const valid = c.valid === true;
  return h(
    "article",
    { class: `certificate ${valid ? "valid" : "revoked"}`, "data-testid": "certificate", "data-status": c.status },
    h("p", { class: "cert-kicker" }, "AI Bootcamp · Certificate of completion"),
    h("p", {}, "This certifies that"),
    h("p", { class: "cert-name", "data-testid": "cert-name" }, c.name || "(name not on record)"),
    h("p", {}, "has completed the pathway"),
    h("p", { class: "cert-pathway", "data-testid": "cert-pathway" }, c.pathway_title),
    h("p", {}, "on ", dateEl(c.completed_at)),
    h(
      "p",
      { class: `cert-status ${valid ? "valid" : "revoked"}`, "data-testid": "cert-status" },
      valid ? "✓ Valid: this certificate is genuine and current." : ["✗ Revoked on ", dateEl(c.revoked_at), ": this certificate no longer verifies."],
    ),
    h("p", { class: "hint cert-id" }, "Certificate id ", h("code", { "data-testid": "cert-id" }, c.certificate_id)),
    h("p", {}, h("a", { href: pdfUrl(config, c.certificate_id), "data-testid": "cert-pdf", download: `certificate-${c.certificate_id}.pdf` }, "Download the PDF")),
  );
}

/** The public page: shown instead of everything else while the hash is #/verify/{id}. */
export function createVerifyPage({ config }) {
  let section = null;
  let shown = 0;

  function ensure() {
    if (!section) {
      section = h("section", { id: "verify-page", "data-testid": "verify-page", "aria-labelledby": "verify-title" });
      document.querySelector("main").append(section);
    }
    return section;
  }

  async function show(id) {
    const mine = ++shown;
    const root = ensure();
    document.body.dataset.page = "verify";
    root.hidden = false;
    root.setAttribute("aria-busy", "true");
    delete root.dataset.ready;
    const title = h("h2", { id: "verify-title", tabindex: "-1" }, "Certificate verification");
    root.replaceChildren(title, h("p", { class: "hint" }, "Checking…"));
    let body;
    try {
      const reply = await fetch(`${config.functions.certificates}/certificates/${encodeURIComponent(id)}`);
      const data = await reply.json().catch(() => null);
      if (reply.status === 404) {
        body = h("p", { class: "notice", "data-testid": "cert-unknown" }, "No certificate has this id. Check the link you were given.");
      } else if (!reply.ok) {
        const err = (data && data.error) || {};
        body = h("p", { class: "notice" }, `The certificate could not be checked: ${err.message || reply.status}. Try again shortly.`);
      } else {
        body = certificateCard(config, data);
      }
    } catch (err) {
      body = h("p", { class: "notice" }, describeError(err));
    }
    if (mine !== shown) return;
    root.replaceChildren(title, body, h("p", { class: "hint" }, h("a", { href: "#/" }, "Go to the AI Bootcamp")));
    root.removeAttribute("aria-busy");
    root.dataset.ready = "true";
    title.focus();
  }

  /** Show the page when the hash names a certificate (true), else hide it (false). */
  function route(hash) {
    const id = verifyId(hash);
    if (!id) {
      if (section) section.hidden = true;
      delete document.body.dataset.page;
      return false;
    }
    show(id);
    return true;
  }

  return { route };
}

/** The learner's certificates, as a card on the overview (one per pathway completed). */
export async function showMyCertificates(api) {
  let host = $("my-certificates");
  if (!host) {
    host = h("section", { id: "my-certificates", class: "card", "aria-labelledby": "my-certificates-title", "data-testid": "my-certificates" });
    $("overview").append(host);
  }
  const heading = h("h3", { id: "my-certificates-title" }, "Your certificates");
  let reply;
  try {
    reply = await api.myCertificates();
  } catch (err) {
    host.replaceChildren(heading, h("p", { class: "hint" }, describeError(err)));
    return;
  }
  const items = (reply && reply.certificates) || [];
  host.dataset.count = String(items.filter((c) => c.status === "valid").length);
  // A completed pathway's card links to its certificate too.
  for (const c of items.filter((x) => x.status === "valid")) {
    const card = document.querySelector(`[data-testid="card-${CSS.escape(c.pathway_id)}"]`);
    if (card && !card.querySelector(".cert-on-card")) {
      card.append(
        h("p", { class: "next cert-on-card" }, h("a", { href: verifyLink(c.certificate_id), "data-testid": `card-cert-${c.pathway_id}` }, "View your certificate")),
      );
    }
  }
  host.replaceChildren(
    heading,
    items.length
      ? h(
          "ul",
          { class: "activity" },
          ...items.map((c) =>
            h(
              "li",
              { "data-testid": `my-certificate-${c.pathway_id}`, "data-status": c.status },
              h("a", { href: verifyLink(c.certificate_id), "data-testid": `cert-link-${c.pathway_id}` }, `Certificate: ${c.pathway_title}`),
              c.status === "valid" ? ` · completed ${day(c.completed_at)} · ` : " · revoked (the pathway is no longer complete) · ",
              h("a", { href: api.certificatePdfUrl(c.certificate_id), "aria-label": `PDF of the ${c.pathway_title} certificate` }, "PDF"),
            ),
          ),
        )
      : h("p", { class: "hint" }, "Complete a pathway to earn its certificate."),
  );
}
