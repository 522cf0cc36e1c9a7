"""The storage backend: gcp-storage-emulator with object generations, like a versioned bucket.

gcp-storage-emulator keeps one copy per object name and ignores ``generation`` and
``ifGenerationMatch``: an overwrite destroys the bytes an instructor approved, a download pinned to a
generation serves whatever is there now, and ``delete(if_generation_match=g)`` deletes a newer
upload. The deployed bucket has object versioning on (``deploy/``), so this backend keeps every
generation as Cloud Storage does in a versioned bucket:

- an upload over a live object makes the old generation noncurrent (kept, still readable by
  generation); the new bytes get a new, larger generation;
- ``GET``/download with ``generation=G`` serves exactly generation G (live or noncurrent), 404 if
  there is no such generation;
- ``DELETE`` with ``generation=G`` removes exactly that generation; without it the live
  generation becomes noncurrent; ``ifGenerationMatch`` / ``ifGenerationNotMatch`` are checked
  against the live generation (412 when they do not hold);
- a listing with ``versions=true`` includes the noncurrent generations.

    python -m localcloud.storage_backend --port 9023 --default-bucket demo-aibc-submissions

Everything is in memory. The public side (signed URLs only) is ``localcloud.gcs_front``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import re
import signal
import sys
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from types import FrameType
from typing import Any

from gcp_storage_emulator import server as gse_server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import buckets as gse_buckets
from gcp_storage_emulator.handlers import objects as gse_objects
from gcp_storage_emulator.storage import Storage

Version = tuple[dict[str, Any], bytes]
_RANGE = re.compile(r"^\s*bytes=(?P<start>[0-9]+)-(?P<end>[0-9]*)$")


class VersionedStorage(Storage):  # type: ignore[misc]
    """``Storage`` that keeps noncurrent generations instead of overwriting them."""

    def __init__(self) -> None:
        super().__init__(use_memory_fs=True)
        self.noncurrent: dict[str, dict[str, dict[str, Version]]] = {}

    def _archive_live(self, bucket: str, name: str) -> None:
        live = self.objects.get(bucket, {}).get(name)
        if live is None:
            return
        try:
            data = self.get_file(bucket, name, show_error=False)
        except NotFound:
            data = b""
        versions = self.noncurrent.setdefault(bucket, {}).setdefault(name, {})
        versions[str(live["generation"])] = (dict(live), data)

    def create_file(
        self,
        bucket_name: str,
        file_name: str,
        content: bytes,
        file_obj: dict[str, Any],
        file_id: str | None = None,
    ) -> None:
        if bucket_name in self.buckets:
            self._archive_live(bucket_name, file_name)
        super().create_file(bucket_name, file_name, content, file_obj, file_id)

    def make_noncurrent(self, bucket: str, name: str) -> None:
        """Delete without a generation in a versioned bucket: the live generation is kept."""
        self._archive_live(bucket, name)
        self._hard_delete_file(bucket, name)

    def version(self, bucket: str, name: str, generation: str) -> Version | None:
        live = self.objects.get(bucket, {}).get(name)
        if live is not None and str(live["generation"]) == generation:
            try:
                return live, self.get_file(bucket, name, show_error=False)
            except NotFound:
                return live, b""
        return self.noncurrent.get(bucket, {}).get(name, {}).get(generation)

    def drop_version(self, bucket: str, name: str, generation: str) -> bool:
        live = self.objects.get(bucket, {}).get(name)
        if live is not None and str(live["generation"]) == generation:
            self._hard_delete_file(bucket, name)
            return True
        versions = self.noncurrent.get(bucket, {}).get(name, {})
        return versions.pop(generation, None) is not None

    def live_generation(self, bucket: str, name: str) -> str | None:
        live = self.objects.get(bucket, {}).get(name)
        return None if live is None else str(live["generation"])

    def noncurrent_objects(self, bucket: str, prefix: str | None) -> list[dict[str, Any]]:
        return [
            obj
            for name, versions in self.noncurrent.get(bucket, {}).items()
            if prefix is None or name.startswith(prefix)
            for obj, _ in versions.values()
        ]


def _q(request: Any, name: str) -> str | None:
    values = request.query.get(name)
    return str(values[0]) if values else None


def _error(response: Any, status: HTTPStatus, message: str) -> None:
    response.status = status
    response.json({"error": {"code": status.value, "message": message}})


def _precondition_fails(request: Any, storage: VersionedStorage) -> bool:
    live = storage.live_generation(request.params["bucket_name"], request.params["object_id"])
    match, not_match = _q(request, "ifGenerationMatch"), _q(request, "ifGenerationNotMatch")
    if match is not None and (live or "0") != match:
        return True
    return not_match is not None and (live or "0") == not_match


def _serve(request: Any, response: Any, obj: dict[str, Any], data: bytes) -> None:
    """Media of one generation, with Range and response-content-disposition, as download does."""
    wanted = request.get_header("range", None)
    match = _RANGE.fullmatch(wanted) if wanted else None
    if match:
        start, total = int(match["start"]), len(data)
        end = min(total, int(match["end"]) + 1) if match["end"] else total
        response["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        response.status = HTTPStatus.PARTIAL_CONTENT
        data = data[start:end]
    disposition = _q(request, "response-content-disposition")
    if disposition:
        response["Content-Disposition"] = disposition
    response["x-goog-generation"] = str(obj["generation"])
    response.write_file(data, content_type=obj.get("contentType"))


def download(request: Any, response: Any, storage: VersionedStorage, *args: Any) -> None:
    generation = _q(request, "generation")
    if generation is None:
        return gse_objects.download(request, response, storage)  # type: ignore[no-any-return]
    found = storage.version(request.params["bucket_name"], request.params["object_id"], generation)
    if found is None:
        return _error(response, HTTPStatus.NOT_FOUND, "No such object generation.")
    _serve(request, response, *found)


def get(request: Any, response: Any, storage: VersionedStorage, *args: Any) -> None:
    if _q(request, "alt") == "media":
        return download(request, response, storage)
    generation = _q(request, "generation")
    if generation is None or (_q(request, "softDeleted") or "").lower() in ("1", "true", "yes"):
        return gse_objects.get(request, response, storage)  # type: ignore[no-any-return]
    found = storage.version(request.params["bucket_name"], request.params["object_id"], generation)
    if found is None:
        return _error(response, HTTPStatus.NOT_FOUND, "No such object generation.")
    response.json(found[0])


def delete(request: Any, response: Any, storage: VersionedStorage, *args: Any) -> None:
    bucket, name = request.params["bucket_name"], request.params["object_id"]
    if _precondition_fails(request, storage):
        return _error(response, HTTPStatus.PRECONDITION_FAILED, "Precondition Failed")
    generation = _q(request, "generation")
    if generation is not None:
        if not storage.drop_version(bucket, name, generation):
            _error(response, HTTPStatus.NOT_FOUND, "No such object generation.")
        else:
            response.status = HTTPStatus.NO_CONTENT
        return
    try:
        storage.make_noncurrent(bucket, name)
    except NotFound:
        return _error(response, HTTPStatus.NOT_FOUND, "No such object.")
    response.status = HTTPStatus.NO_CONTENT


def ls(request: Any, response: Any, storage: VersionedStorage, *args: Any) -> None:
    gse_objects.ls(request, response, storage)
    if (_q(request, "versions") or "").lower() != "true" or response.status != HTTPStatus.OK:
        return
    listing = json.loads(response._content)
    older = storage.noncurrent_objects(request.params["bucket_name"], _q(request, "prefix"))
    items = listing.get("items", []) + older
    items.sort(key=lambda o: (o.get("name") or "", int(o.get("generation") or 0)))
    listing["items"] = items
    response.json(listing)


def _uploads_with_preconditions(original: Any) -> Any:
    def handler(request: Any, response: Any, storage: VersionedStorage, *args: Any) -> Any:
        if (
            request.params
            and "object_id" in request.params
            and _precondition_fails(request, storage)
        ):
            return _error(response, HTTPStatus.PRECONDITION_FAILED, "Precondition Failed")
        return original(request, response, storage, *args)

    return handler


def install_handlers() -> None:
    """Swap the generation-aware handlers into the emulator's routing table."""
    swap = {
        gse_objects.download: download,
        gse_objects.get: get,
        gse_objects.delete: delete,
        gse_objects.ls: ls,
        gse_objects.xml_upload: _uploads_with_preconditions(gse_objects.xml_upload),
    }
    gse_server.HANDLERS = tuple(
        (regex, {method: swap.get(fn, fn) for method, fn in handlers.items()})
        for regex, handlers in gse_server.HANDLERS
    )


class SerializedHandler(gse_server.RequestHandler):  # type: ignore[misc]
    """The emulator's handler, one request at a time once its headers are in (its storage is not
    thread-safe); a connection that sends nothing times out instead of holding anyone up."""

    lock = threading.Lock()
    timeout = 60

    def _serialized(self, method: str) -> None:
        with self.lock:
            gse_server.Router(self).handle(method)

    def do_GET(self) -> None:
        self._serialized(gse_server.GET)

    def do_POST(self) -> None:
        self._serialized(gse_server.POST)

    def do_PUT(self) -> None:
        self._serialized(gse_server.PUT)

    def do_PATCH(self) -> None:
        self._serialized(gse_server.PATCH)

    def do_DELETE(self) -> None:
        self._serialized(gse_server.DELETE)


class BackendServer(ThreadingHTTPServer):
    """Accepts many connections at once (the emulator's own server has a backlog of 5, so a burst
    of uploads through the front saw dropped connections and 1-3 s retransmits)."""

    daemon_threads = True
    request_queue_size = 128


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9023)
    parser.add_argument("--default-bucket", action="append", default=[])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    install_handlers()
    storage = VersionedStorage()
    for bucket in args.default_bucket:
        gse_buckets.create_bucket(bucket, storage)
    server = BackendServer((args.host, args.port), functools.partial(SerializedHandler, storage))
    signal.signal(signal.SIGTERM, _stop)
    sys.stderr.write(f"storage backend (versioned): http://{args.host}:{args.port}\n")
    sys.stderr.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
