"""voxclean: make degraded speech clean, and measure how well speech systems survive real-world damage.

The package layout is the pipeline::

    audio/ (load) -> degrade/ -> enhance/ -> metrics/ (measure) -> bench/ (report)

Conventions: float32 audio in [-1, 1], shape ``(samples,)`` or ``(channels, samples)``, and the sample
rate is always passed explicitly next to the samples.
"""

__version__ = "0.1.0"
