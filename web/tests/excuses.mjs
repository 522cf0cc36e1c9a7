// The instructor's excuse screen (web/src/excuses.js) in a real browser (Debian's chromium driven by
// playwright-core) against the running local cloud. Run by tests/emulator/test_web_excuses.py, which
// sets the scene (an instructor account, a pathway whose resources are due 2 days after the cohort
// starts, a cohort that started 3 days ago, a learner who completed the article late) and passes it
// in the environment (and the learner's upload of the project, late too). Exits 0 when every step held, 1 otherwise. Screenshots go to
// .local/screenshots-excuses/ (a failing step leaves FAILED-<page>.png).
//
// The instructor picks the cohort, the learner and the pathway; reads each resource's status, due
// time (the learner's: the cohort's start + 2 days) and late flag; excuses the learner from the
// project with a reason (refused without one), sees it excused and in the excuse history; takes the
// excuse back; the history shows both, the latest first. axe-core at 1200 and 390 px: no serious or
// critical violation; nothing but the tables' scroll boxes is wider than the phone.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = join(ROOT, ".local", "screenshots-excuses");
const stack = JSON.parse(readFileSync(join(ROOT, ".local", "stack.json"), "utf8"));
const WEB = stack.web;
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
const TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT_MS || 60000);
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1200, height: 900 };

let step = "start";
let shotNo = 0;
const pages = [];

function log(text) {
  console.log(`[excuses] ${text}`);
}

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
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  const bad = found.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = found.filter((v) => !bad.includes(v)).map((v) => `${v.id} (${v.impact})`);
  log(`axe ${view}: ${bad.length} serious or critical${minor.length ? `; minor: ${minor.join(", ")}` : ""}`);
  check(bad.length === 0, `axe on the ${view} view: ${JSON.stringify(bad, null, 1)}`);
}

async function fitsWidth(page, view) {
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  if (scroll > inner) {
    const wide = await page.evaluate((w) =>
      [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > w && !el.closest(".scroll"))
        .slice(-5)
        .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`),
    inner);
    check(false, `the ${view} view is ${scroll} px wide in a ${inner} px window: ${wide.join(", ")}`);
  }
}

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
        const notice = await page.evaluate(() => document.querySelector("#notice")?.textContent || "");
        if (notice) console.error(`[excuses] ${label} notice: ${notice}`);
      } catch {
        // the page may be gone
      }
    }
    throw err;
  } finally {
    await browser.close();
  }
}

async function journey(browser) {
  step = "sign in as the cohort's instructor";
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => log(`page error: ${e.message}`));
  pages.push({ label: "instructor", page });
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(WHO.email);
  await page.getByLabel("Password").fill(WHO.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="instructor"]');

  step = "the review queue marks the late upload with the learner's due time";
  const late = page.getByTestId(`late-${SUBMISSION}`);
  await late.waitFor();
  check((await late.textContent()).startsWith("late (due "), `the queue says ${await late.textContent()}`);

  step = "pick the cohort, the learner and the pathway";
  await page.waitForSelector(`#excuses-cohort option[value="${COHORT}"]`, { state: "attached" });
  await page.selectOption("#excuses-cohort", COHORT);
  await page.waitForSelector(`#excuses-learner option[value="${LEARNER}"]`, { state: "attached" });
  await page.selectOption("#excuses-pathway", PATHWAY);
  await page.selectOption("#excuses-learner", LEARNER);
  await row(page, ARTICLE).waitFor();

  step = "each resource shows its status, the learner's due time and the late flag";
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
  await axeCheck(page, "excuses desktop");
  await shot(page, "excuses-desktop");

  step = "an excuse needs a reason";
  await page.getByTestId(`excuse-toggle-${PROJECT}`).click();
  await page.getByTestId("excuse-send").click();
  await page.waitForSelector("#notice:not([hidden])");
  check((await row(page, PROJECT).getAttribute("data-excused")) === "false", "excused without a reason");

  step = "excuse the learner from the project";
  await page.getByTestId("excuse-reason").fill("Medical leave, week 2");
  await axeCheck(page, "excuse form");
  await page.getByTestId("excuse-send").click();
  await waitRow(page, PROJECT, "excused", "true");
  check((await page.getByTestId(`excuse-excused-${PROJECT}`).textContent()).includes("Medical leave, week 2"), "the reason is not shown");
  let entries = await trail(page);
  check(entries.length === 1 && entries[0].action === "excuse" && entries[0].resource === PROJECT, `history: ${JSON.stringify(entries)}`);
  await shot(page, "excuses-excused");

  step = "take the excuse back";
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
  await shot(page, "excuses-taken-back");

  step = "the screen at phone width";
  await page.setViewportSize(PHONE);
  await fitsWidth(page, "excuses phone");
  await axeCheck(page, "excuses phone");
  await shot(page, "excuses-phone");
  await context.close();
}

main().then(
  () => {
    log("passed: every step held");
    process.exit(0);
  },
  (err) => {
    console.error(`[excuses] FAILED at "${step}": ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
