"""Decode untrusted image bytes safely and turn them into the model's input tensor."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from sfn_inference.core.bundle import Preprocessing
from sfn_inference.core.errors import (
    CorruptImageError,
    DecompressionBombError,
    EmptyObjectError,
    IncompatibleImageError,
    NotAnImageError,
)

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
    """Fully decode PNG or JPEG bytes, refusing bombs and truncated files by name."""
    sniff_content_type(data[:SNIFF_BYTES])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=("PNG", "JPEG"))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DecompressionBombError(f"{width}x{height} exceeds {MAX_PIXELS} pixels")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecompressionBombError(str(exc)) from None
    except UnidentifiedImageError as exc:
        raise CorruptImageError(f"cannot identify the image: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"cannot decode the image: {exc}") from None
    return image


def to_tensor(image: Image.Image, spec: Preprocessing) -> np.ndarray:
    """Resize, convert and normalise one image as the bundle declares: (H, W, C) float32."""
    width, height = image.size
    if min(width, height) < spec.min_side or max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise IncompatibleImageError(
            f"{width}x{height} cannot be fed to a {spec.width}x{spec.height} model "
            f"(sides must be at least {spec.min_side} px and the aspect ratio at most {MAX_ASPECT_RATIO:g})"
        )
    try:
        image = image.convert(spec.color_mode)
    except (ValueError, OSError) as exc:
        raise IncompatibleImageError(f"cannot convert mode {image.mode} to {spec.color_mode}: {exc}") from None
    if image.size != (spec.width, spec.height):
        image = image.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return (pixels * np.float32(spec.scale) - np.float32(spec.offset)).astype(np.float32)


def image_to_tensor(data: bytes, spec: Preprocessing) -> np.ndarray:
    return to_tensor(decode_image(data), spec)
