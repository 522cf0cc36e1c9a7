// Time spent on a resource, measured in the browser and sent as whole minutes.
//
// `PUT /users/me/resources/{id}/progress` ADDS its `time_spent_minutes` (docs/API.md), so the page
// sends only what it measured since its last send, keeps the remainder under a minute for the next
// one, and gives minutes back when a send fails: the stored sum is exact. Time accrues only while
// the resource's view is visible AND this tab holds the learner's time lock (Web Locks API), so
// two open tabs never count the same minute twice.
//
// TimeMeter is pure (no DOM, no timers): web/tests/unit.test.mjs drives it with a fake clock.

export const MINUTE_MS = 60_000;
/** A gap between two marks longer than this (a sleeping laptop, a frozen tab) counts as this. */
export const MAX_GAP_MS = 90_000;
/** The server's ceiling for one update. */
export const MAX_MINUTES_PER_SEND = 1440;

export class TimeMeter {
  constructor({ carriedMs = 0, maxGapMs = MAX_GAP_MS } = {}) {
    this.ms = Math.max(0, Number(carriedMs) || 0);
    this.maxGapMs = maxGapMs;
    this.last = null;
    this.active = false;
  }

  /** Count the time since the previous mark if the meter was active, then set the new state. */
  mark(now, active) {
    if (this.last !== null && this.active) {
      this.ms += Math.min(Math.max(0, now - this.last), this.maxGapMs);
    }
    this.last = now;
    this.active = Boolean(active);
  }

  /** The whole minutes measured and not yet taken; the remainder stays. */
  take() {
    const minutes = Math.min(Math.floor(this.ms / MINUTE_MS), MAX_MINUTES_PER_SEND);
    this.ms -= minutes * MINUTE_MS;
    return minutes;
  }

  /** Minutes whose send failed come back, to go with the next send. */
  giveBack(minutes) {
    this.ms += minutes * MINUTE_MS;
  }
}

/** "0 min", "12 min", "1 h 05 min": time spent, for people. */
export function formatMinutes(total) {
  const m = Math.max(0, Math.floor(Number(total) || 0));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, "0")} min`;
}

/**
 * The heartbeat of one open resource view: marks the meter every `everyMs` and on visibility
 * changes, and sends the whole minutes (at most one request per beat, plus one when hidden or
 * closed). `send(minutes)` must reject on failure. `lockName` is shared by the learner's tabs.
 */
export function startHeartbeat({ send, lockName, carriedMs = 0, everyMs = 30_000, onSent = () => {} }) {
  const meter = new TimeMeter({ carriedMs });
  let holding = false;
  let release = null;
  let stopped = false;
  let sending = Promise.resolve();
  const visible = () => document.visibilityState === "visible";

  function acquire() {
    if (holding || stopped || !visible()) return;
    if (!navigator.locks) {
      holding = true; // no Web Locks: count this tab alone
      meter.mark(Date.now(), true);
      return;
    }
    navigator.locks
      .request(lockName, { ifAvailable: true }, (lock) => {
        if (!lock || stopped || !visible()) return null;
        holding = true;
        meter.mark(Date.now(), true);
        return new Promise((resolve) => {
          release = resolve;
        });
      })
      .catch(() => {});
  }

  function letGo() {
    holding = false;
    if (release) release();
    release = null;
  }

  function flush() {
    const minutes = meter.take();
    if (!minutes) return sending;
    sending = sending.then(() =>
      send(minutes).then(onSent, () => meter.giveBack(minutes)),
    );
    return sending;
  }

  function beat() {
    meter.mark(Date.now(), holding && visible());
    flush();
    acquire(); // a tab that became the only visible one takes over
  }

  function onPageHide() {
    meter.mark(Date.now(), false);
    letGo();
    flush();
  }

  function onVisibility() {
    meter.mark(Date.now(), holding && visible());
    if (!visible()) {
      letGo();
      flush();
    } else {
      acquire();
    }
  }

  const timer = setInterval(beat, everyMs);
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("pagehide", onPageHide);
  meter.mark(Date.now(), false);
  acquire();

  return {
    meter,
    /** Stop counting, send the whole minutes, and return what is left under a minute (ms). */
    stop() {
      if (stopped) return meter.ms;
      meter.mark(Date.now(), false);
      stopped = true;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("pagehide", onPageHide);
      letGo();
      flush();
      return meter.ms;
    },
    isCounting: () => holding && visible() && !stopped,
  };
}
