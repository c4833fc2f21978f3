"""Neural enhancers (optional extra ``voxclean[neural]``: torch, onnx).

* :mod:`.model`    -- NeuralSE: causal ERB gains + deep filtering, GRU state (DeepFilterNet-style)
* :mod:`.data`     -- on-the-fly training mixtures from the degradation engine
* :mod:`.losses`   -- multi-resolution compressed spectral loss, SI-SDR, VAD
* :mod:`.train`    -- ``voxclean train CONFIG``: resumable, seeded, validated each epoch
* :mod:`.enhancer` -- the ``neural`` Enhancer (packaged weights, streaming, VAD, atten_lim_db, mix)
* :mod:`.export`   -- ONNX export with explicit state, int8 dynamic quantisation

Importing this package does not import torch; the submodules that need it do.
"""
