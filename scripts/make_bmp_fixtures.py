#!/usr/bin/python3
"""BMP fixtures made by PIL, with the pixels PIL reads from them: /usr/bin/python3 scripts/make_bmp_fixtures.py

Writes test/fixtures/bmp/<name>.bmp and expected.json ({name: {width, height, rgb: [...]}}, PIL's
Image.open(file).convert("RGB") row by row). 13x7: odd width, so every row is padded.
PIL writes no RLE, so the RLE8/RLE4 files are encoded here, each row with another mix of codes and a line end as
encoders write them (encoded runs, one cut at the row's end, absolute runs with and without their pad byte, a line
end that pads the row, an index past the palette); PIL decodes them for expected.json.
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


def rle_bmp(width, height, bits, palette, stream, top_down=False):
    """A BITMAPINFOHEADER file with BI_RLE8 (8 bits) or BI_RLE4 (4 bits) pixel data `stream`."""
    offset = 14 + 40 + 4 * len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, -height if top_down else height, 1, bits, 1 if bits == 8 else 2,
                       len(stream), 2835, 2835, len(palette), 0)
    colors = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    return b"BM" + struct.pack("<IHHI", offset + len(stream), 0, 0, offset) + info + colors + stream


def rle8_stream(rng):
    """Seven 13-pixel rows, each another mix of codes; indices 0..39 with 37 palette colours."""
    v = lambda: int(rng.integers(0, 37))
    rows = [
        [3, v(), 10, v()],                                   # two encoded runs filling the row
        [0, 5, *[v() for _ in range(5)], 0,                  # absolute run of 5 (odd: pad byte), then 8 encoded
         8, v()],
        [0, 4, v(), v(), v(), v(), 20, v()],                 # absolute run of 4, an encoded run cut at the row's end
        [2, v()],                                            # the line end pads the rest of the row with index 0
        [13, 39],                                            # an index past the palette
        [0, 13, *[v() for _ in range(13)], 0],               # one absolute run over the whole row
        [1, v(), 1, 38, 11, v()],
    ]
    return b"".join(bytes(row) + bytes([0, 0]) for row in rows) + bytes([0, 1])


def rle4_stream(rng):
    """Seven 13-pixel rows of nibble pairs (PIL 9.4 misreads odd absolute RLE4 runs, so they are even here)."""
    n = lambda: int(rng.integers(0, 256))
    rows = [
        [5, n(), 8, n()],                                    # encoded runs alternate the pair's two nibbles
        [0, 4, n(), n(), 9, n()],                            # absolute run of 4 (2 bytes, no pad), then 9 encoded
        [0, 6, n(), n(), n(), 0, 20, n()],                   # absolute run of 6 (3 bytes: pad byte), cut encoded run
        [3, n()],                                            # the line end pads the row with index 0
        [13, n()],
        [0, 12, *[n() for _ in range(6)], 1, n()],
        [7, n(), 6, n()],
    ]
    return b"".join(bytes(row) + bytes([0, 0]) for row in rows) + bytes([0, 1])


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
    palette = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(37)]
    rle8 = rle8_stream(rng)
    (OUT / "rle8.bmp").write_bytes(rle_bmp(13, 7, 8, palette, rle8))
    (OUT / "rle8_topdown.bmp").write_bytes(rle_bmp(13, 7, 8, palette, rle8, top_down=True))
    (OUT / "rle4.bmp").write_bytes(rle_bmp(13, 7, 4, palette[:16], rle4_stream(rng)))
    expected = {}
    for path in sorted(OUT.glob("*.bmp")):
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"), dtype=np.uint8)
        expected[path.name] = {"width": pixels.shape[1], "height": pixels.shape[0], "rgb": pixels.reshape(-1).tolist()}
    (OUT / "expected.json").write_text(json.dumps(expected) + "\n")


if __name__ == "__main__":
    main()
