"""SAM 2 in pure torch: configurations, modules, checkpoint loading, the image predictor.

Written here from the SAM 2 paper and the official checkpoint layout; loads the official
SAM 2 and SAM 2.1 checkpoints without conversion.

>>> model = load_checkpoint("sam2.1_hiera_tiny.pt")       # or build_model("sam2.1_hiera_tiny")
>>> predictor = ImagePredictor(model)
>>> predictor.set_image(rgb)                               # uint8 (H, W, 3)
>>> pred = predictor.predict(points=[[x, y]], labels=[1])
>>> pred.masks[pred.best]                                  # bool (H, W)
"""

from .checkpoint import CheckpointError, build_model, detect_variant, load_checkpoint
from .config import VARIANTS, HieraConfig, ModelConfig, get_config
from .device import autocast_dtype, choose_device, describe, enable_mps_fallback, inference_context
from .image_encoder import ImageFeatures
from .precision import PRECISIONS, Precision, choose_precision, default_precision
from .predictor import ImagePredictor, Prediction
from .sam2_model import HeadOutput, PointerMemory, Sam2Model, SpatialMemory

__all__ = [
    "PRECISIONS",
    "VARIANTS",
    "CheckpointError",
    "HeadOutput",
    "HieraConfig",
    "ImageFeatures",
    "ImagePredictor",
    "ModelConfig",
    "PointerMemory",
    "Precision",
    "Prediction",
    "Sam2Model",
    "SpatialMemory",
    "autocast_dtype",
    "build_model",
    "choose_device",
    "choose_precision",
    "default_precision",
    "describe",
    "detect_variant",
    "enable_mps_fallback",
    "get_config",
    "inference_context",
    "load_checkpoint",
]
