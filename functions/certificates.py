"""``certificates``: the public verification of a certificate, its PDF, and the learner's list.

``GET /certificates/{certificate_id}`` and ``GET /certificates/{certificate_id}.pdf`` need no token
(anyone holding the id may verify it) and say only what the certificate states: the name, the
pathway, the dates and whether it is valid or revoked. ``GET /users/me/certificates`` is the
caller's own. See :mod:`shared.services.certificates` (and its note on the public routes' cost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functions_framework

from shared.bootstrap import deps
from shared.domain.certificates import MyCertificates
from shared.http import Call, Raw, Router
from shared.services import certificates as service

if TYPE_CHECKING:  # pragma: no cover
    import flask

router = Router("certificates")

# Hosting's CDN may answer repeats for a minute (a revocation shows within it); browsers revalidate.
PUBLIC_CACHE = {"Cache-Control": "public, max-age=0, s-maxage=60"}


@router.get("/certificates/{certificate_id}.pdf", auth="none")
def certificate_pdf(call: Call) -> Raw:
    from shared.adapters.pdf import render_certificate

    cid = call.params["certificate_id"]
    base = deps().settings.public_web_url
    data = service.pdf(deps().certificates, cid, base, render_certificate)
    disposition = f'inline; filename="certificate-{cid}.pdf"'
    return Raw(data, "application/pdf", {**PUBLIC_CACHE, "Content-Disposition": disposition})


@router.get("/certificates/{certificate_id}", auth="none")
def verify(call: Call) -> Raw:
    cid = call.params["certificate_id"]
    reply = service.verification(deps().certificates, cid, deps().settings.public_web_url)
    return Raw.json(reply, PUBLIC_CACHE)


@router.get("/users/me/certificates")
def mine(call: Call) -> MyCertificates:
    return service.mine(deps().certificates, call.me.uid, deps().settings.public_web_url)


@functions_framework.http
def certificates(request: flask.Request) -> flask.Response:
    return router(request)
