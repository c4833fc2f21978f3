"""Side-by-side benchmarks: peer systems behind the Enhancer contract (:mod:`voxclean.bench.peers`)
and the runner that enhances, scores and times every method on a paired set
(:func:`voxclean.bench.runner.run_bench`, CLI ``voxclean bench``)."""
from voxclean.bench.pairs import Pair, discover_pairs
from voxclean.bench.runner import run_bench

__all__ = ["Pair", "discover_pairs", "run_bench"]
