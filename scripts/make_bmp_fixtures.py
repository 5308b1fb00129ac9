#!/usr/bin/python3
"""BMP fixtures made by PIL, with the pixels PIL reads from them: /usr/bin/python3 scripts/make_bmp_fixtures.py

Writes test/fixtures/bmp/<name>.bmp and expected.json ({name: {width, height, rgb: [...]}}, PIL's
Image.open(file).convert("RGB") row by row). 13x7: odd width, so every row is padded.
"""
import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "bmp"


def top_down(bottom_up: bytes) -> bytes:
    """The same picture stored top-down: rows reversed and the header's height negated (PIL never writes this)."""
    offset, = struct.unpack_from("<I", bottom_up, 10)
    width, height = struct.unpack_from("<ii", bottom_up, 18)
    bits, = struct.unpack_from("<H", bottom_up, 28)
    row = (width * bits + 31) // 32 * 4
    rows = [bottom_up[offset + i * row: offset + (i + 1) * row] for i in range(height)]
    header = bytearray(bottom_up[:offset])
    struct.pack_into("<i", header, 22, -height)
    return bytes(header) + b"".join(reversed(rows))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (7, 13, 3), dtype=np.uint8), "RGB")
    rgba = Image.fromarray(rng.integers(0, 256, (7, 13, 4), dtype=np.uint8), "RGBA")
    rgb.save(OUT / "rgb24.bmp")
    (OUT / "rgb24_topdown.bmp").write_bytes(top_down((OUT / "rgb24.bmp").read_bytes()))
    rgba.save(OUT / "rgb32.bmp")  # 32-bit BI_RGB: PIL reads the fourth byte as padding (BGRX)
    (OUT / "rgb32_topdown.bmp").write_bytes(top_down((OUT / "rgb32.bmp").read_bytes()))
    rgb.quantize(37).save(OUT / "palette8.bmp")
    expected = {}
    for path in sorted(OUT.glob("*.bmp")):
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"), dtype=np.uint8)
        expected[path.name] = {"width": pixels.shape[1], "height": pixels.shape[0], "rgb": pixels.reshape(-1).tolist()}
    (OUT / "expected.json").write_text(json.dumps(expected) + "\n")


if __name__ == "__main__":
    main()
