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
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = join(ROOT, ".local", "screenshots", "certificates");
const stack = JSON.parse(readFileSync(join(ROOT, ".local", "stack.json"), "utf8"));
const WEB = stack.web || "http://127.0.0.1:8300";
const AUTH = `http://${stack.emulators.auth}`;
const FIRESTORE = `http://${stack.emulators.firestore}`;
const PROJECT = stack.project_id || "demo-aibc";
const PROGRESS = stack.functions.progress;
const CERTS = stack.functions.certificates;
const PATHWAY = "prompt-engineering";
const R = (kind) => `${PATHWAY}-m1-${kind}`;
const TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT_MS || 60000);
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1200, height: 900 };

let step = "start";
let shotNo = 0;
const pages = [];
const cspViolations = [];

const log = (text) => console.log(`[certificates] ${text}`);

function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

async function shot(page, name) {
  shotNo += 1;
  const file = join(SHOTS, `${String(shotNo).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

async function axeCheck(page, view) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = found.filter((v) => v.impact === "serious" || v.impact === "critical");
  log(`axe ${view}: ${bad.length} serious or critical`);
  check(bad.length === 0, `axe on the ${view} view: ${JSON.stringify(bad, null, 1)}`);
}

async function fitsWidth(page, view) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(scroll <= inner, `the ${view} view is ${scroll} px wide in a ${inner} px window`);
}

async function signUp(email, password, displayName) {
  const reply = await fetch(`${AUTH}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, displayName, returnSecureToken: true }),
  });
  const body = await reply.json();
  if (!reply.ok) throw new Error(`signUp ${email}: ${reply.status} ${JSON.stringify(body)}`);
  return { email, password, uid: body.localId, idToken: body.idToken };
}

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
  throw new Error(`${step}: timed out waiting for ${what}`);
}

async function openPage(browser, label, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${label}: ${m.text()}`);
    if (m.type() === "error") log(`${label} console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => log(`${label} page error: ${e.message}`));
  pages.push({ label, page });
  return { context, page };
}

async function journey(browser) {
  step = "a learner completes the pathway";
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

  step = "the overview lists the certificate";
  const { page } = await openPage(browser, "learner");
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(learner.email);
  await page.getByLabel("Password").fill(learner.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="learner"]');
  await page.waitForSelector(`[data-testid="my-certificate-${PATHWAY}"][data-status="valid"]`);
  // the completed pathway's card links to the certificate too
  const onCard = await page.getByTestId(`card-cert-${PATHWAY}`).getAttribute("href");
  check(onCard === `#/verify/${id}`, `the card links to ${onCard}`);
  await axeCheck(page, "overview with certificates");
  await shot(page, "overview-certificates");

  step = "the learner opens the certificate";
  await page.getByTestId(`cert-link-${PATHWAY}`).click();
  await page.waitForSelector('[data-testid="verify-page"][data-ready="true"]');
  check((await page.getByTestId("cert-name").textContent()) === name, "the name on the certificate");
  check((await page.getByTestId("cert-pathway").textContent()) === "Prompt Engineering", "the pathway");
  check((await page.getByTestId("certificate").getAttribute("data-status")) === "valid", "the status");
  check(await page.getByTestId("learner").isHidden(), "the learner's view is hidden behind the certificate");
  await axeCheck(page, "certificate (learner)");
  await shot(page, "certificate-desktop");
  await page.setViewportSize(PHONE);
  await fitsWidth(page, "certificate");
  await axeCheck(page, "certificate at phone width");
  await shot(page, "certificate-phone");
  await page.setViewportSize(DESKTOP);

  step = "the PDF link serves a PDF with the name";
  const href = await page.getByTestId("cert-pdf").getAttribute("href");
  const pdf = await fetch(href);
  check(pdf.ok && pdf.headers.get("content-type") === "application/pdf", `GET ${href}: ${pdf.status}`);
  const bytes = Buffer.from(await pdf.arrayBuffer());
  check(bytes.subarray(0, 5).toString() === "%PDF-", "the PDF header");

  step = "anyone verifies it, signed out";
  const { page: pub } = await openPage(browser, "public");
  await pub.goto(`${WEB}/#/verify/${id}`);
  await pub.waitForSelector('[data-testid="verify-page"][data-ready="true"]');
  check((await pub.getByTestId("certificate").getAttribute("data-status")) === "valid", "valid when public");
  check((await pub.getByTestId("cert-name").textContent()) === name, "the name, publicly");
  check(await pub.locator("#sign-in").isHidden(), "the sign-in form is not in the way");
  await axeCheck(pub, "public verification");
  await shot(pub, "public-verify-valid");

  step = "the completion is revoked: so is the certificate";
  await call("POST", `${PROGRESS}/users/me/resources/${R("quiz")}/uncomplete`, learner.idToken);
  await poll("the revocation", async () => (await call("GET", `${CERTS}/certificates/${id}`)).status === "revoked");
  await pub.reload();
  await pub.waitForSelector('[data-testid="verify-page"][data-ready="true"]');
  check((await pub.getByTestId("certificate").getAttribute("data-status")) === "revoked", "revoked when public");
  check((await pub.getByTestId("cert-status").textContent()).includes("Revoked"), "the page says revoked");
  await axeCheck(pub, "public verification, revoked");
  await shot(pub, "public-verify-revoked");
  await pub.setViewportSize(PHONE);
  await fitsWidth(pub, "revoked certificate");
  await axeCheck(pub, "revoked at phone width");
  await shot(pub, "public-verify-revoked-phone");

  step = "an unknown id";
  await pub.goto(`${WEB}/#/verify/AAAAAAAAAAAAAAAAAAAAAA`);
  await pub.waitForSelector('[data-testid="cert-unknown"]');
  await axeCheck(pub, "unknown certificate");
  await shot(pub, "public-verify-unknown");

  check(cspViolations.length === 0, `CSP violations: ${cspViolations.join("; ")}`);
}

async function main() {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    await journey(browser);
  } catch (err) {
    for (const { label, page } of pages) {
      try {
        await page.screenshot({ path: join(SHOTS, `FAILED-${label}.png`), fullPage: true });
      } catch {
        // the page may be gone
      }
    }
    throw err;
  } finally {
    await browser.close();
  }
}

main().then(
  () => {
    log("passed: every step held");
    process.exit(0);
  },
  (err) => {
    console.error(`[certificates] FAILED at "${step}": ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
