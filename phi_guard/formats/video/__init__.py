"""Video posts: MP4/MOV, WebM/MKV and AVI, read and written with PyAV (FFmpeg in its wheel).

probe -> VideoInfo (codec, size, timing, audio, metadata inventory) under VideoLimits;
iter_frames -> the displayed frames one at a time; encode -> a fresh MP4 (H.264) or
WebM (VP9) without metadata and, by default, without audio; check_output -> what an
encoded file still carries. See docs/video.md.
"""
from .decode import iter_frames
from .encode import check_output, encode, output_size
from .model import DecodedFrame, VideoInfo, VideoLimits
from .probe import probe
from .sniff import sniff_video

__all__ = ["DecodedFrame", "VideoInfo", "VideoLimits", "check_output", "encode", "iter_frames", "output_size", "probe",
           "sniff_video"]
