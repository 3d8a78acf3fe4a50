"""Every image mode Pillow can decode reaches the model at the same scale as the 8-bit image.

The reference digits are 8-bit RGB PNGs (grey: R = G = B). Each test re-encodes them
in another mode, the way another tool would have saved the same picture, and checks
the tensor (and so the model's answer) against the 8-bit original's.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from sfn_inference.adapters.litert import LiteRTModel
from sfn_inference.core.bundle import ModelBundle, Preprocessing
from sfn_inference.core.imaging import decode_image, image_to_tensor, to_tensor
from support import BUNDLE_DIR

BUNDLE = ModelBundle(BUNDLE_DIR)
SPEC = BUNDLE.preprocessing
REFERENCES = sorted((BUNDLE_DIR / "reference").glob("*.png"))


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def grey(path_bytes: bytes) -> np.ndarray:
    """The reference digit as an (H, W) uint8 array (its three channels are equal)."""
    rgb = np.asarray(Image.open(io.BytesIO(path_bytes)))
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    return rgb[..., 0].copy()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def low_depth_grey_png(pixels: np.ndarray, bits: int) -> bytes:
    """A greyscale PNG at 1, 2 or 4 bits per pixel (Pillow writes none of these depths from mode L)."""
    levels = (1 << bits) - 1
    values = np.rint(pixels.astype(np.float64) * levels / 255).astype(np.uint8)
    per_byte = 8 // bits
    rows = []
    for row in values:
        padded = np.concatenate([row, np.zeros((-len(row)) % per_byte, np.uint8)])
        packed = bytearray()
        for chunk in padded.reshape(-1, per_byte):
            byte = 0
            for v in chunk:
                byte = (byte << bits) | int(v)
            packed.append(byte)
        rows.append(b"\0" + bytes(packed))
    height, width = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, bits, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def model() -> LiteRTModel:
    return LiteRTModel(BUNDLE.model_path, num_threads=1)


@pytest.fixture(scope="module", params=REFERENCES, ids=[p.name for p in REFERENCES])
def reference(request: pytest.FixtureRequest) -> bytes:
    data: bytes = request.param.read_bytes()
    return data


def test_8_bit_rgb_pngs_are_read_exactly_as_before(reference: bytes) -> None:
    """The tensor of an 8-bit RGB PNG at the model's size is its bytes times the scale, bit for bit."""
    expected = np.asarray(Image.open(io.BytesIO(reference)), dtype=np.float32) * np.float32(SPEC.scale)
    got = image_to_tensor(reference, SPEC)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)


def test_8_bit_rgb_pngs_keep_the_training_runs_predictions(model: LiteRTModel, reference_pngs) -> None:
    recorded = BUNDLE.reference_predictions
    names = sorted(recorded)
    probs = model.run(np.stack([image_to_tensor(reference_pngs[n], SPEC) for n in names]))
    for name, row in zip(names, probs, strict=True):
        np.testing.assert_allclose(row, recorded[name], atol=1e-6, err_msg=name)


# Lossless re-encodings: each must give exactly the 8-bit tensor.
LOSSLESS: dict[str, Callable[[np.ndarray], bytes]] = {
    "L": lambda g: encode(Image.fromarray(g, "L")),
    "P": lambda g: encode(Image.fromarray(g, "L").convert("P")),
    "RGBA opaque": lambda g: encode(Image.fromarray(np.dstack([g, g, g, np.full_like(g, 255)]), "RGBA")),
    "LA opaque": lambda g: encode(Image.fromarray(g, "L").convert("LA")),
    "I;16 (16-bit grey PNG)": lambda g: encode(Image.fromarray(g.astype(np.uint16) * 257)),
    "RGB 16-bit PNG": lambda g: encode_rgb16(g),
    "L from a 4-bit PNG": lambda g: low_depth_grey_png(g & 0xF0 | g >> 4, 4),
}


def encode_rgb16(g: np.ndarray) -> bytes:
    """A 48-bit RGB PNG, written by hand: Pillow has no 16-bit RGB mode to save from."""
    wide = (g.astype(">u2") * 257).repeat(3).reshape(*g.shape, 3)
    rows = b"".join(b"\0" + row.tobytes() for row in wide)
    header = struct.pack(">IIBBBBB", g.shape[1], g.shape[0], 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("mode", list(LOSSLESS))
def test_lossless_modes_give_the_8_bit_tensor(reference: bytes, mode: str) -> None:
    g = grey(reference)
    if mode == "L from a 4-bit PNG":  # only 16 levels survive: compare with those levels in 8 bits
        g = g & 0xF0 | g >> 4
    expected = image_to_tensor(encode(Image.fromarray(g, "L").convert("RGB")), SPEC)
    got = image_to_tensor(LOSSLESS[mode](g), SPEC)
    np.testing.assert_array_equal(got, expected, err_msg=mode)


def test_16_bit_grey_is_scaled_not_clipped(model: LiteRTModel) -> None:
    """The reported defect: a 16-bit grey "7" came back as "4" at 0.9998."""
    g = grey((BUNDLE_DIR / "reference" / "7_00017.png").read_bytes())
    sixteen = encode(Image.fromarray(g.astype(np.uint16) * 257))
    assert decode_image(sixteen).mode == "I;16"
    probs = model.run(image_to_tensor(sixteen, SPEC)[None])[0]
    assert int(np.argmax(probs)) == 7, probs


def test_16_bit_values_between_the_8_bit_levels_round_to_the_nearest(reference: bytes) -> None:
    """Full 16-bit precision (not multiples of 257) lands within half an 8-bit step of the original."""
    g = grey(reference)
    rng = np.random.default_rng(0)
    wide = np.clip(g.astype(np.int64) * 257 + rng.integers(-128, 128, g.shape), 0, 65535).astype(np.uint16)
    got = image_to_tensor(encode(Image.fromarray(wide)), SPEC)
    expected = image_to_tensor(encode(Image.fromarray(g, "L").convert("RGB")), SPEC)
    assert np.abs(got - expected).max() <= np.float32(SPEC.scale) * 1.0001


# Modes no PNG or JPEG decodes to, but an Image in them may still reach to_tensor.
IN_MEMORY: dict[str, Callable[[np.ndarray], Image.Image]] = {
    "I;16B": lambda g: Image.frombytes("I;16B", g.shape[::-1], (g.astype(">u2") * 257).tobytes()),
    "I;16L": lambda g: Image.frombytes("I;16L", g.shape[::-1], (g.astype("<u2") * 257).tobytes()),
    "I (16-bit data)": lambda g: Image.fromarray(g.astype(np.int32) * 257, "I"),
    "F (Pillow's 0-255 scale)": lambda g: Image.fromarray(g.astype(np.float32), "F"),
    "CMYK": lambda g: Image.fromarray(g, "L").convert("RGB").convert("CMYK"),
    "RGBX": lambda g: Image.fromarray(g, "L").convert("RGBX"),
    "1 (bilevel)": lambda g: Image.fromarray(g >= 128).convert("1"),
}


@pytest.mark.parametrize("mode", list(IN_MEMORY))
def test_in_memory_modes_give_the_8_bit_tensor(reference: bytes, mode: str) -> None:
    g = grey(reference)
    if mode.startswith("1"):
        g = np.where(g >= 128, 255, 0).astype(np.uint8)
    expected = to_tensor(Image.fromarray(g, "L").convert("RGB"), SPEC)
    np.testing.assert_array_equal(to_tensor(IN_MEMORY[mode](g), SPEC), expected, err_msg=mode)


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("L", lambda g: encode(Image.fromarray(g, "L"), "JPEG", quality=95)),
        ("RGB", lambda g: encode(Image.fromarray(g, "L").convert("RGB"), "JPEG", quality=95)),
        ("CMYK", lambda g: encode(Image.fromarray(g, "L").convert("RGB").convert("CMYK"), "JPEG", quality=95)),
        ("YCbCr", lambda g: encode(Image.fromarray(g, "L").convert("YCbCr"), "JPEG", quality=95)),
    ],
)
def test_jpeg_modes_agree_with_the_8_bit_answer(model: LiteRTModel, reference: bytes, mode: str, make) -> None:
    """JPEG is lossy: the answer, not the tensor, must match the 8-bit PNG's."""
    g = grey(reference)
    expected = model.run(image_to_tensor(reference, SPEC)[None])[0]
    got = model.run(image_to_tensor(make(g), SPEC)[None])[0]
    if expected.max() > 0.9:  # the low-confidence reference has no stable answer to keep
        assert int(np.argmax(got)) == int(np.argmax(expected)), (mode, got)
    np.testing.assert_allclose(got, expected, atol=0.1)


def test_ycbcr_in_memory_agrees_with_rgb(reference: bytes) -> None:
    g = grey(reference)
    rgb = Image.fromarray(g, "L").convert("RGB")
    got = to_tensor(rgb.convert("YCbCr"), SPEC)
    assert np.abs(got - to_tensor(rgb, SPEC)).max() <= 2 * np.float32(SPEC.scale)


def test_transparent_pixels_are_the_background() -> None:
    """A transparent pixel carries no ink, whatever colour it hides: it reads as black (0)."""
    g = np.zeros((32, 32), np.uint8)
    alpha = np.zeros_like(g)
    alpha[8:24, 8:24] = 255
    hidden = np.full_like(g, 200)  # an editor's leftover colour under full transparency
    rgba = Image.fromarray(np.dstack([hidden, hidden, hidden, alpha]), "RGBA")
    tensor = to_tensor(rgba, SPEC)
    assert tensor[0, 0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(tensor[16, 16], [200 / 255] * 3, rtol=1e-6)
    half = Image.fromarray(np.dstack([hidden, hidden, hidden, np.full_like(g, 128)]), "RGBA")
    np.testing.assert_allclose(to_tensor(half, SPEC)[0, 0], [round(200 * 128 / 255) / 255] * 3, rtol=1e-6)


def test_palette_transparency_is_applied() -> None:
    image = Image.new("P", (32, 32), 1)
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.info["transparency"] = 1
    assert float(to_tensor(image, SPEC).max()) == 0.0


def test_a_greyscale_model_reads_16_bit_grey_at_the_8_bit_scale() -> None:
    spec = Preprocessing(width=16, height=16, color_mode="L")
    g = np.arange(256, dtype=np.uint8).reshape(16, 16)
    got = to_tensor(Image.fromarray(g.astype(np.uint16) * 257), spec)
    np.testing.assert_array_equal(got, to_tensor(Image.fromarray(g, "L"), spec))


def test_exif_orientation_is_applied() -> None:
    """A phone's JPEG stores pixels sideways and says so in EXIF; the model must see it upright."""
    upright = np.zeros((32, 32), np.uint8)
    upright[:, :8] = 255  # a bar on the left
    sideways = np.rot90(upright, k=1).copy()  # as the sensor saw it: the bar at the bottom
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(Image.fromarray(sideways, "L"), "JPEG", quality=100, exif=exif.tobytes())
    tensor = image_to_tensor(data, SPEC)[..., 0]
    assert tensor[:, :8].mean() > 0.9 and tensor[:, 16:].mean() < 0.1


@pytest.mark.parametrize("mode", [*Image.MODES, "I;16B", "I;16L", "I;16N"])
@pytest.mark.parametrize("color_mode", ["RGB", "L"])
def test_every_mode_pillow_knows_reaches_the_models_range(mode: str, color_mode: str) -> None:
    spec = Preprocessing(width=32, height=32, color_mode=color_mode)  # type: ignore[arg-type]
    tensor = to_tensor(Image.new(mode, (40, 40)), spec)
    assert tensor.shape == (32, 32, spec.channels)
    assert 0.0 <= float(tensor.min()) <= float(tensor.max()) <= 1.0
