// Pure parts of the page (error sentences, the pre-upload file check), under node's test runner:
//   node --test web/tests/
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, describeAccepted, describeError, formatWait } from "../src/messages.js";
import { checkFile, fileType } from "../src/upload.js";

const resource = {
  accepted_file_types: ["text/plain", "text/markdown", "application/pdf", "image/png", "image/jpeg"],
  max_file_size_mb: 10,
};

test("HTTP errors become sentences", () => {
  assert.equal(describeError(new ApiError(415, "unsupported_media_type", "x")), "This file type is not accepted here.");
  assert.equal(describeError(new ApiError(413, "too_large", "x", { maxMb: 10 })), "This file is too large. The limit here is 10 MB.");
  assert.equal(describeError(new ApiError(413, "too_large", "x")), "This file is too large.");
  assert.equal(describeError(new ApiError(401, "unauthenticated", "bad token")), "You are signed out. Please sign in again.");
  assert.equal(
    describeError(new ApiError(429, "rate_limited", "x", { retryAfterSeconds: 1800 })),
    "You have asked for too many uploads. Please wait 30 minutes and try again.",
  );
  assert.equal(
    describeError(new ApiError(429, "rate_limited", "x")),
    "You have asked for too many uploads. Please wait a while and try again.",
  );
  assert.equal(describeError(new ApiError(409, "failed_precondition", "already reviewed")), "That cannot be done right now: Already reviewed.");
  assert.equal(describeError(new ApiError(503, "internal", "")), "Something went wrong on our side. Please try again in a moment.");
  assert.equal(describeError(new ApiError(0, "network", "")), "The service could not be reached. Check your connection and try again.");
});

test("storage refusals of the signed PUT become sentences", () => {
  assert.equal(describeError(new ApiError(400, "EntityTooLarge", "")), "This file is too large.");
  assert.equal(describeError(new ApiError(400, "ExpiredToken", "")), "The upload link has expired. Please start the upload again.");
  assert.equal(describeError(new ApiError(403, "SignatureDoesNotMatch", "")), "The upload link was refused. Please start the upload again.");
});

test("Firebase SDK errors become sentences", () => {
  assert.equal(describeError({ code: "auth/invalid-credential", message: "x" }), "The email or password is not right.");
  assert.equal(describeError({ code: "permission-denied", message: "x" }), "Refused by the security rules: you may not read this.");
});

test("waits are said in whole units", () => {
  assert.equal(formatWait(1), "1 second");
  assert.equal(formatWait(45), "45 seconds");
  assert.equal(formatWait(3600), "60 minutes");
  assert.equal(formatWait(7200), "2 hours");
  assert.equal(formatWait(0), "1 second");
});

test("the file type comes from the browser, or from the extension when it has none", () => {
  assert.equal(fileType({ name: "a.md", type: "" }), "text/markdown");
  assert.equal(fileType({ name: "a.md", type: "text/x-markdown" }), "text/markdown");
  assert.equal(fileType({ name: "a.PDF", type: "application/octet-stream" }), "application/pdf");
  assert.equal(fileType({ name: "a.txt", type: "text/plain;charset=utf-8" }), "text/plain");
  assert.equal(fileType({ name: "noext", type: "" }), "");
});

test("a file is checked against the resource before anything is sent", () => {
  assert.equal(checkFile(resource, { name: "notes.md", type: "text/markdown", size: 100 }), null);
  assert.equal(checkFile(resource, { name: "x.exe", type: "application/x-msdownload", size: 100 }).status, 415);
  assert.equal(checkFile(resource, { name: "x.webp", type: "image/webp", size: 100 }).status, 415);
  const big = checkFile(resource, { name: "big.md", type: "text/markdown", size: 10 * 1024 * 1024 + 1 });
  assert.equal(big.status, 413);
  assert.equal(big.maxMb, 10);
  assert.equal(checkFile(resource, { name: "edge.md", type: "text/markdown", size: 10 * 1024 * 1024 }), null);
  assert.equal(checkFile(resource, { name: "empty.md", type: "text/markdown", size: 0 }).status, 400);
});

test("accepted types are named for people", () => {
  assert.equal(describeAccepted(["text/markdown", "application/pdf"], 10), "Markdown, PDF; up to 10 MB");
});
