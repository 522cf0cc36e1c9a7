// Completion rules on the learner's page in a real browser (Debian's chromium driven by
// playwright-core) against the running local cloud. Exits 0 when every step held.
//
//   node web/tests/rules.e2e.mjs <pathway_id> <module_id>
//
// The pathway is seeded by tests/emulator/test_web_rules_e2e.py (the same resources as
// tests/emulator/test_completion_rules_e2e.py: manual, min_time 10, score 70, approved due
// yesterday, optional). A fresh learner sees what each resource needs and when it is due, reports a
// failing then a passing quiz score (the quiz completes itself), and sees the instructor's excuse
// from the project arrive live. axe-core checks the view.
import { joinDemoCohort } from "./cohorts.mjs";
import { AUTH, DESKTOP, Journey, RUN, WEB, signUp, stack } from "./harness.mjs";

const j = new Journey("rules-e2e");
const { check } = j;
const REVIEW = stack.functions.review;
const [PATHWAY, MODULE] = process.argv.slice(2);
const R = (kind) => `${MODULE}-${kind}`;

async function auth(path, body) {
  const reply = await fetch(`${AUTH}/identitytoolkit.googleapis.com/v1/accounts:${path}?key=fake`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, returnSecureToken: true }),
  });
  const data = await reply.json();
  if (!reply.ok) throw new Error(`${path}: ${reply.status} ${JSON.stringify(data)}`);
  return data;
}

const text = (page, id) => page.getByTestId(id).textContent();

async function waitData(page, id, attr, want) {
  await page.waitForFunction(
    ([tid, name, value]) => document.querySelector(`[data-testid="${tid}"]`)?.dataset[name] === value,
    [id, attr, want],
  );
}

async function journey(browser) {
  j.step = "sign up a learner";
  const email = `rules-${RUN}@example.com`;
  const password = "rules-pass-1";
  const learner = await signUp(email, password);
  await joinDemoCohort(stack, learner); // the seeded instructor excuses the learners of its cohorts
  const { page } = await j.openPage(browser, "learner", { viewport: DESKTOP });

  j.step = "the pathway view shows what each resource needs and when it is due";
  await page.goto(`${WEB}/#/pathway/${encodeURIComponent(PATHWAY)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector('body[data-state="learner"]');
  await page.getByTestId(`needs-time-${R("time")}`).waitFor();
  check((await text(page, `needs-time-${R("time")}`)) === "needs 10 min", "the time needed is not shown");
  check((await text(page, `needs-score-${R("quiz")}`)) === "pass mark 70", "the pass mark is not shown");
  check((await text(page, `due-${R("project")}`)).startsWith("due "), "the due date is not shown");
  await j.axe(page, "pathway with rules");

  j.step = "a failing score keeps the quiz open, a passing one completes it";
  await page.getByTestId(`score-${R("quiz")}`).fill("50");
  await page.getByTestId(`send-score-${R("quiz")}`).click();
  await page.waitForFunction(
    (id) => document.querySelector(`[data-testid="rule-state-${id}"]`)?.textContent.includes("best score 50"),
    R("quiz"),
  );
  check((await page.getByTestId(`resource-${R("quiz")}`).getAttribute("data-status")) !== "completed", "a failing score completed the quiz");
  await page.getByTestId(`score-${R("quiz")}`).fill("80");
  await page.getByTestId(`send-score-${R("quiz")}`).click();
  await waitData(page, `resource-${R("quiz")}`, "status", "completed");

  j.step = "the instructor's excuse from the project shows live";
  const teacher = await auth("signInWithPassword", { email: "instructor@example.com", password: "instructor-pass-1" });
  const reply = await fetch(`${REVIEW}/admin/users/${learner.uid}/resources/${R("project")}/excuse`, {
    method: "POST",
    headers: { Authorization: `Bearer ${teacher.idToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ reason: "joined after the deadline" }),
  });
  check(reply.status === 200, `excuse answered ${reply.status}: ${await reply.text()}`);
  await waitData(page, `rule-state-${R("project")}`, "excused", "true");
  check(
    (await text(page, `rule-state-${R("project")}`)).includes("excused (joined after the deadline)"),
    "the excuse's reason is not shown",
  );
  await page.waitForFunction(
    (mid) => document.querySelector(`[data-testid="module-${mid}"] .module-detail`)?.textContent === "1 of 3 resources done.",
    MODULE,
  );
  await j.axe(page, "pathway with an excuse");
}

j.run(journey);
