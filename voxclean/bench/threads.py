"""Limit every compute library to ``n`` threads, so real-time factors compare like with like.

Inside :func:`limit_threads`:

* BLAS/OpenMP pools already loaded in this process (OpenBLAS, MKL, BLIS, OpenMP) are capped with
  ``threadpoolctl.threadpool_limits``;
* ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``NUMEXPR_NUM_THREADS``,
  ``VECLIB_MAXIMUM_THREADS``, ``RAYON_NUM_THREADS`` are set for libraries loaded later and for
  subprocesses;
* ``torch.set_num_threads(n)`` if torch has been imported;
* enhancers that create onnxruntime sessions read :func:`ort_threads` for their session options.

Everything is restored on exit.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS")
_ORT_THREADS: int | None = None


def ort_threads() -> int | None:
    """Thread count an onnxruntime session should use (``intra_op_num_threads``), or None."""
    return _ORT_THREADS


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Cap compute threads at ``n`` for the duration of the block (``None`` or 0: no change)."""
    global _ORT_THREADS
    if not n:
        yield
        return
    saved_env = {k: os.environ.get(k) for k in THREAD_ENV}
    saved_ort = _ORT_THREADS
    os.environ.update({k: str(n) for k in THREAD_ENV})
    _ORT_THREADS = n
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits
            stack.enter_context(threadpool_limits(limits=n))
        except ImportError:  # the env vars above still cover libraries loaded later
            pass
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(torch_threads)
            _ORT_THREADS = saved_ort
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
