// A retired pathway on the learner's overview, in a real browser (Debian's chromium driven by
// playwright-core) against the running local cloud (`make up`), under the production CSP. Exits 0
// when every step held, 1 otherwise. Screenshots go to .local/screenshots/retired/.
//
//   node web/tests/retired.mjs
//
// A pathway retired by `catalog apply --prune` keeps its documents with `retired_at` (written here
// straight into the Firestore emulator, as the apply writes it). A learner who did part of it signs
// in: its card is listed after the offered pathways, says it is retired with the learner's numbers
// as they stand, and invites nothing ("Next" / "Continue" are absent); an offered pathway's card
// still does. axe-core: 0 serious or critical; no CSP violation.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = join(ROOT, ".local", "screenshots", "retired");
const stack = JSON.parse(readFileSync(join(ROOT, ".local", "stack.json"), "utf8"));
const WEB = stack.web || "http://127.0.0.1:8300";
const AUTH = `http://${stack.emulators.auth}`;
const FIRESTORE = `http://${stack.emulators.firestore}`;
const PROJECT = stack.project_id || "demo-aibc";
const PROGRESS = stack.functions.progress;
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const PID = `retired-${RUN}`;
const MID = `${PID}-m1`;
const RIDS = [`${MID}-a`, `${MID}-b`];
const OFFERED = "prompt-engineering";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT_MS || 60000);

let step = "start";
let page = null;
const cspViolations = [];
const log = (text) => console.log(`[retired] ${text}`);

function check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

const str = (v) => ({ stringValue: v });
const int = (v) => ({ integerValue: String(v) });
const arr = (vs) => ({ arrayValue: { values: vs.map(str) } });

async function put(path, fields) {
  const url = `${FIRESTORE}/v1/projects/${PROJECT}/databases/(default)/documents/${path}`;
  const reply = await fetch(url, {
    method: fields ? "PATCH" : "DELETE",
    headers: { "Content-Type": "application/json", Authorization: "Bearer owner" },
    body: fields ? JSON.stringify({ fields }) : undefined,
  });
  if (!reply.ok) throw new Error(`${fields ? "write" : "delete"} ${path}: ${reply.status} ${await reply.text()}`);
}

async function seedRetired() {
  await put(`pathways/${PID}`, {
    pathway_id: str(PID),
    title: str(`Retired course ${RUN}`),
    module_ids: arr([MID]),
    retired_at: { timestampValue: "2026-03-01T00:00:00Z" },
  });
  await put(`modules/${MID}`, { module_id: str(MID), pathway_id: str(PID), title: str("Old module"), order: int(0), resource_ids: arr(RIDS) });
  for (const [order, rid] of RIDS.entries()) {
    await put(`resources/${rid}`, { resource_id: str(rid), pathway_id: str(PID), module_id: str(MID), title: str(`Old ${order}`), type: str("article"), order: int(order) });
  }
}

async function cleanUp() {
  for (const path of [`pathways/${PID}`, `modules/${MID}`, ...RIDS.map((r) => `resources/${r}`)]) await put(path, null);
}

async function signUp(email, password) {
  const reply = await fetch(`${AUTH}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, returnSecureToken: true }),
  });
  const body = await reply.json();
  if (!reply.ok) throw new Error(`signUp ${email}: ${reply.status} ${JSON.stringify(body)}`);
  return { email, password, uid: body.localId, idToken: body.idToken };
}

async function axeCheck(view) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  const bad = found.filter((v) => v.impact === "serious" || v.impact === "critical");
  log(`axe ${view}: ${bad.length} serious or critical`);
  check(bad.length === 0, `axe on the ${view} view: ${JSON.stringify(bad, null, 1)}`);
}

async function journey(browser) {
  step = "a learner did part of a pathway that was then retired";
  await seedRetired();
  const learner = await signUp(`retired-${RUN}@example.com`, "retired-pass-1");
  const done = await fetch(`${PROGRESS}/users/me/resources/${RIDS[0]}/complete`, {
    method: "POST",
    headers: { Authorization: `Bearer ${learner.idToken}` },
  });
  check(done.ok, `complete: ${done.status}`);

  step = "the overview shows it retired, after the offered pathways, inviting nothing";
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(learner.email);
  await page.getByLabel("Password").fill(learner.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('#overview[data-ready="true"]');
  const card = page.getByTestId(`card-${PID}`);
  check((await card.getAttribute("data-retired")) === "true", "the card is marked retired");
  check((await page.getByTestId(`next-${PID}`).count()) === 0, "a retired card invites to continue");
  check((await page.getByTestId(`next-${OFFERED}`).count()) === 1, "an offered card lost its next step");
  check((await page.getByTestId(`retired-${PID}`).textContent()).includes("no longer offered"), "the note");
  const note = await page.getByTestId(`retired-${PID}`).textContent();
  check(note.includes("1 of 2 resources done"), `the numbers as they stand: ${note}`);
  const order = await page.$$eval(".pathway-card", (cards) => cards.map((c) => c.dataset.testid));
  check(order.indexOf(`card-${PID}`) > order.indexOf(`card-${OFFERED}`), `retired listed last: ${order}`);
  await axeCheck("overview with a retired pathway");
  await page.screenshot({ path: join(SHOTS, "overview-retired.png"), fullPage: true });
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
    if (page) await page.screenshot({ path: join(SHOTS, "FAILED-overview.png"), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await browser.close();
    await cleanUp().catch((e) => log(`clean-up: ${e}`));
  }
}

main().then(
  () => {
    log("passed: every step held");
    process.exit(0);
  },
  (err) => {
    console.error(`[retired] FAILED at "${step}": ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
