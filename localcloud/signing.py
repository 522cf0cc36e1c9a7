"""The local signing key: a service-account JSON file with a freshly generated RSA key.

The uploads function signs V4 URLs with it (``google.oauth2.service_account.Credentials``
reads it like any downloaded key), and the Cloud Storage front (``localcloud.gcs_front``)
verifies those URLs with its public half, as Cloud Storage does with a real service account.

    python -m localcloud.signing .local/signing-key.json   # create it once, print the signer
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_PROJECT = "demo-aibc"
SIGNER_NAME = "local-signer"
TOKEN_URI = "https://oauth2.googleapis.com/token"
REQUIRED_FIELDS = ("type", "project_id", "private_key_id", "private_key", "client_email")


@dataclass(frozen=True)
class VerifyKey:
    """What a verifier needs: whose key it is and its public half."""

    client_email: str
    public_key: rsa.RSAPublicKey


def signer_email(project_id: str = DEFAULT_PROJECT) -> str:
    return f"{SIGNER_NAME}@{project_id}.iam.gserviceaccount.com"


def new_signing_key_info(project_id: str = DEFAULT_PROJECT) -> dict[str, str]:
    """A new service-account key (2048-bit RSA), in the JSON shape Google hands out. No I/O."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public_der = private_key.public_key().public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    email = signer_email(project_id)
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": hashlib.sha1(public_der, usedforsecurity=False).hexdigest(),
        "private_key": pem,
        "client_email": email,
        "client_id": str(10**20 + secrets.randbelow(9 * 10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": (
            "https://www.googleapis.com/robot/v1/metadata/x509/" + email.replace("@", "%40")
        ),
        "universe_domain": "googleapis.com",
    }


def _check(info: Any, path: Path) -> dict[str, str]:
    if not isinstance(info, dict) or any(not info.get(field) for field in REQUIRED_FIELDS):
        raise ValueError(f"{path} is not a service-account key file")
    if info["type"] != "service_account":
        raise ValueError(f"{path} is not a service-account key file (type {info['type']!r})")
    return {str(k): str(v) for k, v in info.items()}


def ensure_signing_key(path: Path, project_id: str = DEFAULT_PROJECT) -> dict[str, str]:
    """Return the key in ``path``, creating it first if it does not exist.

    Safe to call from several processes at once: the file appears whole (written aside, then
    hard-linked into place), and whoever comes second reads the winner's key.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        info = new_signing_key_info(project_id)
        fd, tmp = tempfile.mkstemp(prefix=".signing-key-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as out:  # mkstemp creates it 0600: a private key stays private
                json.dump(info, out, indent=2)
                out.write("\n")
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return _check(json.loads(path.read_text()), path)


def verify_key_from_info(info: dict[str, str]) -> VerifyKey:
    private_key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("the signing key is not an RSA key")
    return VerifyKey(client_email=info["client_email"], public_key=private_key.public_key())


def load_verify_key(path: Path) -> VerifyKey:
    return verify_key_from_info(_check(json.loads(Path(path).read_text()), Path(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("path", type=Path)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    args = parser.parse_args()
    print(ensure_signing_key(args.path, args.project)["client_email"])


if __name__ == "__main__":
    main()
