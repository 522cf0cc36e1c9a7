// Cohorts for the browser tests. The seeded instructor sees only the learners of its cohorts: an
// admin (an unsigned emulator token, as `python -m localcloud.tokens root --admin` mints) creates an
// invite code for the seeded demo cohort, and the learner joins it through the API, as a learner
// would with a code they were given.
import { Buffer } from "node:buffer";

export function adminToken(stack, uid = "web-e2e-admin") {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const project = stack.project_id;
  const claims = {
    iss: `https://securetoken.google.com/${project}`,
    aud: project,
    auth_time: now - 10,
    user_id: uid,
    sub: uid,
    iat: now - 10,
    exp: now + 3600,
    admin: true,
    firebase: { identities: {}, sign_in_provider: "custom" },
  };
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}

/** `learner` ({idToken}) joins the seeded demo-cohort (taught by demo-instructor) with a fresh code. */
export async function joinDemoCohort(stack, learner) {
  const cohorts = stack.functions.cohorts;
  const made = await fetch(`${cohorts}/cohorts/demo-cohort/invites`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminToken(stack)}`, "Content-Type": "application/json" },
    body: JSON.stringify({ max_uses: 1, expires_in_seconds: 600 }),
  });
  if (made.status !== 201) throw new Error(`invite: ${made.status} ${await made.text()}`);
  const { code } = await made.json();
  const joined = await fetch(`${cohorts}/cohorts/join`, {
    method: "POST",
    headers: { Authorization: `Bearer ${learner.idToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
  });
  if (joined.status !== 200) throw new Error(`join: ${joined.status} ${await joined.text()}`);
}
