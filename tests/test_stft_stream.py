import numpy as np
import pytest

from conftest import stream_in_random_blocks
from voxclean.audio.stft import StftStream, frame_sizes


class Identity:
    def process(self, spec):
        return spec


class HalfGainWithMemory:
    """A causal processor whose output depends on the previous frame (like decision-directed SNR)."""

    def __init__(self):
        self.prev = None

    def process(self, spec):
        out = np.empty_like(spec)
        for i, frame in enumerate(spec):
            g = 0.5 if self.prev is None else 0.5 + 0.4 * np.tanh(np.abs(self.prev))
            out[i] = g * frame
            self.prev = np.abs(frame) / (1 + np.abs(frame).max())
        return out


@pytest.mark.parametrize("n_fft,hop", [(512, 256), (1024, 256), (256, 64)])
def test_identity_reconstructs_exactly_and_keeps_length(n_fft, hop):
    x = np.random.default_rng(0).standard_normal(12345).astype(np.float32)
    s = StftStream(Identity(), n_fft, hop)
    y = np.concatenate([s.push(x[:100]), s.push(x[100:7000]), s.push(x[7000:]), s.flush()])
    assert len(y) == len(x)
    assert np.max(np.abs(y - x)) < 1e-5


def test_streaming_equals_offline_for_any_block_sizes():
    x = np.random.default_rng(1).standard_normal(20000).astype(np.float32)
    s = StftStream(HalfGainWithMemory(), 512, 128)
    offline = np.concatenate([s.push(x), s.flush()])
    streamed = stream_in_random_blocks(StftStream(HalfGainWithMemory(), 512, 128), x, 700, seed=2)
    assert len(streamed) == len(x)
    assert np.max(np.abs(streamed - offline)) < 1e-6


def test_frame_sizes_scale_with_rate():
    assert frame_sizes(16000, 32) == (512, 256)
    assert frame_sizes(8000, 32) == (256, 128)
    assert frame_sizes(16000, 64, 4) == (1024, 256)
