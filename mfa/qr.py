"""QR codes of ``otpauth://`` URIs, for enrolling a software token in an authenticator app.

segno builds the code (byte mode, error correction level M, never a Micro QR, which apps do
not read); the HTTP API serves it as SVG (text, scales without blur) or PNG (bytes).
"""

from __future__ import annotations

import io

import segno

__all__ = ["otpauth_qr", "qr_png", "qr_svg"]


def otpauth_qr(uri: str) -> segno.QRCode:
    """The QR code of an ``otpauth://`` URI (see ``Engine.provisioning_uri``)."""
    if not isinstance(uri, str) or not uri.startswith("otpauth://"):
        raise ValueError("a provisioning URI starts with otpauth://")
    return segno.make_qr(uri, error="m", boost_error=False)


def qr_svg(uri: str, *, scale: int = 4, border: int = 4) -> str:
    """An SVG document; ``scale`` pixels per module, ``border`` modules of quiet zone."""
    out = io.BytesIO()
    otpauth_qr(uri).save(out, kind="svg", scale=scale, border=border, xmldecl=False)
    return out.getvalue().decode("utf-8")


def qr_png(uri: str, *, scale: int = 4, border: int = 4) -> bytes:
    """A black-and-white PNG image."""
    out = io.BytesIO()
    otpauth_qr(uri).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
