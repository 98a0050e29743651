"""C-simulation of a compiled hls4ml project on every core.

hls4ml's ``predict`` calls the compiled library one image at a time on one core. ``csim`` loads the
same library (``<project>_double``: inputs and outputs as doubles, exact for every fixed-point type up
to 53 bits) in a pool of worker processes and hands each a contiguous chunk of images.

Workers are forked (on Linux): they start at once, need no ``if __name__ == "__main__"`` guard in
the caller's script, and touch nothing but ctypes and numpy, never TensorFlow.
"""

from __future__ import annotations

import ctypes
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from numpy import ctypeslib

_worker_state: dict = {}
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"


def _load(lib_path: str, function: str):
    lib = ctypes.cdll.LoadLibrary(lib_path)
    fn = getattr(lib, function)
    fn.restype = None
    fn.argtypes = [ctypeslib.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")] * 2
    return fn


def _init_worker(lib_path: str, function: str, weights_dir: str, out_size: int) -> None:
    # hls4ml's C-simulation loads .txt weights relative to the firmware folder on first call
    os.chdir(weights_dir)
    _worker_state["fn"] = _load(lib_path, function)
    _worker_state["out_size"] = out_size


def _run_chunk(x: np.ndarray) -> np.ndarray:
    fn, out_size = _worker_state["fn"], _worker_state["out_size"]
    out = np.zeros((len(x), out_size), dtype=np.float64)
    for i in range(len(x)):
        row = np.zeros(out_size, dtype=np.float64)
        fn(np.ascontiguousarray(x[i], dtype=np.float64), row)
        out[i] = row
    return out


def _prepare(project, x) -> np.ndarray:
    from skipless.errors import SkiplessError

    x = np.asarray(x, dtype=np.float64)
    in_shape = tuple(project.input_shape)
    if x.shape[1:] != in_shape:
        raise SkiplessError(f"csim input has shape {x.shape[1:]} per image; the project expects {in_shape}")
    if len(x) == 0:
        raise SkiplessError("csim needs at least one image (got 0)")
    return np.ascontiguousarray(x.reshape(len(x), -1))


PROGRESS_STEP = 50  # images between two progress calls


def csim(project, x, workers: int | None = None, progress=None) -> np.ndarray:
    """Outputs of the C-simulation for images ``x`` (N x H x W x C), as float64 (exact fixed-point values).
    ``progress(images_done, images_total)`` is called as chunks finish."""
    flat = _prepare(project, x)
    out_size = int(np.prod(project.output_shape))
    args = (str(project.lib_path), project.top_function, str(project.lib_path.parent), out_size)
    if workers is not None and workers < 1:
        from skipless.errors import SkiplessError

        raise SkiplessError(f"workers must be >= 1, got {workers}")
    workers = max(1, min(workers or os.cpu_count() or 1, len(flat)))
    if workers == 1:
        cwd = os.getcwd()
        try:
            _init_worker(*args)
            parts = []
            for start in range(0, len(flat), PROGRESS_STEP):
                parts.append(_run_chunk(flat[start : start + PROGRESS_STEP]))
                if progress:
                    progress(min(len(flat), start + PROGRESS_STEP), len(flat))
            result = np.concatenate(parts)
        finally:
            os.chdir(cwd)
        return result.reshape((len(flat), *project.output_shape))
    # interleaved chunks, several per worker, so that slow and fast workers even out
    n_chunks = min(len(flat), max(workers * 4, len(flat) // PROGRESS_STEP))
    chunks = [flat[i::n_chunks] for i in range(n_chunks)]
    out = np.zeros((len(flat), out_size), dtype=np.float64)
    done = 0
    with ProcessPoolExecutor(workers, mp_context=get_context(_START_METHOD), initializer=_init_worker, initargs=args) as pool:
        for i, part in enumerate(pool.map(_run_chunk, chunks)):
            out[i::n_chunks] = part
            done += len(part)
            if progress:
                progress(done, len(flat))
    return out.reshape((len(flat), *project.output_shape))
