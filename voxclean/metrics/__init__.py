"""Speech quality and intelligibility measures, by name.

>>> from voxclean.metrics import score_pair
>>> score_pair(clean, enhanced, 16000, metrics=["pesq_wb", "stoi", "si_sdr"])   # doctest: +SKIP
{'pesq_wb': 3.02, 'stoi': 0.93, 'si_sdr': 14.8}

Names (``voxclean metrics`` lists them): ``pesq_wb``, ``pesq_nb``, ``stoi``, ``estoi``, ``si_sdr``,
``segsnr``, ``lsd``, ``mcd``, ``composite`` (-> ``csig``, ``cbak``, ``covl``) and ``dnsmos``
(-> ``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl``, ``dnsmos_p808``). Policies for length, delay and
sample rate are in :mod:`voxclean.metrics.pair`; folder evaluation in :mod:`voxclean.metrics.evaluate`.
"""
from voxclean.metrics.base import METRICS, Metric
from voxclean.metrics.evaluate import evaluate_dirs, pair_files, summarize, write_csv, write_json
from voxclean.metrics.pair import DEFAULT_METRICS, align_delay, estimate_lag, fit_length, outputs_of, score_pair

__all__ = ["DEFAULT_METRICS", "METRICS", "Metric", "align_delay", "estimate_lag", "evaluate_dirs",
           "fit_length", "outputs_of", "pair_files", "score_pair", "summarize", "write_csv", "write_json"]
