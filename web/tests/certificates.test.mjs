// The certificate page's pure parts under node's own test runner (no browser, no cloud):
//   node --test web/tests/certificates.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { pdfUrl, verifyId, verifyLink } from "../src/certificates.js";

test("a verification hash names one certificate id, or nothing", () => {
  assert.equal(verifyId("#/verify/k3Y9cQ2mZ7wP1xR5tV8nAa"), "k3Y9cQ2mZ7wP1xR5tV8nAa");
  assert.equal(verifyId("#/verify/abc_-9/"), "abc_-9");
  for (const hash of ["", "#/", "#/verify/", "#/verify/a.b", "#/verify/a/b", "#/verify/%2e%2e", "#/pathway/p", `#/verify/${"a".repeat(129)}`]) {
    assert.equal(verifyId(hash), null, hash);
  }
});

test("links to the page and the PDF", () => {
  assert.equal(verifyLink("abc"), "#/verify/abc");
  assert.equal(pdfUrl({ functions: { certificates: "/api/v1" } }, "abc"), "/api/v1/certificates/abc.pdf");
});
