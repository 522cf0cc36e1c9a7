// The Firebase JS SDK, pointed at the local emulators named by /config.json.
import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth } from "firebase/auth";
import { connectFirestoreEmulator, getFirestore } from "firebase/firestore";

export async function loadConfig() {
  const reply = await fetch("/config.json", { cache: "no-store" });
  if (!reply.ok) throw new Error("the local cloud is not described yet (no .local/stack.json)");
  return reply.json();
}

export function connect(config) {
  const app = initializeApp({
    apiKey: config.api_key,
    projectId: config.project_id,
    authDomain: `${config.project_id}.firebaseapp.com`,
    storageBucket: config.bucket,
  });
  const auth = getAuth(app);
  connectAuthEmulator(auth, config.auth_emulator, { disableWarnings: true });
  const db = getFirestore(app);
  connectFirestoreEmulator(db, config.firestore_emulator.host, config.firestore_emulator.port);
  return { app, auth, db };
}
