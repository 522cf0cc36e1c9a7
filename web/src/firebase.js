// The Firebase JS SDK and the page's configuration, from wherever the page is served:
// - by the local cloud (web/serve.py): /config.json names the emulators and the functions' URLs;
// - by Firebase Hosting: the project's own web config (/__/firebase/init.json, reserved Hosting
//   URL) and the HTTP functions on the same origin under /api/v1 (firebase.json rewrites).
import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth } from "firebase/auth";
import { connectFirestoreEmulator, getFirestore } from "firebase/firestore";

const HTTP_FUNCTIONS = ["resources", "progress", "uploads", "review", "dashboard", "exports", "cohorts", "certificates"];
export const API_PREFIX = "/api/v1";

// The configuration of a page served by Firebase Hosting, from the project's init.json.
export function hostingConfig(init) {
  return {
    project_id: init.projectId,
    api_key: init.apiKey,
    auth_domain: init.authDomain,
    bucket: init.storageBucket,
    app_id: init.appId,
    functions: Object.fromEntries(HTTP_FUNCTIONS.map((name) => [name, API_PREFIX])),
  };
}

export async function loadConfig(fetchImpl = fetch) {
  const local = await fetchImpl("/config.json", { cache: "no-store" });
  if (local.ok) return local.json();
  const hosted = await fetchImpl("/__/firebase/init.json", { cache: "no-store" });
  if (hosted.ok) return hostingConfig(await hosted.json());
  throw new Error("no configuration: neither the local cloud's /config.json nor Firebase Hosting's");
}

export function connect(config) {
  const app = initializeApp({
    apiKey: config.api_key,
    projectId: config.project_id,
    authDomain: config.auth_domain || `${config.project_id}.firebaseapp.com`,
    storageBucket: config.bucket,
    ...(config.app_id ? { appId: config.app_id } : {}),
  });
  const auth = getAuth(app);
  const db = getFirestore(app);
  // Only the local cloud's configuration names emulators; a deployed page talks to the project.
  if (config.auth_emulator) {
    connectAuthEmulator(auth, config.auth_emulator, { disableWarnings: true });
  }
  if (config.firestore_emulator) {
    connectFirestoreEmulator(db, config.firestore_emulator.host, config.firestore_emulator.port);
  }
  return { app, auth, db };
}
