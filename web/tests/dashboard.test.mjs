// The cohort dashboard's pure helpers (web/src/dashboard.js) under node's own test runner.
//   node --test web/tests/dashboard.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { cellClass, medianText, minutes } from "../src/dashboard.js";

test("grid cells are shaded in steps of 25 %, done ones apart", () => {
  assert.equal(cellClass(0), "cell cell-0");
  assert.equal(cellClass(24.9), "cell cell-0");
  assert.equal(cellClass(25), "cell cell-25");
  assert.equal(cellClass(99.99), "cell cell-75");
  assert.equal(cellClass(100), "cell cell-100");
  assert.equal(cellClass("x"), "cell cell-0");
});

test("minutes read as hours and minutes", () => {
  assert.equal(minutes(0), "0 min");
  assert.equal(minutes(59), "59 min");
  assert.equal(minutes(125), "2 h 05 min");
  assert.equal(minutes(null), "–");
});

test("the median says whether it is exact or a histogram bucket", () => {
  assert.equal(medianText({ median_minutes: null, bucket_minutes: 1, learners: 0 }), "no time recorded yet");
  assert.equal(medianText({ median_minutes: 45, bucket_minutes: 1, learners: 3 }), "45 min (over 3 learners with time recorded)");
  assert.match(medianText({ median_minutes: 620, bucket_minutes: 10, learners: 9 }), /^10 h 20 min to 10 h 30 min \(histogram bucket/);
});
