// Errors as sentences a person can act on. Pure functions: no DOM, no network.

export class ApiError extends Error {
  constructor(status, code, message, { retryAfterSeconds = null, maxMb = null } = {}) {
    super(message || code || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "";
    this.retryAfterSeconds = retryAfterSeconds;
    this.maxMb = maxMb;
  }
}

export function formatWait(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 90) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.ceil(s / 60);
  if (m < 90) return `${m} minute${m === 1 ? "" : "s"}`;
  const h = Math.ceil(m / 60);
  return `${h} hour${h === 1 ? "" : "s"}`;
}

function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return "";
  const capital = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** One sentence (or two) for an error from the API, the storage upload or the Firebase SDK. */
export function describeError(err) {
  if (err instanceof ApiError) {
    switch (err.status) {
      case 0:
        return "The service could not be reached. Check your connection and try again.";
      case 400:
        if (err.code === "EntityTooLarge") return describeError(new ApiError(413, "too_large", "", err));
        if (err.code === "ExpiredToken" || err.code === "MalformedSecurityHeader")
          return "The upload link has expired. Please start the upload again.";
        return `The request was not accepted: ${sentence(err.message)}`;
      case 401:
        return "You are signed out. Please sign in again.";
      case 403:
        if (err.code === "SignatureDoesNotMatch")
          return "The upload link was refused. Please start the upload again.";
        return "You are not allowed to do that.";
      case 404:
        return "That could not be found. It may have been removed.";
      case 409:
        if (err.code === "pathway_retired")
          return "This pathway is no longer offered. Your record of it is kept, and it takes no new work.";
        return `That cannot be done right now: ${sentence(err.message)}`;
      case 413:
        return err.maxMb
          ? `This file is too large. The limit here is ${err.maxMb} MB.`
          : "This file is too large.";
      case 415:
        return "This file type is not accepted here.";
      case 429:
        return err.retryAfterSeconds
          ? `You have asked for too many uploads. Please wait ${formatWait(err.retryAfterSeconds)} and try again.`
          : "You have asked for too many uploads. Please wait a while and try again.";
      default:
        if (err.status >= 500) return "Something went wrong on our side. Please try again in a moment.";
        return sentence(err.message) || "Something went wrong. Please try again.";
    }
  }
  const code = err && typeof err.code === "string" ? err.code : "";
  switch (code) {
    case "auth/invalid-credential":
    case "auth/wrong-password":
    case "auth/user-not-found":
    case "auth/invalid-email":
      return "The email or password is not right.";
    case "auth/too-many-requests":
      return "Too many sign-in attempts. Please wait a moment and try again.";
    case "auth/network-request-failed":
      return "The sign-in service could not be reached. Check your connection and try again.";
    case "permission-denied":
      return "Refused by the security rules: you may not read this.";
    case "unauthenticated":
      return "You are signed out. Please sign in again.";
    case "unavailable":
      return "The database could not be reached. Check your connection and try again.";
    default:
      return sentence(err && err.message) || "Something went wrong. Please try again.";
  }
}

/** Why one named file was not sent: "notes.exe was not sent. This file type is not accepted here." */
export function describeRefusal(fileName, err) {
  const name = String(fileName || "").trim() || "The file";
  return `${name} was not sent. ${describeError(err)}`;
}

/** What a drop that held no file means to the learner. */
export const NOTHING_DROPPED = "Only files can be dropped here. Drop a file, or choose one with the button.";

const TYPE_NAMES = {
  "text/plain": "plain text",
  "text/markdown": "Markdown",
  "application/pdf": "PDF",
  "image/png": "PNG",
  "image/jpeg": "JPEG",
  "image/webp": "WebP",
};

export function describeAccepted(types, maxMb) {
  const names = (types || []).map((t) => TYPE_NAMES[t] || t);
  const list = names.length ? names.join(", ") : "any file";
  return maxMb ? `${list}; up to ${maxMb} MB` : list;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
