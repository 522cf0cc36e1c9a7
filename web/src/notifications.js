// The learner's notifications (issue 12 item 6): reviews of their submissions, live.
// Two listeners on users/{uid}/notifications (the rules let a learner read their own): the unread
// ones (the count) and the newest 50 (the list, with the decision, grade, comments and, for a
// revised review, its reason). "Mark as read" is the one client write the rules allow: `read` and
// `read_at` of the learner's own notification, nothing else.
import {
  collection,
  doc,
  getDoc,
  limit,
  onSnapshot,
  orderBy,
  query,
  serverTimestamp,
  updateDoc,
  where,
  writeBatch,
} from "firebase/firestore";
import { $, h, when } from "./dom.js";
import { describeError } from "./messages.js";
import { link } from "./routes.js";

const SHOWN = 50; // the newest notifications listed
const MAX_UNREAD = 100; // counted exactly up to this

/** The words of a notification (pure: web/tests/unit.test.mjs could take it). */
export function describeNotification(n) {
  const approved = n.decision === "approve";
  const lines = [];
  if (n.grade !== null && n.grade !== undefined) lines.push(`Grade: ${n.grade} / 100`);
  if (n.comments) lines.push(`Comments: “${n.comments}”`);
  if (n.kind === "submission_revised" && n.reason) lines.push(`Why it changed: ${n.reason}`);
  const title = n.title || (approved ? "Submission approved" : "Submission needs another try");
  return { title, lines, approved };
}

export function unreadText(count) {
  if (count === 0) return "No unread notifications";
  if (count >= MAX_UNREAD) return `${MAX_UNREAD}+ unread`;
  return `${count} unread`;
}

export function createNotifications({ db, ui }) {
  let uid = null;
  let stops = [];
  let open = false;
  let unread = [];
  const titles = new Map(); // resource_id -> title (or a promise of it)

  function section() {
    let el = $("notifications");
    if (el) return el;
    const toggle = h(
      "button",
      {
        type: "button",
        id: "notifications-toggle",
        "aria-expanded": "false",
        "aria-controls": "notification-list",
        "data-testid": "notifications-toggle",
      },
      "Show",
    );
    toggle.addEventListener("click", () => setOpen(!open));
    const all = h("button", { type: "button", id: "notifications-read-all", "data-testid": "mark-all-read", disabled: true }, "Mark all as read");
    all.addEventListener("click", () => markAll());
    el = h(
      "section",
      { id: "notifications", class: "card notifications", "aria-labelledby": "notifications-title", "data-testid": "notifications" },
      h(
        "div",
        { class: "row" },
        h("h2", { id: "notifications-title", class: "notifications-title" }, "Notifications"),
        h("span", { id: "unread-count", class: "badge", role: "status", "data-testid": "unread-count", "data-count": "0" }, unreadText(0)),
        toggle,
        all,
      ),
      h("ul", { id: "notification-list", class: "notification-list", "data-testid": "notification-list", hidden: true }),
      h("p", { id: "notifications-empty", class: "hint", hidden: true }, "Nothing yet. Reviews of your work will show here."),
    );
    $("learner").prepend(el);
    return el;
  }

  function setOpen(value) {
    open = value;
    $("notifications-toggle").setAttribute("aria-expanded", String(open));
    $("notifications-toggle").textContent = open ? "Hide" : "Show";
    $("notification-list").hidden = !open;
    $("notifications-empty").hidden = !open || $("notification-list").children.length > 0;
  }

  function start(user) {
    uid = user.uid;
    section().hidden = false;
    setOpen(false);
    stops.push(
      onSnapshot(
        query(collection(db, "users", uid, "notifications"), where("read", "==", false), limit(MAX_UNREAD)),
        (snap) => showCount(snap.docs),
        (err) => ui.error(describeError(err)),
      ),
      onSnapshot(
        query(collection(db, "users", uid, "notifications"), orderBy("created_at", "desc"), limit(SHOWN)),
        { includeMetadataChanges: true }, // so an item knows when its "read" reached the server
        (snap) => showList(snap.docs),
        (err) => ui.error(describeError(err)),
      ),
    );
  }

  function stop() {
    for (const s of stops) s();
    stops = [];
    uid = null;
    unread = [];
    const el = $("notifications");
    if (el) el.remove();
  }

  function showCount(docs) {
    unread = docs.map((d) => d.id);
    const badge = $("unread-count");
    if (!badge) return;
    badge.textContent = unreadText(docs.length);
    badge.dataset.count = String(docs.length);
    $("notifications-read-all").disabled = docs.length === 0;
  }

  function showList(docs) {
    const list = $("notification-list");
    if (!list) return;
    list.replaceChildren(...docs.map((d) => renderItem(d.id, d.data(), !d.metadata.hasPendingWrites)));
    $("notifications-empty").hidden = !open || docs.length > 0;
  }

  function resourceTitle(rid, into) {
    const known = titles.get(rid);
    if (typeof known === "string") {
      into.textContent = known;
      return;
    }
    if (!known) {
      titles.set(
        rid,
        getDoc(doc(db, "resources", rid))
          .then((snap) => {
            const title = (snap.exists() && snap.data().title) || rid;
            titles.set(rid, title);
            return title;
          })
          .catch(() => rid),
      );
    }
    titles.get(rid).then((title) => {
      into.textContent = title;
    });
  }

  function renderItem(id, n, saved) {
    const { title, lines, approved } = describeNotification(n);
    const target = h("a", { href: link.resource(n.pathway_id, n.resource_id) }, n.resource_id);
    resourceTitle(n.resource_id, target);
    const read = n.read === true;
    const mark = h(
      "button",
      { type: "button", "data-testid": `mark-read-${id}`, "aria-label": `Mark as read: ${title}` },
      "Mark as read",
    );
    mark.addEventListener("click", () => markRead([id], mark));
    return h(
      "li",
      { class: `notification ${read ? "read" : "unread"}`, "data-testid": `notification-${id}`, "data-read": String(read), "data-saved": String(saved) },
      h("p", { class: "notification-title" }, h("span", { class: `status status-${approved ? "approved" : "rejected"}` }, approved ? "approved" : "returned"), " ", h("strong", {}, title)),
      h("p", {}, target, n.attempt ? ` · attempt ${n.attempt}` : ""),
      ...lines.map((line) => h("p", { class: "notification-line" }, line)),
      h("p", { class: "hint" }, when(n.created_at && n.created_at.toDate ? n.created_at.toDate() : n.created_at), read ? " · read" : ""),
      read ? null : mark,
    );
  }

  async function markRead(ids, button) {
    if (!uid || ids.length === 0) return;
    if (button) button.disabled = true;
    try {
      if (ids.length === 1) {
        await updateDoc(doc(db, "users", uid, "notifications", ids[0]), { read: true, read_at: serverTimestamp() });
      } else {
        const batch = writeBatch(db);
        for (const id of ids) batch.update(doc(db, "users", uid, "notifications", id), { read: true, read_at: serverTimestamp() });
        await batch.commit();
      }
    } catch (err) {
      if (button) button.disabled = false;
      ui.error(describeError(err));
    }
  }

  function markAll() {
    markRead([...unread], $("notifications-read-all"));
  }

  return { start, stop };
}
