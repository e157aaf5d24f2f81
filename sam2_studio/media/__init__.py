"""Decoding, seeking, frame caches, encoding, matte and sequence writers. Qt-free, model-free.

Reading
    ``open_media(path)`` / ``open_video(path)`` / ``open_image_sequence(folder_or_pattern)``
    return a :class:`FrameReader`: ``len(r)``, ``r.read(i) -> (H, W, 3) uint8 RGB`` (frame
    ``i`` in presentation order, upright, square pixels), ``r.size`` (w, h), ``r.fps``
    (exact ``Fraction``), ``r.frame_count``, ``r.duration``, ``r.has_audio``,
    ``r.timestamps``, ``r.info`` (:class:`MediaInfo`), ``r.problem`` (damage found on open),
    ``close()`` / ``with``. Readers are safe for one reader thread plus one read-ahead thread.
    ``CachedReader(r)`` adds a bounded LRU frame cache and direction-aware read-ahead;
    ``iter_thumbnails(r, count, height)`` streams a timeline strip. While the user drags the
    playhead, ``VideoReader.read_keyframe(r.nearest_keyframe(i), size)`` gives an instant
    preview (one intra frame); read the exact frame when the drag stops.

Writing (one frame at a time; atomic; ``abort()`` or an exception removes partial output)
    ``VideoWriter(path, size, fps, H264() | ProRes() | Ffv1(), audio=AudioSource(...))``,
    ``MatteWriter(path, MatteExport(MatteFormat...), size, fps)`` for PNG 8/16 grey or RGBA,
    EXR, ProRes 4444 with alpha and FFV1 mattes, ``LayeredExrWriter(path, LayeredExr(...),
    size, names)`` for multi-layer EXR (a layer per object, or Cryptomatte ID mattes:
    ``cryptomatte.py``), ``ImageSequenceWriter`` for raw sequences,
    ``MaskletWriter`` / ``read_masklets`` for SA-V style COCO RLE JSON, ``RleMask`` for
    compact mask storage.

Errors
    Everything a user can cause raises :class:`MediaError` (a ``StudioError``) naming the file
    and the reason; :class:`DamagedMediaError` also says how many frames remain usable.
"""

from .cache import CachedReader, FrameCache
from .coco import Masklets, MaskletWriter, RleMask, read_masklets
from .errors import DamagedMediaError, MediaError
from .exr_layers import ExrCompression, LayeredExr, LayeredExrWriter, layer_name
from .images import IMAGE_EXTENSIONS, read_image, read_matte
from .matte_writer import MatteExport, MatteFormat, MatteWriter
from .mattes import matte_float, matte_u8, matte_u16, rgba
from .naming import SequenceNaming
from .open import open_media
from .reader import FrameReader, MediaInfo
from .sequence import ImageSequenceReader, open_image_sequence
from .sequence_writer import ImageSequenceWriter
from .thumbnails import Thumbnail, iter_thumbnails
from .video import VIDEO_EXTENSIONS, VideoReader, open_video
from .writers import AudioSource, Ffv1, H264, ProRes, ProResProfile, VideoCodec, VideoWriter

__all__ = [
    "AudioSource",
    "CachedReader",
    "DamagedMediaError",
    "ExrCompression",
    "Ffv1",
    "FrameCache",
    "FrameReader",
    "H264",
    "IMAGE_EXTENSIONS",
    "LayeredExr",
    "LayeredExrWriter",
    "ImageSequenceReader",
    "ImageSequenceWriter",
    "Masklets",
    "MaskletWriter",
    "MatteExport",
    "MatteFormat",
    "MatteWriter",
    "MediaError",
    "MediaInfo",
    "ProRes",
    "ProResProfile",
    "RleMask",
    "SequenceNaming",
    "Thumbnail",
    "VIDEO_EXTENSIONS",
    "VideoCodec",
    "VideoReader",
    "VideoWriter",
    "iter_thumbnails",
    "layer_name",
    "matte_float",
    "matte_u8",
    "matte_u16",
    "open_image_sequence",
    "open_media",
    "open_video",
    "read_image",
    "read_masklets",
    "read_matte",
    "rgba",
]
