// The page: sign in, then the learner's or the instructor's view by the token's `instructor` claim.
import { onIdTokenChanged, signInWithEmailAndPassword, signOut } from "firebase/auth";
import { makeApi } from "./api.js";
import { createVerifyPage } from "./certificates.js";
import { $ } from "./dom.js";
import { connect, loadConfig } from "./firebase.js";
import { createInstructorView } from "./instructor.js";
import { createLearnerView } from "./learner.js";
import { describeError } from "./messages.js";

const ui = {
  error(text) {
    $("notice").textContent = text;
    $("notice").hidden = false;
  },
  info(text) {
    $("info").textContent = text;
    $("info").hidden = !text;
  },
  clear() {
    $("notice").hidden = true;
    $("notice").textContent = "";
  },
};

async function boot() {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    $("loading").hidden = true;
    ui.error(`The page cannot start: ${describeError(err)}`);
    return;
  }
  // The public certificate page (#/verify/{id}) needs no sign-in; it hides the rest while shown.
  const verify = createVerifyPage({ config });
  window.addEventListener("hashchange", () => verify.route(location.hash));
  verify.route(location.hash);
  const { auth, db } = connect(config);
  let signingOut = false;
  const api = makeApi(config, {
    getToken: async () => (auth.currentUser ? auth.currentUser.getIdToken() : null),
    onSignedOut: () => {
      if (signingOut) return;
      signingOut = true;
      signOut(auth).finally(() => {
        signingOut = false;
        ui.error("You are signed out. Please sign in again.");
      });
    },
  });
  const learner = createLearnerView({ db, api, ui });
  const instructor = createInstructorView({ db, api, ui });
  let current = null; // { uid, view }

  $("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    ui.clear();
    const button = e.submitter || $("sign-in-form").querySelector("button");
    button.disabled = true;
    try {
      await signInWithEmailAndPassword(auth, $("email").value.trim(), $("password").value);
    } catch (err) {
      ui.error(describeError(err));
    } finally {
      button.disabled = false;
    }
  });
  let signOutClicked = false;
  $("sign-out").addEventListener("click", () => {
    signOutClicked = true;
    ui.clear();
    signOut(auth);
  });

  onIdTokenChanged(auth, async (user) => {
    $("loading").hidden = true;
    if (current && (!user || user.uid !== current.uid)) {
      current.view.stop();
      current = null;
      // Signed out elsewhere (another tab, an expired session) rather than by this page's button.
      if (!user && !signOutClicked) ui.error("You are signed out. Please sign in again.");
    }
    signOutClicked = false;
    if (!user) {
      $("who").hidden = true;
      $("sign-in").hidden = false;
      document.body.dataset.state = "signed-out";
      return;
    }
    if (current) return; // a refreshed token of the same user
    const token = await user.getIdTokenResult();
    const isInstructor = token.claims.instructor === true;
    $("sign-in").hidden = true;
    $("who").hidden = false;
    $("who-email").textContent = user.email || user.uid;
    $("who-email").dataset.uid = user.uid;
    $("who-role").textContent = isInstructor ? "instructor" : "learner";
    const view = isInstructor ? instructor : learner;
    current = { uid: user.uid, view };
    document.body.dataset.state = isInstructor ? "instructor" : "learner";
    await view.start(user);
  });
}

boot();
