"""Enhancement: the Enhancer protocol, the registry of methods, and helpers to apply them."""
from voxclean.enhance.base import DEFAULT_METHOD, ENHANCERS, Enhancer, SpectralEnhancer, Stream

__all__ = ["DEFAULT_METHOD", "ENHANCERS", "Enhancer", "SpectralEnhancer", "Stream"]
