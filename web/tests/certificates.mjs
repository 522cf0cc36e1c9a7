// Certificates in a real browser (Debian's chromium driven by playwright-core) against the running
// local cloud (`make up`), under the production CSP that web/serve.py sends. Exits 0 when every
// step held, 1 otherwise. Screenshots go to .local/screenshots/certificates/ (a failing step leaves
// FAILED-<page>.png).
//
//   node web/tests/certificates.mjs
//
// A fresh learner (with a display name) completes the prompt-engineering pathway through the API
// (the three check-offs through `progress`; the two uploads recorded in the Firestore emulator as
// the upload flow records them, which web/tests/e2e.mjs does through the page); the certificate
// trigger issues the certificate. Signed in, the overview lists it; its page shows the name, the
// pathway, the date and "valid", and its PDF link serves a PDF. Signed out, in another browser
// context, the public verification page confirms it. The learner un-completes the quiz: the public
// page then says "revoked". An unknown id says so. axe-core runs on every view at desktop and phone
// width (0 serious or critical), nothing scrolls sideways at 390 px, and no CSP violation is logged.
import { DESKTOP, Journey, PHONE, RUN, WEB, signUp, stack } from "./harness.mjs";

const j = new Journey("certificates", { shots: "screenshots/certificates" });
const { check, log } = j;
const FIRESTORE = `http://${stack.emulators.firestore}`;
const PROJECT = stack.project_id || "demo-aibc";
const PROGRESS = stack.functions.progress;
const CERTS = stack.functions.certificates;
const PATHWAY = "prompt-engineering";
const R = (kind) => `${PATHWAY}-m1-${kind}`;

async function call(method, url, token) {
  const reply = await fetch(url, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const text = await reply.text();
  if (!reply.ok) throw new Error(`${method} ${url}: ${reply.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** As the upload flow records an upload (the Firestore emulator's owner bypasses the rules). */
async function recordUpload(uid, rid) {
  const doc = `projects/${PROJECT}/databases/(default)/documents/users/${uid}/resource_progress/${rid}`;
  const fields = {
    status: { stringValue: "submitted" },
    submission_count: { integerValue: "1" },
    updated_at: { timestampValue: new Date().toISOString() },
  };
  const mask = Object.keys(fields).map((f) => `updateMask.fieldPaths=${f}`).join("&");
  const reply = await fetch(`${FIRESTORE}/v1/${doc}?${mask}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json", Authorization: "Bearer owner" },
    body: JSON.stringify({ fields }),
  });
  if (!reply.ok) throw new Error(`record upload ${rid}: ${reply.status} ${await reply.text()}`);
}

async function poll(what, probe, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${j.step}: timed out waiting for ${what}`);
}

async function journey(browser) {
  j.step = "a learner completes the pathway";
  const name = `Ada Certified ${RUN}`;
  const learner = await signUp(`cert-${RUN}@example.com`, "cert-pass-1", name);
  for (const kind of ["video", "article", "quiz"]) {
    await call("POST", `${PROGRESS}/users/me/resources/${R(kind)}/complete`, learner.idToken);
  }
  await recordUpload(learner.uid, R("exercise"));
  await recordUpload(learner.uid, R("project"));
  const mine = await poll("the certificate", async () => {
    const list = await call("GET", `${CERTS}/users/me/certificates`, learner.idToken);
    return list.certificates.find((c) => c.pathway_id === PATHWAY && c.status === "valid");
  });
  const id = mine.certificate_id;
  log(`certificate ${id}`);

  j.step = "the overview lists the certificate";
  const { page } = await j.openPage(browser, "learner");
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(learner.email);
  await page.getByLabel("Password").fill(learner.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="learner"]');
  await page.waitForSelector(`[data-testid="my-certificate-${PATHWAY}"][data-status="valid"]`);
  // the completed pathway's card links to the certificate too
  const onCard = await page.getByTestId(`card-cert-${PATHWAY}`).getAttribute("href");
  check(onCard === `#/verify/${id}`, `the card links to ${onCard}`);
  await j.axe(page, "overview with certificates");
  await j.shot(page, "overview-certificates");

  j.step = "the learner opens the certificate";
  await page.getByTestId(`cert-link-${PATHWAY}`).click();
  await page.waitForSelector('[data-testid="verify-page"][data-ready="true"]');
  check((await page.getByTestId("cert-name").textContent()) === name, "the name on the certificate");
  check((await page.getByTestId("cert-pathway").textContent()) === "Prompt Engineering", "the pathway");
  check((await page.getByTestId("certificate").getAttribute("data-status")) === "valid", "the status");
  check(await page.getByTestId("learner").isHidden(), "the learner's view is hidden behind the certificate");
  await j.axe(page, "certificate (learner)");
  await j.shot(page, "certificate-desktop");
  await page.setViewportSize(PHONE);
  await j.fitsWidth(page, "certificate");
  await j.axe(page, "certificate at phone width");
  await j.shot(page, "certificate-phone");
  await page.setViewportSize(DESKTOP);

  j.step = "the PDF link serves a PDF with the name";
  const href = await page.getByTestId("cert-pdf").getAttribute("href");
  const pdf = await fetch(href);
  check(pdf.ok && pdf.headers.get("content-type") === "application/pdf", `GET ${href}: ${pdf.status}`);
  const bytes = Buffer.from(await pdf.arrayBuffer());
  check(bytes.subarray(0, 5).toString() === "%PDF-", "the PDF header");

  j.step = "anyone verifies it, signed out";
  const { page: pub } = await j.openPage(browser, "public");
  await pub.goto(`${WEB}/#/verify/${id}`);
  await pub.waitForSelector('[data-testid="verify-page"][data-ready="true"]');
  check((await pub.getByTestId("certificate").getAttribute("data-status")) === "valid", "valid when public");
  check((await pub.getByTestId("cert-name").textContent()) === name, "the name, publicly");
  check(await pub.locator("#sign-in").isHidden(), "the sign-in form is not in the way");
  await j.axe(pub, "public verification");
  await j.shot(pub, "public-verify-valid");

  j.step = "the completion is revoked: so is the certificate";
  await call("POST", `${PROGRESS}/users/me/resources/${R("quiz")}/uncomplete`, learner.idToken);
  await poll("the revocation", async () => (await call("GET", `${CERTS}/certificates/${id}`)).status === "revoked");
  await pub.reload();
  await pub.waitForSelector('[data-testid="verify-page"][data-ready="true"]');
  check((await pub.getByTestId("certificate").getAttribute("data-status")) === "revoked", "revoked when public");
  check((await pub.getByTestId("cert-status").textContent()).includes("Revoked"), "the page says revoked");
  await j.axe(pub, "public verification, revoked");
  await j.shot(pub, "public-verify-revoked");
  await pub.setViewportSize(PHONE);
  await j.fitsWidth(pub, "revoked certificate");
  await j.axe(pub, "revoked at phone width");
  await j.shot(pub, "public-verify-revoked-phone");

  j.step = "an unknown id";
  await pub.goto(`${WEB}/#/verify/AAAAAAAAAAAAAAAAAAAAAA`);
  await pub.waitForSelector('[data-testid="cert-unknown"]');
  await j.axe(pub, "unknown certificate");
  await j.shot(pub, "public-verify-unknown");

  j.noCspViolations();
}

j.run(journey);
