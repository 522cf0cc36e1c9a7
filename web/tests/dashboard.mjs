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
import { DESKTOP, Journey, PHONE, WEB, stack } from "./harness.mjs";

const j = new Journey("dashboard", { shots: "screenshots-dashboard" });
const { check, log } = j;
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

async function journey(browser) {
  j.step = "sign in as the cohort's instructor";
  const { context, page } = await j.openPage(browser, "instructor", { viewport: DESKTOP });
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(WHO.email);
  await page.getByLabel("Password").fill(WHO.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="instructor"]');

  j.step = "pick the cohort and pathway";
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

  j.step = "the grid, first page";
  const firstPage = await page.locator('[data-testid="dash-grid"] tbody tr').count();
  check(firstPage === 25, `the first page shows ${firstPage} learners, not 25`);
  const cell = (await page.getByTestId(`dash-pct-${ACTIVE_UID}`).textContent()).trim();
  check(cell === ACTIVE_PCT, `${ACTIVE_UID} shows ${cell}, not ${ACTIVE_PCT}`);
  const name = (await page.locator(`[data-testid="dash-row-${ACTIVE_UID}"] th`).textContent()).trim();
  check(name === "Learner 02", `the row names ${name}, not the learner's display name`);

  j.step = "the chart, the median, the resources and the inactive list";
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
  await j.axe(page, "dashboard desktop");
  await page.getByTestId("dashboard").scrollIntoViewIfNeeded();
  await j.shot(page, "dashboard-desktop");

  j.step = "the next page of learners";
  await page.getByTestId("dash-next").click();
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="dash-grid"] tbody tr').length === n,
    LEARNERS - 25,
  );
  check(!(await page.getByTestId("dash-prev").isDisabled()), "Previous is disabled on page 2");
  check(await page.getByTestId("dash-next").isDisabled(), "Next is enabled on the last page");
  await page.getByTestId("dash-prev").click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dash-grid"] tbody tr').length === 25);

  j.step = "the live count of uploads awaiting review";
  await waitCount(page, "dash-live", 0);
  check((await liveCount(page, "dash-live-total")) === "0", "the total is not 0 before any upload");
  await upload(UPLOADERS[0], "first.md");
  await waitCount(page, "dash-live", 1);
  await upload(UPLOADERS[1], "second.md");
  await waitCount(page, "dash-live", 2);
  await waitCount(page, "dash-live-total", 2);
  log("the live count went 0 -> 1 -> 2 without a reload");
  await page.getByTestId("dash-live").scrollIntoViewIfNeeded();
  await j.shot(page, "dashboard-live-count");

  j.step = "at a phone's width";
  await page.setViewportSize(PHONE);
  await j.fitsWidth(page, "dashboard phone");
  await j.axe(page, "dashboard phone");
  await j.shot(page, "dashboard-phone");
  j.noCspViolations();
  await context.close();
}

j.run(journey);
