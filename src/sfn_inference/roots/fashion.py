"""fashion's dependencies (``POST /fashion/predict``, an image URL): the Fashion-MNIST bundle on
LiteRT, the safe URL fetcher (s3:// through the object store) and the capture writer."""

from __future__ import annotations

from collections.abc import Mapping

from sfn_inference.adapters.s3 import S3ObjectStore
from sfn_inference.adapters.url_fetch import UrlFetcher
from sfn_inference.core.ports import ObjectStore, Predictor
from sfn_inference.core.settings import ImageApiConfig, UrlFetchConfig
from sfn_inference.datacapture.logstream import writer_from_env
from sfn_inference.roots.image_route import ImageRoute, litert_predictor

DEFAULT_BUNDLE = "models/fashion"


def build(
    settings: ImageApiConfig | None = None,
    *,
    store: ObjectStore | None = None,
    predictor: Predictor | None = None,
    env: Mapping[str, str] | None = None,
) -> ImageRoute:
    settings = settings or ImageApiConfig.from_env(env)
    store = store or S3ObjectStore()
    predictor = predictor or litert_predictor(settings, DEFAULT_BUNDLE)
    fetcher = UrlFetcher(UrlFetchConfig.from_env(env), store)
    return ImageRoute(settings, predictor, writer_from_env(store, env), fetcher)
