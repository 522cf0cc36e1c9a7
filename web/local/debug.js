// The local cloud's debugging page (/debug.html, served by web/serve.py only, never deployed):
// as the signed-in user, try to read another learner's progress straight from Firestore, to see
// the security rules refuse it.
import { onAuthStateChanged } from "firebase/auth";
import { collection, doc, getDoc, getDocs, query, where } from "firebase/firestore";
import { h } from "../src/dom.js";
import { connect, loadConfig } from "../src/firebase.js";
import { describeError } from "../src/messages.js";

const $ = (id) => document.getElementById(id);

async function boot() {
  const { auth, db } = connect(await loadConfig());
  onAuthStateChanged(auth, (user) => {
    $("debug-who").textContent = user ? `Signed in as ${user.email || user.uid}.` : "Not signed in: sign in on the page first.";
    document.body.dataset.state = user ? "signed-in" : "signed-out";
  });
  $("access-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const otherUid = $("access-uid").value.trim();
    const pathway = $("access-pathway").value.trim();
    const out = $("access-result");
    if (!otherUid) return;
    out.textContent = "Reading…";
    delete out.dataset.outcome;
    const attempts = [
      [`users/${otherUid}/pathway_progress/${pathway}`, () => getDoc(doc(db, "users", otherUid, "pathway_progress", pathway))],
      [`submissions of ${otherUid}`, () => getDocs(query(collection(db, "submissions"), where("user_id", "==", otherUid)))],
    ];
    const lines = [];
    let refused = 0;
    for (const [what, read] of attempts) {
      try {
        await read();
        lines.push(`Allowed: ${what} could be read.`);
      } catch (err) {
        if (err && err.code === "permission-denied") refused += 1;
        lines.push(`${describeError(err)} (${what})`);
      }
    }
    out.dataset.outcome = refused === attempts.length ? "refused" : "allowed";
    out.replaceChildren(...lines.flatMap((line, i) => (i ? [h("br"), line] : [line])));
  });
}

boot().catch((err) => {
  $("debug-who").textContent = `The page cannot start: ${describeError(err)}`;
});
