// The cohort dashboard in a real browser (Debian's chromium driven by playwright-core) against the
// running local cloud. Run by tests/emulator/test_web_dashboard.py, which sets the scene (an
// instructor account, a cohort of DASH_LEARNERS learners, some progress, some idle learners) and
// passes it in the environment. Exits 0 when every step held, 1 otherwise. Screenshots go to
// .local/screenshots-dashboard/ (a failing step leaves FAILED-<page>.png).
//
// The instructor signs in, picks the cohort and pathway, reads the grid (25 learners, then the next
// page), the per-module chart (inline SVG), the resource counts, the median and the learners idle
// for 7 days; then two learners upload files through signed URLs and the live count of uploads
// awaiting review goes 0 -> 1 -> 2 without a reload. axe-core at desktop and 390 px width: no
// serious or critical violation; nothing scrolls sideways at 390 px; no CSP violation is reported.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = join(ROOT, ".local", "screenshots-dashboard");
const stack = JSON.parse(readFileSync(join(ROOT, ".local", "stack.json"), "utf8"));
const WEB = stack.web;
const UPLOADS = stack.functions.uploads;
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/emulator/test_web_dashboard.py)`);
  return value;
};
const WHO = { email: env("DASH_EMAIL"), password: env("DASH_PASSWORD") };
const COHORT = env("DASH_COHORT");
const PATHWAY = env("DASH_PATHWAY");
const LEARNERS = Number(env("DASH_LEARNERS"));
const IDLE = env("DASH_IDLE").split(",");
const UPLOADERS = env("DASH_UPLOADERS").split(",");
const ACTIVE_UID = env("DASH_ACTIVE_UID");
const ACTIVE_PCT = env("DASH_ACTIVE_PCT");
const TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT_MS || 60000);
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1200, height: 900 };

let step = "start";
let shotNo = 0;
const pages = [];
const cspViolations = [];

function log(text) {
  console.log(`[dashboard] ${text}`);
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

async function upload(token, name) {
  const body = `# ${name}\n\nA prompt and what it produced.\n`;
  const ask = await fetch(`${UPLOADS}/users/me/resources/${PATHWAY}-m1-exercise/upload-url`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ file_name: name, content_type: "text/markdown", size_bytes: body.length }),
  });
  const grant = await ask.json();
  check(ask.status === 201, `upload-url answered ${ask.status}: ${JSON.stringify(grant)}`);
  const put = await fetch(grant.upload_url, { method: "PUT", headers: grant.headers, body });
  check(put.status === 200, `the signed PUT answered ${put.status}: ${await put.text()}`);
}

async function liveCount(page, testId) {
  return page.evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.dataset.count, testId);
}

async function waitCount(page, testId, want) {
  await page.waitForFunction(
    ([id, n]) => document.querySelector(`[data-testid="${id}"]`)?.dataset.count === n,
    [testId, String(want)],
    { timeout: 120000 },
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
        if (notice) console.error(`[dashboard] ${label} notice: ${notice}`);
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
  page.on("console", (m) => {
    const text = m.text();
    if (/Content Security Policy/i.test(text)) cspViolations.push(text);
    if (m.type() === "error" || m.type() === "warning") log(`console ${m.type()}: ${text}`);
  });
  page.on("pageerror", (e) => log(`page error: ${e.message}`));
  pages.push({ label: "instructor", page });
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(WHO.email);
  await page.getByLabel("Password").fill(WHO.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="instructor"]');

  step = "pick the cohort and pathway";
  const pick = page.getByTestId("dash-pick");
  await page.waitForFunction((value) => [...document.querySelectorAll('[data-testid="dash-pick"] option')].some((o) => o.value === value), `${COHORT}/${PATHWAY}`);
  const options = await pick.evaluate((el) => [...el.options].map((o) => o.value));
  check(options.includes(`${COHORT}/${PATHWAY}`), `the picker offers ${options.join(", ")}`);
  check(options.length === 2, `one cohort on two pathways: ${options.length} options`);
  await pick.selectOption(`${COHORT}/${PATHWAY}`);
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="dash-summary"]')?.dataset.learners === n,
    String(LEARNERS),
  );

  step = "the grid, first page";
  const firstPage = await page.locator('[data-testid="dash-grid"] tbody tr').count();
  check(firstPage === 25, `the first page shows ${firstPage} learners, not 25`);
  const cell = (await page.getByTestId(`dash-pct-${ACTIVE_UID}`).textContent()).trim();
  check(cell === ACTIVE_PCT, `${ACTIVE_UID} shows ${cell}, not ${ACTIVE_PCT}`);
  const name = (await page.locator(`[data-testid="dash-row-${ACTIVE_UID}"] th`).textContent()).trim();
  check(name === "Learner 02", `the row names ${name}, not the learner's display name`);

  step = "the chart, the median, the resources and the inactive list";
  const bars = await page.locator('[data-testid="dashboard-chart"] rect.chart-bar').count();
  check(bars === 1, `${bars} bars for the pathway's one module`);
  const label = await page.getByTestId("dashboard-chart").getAttribute("aria-label");
  check(label.includes(`over ${LEARNERS} learners`), `the chart's name: ${label}`);
  const median = await page.getByTestId("dash-median").textContent();
  check(median.startsWith("Median time spent"), median);
  const video = await page.locator(`[data-testid="dash-res-${PATHWAY}-m1-video"] td`).allTextContents();
  check(video[0] === "12" && video[1] === "12", `the video was started and completed by 12: ${video}`);
  for (const uid of IDLE) {
    check(await page.getByTestId(`dash-idle-${uid}`).count() === 1, `${uid} is not in the inactive list`);
  }
  await axeCheck(page, "dashboard desktop");
  await page.getByTestId("dashboard").scrollIntoViewIfNeeded();
  await shot(page, "dashboard-desktop");

  step = "the next page of learners";
  await page.getByTestId("dash-next").click();
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="dash-grid"] tbody tr').length === n,
    LEARNERS - 25,
  );
  check(!(await page.getByTestId("dash-prev").isDisabled()), "Previous is disabled on page 2");
  check(await page.getByTestId("dash-next").isDisabled(), "Next is enabled on the last page");
  await page.getByTestId("dash-prev").click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dash-grid"] tbody tr').length === 25);

  step = "the live count of uploads awaiting review";
  await waitCount(page, "dash-live", 0);
  check((await liveCount(page, "dash-live-total")) === "0", "the total is not 0 before any upload");
  await upload(UPLOADERS[0], "first.md");
  await waitCount(page, "dash-live", 1);
  await upload(UPLOADERS[1], "second.md");
  await waitCount(page, "dash-live", 2);
  await waitCount(page, "dash-live-total", 2);
  log("the live count went 0 -> 1 -> 2 without a reload");
  await page.getByTestId("dash-live").scrollIntoViewIfNeeded();
  await shot(page, "dashboard-live-count");

  step = "at a phone's width";
  await page.setViewportSize(PHONE);
  await fitsWidth(page, "dashboard phone");
  await axeCheck(page, "dashboard phone");
  await shot(page, "dashboard-phone");
  check(cspViolations.length === 0, `CSP violations: ${cspViolations.join(" | ")}`);
  await context.close();
}

main().then(
  () => {
    log("passed: every step held");
    process.exit(0);
  },
  (err) => {
    console.error(`[dashboard] FAILED at "${step}": ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
