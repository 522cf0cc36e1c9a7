"""The certificate as a PDF (one A4 landscape page), rendered with fpdf2 (pure Python; imported
lazily, so no other entry point pays for it at cold start).

The built-in Helvetica covers Latin-1: a character outside it (a name in another script) is
written as ``?`` rather than failing; the verification page shows the name exactly.
"""

from __future__ import annotations

from shared.domain.certificates import CertificateVerification


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_certificate(cert: CertificateVerification) -> bytes:
    from fpdf import FPDF

    doc = FPDF(orientation="landscape", unit="mm", format="A4")
    doc.set_title(_latin1(f"Certificate {cert.certificate_id}"))
    doc.set_author("AI Bootcamp")
    doc.set_creation_date(cert.issued_at)
    doc.set_auto_page_break(auto=False)
    doc.add_page()
    width = doc.w - 2 * doc.l_margin
    doc.set_draw_color(40, 70, 140)
    doc.set_line_width(1.2)
    doc.rect(10, 10, doc.w - 20, doc.h - 20)

    def line(text: str, size: float, *, style: str = "", gap: float = 4) -> None:
        doc.set_font("Helvetica", style=style, size=size)
        doc.multi_cell(width, size * 0.5, _latin1(text), align="C")
        doc.ln(gap)

    doc.set_y(30)
    line("AI Bootcamp", 14, style="B", gap=8)
    line("Certificate of completion", 30, style="B", gap=10)
    line("This certifies that", 13)
    line(cert.name or "(name not on record)", 26, style="B", gap=6)
    line("has completed the pathway", 13)
    line(cert.pathway_title, 20, style="B", gap=8)
    line(f"Completed on {cert.completed_at.date().isoformat()}", 13, gap=2)
    if not cert.valid and cert.revoked_at is not None:
        doc.set_text_color(170, 0, 0)
        line(f"REVOKED on {cert.revoked_at.date().isoformat()}", 14, style="B", gap=2)
        doc.set_text_color(0, 0, 0)
    doc.set_y(doc.h - 45)
    line(f"Certificate id: {cert.certificate_id}", 11, gap=1)
    line(f"Verify at: {cert.verify_url}", 11, gap=1)
    return bytes(doc.output())
