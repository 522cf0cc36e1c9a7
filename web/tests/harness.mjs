// What every chromium journey of web/tests/ shares (e2e.mjs, dashboard.mjs, certificates.mjs,
// notifications.mjs, rules.e2e.mjs, excuses.mjs, retired.mjs): the local cloud's description, Debian's chromium launched one
// way, pages that log their console errors and page errors and collect CSP violations, the step
// being run, checks that name it, screenshots, axe-core, the phone-width check, fresh Auth emulator
// accounts, and the run itself (on a failure: a screenshot of every page and its notice; exit 1).
//
//   const j = new Journey("dashboard", { shots: "screenshots-dashboard" });
//   j.run(async (browser) => { j.step = "..."; const { page } = await j.openPage(browser, "x"); ... });
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const stack = JSON.parse(readFileSync(join(ROOT, ".local", "stack.json"), "utf8"));
export const WEB = stack.web;
export const AUTH = `http://${stack.emulators.auth}`;
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1200, height: 900 };
/** A fresh suffix for this run's accounts and ids, so runs never collide. */
export const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// axe-core, evaluated into each page through the DevTools protocol (the page's CSP forbids an
// injected script tag, and rightly so).
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export class Journey {
  /**
   * @param {string} name the prefix of every line the journey prints
   * @param {{shots?: string, timeout?: number}} options `shots`: the folder under .local/ for the
   *   screenshots (none: no screenshots); `timeout`: each step's default, in ms
   *   (E2E_STEP_TIMEOUT_MS overrides it)
   */
  constructor(name, { shots = null, timeout = 60000 } = {}) {
    this.name = name;
    this.shots = shots ? join(ROOT, ".local", shots) : null;
    this.timeout = Number(process.env.E2E_STEP_TIMEOUT_MS || timeout);
    this.step = "start";
    this.shotNo = 0;
    this.pages = [];
    this.cspViolations = [];
    this.log = this.log.bind(this);
    this.check = this.check.bind(this);
  }

  log(text) {
    console.log(`[${this.name}] ${text}`);
  }

  /** Fails the journey at the current step unless `condition` holds. */
  check(condition, message) {
    if (!condition) throw new Error(`${this.step}: ${message}`);
  }

  /** A page of the journey: its console errors and warnings and page errors logged, CSP
   * violations collected, screenshotted if the journey fails. */
  track(page, label) {
    page.setDefaultTimeout(this.timeout);
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) this.cspViolations.push(`${label}: ${m.text()}`);
      if (m.type() === "error" || m.type() === "warning") this.log(`${label} console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => this.log(`${label} page error: ${e.message}`));
    this.pages.push({ label, page });
    return page;
  }

  /** A new browser context and its page (`clock`: a fake clock, flowing in real time until
   * fast-forwarded, so minutes of reading take no minutes). */
  async openPage(browser, label, { viewport = DESKTOP, clock = false } = {}) {
    const context = await browser.newContext({ viewport });
    if (clock) await context.clock.install();
    const page = this.track(await context.newPage(), label);
    return { context, page };
  }

  async shot(page, name) {
    if (!this.shots) return;
    this.shotNo += 1;
    const file = join(this.shots, `${String(this.shotNo).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    this.log(`screenshot ${file}`);
  }

  /** axe-core on the page as it is: no serious or critical violation (the others are logged). */
  async axe(page, view) {
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
    this.log(`axe ${view}: ${bad.length} serious or critical${minor.length ? `; minor: ${minor.join(", ")}` : ""}`);
    this.check(bad.length === 0, `axe on the ${view} view: ${JSON.stringify(bad, null, 1)}`);
  }

  /** At a phone's width nothing may scroll sideways (the widest elements are named). */
  async fitsWidth(page, view) {
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    if (scroll <= inner) return;
    const wide = await page.evaluate(
      (w) =>
        [...document.querySelectorAll("body *")]
          .filter((el) => el.getBoundingClientRect().right > w && !el.closest(".scroll"))
          .slice(-5)
          .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`),
      inner,
    );
    this.check(false, `the ${view} view is ${scroll} px wide in a ${inner} px window: ${wide.join(", ")}`);
  }

  noCspViolations() {
    this.check(this.cspViolations.length === 0, `CSP violations: ${this.cspViolations.join(" | ")}`);
  }

  /** Launch chromium, run `journey(browser)`, exit 0 when every step held and 1 otherwise. */
  run(journey) {
    const main = async () => {
      if (this.shots) {
        rmSync(this.shots, { recursive: true, force: true });
        mkdirSync(this.shots, { recursive: true });
      }
      const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
        headless: true,
        args: CHROMIUM_ARGS,
      });
      try {
        await journey(browser);
      } catch (err) {
        await this.failureShots();
        throw err;
      } finally {
        await browser.close();
      }
    };
    main().then(
      () => {
        this.log("passed: every step held");
        process.exit(0);
      },
      (err) => {
        console.error(`[${this.name}] FAILED at "${this.step}": ${err && err.stack ? err.stack : err}`);
        process.exit(1);
      },
    );
  }

  async failureShots() {
    for (const { label, page } of this.pages) {
      try {
        if (this.shots) await page.screenshot({ path: join(this.shots, `FAILED-${label}.png`), fullPage: true });
        const notice = await page.evaluate(() => document.querySelector("#notice")?.textContent || "");
        if (notice) console.error(`[${this.name}] ${label} notice: ${notice}`);
      } catch {
        // the page may be gone
      }
    }
  }
}

/** A fresh account in the Auth emulator: `{email, password, uid, idToken}`. */
export async function signUp(email, password, displayName = undefined) {
  const reply = await fetch(`${AUTH}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password, displayName, returnSecureToken: true }),
  });
  const body = await reply.json();
  if (!reply.ok) throw new Error(`signUp ${email}: ${reply.status} ${JSON.stringify(body)}`);
  return { email, password, uid: body.localId, idToken: body.idToken };
}
