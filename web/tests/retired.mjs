// A retired pathway on the learner's overview, in a real browser (Debian's chromium driven by
// playwright-core, through web/tests/harness.mjs) against the running local cloud (`make up`), under
// the production CSP. Exits 0 when every step held, 1 otherwise. Screenshots go to
// .local/screenshots/retired/ (a failing step leaves FAILED-overview.png).
//
//   node web/tests/retired.mjs
//
// A pathway retired by `catalog apply --prune` keeps its documents with `retired_at` (written here
// straight into the Firestore emulator, as the apply writes it). A learner who did part of it signs
// in: its card is listed after the offered pathways, says it is retired with the learner's numbers
// as they stand, and invites nothing ("Next" / "Continue" are absent); an offered pathway's card
// still does. Its page says it is no longer offered, its "Done" buttons are disabled and opening a
// resource starts no timer (the API refuses new work with 409 pathway_retired). axe-core at 1200 and 390 px: 0 serious or critical; nothing scrolls sideways at
// 390 px; no CSP violation.
import { DESKTOP, Journey, PHONE, RUN, WEB, signUp, stack } from "./harness.mjs";

const j = new Journey("retired", { shots: "screenshots/retired" });
const { check, log } = j;
const FIRESTORE = `http://${stack.emulators.firestore}`;
const PROJECT = stack.project_id || "demo-aibc";
const PROGRESS = stack.functions.progress;
const PID = `retired-${RUN}`;
const MID = `${PID}-m1`;
const RIDS = [`${MID}-a`, `${MID}-b`];
const OFFERED = "prompt-engineering";

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

function pathwayDoc(retired) {
  const fields = { pathway_id: str(PID), title: str(`Retired course ${RUN}`), module_ids: arr([MID]) };
  if (retired) fields.retired_at = { timestampValue: "2026-03-01T00:00:00Z" };
  return fields;
}

/** The pathway as offered (a learner works on it), then retired as the prune writes it. */
async function seedOffered() {
  await put(`pathways/${PID}`, pathwayDoc(false));
  await put(`modules/${MID}`, { module_id: str(MID), pathway_id: str(PID), title: str("Old module"), order: int(0), resource_ids: arr(RIDS) });
  for (const [order, rid] of RIDS.entries()) {
    await put(`resources/${rid}`, { resource_id: str(rid), pathway_id: str(PID), module_id: str(MID), title: str(`Old ${order}`), type: str("article"), order: int(order) });
  }
}

async function cleanUp() {
  for (const path of [`pathways/${PID}`, `modules/${MID}`, ...RIDS.map((r) => `resources/${r}`)]) await put(path, null);
}

/** The journey, and the retired pathway's documents deleted whatever happened. */
async function journey(browser) {
  try {
    await overview(browser);
  } finally {
    await cleanUp().catch((e) => log(`clean-up: ${e}`));
  }
}

async function overview(browser) {
  j.step = "a learner did part of a pathway that was then retired";
  await seedOffered();
  const learner = await signUp(`retired-${RUN}@example.com`, "retired-pass-1");
  const done = await fetch(`${PROGRESS}/users/me/resources/${RIDS[0]}/complete`, {
    method: "POST",
    headers: { Authorization: `Bearer ${learner.idToken}` },
  });
  check(done.ok, `complete: ${done.status}`);
  await put(`pathways/${PID}`, pathwayDoc(true));

  j.step = "the overview shows it retired, after the offered pathways, inviting nothing";
  const { page } = await j.openPage(browser, "overview", { viewport: DESKTOP });
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
  await j.axe(page, "overview with a retired pathway");
  await j.shot(page, "overview-retired");

  j.step = "the overview with a retired pathway at phone width";
  await page.setViewportSize(PHONE);
  await j.fitsWidth(page, "overview with a retired pathway at phone width");
  await j.axe(page, "overview with a retired pathway at phone width");
  await j.shot(page, "overview-retired-phone");

  j.step = "its page shows the record as it stands and invites no new work";
  await page.setViewportSize(DESKTOP);
  await page.goto(`${WEB}/#/pathway/${PID}`);
  await page.waitForSelector('#pathway[data-retired="true"]');
  const said = await page.getByTestId("pathway-retired").textContent();
  check(said.includes("no longer offered"), `the pathway page says it is retired: ${said}`);
  await page.waitForSelector(`[data-testid="status-${RIDS[0]}"]`);
  for (const rid of RIDS) {
    check(await page.getByTestId(`complete-${rid}`).isDisabled(), `"Done" is offered on ${rid}`);
  }
  await page.goto(`${WEB}/#/pathway/${PID}/resource/${RIDS[1]}`);
  await page.waitForSelector(`.resource.focused[data-testid="resource-${RIDS[1]}"]`); // the view opened it
  check((await page.getByTestId(`resource-${RIDS[1]}`).getAttribute("data-timing")) === null, "time accrues on a record");
  await j.axe(page, "a retired pathway's page");
  await j.shot(page, "pathway-retired");
  j.noCspViolations();
}

j.run(journey);
