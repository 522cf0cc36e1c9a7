// The browser side of an upload: check the file against the resource, then PUT it to the signed URL.
import { ApiError } from "./messages.js";

const BY_EXTENSION = {
  md: "text/markdown",
  markdown: "text/markdown",
  txt: "text/plain",
  text: "text/plain",
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
};
const ALIASES = { "text/x-markdown": "text/markdown", "image/jpg": "image/jpeg" };

/** The MIME type to declare for a file: the browser's, or from the extension when it has none. */
export function fileType(file) {
  let type = String(file.type || "").split(";")[0].trim().toLowerCase();
  type = ALIASES[type] || type;
  if (!type || type === "application/octet-stream") {
    const ext = String(file.name || "").split(".").pop().toLowerCase();
    type = BY_EXTENSION[ext] || type;
  }
  return type;
}

/** Check a file before anything is sent: null when fine, else the ApiError the server would give. */
export function checkFile(resource, file) {
  const type = fileType(file);
  const accepted = resource.accepted_file_types || [];
  if (accepted.length && !accepted.includes(type)) {
    return new ApiError(415, "unsupported_media_type", `${type || "unknown type"} is not accepted`);
  }
  const maxMb = resource.max_file_size_mb || 0;
  if (maxMb && file.size > maxMb * 1024 * 1024) {
    return new ApiError(413, "too_large", "the file is too large", { maxMb });
  }
  if (file.size === 0) {
    return new ApiError(400, "invalid_argument", "the file is empty");
  }
  return null;
}

function storageError(status, body) {
  const code = /<Code>([^<]*)<\/Code>/.exec(body || "");
  const message = /<Message>([^<]*)<\/Message>/.exec(body || "");
  return new ApiError(status, code ? code[1] : "", message ? message[1] : "");
}

/** Raised when the learner cancels an upload. */
export class UploadCancelled extends Error {
  constructor() {
    super("the upload was cancelled");
    this.name = "UploadCancelled";
  }
}

/**
 * PUT the file to the signed URL with exactly the returned headers; onProgress(fraction 0..1).
 * `signal` (an AbortSignal) cancels it: the request is aborted and the promise rejects with
 * UploadCancelled.
 */
export function putFile(grant, file, onProgress, signal = null) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new UploadCancelled());
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(grant.method || "PUT", grant.upload_url);
    for (const [name, value] of Object.entries(grant.headers || {})) {
      xhr.setRequestHeader(name, value);
    }
    const onAbort = () => xhr.abort();
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      if (signal) signal.removeEventListener("abort", onAbort);
    };
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      done();
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(storageError(xhr.status, xhr.responseText));
      }
    };
    xhr.onabort = () => {
      done();
      reject(new UploadCancelled());
    };
    xhr.onerror = () => {
      done();
      reject(new ApiError(0, "network", "the upload could not be sent"));
    };
    xhr.send(file);
  });
}

/** The files of a drop: only plain files (a dropped folder or text is not one). */
export function droppedFiles(dataTransfer) {
  const items = Array.from((dataTransfer && dataTransfer.items) || []);
  if (items.length) {
    return items
      .filter((item) => item.kind === "file")
      .filter((item) => {
        const entry = typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null;
        return !entry || entry.isFile;
      })
      .map((item) => item.getAsFile())
      .filter(Boolean);
  }
  return Array.from((dataTransfer && dataTransfer.files) || []);
}
