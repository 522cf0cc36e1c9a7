// Where the page takes its configuration from (web/src/firebase.js), under node's test runner:
//   node --test web/tests/config.test.mjs   (tests/unit/test_hosting.py runs it)
import assert from "node:assert/strict";
import { test } from "node:test";
import { API_PREFIX, hostingConfig, loadConfig } from "../src/firebase.js";

function fakeFetch(routes) {
  const asked = [];
  const impl = async (url) => {
    asked.push(url);
    const body = routes[url];
    return { ok: body !== undefined, status: body === undefined ? 404 : 200, json: async () => body };
  };
  return { impl, asked };
}

const INIT = {
  projectId: "my-project",
  apiKey: "AIza-example",
  authDomain: "my-project.firebaseapp.com",
  storageBucket: "my-project.appspot.com",
  appId: "1:2:web:3",
};

test("served by the local cloud: its /config.json, with the emulators", async () => {
  const local = { project_id: "demo-aibc", auth_emulator: "http://127.0.0.1:9099", functions: {} };
  const { impl, asked } = fakeFetch({ "/config.json": local, "/__/firebase/init.json": INIT });
  assert.deepEqual(await loadConfig(impl), local);
  assert.deepEqual(asked, ["/config.json"]);
});

test("served by Firebase Hosting: the project's web config and the functions on /api/v1", async () => {
  const { impl, asked } = fakeFetch({ "/__/firebase/init.json": INIT });
  const config = await loadConfig(impl);
  assert.deepEqual(asked, ["/config.json", "/__/firebase/init.json"]);
  assert.equal(config.project_id, "my-project");
  assert.equal(config.api_key, "AIza-example");
  assert.equal(config.auth_domain, "my-project.firebaseapp.com");
  assert.equal(config.auth_emulator, undefined);
  assert.equal(config.firestore_emulator, undefined);
  for (const name of ["resources", "progress", "uploads", "review", "dashboard"]) {
    assert.equal(config.functions[name], API_PREFIX);
  }
  assert.deepEqual(hostingConfig(INIT), config);
});

test("served by neither: a clear error", async () => {
  const { impl } = fakeFetch({});
  await assert.rejects(loadConfig(impl), /no configuration/);
});
