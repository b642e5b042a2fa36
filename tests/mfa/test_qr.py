"""QR codes of provisioning URIs: the images carry exactly segno's module matrix."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import segno
from PIL import Image

from mfa import Engine
from mfa.qr import otpauth_qr, qr_png, qr_svg


@pytest.fixture
def uri(engine: Engine) -> str:
    engine.create_user("alice@example.org")
    return engine.provisioning_uri(engine.register_method("alice@example.org", "totp"))


def modules(code: segno.QRCode) -> np.ndarray:
    return np.array([list(row) for row in code.matrix], dtype=bool)


def finder_at(grid: np.ndarray, top: int, left: int) -> bool:
    """The 7x7 finder pattern: dark ring, light ring, dark 3x3 centre."""
    block = grid[top : top + 7, left : left + 7]
    expected = np.ones((7, 7), dtype=bool)
    expected[1:6, 1:6] = False
    expected[2:5, 2:5] = True
    return bool((block == expected).all())


def test_the_code_holds_the_uri(uri: str) -> None:
    code = otpauth_qr(uri)
    assert not code.is_micro
    assert code.error == "M"
    assert code.mode == "byte"
    # encoding the same data again gives the same symbol: the data is the URI
    assert (modules(code) == modules(segno.make_qr(uri, error="m", boost_error=False))).all()
    grid = modules(code)
    n = grid.shape[0]
    assert n == 17 + 4 * int(code.version)
    assert finder_at(grid, 0, 0) and finder_at(grid, 0, n - 7) and finder_at(grid, n - 7, 0)


def test_png_decodes_to_the_same_modules(uri: str) -> None:
    data = qr_png(uri, scale=3, border=4)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = np.array(Image.open(io.BytesIO(data)).convert("L")) < 128  # dark pixels
    grid = modules(otpauth_qr(uri))
    side = (grid.shape[0] + 8) * 3
    assert image.shape == (side, side)
    # sample the centre pixel of every module inside the quiet zone
    centres = image[4 * 3 + 1 : side - 4 * 3 : 3, 4 * 3 + 1 : side - 4 * 3 : 3]
    assert (centres == grid).all()
    assert not image[:12].any() and not image[:, :12].any()  # the quiet zone is light


def test_svg_is_a_document_of_the_right_size(uri: str) -> None:
    svg = qr_svg(uri, scale=5, border=2)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    side = (otpauth_qr(uri).symbol_size(scale=5, border=2))[0]
    assert float(root.get("width", "0")) == side == float(root.get("height", "0"))
    assert uri not in svg  # the secret is in the picture only, not in the markup


def test_only_provisioning_uris() -> None:
    with pytest.raises(ValueError, match="otpauth://"):
        otpauth_qr("https://example.org")
