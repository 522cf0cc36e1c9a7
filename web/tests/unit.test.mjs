// Pure parts of the page (error sentences, the pre-upload file check), under node's test runner:
//   node --test web/tests/
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, describeAccepted, describeError, describeRefusal, formatWait } from "../src/messages.js";
import { link, nextResource, parseRoute } from "../src/routes.js";
import { formatMinutes, TimeMeter } from "../src/timer.js";
import { checkFile, droppedFiles, fileType } from "../src/upload.js";

const resource = {
  accepted_file_types: ["text/plain", "text/markdown", "application/pdf", "image/png", "image/jpeg"],
  max_file_size_mb: 10,
};

test("HTTP errors become sentences", () => {
  assert.equal(describeError(new ApiError(415, "unsupported_media_type", "x")), "This file type is not accepted here.");
  assert.equal(
    describeError(new ApiError(409, "pathway_retired", "pathway p was retired")),
    "This pathway is no longer offered. Your record of it is kept, and it takes no new work.",
  );
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

test("routes: every view has a deep link, and links parse back to their view", () => {
  assert.deepEqual(parseRoute(""), { view: "overview" });
  assert.deepEqual(parseRoute("#/"), { view: "overview" });
  assert.deepEqual(parseRoute("#/nonsense/x"), { view: "overview" });
  assert.deepEqual(parseRoute("#/pathway/%E0%A4%A"), { view: "overview" });
  assert.deepEqual(parseRoute(link.pathway("p 1")), { view: "pathway", pathway: "p 1" });
  assert.deepEqual(parseRoute(link.module("p", "p-m1")), { view: "module", pathway: "p", module: "p-m1" });
  assert.deepEqual(parseRoute(link.resource("p", "a/b")), { view: "resource", pathway: "p", resource: "a/b" });
});

test("the next resource is the first one not done, in catalog order", () => {
  const report = (statuses) => ({
    modules: [{ resources: statuses.slice(0, 2).map((status, i) => ({ resource_id: `r${i}`, status })) },
      { resources: statuses.slice(2).map((status, i) => ({ resource_id: `r${i + 2}`, status })) }],
  });
  assert.equal(nextResource(report(["completed", "not_started", "in_progress"])).resource_id, "r1");
  assert.equal(nextResource(report(["reviewed", "submitted", "in_progress"])).resource_id, "r2");
  assert.equal(nextResource(report(["completed", "reviewed", "submitted"])), null);
  assert.equal(nextResource({}), null);
});

test("time is measured only while active, in whole minutes, with the remainder kept", () => {
  const m = new TimeMeter();
  m.mark(0, true);
  m.mark(45_000, true);
  assert.equal(m.take(), 0);
  m.mark(75_000, false); // hidden at 75 s
  m.mark(500_000, true); // hidden time does not count
  m.mark(530_000, true);
  assert.equal(m.take(), 1); // 105 s measured: one minute sent, 45 s kept
  assert.equal(m.ms, 45_000);
  m.giveBack(1); // a failed send gives its minute back
  assert.equal(m.take(), 1);
  assert.equal(m.ms, 45_000);
});

test("a long gap between marks (a sleeping laptop) counts at most the cap", () => {
  const m = new TimeMeter({ maxGapMs: 90_000 });
  m.mark(0, true);
  m.mark(3_600_000, true);
  assert.equal(m.ms, 90_000);
  const carried = new TimeMeter({ carriedMs: 59_000 });
  carried.mark(0, true);
  carried.mark(1_000, false);
  assert.equal(carried.take(), 1);
  assert.equal(carried.ms, 0);
});

test("time spent is said in minutes and hours", () => {
  assert.equal(formatMinutes(0), "0 min");
  assert.equal(formatMinutes(59), "59 min");
  assert.equal(formatMinutes(65), "1 h 05 min");
  assert.equal(formatMinutes(-3), "0 min");
});

test("a refused file is named in the sentence, whatever refused it", () => {
  assert.equal(
    describeRefusal("tool.exe", checkFile(resource, { name: "tool.exe", type: "application/x-msdownload", size: 4 })),
    "tool.exe was not sent. This file type is not accepted here.",
  );
  assert.equal(
    describeRefusal("huge.md", checkFile(resource, { name: "huge.md", type: "text/markdown", size: 11 * 1024 * 1024 })),
    "huge.md was not sent. This file is too large. The limit here is 10 MB.",
  );
  assert.equal(
    describeRefusal("empty.md", checkFile(resource, { name: "empty.md", type: "text/markdown", size: 0 })),
    "empty.md was not sent. The request was not accepted: The file is empty.",
  );
  assert.equal(
    describeRefusal("a.md", new ApiError(429, "rate_limited", "x", { retryAfterSeconds: 60 })),
    "a.md was not sent. You have asked for too many uploads. Please wait 60 seconds and try again.",
  );
  assert.equal(describeRefusal("", new ApiError(0, "network", "")), "The file was not sent. The service could not be reached. Check your connection and try again.");
});

test("a drop yields its plain files only: no folders, no dragged text", () => {
  const file = { name: "a.md" };
  const items = [
    { kind: "file", getAsFile: () => file, webkitGetAsEntry: () => ({ isFile: true }) },
    { kind: "file", getAsFile: () => ({ name: "folder" }), webkitGetAsEntry: () => ({ isFile: false }) },
    { kind: "string", getAsFile: () => null },
  ];
  assert.deepEqual(droppedFiles({ items }), [file]);
  assert.deepEqual(droppedFiles({ items: [], files: [file] }), [file]);
  assert.deepEqual(droppedFiles(null), []);
});
