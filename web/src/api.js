// Calls to the HTTP functions with the signed-in user's Firebase ID token.
import { ApiError } from "./messages.js";

export function makeApi(config, { getToken, onSignedOut }) {
  // A file from the exports function (a streamed CSV or JSON lines), as a Blob.
  async function file(fn, path) {
    const base = config.functions[fn];
    if (!base) throw new ApiError(0, "not_configured", `no URL for ${fn}`);
    const token = await getToken();
    if (!token) {
      onSignedOut();
      throw new ApiError(401, "unauthenticated", "not signed in");
    }
    let reply;
    try {
      reply = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    } catch {
      throw new ApiError(0, "network", "the service could not be reached");
    }
    if (!reply.ok) {
      const data = await reply.json().catch(() => null);
      const error = (data && data.error) || {};
      if (reply.status === 401) onSignedOut();
      throw new ApiError(reply.status, error.code, error.message);
    }
    try {
      return await reply.blob(); // fails when the stream was cut off: never a partial file
    } catch {
      throw new ApiError(0, "network", "the export was interrupted; try again");
    }
  }

  async function call(fn, method, path, body, { keepalive = false } = {}) {
    const base = config.functions[fn];
    if (!base) throw new ApiError(0, "not_configured", `no URL for ${fn}`);
    const token = await getToken();
    if (!token) {
      onSignedOut();
      throw new ApiError(401, "unauthenticated", "not signed in");
    }
    const headers = { Authorization: `Bearer ${token}` };
    // keepalive: a heartbeat sent as the tab closes still reaches the server.
    const init = { method, headers, keepalive };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let reply;
    try {
      reply = await fetch(`${base}${path}`, init);
    } catch {
      throw new ApiError(0, "network", "the service could not be reached");
    }
    const text = await reply.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!reply.ok) {
      const error = (data && data.error) || {};
      const retry = Number(reply.headers.get("Retry-After"));
      const err = new ApiError(reply.status, error.code, error.message, {
        retryAfterSeconds: Number.isFinite(retry) && retry > 0 ? retry : null,
      });
      if (reply.status === 401) onSignedOut();
      throw err;
    }
    return data;
  }
  const enc = encodeURIComponent;
  return {
    listing: (pathwayId) => call("resources", "GET", `/pathways/${enc(pathwayId)}/resources`),
    report: (pathwayId) => call("progress", "GET", `/users/me/progress/${enc(pathwayId)}`),
    start: (rid) => call("progress", "POST", `/users/me/resources/${enc(rid)}/start`),
    heartbeat: (rid, body) =>
      call("progress", "PUT", `/users/me/resources/${enc(rid)}/progress`, body, { keepalive: true }),
    complete: (rid) => call("progress", "POST", `/users/me/resources/${enc(rid)}/complete`),
    uncomplete: (rid) => call("progress", "POST", `/users/me/resources/${enc(rid)}/uncomplete`),
    uploadUrl: (rid, body) => call("uploads", "POST", `/users/me/resources/${enc(rid)}/upload-url`, body),
    submissions: (rid) => call("uploads", "GET", `/users/me/resources/${enc(rid)}/submissions`),
    deleteSubmission: (sid) => call("uploads", "DELETE", `/users/me/submissions/${enc(sid)}`),
    downloadUrl: (sid) => call("uploads", "GET", `/users/me/submissions/${enc(sid)}/download-url`),
    pending: (params = {}) => {
      const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
      const qs = q.toString();
      return call("review", "GET", `/admin/submissions/pending${qs ? `?${qs}` : ""}`);
    },
    review: (sid, body) => call("review", "POST", `/admin/submissions/${enc(sid)}/review`, body),
    bulkApprove: (body) => call("review", "POST", "/admin/submissions/bulk-review", body),
    // the cohort dashboard
    cohorts: () => call("dashboard", "GET", "/dashboard/cohorts"),
    dashboard: (cid, pid, params = {}) => {
      const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
      const qs = q.toString();
      return call("dashboard", "GET", `/cohorts/${enc(cid)}/pathways/${enc(pid)}/dashboard${qs ? `?${qs}` : ""}`);
    },
    decided: (params = {}) => {
      const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
      return call("review", "GET", `/admin/submissions/decided?${q.toString()}`);
    },
    revise: (sid, body) => call("review", "POST", `/admin/submissions/${enc(sid)}/revise`, body),
    exportFile: (cid, kind, params = {}) => {
      const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
      const qs = q.toString();
      return file("exports", `/cohorts/${enc(cid)}/exports/${kind}${qs ? `?${qs}` : ""}`);
    },
    cohortList: () => call("cohorts", "GET", "/cohorts?limit=200"),
    myCertificates: () => call("certificates", "GET", "/users/me/certificates"),
    certificatePdfUrl: (id) => `${config.functions.certificates}/certificates/${enc(id)}.pdf`,
    // the excuse screen (excuses.js)
    cohortMembers: (cid, cursor) =>
      call("cohorts", "GET", `/cohorts/${enc(cid)}/members?limit=200${cursor ? `&cursor=${enc(cursor)}` : ""}`),
    learnerReport: (uid, pid) => call("review", "GET", `/admin/users/${enc(uid)}/progress/${enc(pid)}`),
    excuse: (uid, rid, body) => call("review", "POST", `/admin/users/${enc(uid)}/resources/${enc(rid)}/excuse`, body),
    unexcuse: (uid, rid, body) => call("review", "POST", `/admin/users/${enc(uid)}/resources/${enc(rid)}/unexcuse`, body),
    excuseTrail: (uid, pid) => call("review", "GET", `/admin/users/${enc(uid)}/excuses?pathway_id=${enc(pid)}`),
  };
}
