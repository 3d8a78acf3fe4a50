"""The libspng fast path gives exactly Pillow's pixels, and sends everything else to Pillow.

Each test compares against the Pillow path itself (``to_tensor(decode_image(...))``), so a
difference in any pixel, or in which error a bad file gets, fails here.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from sfn_inference.core import png as png_module
from sfn_inference.core.bundle import ModelBundle, Preprocessing
from sfn_inference.core.errors import CorruptImageError, DecompressionBombError, SfnInferenceError
from sfn_inference.core.imaging import MAX_PIXELS, decode_image, image_to_tensor, to_tensor
from sfn_inference.core.png import decode_plain, plain_header
from support import BUNDLE_DIR

SPEC = ModelBundle(BUNDLE_DIR).preprocessing
REFERENCES = sorted((BUNDLE_DIR / "reference").glob("*.png"))


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def pillow_tensor(data: bytes, spec: Preprocessing = SPEC) -> np.ndarray:
    return to_tensor(decode_image(data), spec)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR (8 + 25 bytes in)."""
    return png[:33] + chunk(kind, data) + png[33:]


@pytest.mark.parametrize("path", REFERENCES, ids=[p.name for p in REFERENCES])
def test_every_reference_png_takes_the_fast_path_with_pillows_pixels(path) -> None:
    data = path.read_bytes()
    pixels = decode_plain(data, MAX_PIXELS)
    assert pixels is not None, "the demo's PNGs are what the fast path is for"
    assert np.array_equal(pixels, np.asarray(Image.open(io.BytesIO(data))))
    got, expected = image_to_tensor(data, SPEC), pillow_tensor(data)
    assert got.dtype == expected.dtype == np.float32
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("path", REFERENCES[:3], ids=[p.name for p in REFERENCES[:3]])
@pytest.mark.parametrize(
    "spec",
    [SPEC, Preprocessing(width=32, height=32, color_mode="L"), Preprocessing(width=20, height=24, offset=0.5)],
    ids=["rgb", "grey-model", "resized"],
)
@pytest.mark.parametrize("as_grey", [False, True], ids=["rgb-png", "grey-png"])
def test_grey_pngs_other_models_and_resizes_equal_pillow(path, spec: Preprocessing, as_grey: bool) -> None:
    image = Image.open(path)
    data = encode(image.convert("L") if as_grey else image)
    assert decode_plain(data, MAX_PIXELS) is not None
    assert np.array_equal(image_to_tensor(data, spec), pillow_tensor(data, spec))


@pytest.mark.parametrize(
    "make",
    [
        lambda img: encode(img, "JPEG", quality=95),
        lambda img: encode(img.convert("P")),
        lambda img: encode(img.convert("RGBA")),
        lambda img: encode(img.convert("LA")),
        lambda img: encode(Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257)),
        lambda img: with_chunk(encode(img), b"tRNS", b"\x00\x00\x00\x00\x00\x00"),
        lambda img: with_chunk(encode(img), b"tEXt", b"Comment\x00hello"),
        lambda img: with_chunk(encode(img), b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00"),
        lambda img: with_chunk(encode(img), b"zzZz", b"unknown"),
    ],
    ids=["jpeg", "palette", "rgba", "grey-alpha", "16-bit", "trns", "text", "exif", "unknown-chunk"],
)
def test_anything_pillow_might_change_goes_to_pillow(make) -> None:
    data = make(Image.open(REFERENCES[0]))
    assert decode_plain(data, MAX_PIXELS) is None
    assert np.array_equal(image_to_tensor(data, SPEC), pillow_tensor(data))


def verdict(convert: Callable[[bytes], object], data: bytes) -> str:
    """The error's name and message (object addresses masked), or "ok"."""
    try:
        convert(data)
    except SfnInferenceError as exc:
        return re.sub(r"\b0x[0-9a-f]{6,}", "0x?", f"{type(exc).__name__}: {exc}")
    return "ok"


def broken(data: bytes) -> dict[str, bytes]:
    bad_ihdr_crc = data[:29] + bytes([data[29] ^ 0xFF]) + data[30:]
    idat = data.index(b"IDAT")
    bad_idat = data[: idat + 10] + bytes([data[idat + 10] ^ 0xFF]) + data[idat + 11 :]
    return {
        "truncated": data[: len(data) // 2],
        "no-iend": data[:-12],
        "bad-ihdr-crc": bad_ihdr_crc,
        "bad-idat": bad_idat,
        "garbage-after-signature": png_module.SIGNATURE + b"\0" * 50,
    }


@pytest.mark.parametrize("case", ["truncated", "no-iend", "bad-ihdr-crc", "bad-idat", "garbage-after-signature"])
def test_a_broken_png_gets_exactly_pillows_verdict(case: str) -> None:
    data = broken(REFERENCES[0].read_bytes())[case]
    assert decode_plain(data, MAX_PIXELS) is None
    expected = verdict(pillow_tensor, data)
    assert verdict(lambda d: image_to_tensor(d, SPEC), data) == expected
    if case != "no-iend":  # Pillow reads a PNG without its IEND
        assert expected.startswith(CorruptImageError.__name__)


def test_a_bomb_is_refused_from_its_header_before_decoding(monkeypatch) -> None:
    data = encode(Image.new("L", (5000, 5000)))
    assert plain_header(data) == (5000, 5000, 1)

    def no_decoding(*_: object) -> None:
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr("pyspng.load", no_decoding)
    with pytest.raises(DecompressionBombError) as fast:
        image_to_tensor(data, SPEC)
    assert f"DecompressionBombError: {fast.value}" == verdict(pillow_tensor, data)


def test_a_batch_is_exactly_the_stacked_tensors(reference_pngs) -> None:
    """The predictor normalises fast-path samples into the batch itself: bit for bit the same input."""
    from sfn_inference.adapters.litert import LiteRTImagePredictor
    from sfn_inference.core.imaging import image_samples

    predictor = LiteRTImagePredictor(ModelBundle(BUNDLE_DIR), num_threads=1)
    datas = [*reference_pngs.values(), encode(Image.open(REFERENCES[0]), "JPEG")]  # a JPEG: Pillow's tensor
    got = predictor._batch([image_samples(d, SPEC) for d in datas])
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got, np.stack([pillow_tensor(d) for d in datas]))
