// The words of a relative due date (web/src/rules.js), under node's test runner:
//   node --test web/tests/due.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeDueAfter } from "../src/rules.js";

test("a relative due date reads as days and hours after the cohort starts", () => {
  assert.equal(describeDueAfter({ days: 14, hours: 0 }), "due 14 days after your cohort starts");
  assert.equal(describeDueAfter({ days: 1, hours: 6 }), "due 1 day 6 hours after your cohort starts");
  assert.equal(describeDueAfter({ days: 0, hours: 1 }), "due 1 hour after your cohort starts");
  assert.equal(describeDueAfter({}), "due when your cohort starts");
});
