"""Multi-frame images: animated GIF, APNG, animated WebP, multi-page TIFF and MPO.

decode -> every displayed frame with its timing; inventory -> the container's
metadata (masked); encode -> the same kind of container with the frames and their
timing only; check_output -> what an encoded file carries beyond that.
"""
from .decode import decode, frame_count
from .encode import encode, extension
from .inventory import check_output, inventory
from .model import ANIMATED_FORMATS, Animation

__all__ = ["ANIMATED_FORMATS", "Animation", "check_output", "decode", "encode", "extension", "frame_count", "inventory"]
