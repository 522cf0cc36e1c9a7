// Retired pathways on the learner's overview, the pure part under node's own test runner:
//   node --test web/tests/retired.test.mjs
import assert from "node:assert/strict";
import { test } from "node:test";
import { markRetired } from "../src/retired.js";

const snap = (id, data) => ({ id, data: () => data });

test("retired pathways are flagged with their date and listed after the others", () => {
  const at = new Date("2026-03-01T00:00:00Z");
  const pathways = [
    { id: "a", title: "A" },
    { id: "b", title: "B" },
    { id: "c", title: "C" },
  ];
  const docs = [
    snap("a", { title: "A", retired_at: { toDate: () => at } }), // a Firestore Timestamp
    snap("b", { title: "B" }),
    snap("c", { title: "C", retired_at: null }),
  ];
  markRetired(pathways, docs);
  assert.deepEqual(pathways.map((p) => p.id), ["b", "c", "a"]);
  assert.equal(pathways[2].retired.getTime(), at.getTime());
  assert.equal(pathways[0].retired, undefined);
  assert.equal(pathways[1].retired, undefined);
});

test("nothing retired: the order is kept", () => {
  const pathways = [{ id: "x" }, { id: "y" }];
  markRetired(pathways, [snap("x", {}), snap("y", {})]);
  assert.deepEqual(pathways.map((p) => p.id), ["x", "y"]);
});
