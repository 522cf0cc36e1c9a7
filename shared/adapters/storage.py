"""Cloud Storage behind the :class:`~shared.services.uploads.ObjectStore` port.

Signing V4 URLs:
- locally (``SIGNING_KEY_FILE`` set) with the generated service-account key, for the public endpoint
  ``STORAGE_PUBLIC_ENDPOINT`` (the signature-verifying front of the storage emulator);
- on the Functions runtime there is no key file: the runtime's credentials are refreshed and the
  string to sign goes to IAM ``signBlob`` (``service_account_email`` + ``access_token``). The runtime
  service account needs ``roles/iam.serviceAccountTokenCreator`` on itself.

The client is created lazily and cached; ``google.cloud.storage`` is imported only here.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from typing import Any

from shared import log
from shared.config import Settings, settings
from shared.services.uploads import SignedRequest

LENGTH_RANGE_HEADER = "x-goog-content-length-range"


@functools.cache
def storage_client() -> Any:
    from google.cloud import storage  # type: ignore[attr-defined]

    return storage.Client(project=settings().project_id)


class _IamSigner:
    """Runtime credentials, refreshed when needed, for IAM-based signing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Any = None

    def params(self) -> dict[str, Any]:
        import google.auth
        from google.auth.transport.requests import Request

        with self._lock:
            if self._credentials is None:
                self._credentials, _ = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
            creds = self._credentials
            if not creds.valid:
                creds.refresh(Request())
            return {
                "service_account_email": creds.service_account_email,
                "access_token": creds.token,
            }


_iam = _IamSigner()


@functools.cache
def _key_credentials(path: str) -> Any:
    from google.oauth2 import service_account

    load: Any = service_account.Credentials.from_service_account_file
    return load(path)


class GcsObjects:
    def __init__(self, cfg: Settings | None = None) -> None:
        self._cfg = cfg

    @property
    def cfg(self) -> Settings:
        return self._cfg or settings()

    def _signing(self) -> dict[str, Any]:
        if self.cfg.signing_key_file:
            params: dict[str, Any] = {"credentials": _key_credentials(self.cfg.signing_key_file)}
            if self.cfg.storage_public_endpoint:
                params["api_access_endpoint"] = self.cfg.storage_public_endpoint
            return params
        return _iam.params()

    def signed_put(
        self, bucket: str, path: str, *, content_type: str, max_bytes: int, ttl: dt.timedelta
    ) -> SignedRequest:
        headers = {LENGTH_RANGE_HEADER: f"1,{max_bytes}"}
        blob = storage_client().bucket(bucket).blob(path)
        url = blob.generate_signed_url(
            version="v4",
            expiration=ttl,
            method="PUT",
            content_type=content_type,
            headers=dict(headers),  # the library adds "host" to the dict it is given
            **self._signing(),
        )
        return SignedRequest(url=url, headers={"Content-Type": content_type, **headers})

    def signed_get(
        self,
        bucket: str,
        path: str,
        *,
        ttl: dt.timedelta,
        download_name: str,
        generation: int | None = None,
    ) -> str:
        blob = storage_client().bucket(bucket).blob(path)
        url: str = blob.generate_signed_url(
            version="v4",
            expiration=ttl,
            method="GET",
            generation=generation,
            response_disposition=f'attachment; filename="{download_name}"',
            **self._signing(),
        )
        return url

    def read_head(self, bucket: str, path: str, generation: int, size: int) -> bytes | None:
        from google.api_core.exceptions import NotFound

        blob = storage_client().bucket(bucket).blob(path, generation=generation or None)
        try:
            data: bytes = blob.download_as_bytes(start=0, end=max(0, size - 1), checksum=None)
        except NotFound:
            return None
        return data[:size]

    def delete(self, bucket: str, path: str, generation: int | None) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        blob = storage_client().bucket(bucket).blob(path)
        try:
            if generation:
                # Only that generation: a newer upload to the same name is left alone.
                blob.delete(if_generation_match=generation)
            else:
                blob.delete()
        except (NotFound, PreconditionFailed):
            log.info(
                "object already gone or replaced", bucket=bucket, object=path, generation=generation
            )


@functools.cache
def objects() -> GcsObjects:
    return GcsObjects()
