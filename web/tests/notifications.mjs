// Review notifications and the revise button in a real browser (Debian's chromium driven by
// playwright-core) against the running local cloud (`make up`). Exits 0 when every step held.
// Screenshots go to .local/screenshots-notifications/ (a failing step leaves FAILED-<page>.png).
//
//   node web/tests/notifications.mjs
//
// A fresh learner (signed up in the Auth emulator) uploads a project through the API and keeps the
// page open. The seeded instructor rejects it on the instructor page: the learner's unread count
// rises without a reload; the learner opens the list (grade and comments shown) and marks it read,
// which holds after a reload (the rule-checked client write). The instructor then revises the
// decision from "Recent decisions": the learner is notified again, with the reason. axe-core runs
// on each view at desktop and phone width: no serious or critical violation.
import { readFileSync } from "node:fs";
import { joinDemoCohort } from "./cohorts.mjs";
import { Journey, PHONE, RUN, WEB, signUp, stack } from "./harness.mjs";

const j = new Journey("notifications", { shots: "screenshots-notifications", timeout: 90000 });
const { check, log } = j;
const UPLOADS = stack.functions.uploads;
const RESOURCE = "prompt-engineering-m1-project";
const INSTRUCTOR = { email: "instructor@example.com", password: "instructor-pass-1" };
/** The learner's upload, through the API as the page would do it; returns the submission id. */
async function uploadAsLearner(who) {
  const text = `# Notes ${RUN}\n\nA project for the notifications test.\n`;
  const auth = { Authorization: `Bearer ${who.idToken}` };
  const asked = await fetch(`${UPLOADS}/users/me/resources/${RESOURCE}/upload-url`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ file_name: "notes.md", content_type: "text/markdown", size_bytes: Buffer.byteLength(text) }),
  });
  const grant = await asked.json();
  check(asked.status === 201, `upload-url: ${asked.status} ${JSON.stringify(grant)}`);
  const put = await fetch(grant.upload_url, { method: "PUT", headers: grant.headers, body: text });
  check(put.ok, `the signed PUT: ${put.status} ${await put.text()}`);
  const deadline = Date.now() + j.timeout;
  while (Date.now() < deadline) {
    const listed = await fetch(`${UPLOADS}/users/me/resources/${RESOURCE}/submissions`, { headers: auth });
    const body = await listed.json();
    const mine = (body.submissions || []).find((s) => s.submission_id === grant.submission_id);
    if (mine && mine.status === "uploaded") return grant.submission_id;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${j.step}: the upload was not recorded in time`);
}

/** A cohort as the cohort layout gives it, written straight into the Firestore emulator (the
 * emulator's "owner" token bypasses the rules, as the Admin SDK does). */
async function makeCohort(cid, pathway, instructorUid, learnerUid) {
  const base = `http://${stack.emulators.firestore}/v1/projects/${stack.project_id}/databases/(default)/documents`;
  const strings = (values) => ({ arrayValue: { values: values.map((v) => ({ stringValue: v })) } });
  const put = async (path, id, fields) => {
    const reply = await fetch(`${base}/${path}?documentId=${id}`, {
      method: "POST",
      headers: { Authorization: "Bearer owner", "Content-Type": "application/json" },
      body: JSON.stringify({ fields }),
    });
    check(reply.ok, `writing ${path}/${id}: ${reply.status} ${await reply.text()}`);
  };
  await put("cohorts", cid, {
    cohort_id: { stringValue: cid },
    name: { stringValue: `Cohort ${cid}` },
    pathway_ids: strings([pathway]),
    instructor_uids: strings([instructorUid]),
  });
  await put(`cohorts/${cid}/members`, learnerUid, {
    uid: { stringValue: learnerUid },
    cohort_id: { stringValue: cid },
    pathway_ids: strings([pathway]),
    via: { stringValue: "operator" },
  });
}

/** Click an export button and return the text of the file the browser saved. */
async function exported(page, kind) {
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId(`export-${kind}`).click()]);
  const path = await download.path();
  return readFileSync(path, "utf8").replace(/^\uFEFF/, "");
}

async function signIn(page, who, role) {
  await page.goto(`${WEB}/`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector(`body[data-state="${role}"]`);
}

async function unreadCount(page, want) {
  await page.waitForSelector(`[data-testid="unread-count"][data-count="${want}"]`);
}

async function journey(browser) {
  j.step = "a fresh learner uploads a project";
  const learner = await signUp(`notify-${RUN}@example.com`, "notify-pass-1");
  await joinDemoCohort(stack, learner); // the seeded instructor teaches demo-cohort
  const sid = await uploadAsLearner(learner);
  log(`learner ${learner.uid}, submission ${sid}`);

  j.step = "the learner's page: no notifications yet";
  const lp = (await j.openPage(browser, "learner")).page;
  await signIn(lp, learner, "learner");
  await unreadCount(lp, "0");
  check((await lp.getByTestId("unread-count").textContent()).trim() === "No unread notifications", "the empty count's words");
  await j.axe(lp, "learner, no notifications");

  j.step = "the instructor rejects the project";
  const ip = (await j.openPage(browser, "instructor")).page;
  await signIn(ip, INSTRUCTOR, "instructor");
  await ip.getByTestId(`open-${sid}`).click();
  await ip.waitForSelector(`[data-testid="review-panel"][data-submission="${sid}"]`);
  await ip.getByTestId("review-grade").fill("55");
  await ip.getByTestId("review-comments").fill("Cite your sources, please.");
  await ip.getByTestId("reject").click();
  await ip.waitForSelector('[data-testid="review-outcome"][data-status="rejected"]');

  j.step = "the learner's unread count rises live";
  await unreadCount(lp, "1");
  check((await lp.getByTestId("unread-count").textContent()).trim() === "1 unread", "the count's words");
  await lp.getByTestId("notifications-toggle").click();
  check((await lp.getByTestId("notifications-toggle").getAttribute("aria-expanded")) === "true", "the list is announced open");
  const first = lp.getByTestId(`notification-${sid}-reject`);
  await first.waitFor();
  const words = await first.textContent();
  check(words.includes("Submission needs another try"), `the title: ${words}`);
  check(words.includes("Grade: 55 / 100"), `the grade: ${words}`);
  check(words.includes("Cite your sources, please."), `the comments: ${words}`);
  // the resource is named by its title (read from the catalog), not its id
  await lp.waitForFunction(
    ([id, rid]) => {
      const text = document.querySelector(`[data-testid="notification-${id}-reject"] a`)?.textContent || "";
      return text.length > 0 && text !== rid;
    },
    [sid, RESOURCE],
  );
  await j.axe(lp, "learner, one unread notification");
  await j.shot(lp, "learner-notified");

  j.step = "the learner marks it read, and it stays read";
  await lp.getByTestId(`mark-read-${sid}-reject`).click();
  await unreadCount(lp, "0");
  // read, and acknowledged by the server (not only the page's own pending write)
  await lp.waitForSelector(`[data-testid="notification-${sid}-reject"][data-read="true"][data-saved="true"]`);
  await lp.reload();
  await lp.waitForSelector('body[data-state="learner"]');
  await unreadCount(lp, "0");
  await lp.getByTestId("notifications-toggle").click();
  await lp.waitForSelector(`[data-testid="notification-${sid}-reject"][data-read="true"]`);

  j.step = "the instructor revises the decision";
  await ip.getByTestId("decisions-status").selectOption("rejected");
  await ip.getByTestId(`revise-${sid}`).click();
  await ip.waitForSelector(`[data-testid="revise-panel"][data-submission="${sid}"]`);
  check((await ip.getByTestId("revise-decision").inputValue()) === "approve", "a rejection is revised to an approval by default");
  await ip.getByTestId("revise-grade").fill("80");
  await ip.getByTestId("revise-comments").fill("Good: the sources were in the appendix.");
  await ip.getByTestId("revise-send").click();
  await ip.waitForFunction(() => (document.querySelector("#notice")?.textContent || "").startsWith("Say why"));
  await ip.getByTestId("revise-reason").fill("I missed the appendix.");
  await ip.getByTestId("revise-send").click();
  await ip.waitForSelector('[data-testid="revise-outcome"][data-status="approved"]');
  await j.axe(ip, "instructor, decision revised");
  await j.shot(ip, "instructor-revised");

  j.step = "the learner is notified again";
  await unreadCount(lp, "1");
  const again = lp.getByTestId(`notification-${sid}-revision-1`);
  await again.waitFor();
  const revised = await again.textContent();
  check(revised.includes("Review revised: approved"), `the title: ${revised}`);
  check(revised.includes("Grade: 80 / 100"), `the grade: ${revised}`);
  check(revised.includes("Why it changed: I missed the appendix."), `the reason: ${revised}`);
  await j.axe(lp, "learner, notified of the revision");
  await j.shot(lp, "learner-notified-again");

  j.step = "the instructor exports the cohort's progress and grades";
  const cid = `web-cohort-${RUN}`;
  await makeCohort(cid, "prompt-engineering", "demo-instructor", learner.uid);
  await ip.getByTestId("export-cohort").fill(cid);
  await ip.getByTestId("export-pathway").fill("prompt-engineering");
  const progressCsv = exported(ip, "progress.csv");
  const progressText = await progressCsv;
  const progressRows = progressText.trim().split("\r\n");
  check(progressRows[0].startsWith("cohort_id,learner_uid,learner_name,learner_email"), `the header: ${progressRows[0]}`);
  check(progressRows.length === 6, `one row per resource of the pathway: ${progressRows.length - 1}`);
  const project = progressRows.find((r) => r.includes(`,${RESOURCE},`)) || "";
  check(project.startsWith(`${cid},${learner.uid},`) && project.includes(",reviewed,"), `the project's row: ${project}`);
  await ip.waitForFunction(() => (document.querySelector('[data-testid="export-outcome"]')?.textContent || "").startsWith("Downloaded"));
  const grades = (await exported(ip, "grades.csv")).trim().split("\r\n");
  check(grades.length === 2, `one attempt: ${grades.join(" | ")}`);
  check(grades[1].includes(`,${sid},1,approved,approve,80,`), `the attempt, approved at 80: ${grades[1]}`);
  await j.axe(ip, "instructor exports");
  await j.shot(ip, "instructor-exports");
  await ip.getByTestId("export-cohort").fill("someone-elses-cohort");
  await ip.getByTestId("export-grades.csv").click();
  await ip.waitForFunction(() => !document.querySelector("#notice")?.hidden);
  log(`an unknown cohort: ${await ip.locator("#notice").textContent()}`);

  j.step = "phone width";
  await lp.setViewportSize(PHONE);
  await j.fitsWidth(lp, "learner notifications (phone)");
  await j.axe(lp, "learner notifications (phone)");
  await j.shot(lp, "phone-learner-notifications");
  await ip.setViewportSize(PHONE);
  await j.fitsWidth(ip, "instructor decisions (phone)");
  await j.axe(ip, "instructor decisions (phone)");
  await j.shot(ip, "phone-instructor-decisions");
}

j.run(journey);
