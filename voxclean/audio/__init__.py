"""Loading, saving, resampling and short-time Fourier analysis."""
from voxclean.audio.io import AudioError, AudioInfo, atomic_writer, info, load, read_blocks, save
from voxclean.audio.resample import resample

__all__ = ["AudioError", "AudioInfo", "atomic_writer", "info", "load", "read_blocks", "resample", "save"]
