"""Decode untrusted image bytes safely and turn them into the model's input tensor.

Every mode Pillow decodes reaches the model at the 8-bit scale it was trained on: 16-bit
samples are scaled (never clipped), transparency is composited over black, and a JPEG's EXIF
orientation is applied. An 8-bit RGB image goes through exactly as it always did.

A plain 8-bit greyscale or RGB PNG (what serialize sends for the demo) is decoded by libspng
instead (:mod:`sfn_inference.core.png`), with the same pixels; Pillow decodes everything else,
and is imported only then: it is off classify's cold path.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

import numpy as np

from sfn_inference.core.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyObjectError,
    IncompatibleImageError,
    NotAnImageError,
)
from sfn_inference.core.png import decode_plain

if TYPE_CHECKING:
    from PIL import Image

    from sfn_inference.core.bundle import Preprocessing

PNG = "image/png"
JPEG = "image/jpeg"
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": PNG, b"\xff\xd8\xff": JPEG}
#: Bytes needed to recognise any supported format.
SNIFF_BYTES = 8
#: Refuse to decode more pixels than this; a 4096 x 4096 photo is the largest we expect.
MAX_PIXELS = 4096 * 4096
#: The model resizes, but a sliver (1 x 500) carries no recognisable image.
MAX_ASPECT_RATIO = 4.0


def sniff_content_type(head: bytes) -> str:
    """The image type from the magic bytes; the S3 Content-Type is often just octet-stream."""
    if not head:
        raise EmptyObjectError("the object is empty")
    for signature, content_type in _SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    raise NotAnImageError(f"not a PNG or JPEG (starts with {head[:SNIFF_BYTES]!r})")


def decode_image(data: bytes) -> Image.Image:
    """Fully decode PNG or JPEG bytes with Pillow, refusing bombs and truncated files by name."""
    from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415 - off the cold path

    sniff_content_type(data[:SNIFF_BYTES])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=("PNG", "JPEG"))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DecompressionBombError(f"{width}x{height} exceeds {MAX_PIXELS} pixels")
            image.load()
            if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
                image = ImageOps.exif_transpose(image)  # a phone's JPEG stores pixels sideways
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecompressionBombError(str(exc)) from None
    except UnidentifiedImageError as exc:
        raise CorruptImageError(f"cannot identify the image: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"cannot decode the image: {exc}") from None
    return image


#: Modes whose samples are 16 bits deep. Pillow's own conversion to 8 bits clips them at 255,
#: which turns a 16-bit grey digit white: they are scaled here instead. Mode ``I`` (32-bit) is
#: what a 16-bit PNG decoded to in older Pillow, and what Pillow writes as one: read as 16 bits.
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
#: Modes Pillow converts to L and RGB faithfully, 8 bits a sample, no alpha.
_EIGHT_BIT_MODES = frozenset({"1", "L", "P", "RGB", "RGBX", "CMYK", "YCbCr", "HSV", "LAB"})
#: The same pixels over a black background, keyed by a mode with alpha.
_WITHOUT_ALPHA = {"RGBA": "RGB", "LA": "L", "RGBa": "RGB", "La": "L"}


def to_eight_bit(image: Image.Image) -> Image.Image:
    """The image in a mode of :data:`_EIGHT_BIT_MODES`, at the 8-bit scale.

    - 16-bit samples are scaled by 255/65535 and rounded, never clipped (``v * 257`` gives ``v``).
    - ``F`` keeps Pillow's own convention: its conversions read floats at the 0-255 scale.
    - Transparency is composited over black: a transparent pixel carries no ink, whatever
      colour it hides, and black is the background the model was trained on. An opaque
      alpha band changes nothing.
    """
    if image.mode in _EIGHT_BIT_MODES and "transparency" not in image.info:
        return image
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "F":
        return _scaled(image)
    if image.mode not in _WITHOUT_ALPHA:  # P, L or RGB with a transparent colour (tRNS), PA
        image = image.convert("LA" if image.mode == "L" else "RGBA")
    bands = np.asarray(image)
    colour = bands[..., :-1]
    if image.mode in ("RGBA", "LA"):  # straight alpha; integer rounding is exact at alpha 255
        colour = (colour.astype(np.uint32) * bands[..., -1:] + 127) // 255
    return _from_bands(colour.astype(np.uint8), _WITHOUT_ALPHA[image.mode])


def _scaled(image: Image.Image) -> Image.Image:
    samples = np.asarray(image)
    if image.mode == "F":
        eight = np.clip(np.rint(samples), 0, 255).astype(np.uint8)
    else:  # integer rounding of v * 255 / 65535, in 4 bytes a pixel rather than a float's 8
        wide = np.clip(samples, 0, 65535).astype(np.uint32)
        eight = ((wide * 255 + 32767) // 65535).astype(np.uint8)
    transparent = image.info.get("transparency")  # a 16-bit grey PNG's tRNS: one grey value
    if isinstance(transparent, int) and image.mode != "F":
        eight[np.asarray(image) == transparent] = 0
    return _from_bands(eight[..., None], "L")


def _from_bands(bands: np.ndarray, mode: str) -> Image.Image:
    from PIL import Image  # noqa: PLC0415 - off the cold path

    return Image.fromarray(bands[..., 0] if mode == "L" else bands, mode)


def check_size(width: int, height: int, spec: Preprocessing) -> None:
    if min(width, height) < spec.min_side or max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise IncompatibleImageError(
            f"{width}x{height} cannot be fed to a {spec.width}x{spec.height} model "
            f"(sides must be at least {spec.min_side} px and the aspect ratio at most {MAX_ASPECT_RATIO:g})"
        )


def to_tensor(image: Image.Image, spec: Preprocessing) -> np.ndarray:
    """Resize, convert and normalise one image as the bundle declares: (H, W, C) float32."""
    from PIL import Image  # noqa: PLC0415 - off the cold path

    check_size(*image.size, spec)
    mode = image.mode
    try:
        image = to_eight_bit(image)
        if image.mode == "LAB" and spec.color_mode != "RGB":
            image = image.convert("RGB")  # Pillow has no direct path from LAB to L
        image = image.convert(spec.color_mode)
    except (ValueError, OSError) as exc:
        raise IncompatibleImageError(f"cannot convert mode {mode} to {spec.color_mode}: {exc}") from None
    if image.size != (spec.width, spec.height):
        image = image.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    return _normalised(np.asarray(image, dtype=np.float32), spec)


def _normalised(pixels: np.ndarray, spec: Preprocessing) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return (pixels * np.float32(spec.scale) - np.float32(spec.offset)).astype(np.float32)


def plain_to_tensor(pixels: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """:func:`to_tensor` of 8-bit grey or RGB pixels, without Pillow when nothing is resized or mixed.

    Greyscale to RGB repeats the sample, as Pillow's conversion does; a resize or RGB to
    greyscale (Pillow's rounding) goes through Pillow itself.
    """
    samples = model_samples(pixels, spec)
    if samples is None:
        from PIL import Image  # noqa: PLC0415 - off the cold path

        return to_tensor(Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB"), spec)
    return normalise(samples, spec)


def model_samples(pixels: np.ndarray, spec: Preprocessing) -> np.ndarray | None:
    """The model's (H, W, C) uint8 samples of decoded 8-bit pixels, or None when only Pillow can
    make them (a resize, or RGB to greyscale). Refuses a size the model cannot take."""
    height, width = pixels.shape[:2]
    check_size(width, height, spec)
    grey = pixels.ndim == 2
    if (width, height) != (spec.width, spec.height) or (spec.color_mode == "L" and not grey):
        return None
    if grey:
        return np.repeat(pixels[:, :, None], 3, axis=2) if spec.color_mode == "RGB" else pixels[:, :, None]
    return pixels


def normalise(samples: np.ndarray, spec: Preprocessing) -> np.ndarray:
    """uint8 samples (one image or a stacked batch) as the model's float32 input: ``x * scale - offset``."""
    return _normalised(samples.astype(np.float32), spec)


def image_samples(data: bytes, spec: Preprocessing) -> np.ndarray:
    """One image for the model: its uint8 samples when the fast path made them, else the float32 tensor.

    A batch of uint8 samples is normalised in one go (:func:`normalise`), with the same result
    as normalising each image: the arithmetic is element by element.
    """
    sniff_content_type(data[:SNIFF_BYTES])
    pixels = decode_plain(data, MAX_PIXELS)
    if pixels is not None:
        samples = model_samples(pixels, spec)
        if samples is not None:
            return samples
        return plain_to_tensor(pixels, spec)
    return to_tensor(decode_image(data), spec)


def image_to_tensor(data: bytes, spec: Preprocessing) -> np.ndarray:
    """The model's (H, W, C) float32 input for one PNG or JPEG."""
    samples = image_samples(data, spec)
    return normalise(samples, spec) if samples.dtype == np.uint8 else samples
