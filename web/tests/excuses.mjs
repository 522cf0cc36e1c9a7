// The instructor's excuse screen (web/src/excuses.js) in a real browser (Debian's chromium driven by
// playwright-core, through web/tests/harness.mjs) against the running local cloud. Run by
// tests/emulator/test_web_excuses.py, which sets the scene (an instructor account, a pathway whose
// resources are due 2 days after the cohort starts, a cohort that started 3 days ago, a learner who
// completed the article late and uploaded the project late too) and passes it in the environment.
// Exits 0 when every step held, 1 otherwise. Screenshots go to .local/screenshots-excuses/ (a
// failing step leaves FAILED-<page>.png).
//
// The instructor picks the cohort, the learner and the pathway; reads each resource's status, due
// time (the learner's: the cohort's start + 2 days) and late flag; excuses the learner from the
// project with a reason (refused without one), sees it excused and in the excuse history; takes the
// excuse back; the history shows both, the latest first. axe-core at 1200 and 390 px: no serious or
// critical violation; nothing but the tables' scroll boxes is wider than the phone.
import { DESKTOP, Journey, PHONE, WEB } from "./harness.mjs";

const j = new Journey("excuses", { shots: "screenshots-excuses" });
const { check } = j;
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/emulator/test_web_excuses.py)`);
  return value;
};
const WHO = { email: env("EXC_EMAIL"), password: env("EXC_PASSWORD") };
const COHORT = env("EXC_COHORT");
const PATHWAY = env("EXC_PATHWAY");
const LEARNER = env("EXC_LEARNER");
const ARTICLE = env("EXC_ARTICLE");
const PROJECT = env("EXC_PROJECT");
const SUBMISSION = env("EXC_SUBMISSION"); // the learner's late upload of the project
const DUE = new Date(env("EXC_DUE")).getTime();

const row = (page, rid) => page.locator(`[data-testid="excuse-row-${rid}"]`);

async function waitRow(page, rid, attr, want) {
  await page.waitForFunction(
    ([tid, name, value]) => document.querySelector(`[data-testid="${tid}"]`)?.dataset[name] === value,
    [`excuse-row-${rid}`, attr, want],
  );
}

async function trail(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid^="excuse-trail-"][data-action]')].map((tr) => ({
      action: tr.dataset.action,
      resource: tr.dataset.resource,
      reason: tr.lastElementChild.textContent,
    })),
  );
}

async function journey(browser) {
  j.step = "sign in as the cohort's instructor";
  const { context, page } = await j.openPage(browser, "instructor", { viewport: DESKTOP });
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(WHO.email);
  await page.getByLabel("Password").fill(WHO.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="instructor"]');

  j.step = "the review queue marks the late upload with the learner's due time";
  const late = page.getByTestId(`late-${SUBMISSION}`);
  await late.waitFor();
  check((await late.textContent()).startsWith("late (due "), `the queue says ${await late.textContent()}`);

  j.step = "pick the cohort, the learner and the pathway";
  await page.waitForSelector(`#excuses-cohort option[value="${COHORT}"]`, { state: "attached" });
  await page.selectOption("#excuses-cohort", COHORT);
  await page.waitForSelector(`#excuses-learner option[value="${LEARNER}"]`, { state: "attached" });
  await page.selectOption("#excuses-pathway", PATHWAY);
  await page.selectOption("#excuses-learner", LEARNER);
  await row(page, ARTICLE).waitFor();

  j.step = "each resource shows its status, the learner's due time and the late flag";
  await waitRow(page, ARTICLE, "late", "true");
  check((await page.getByTestId(`excuse-status-${ARTICLE}`).textContent()) === "completed", "the article is not completed");
  check((await page.getByTestId(`excuse-late-${ARTICLE}`).textContent()) === "late", "the article is not shown late");
  for (const rid of [ARTICLE, PROJECT]) {
    const due = await page.getByTestId(`excuse-due-${rid}`).getAttribute("data-due");
    check(due && new Date(due).getTime() === DUE, `${rid} is due ${due}, not at the cohort start + 2 days`);
  }
  check((await row(page, PROJECT).getAttribute("data-late")) === "true", "the project uploaded after its due time is not late");
  check((await page.getByTestId(`excuse-status-${PROJECT}`).textContent()) === "submitted", "the project is not submitted");
  check((await page.getByTestId("excuse-trail-empty").isVisible()), "an empty history is not said so");
  await j.axe(page, "excuses desktop");
  await j.shot(page, "excuses-desktop");

  j.step = "an excuse needs a reason";
  await page.getByTestId(`excuse-toggle-${PROJECT}`).click();
  await page.getByTestId("excuse-send").click();
  await page.waitForSelector("#notice:not([hidden])");
  check((await row(page, PROJECT).getAttribute("data-excused")) === "false", "excused without a reason");

  j.step = "excuse the learner from the project";
  await page.getByTestId("excuse-reason").fill("Medical leave, week 2");
  await j.axe(page, "excuse form");
  await page.getByTestId("excuse-send").click();
  await waitRow(page, PROJECT, "excused", "true");
  check((await page.getByTestId(`excuse-excused-${PROJECT}`).textContent()).includes("Medical leave, week 2"), "the reason is not shown");
  let entries = await trail(page);
  check(entries.length === 1 && entries[0].action === "excuse" && entries[0].resource === PROJECT, `history: ${JSON.stringify(entries)}`);
  await j.shot(page, "excuses-excused");

  j.step = "take the excuse back";
  await page.getByTestId(`excuse-toggle-${PROJECT}`).click();
  check((await page.getByTestId("excuse-panel").getAttribute("data-action")) === "unexcuse", "the panel does not take back");
  await page.getByTestId("excuse-reason").fill("Back in class");
  await page.getByTestId("excuse-send").click();
  await waitRow(page, PROJECT, "excused", "false");
  entries = await trail(page);
  check(
    JSON.stringify(entries.map((e) => [e.action, e.reason])) === JSON.stringify([["unexcuse", "Back in class"], ["excuse", "Medical leave, week 2"]]),
    `history: ${JSON.stringify(entries)}`,
  );
  await j.shot(page, "excuses-taken-back");

  j.step = "the screen at phone width";
  await page.setViewportSize(PHONE);
  await j.fitsWidth(page, "excuses phone");
  await j.axe(page, "excuses phone");
  await j.shot(page, "excuses-phone");
  await context.close();
}

j.run(journey);
