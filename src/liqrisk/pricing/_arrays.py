"""Array plumbing shared by the vectorised pricing functions: broadcast, flatten, launch."""

import numba
import numpy as np

# Below this many options a parallel launch (10–60 µs measured on 2 cores) costs more than
# the work itself (0.1–1 µs per option), so the kernel runs on the calling thread only.
PARALLEL_MIN_SIZE = 2048


def flat_inputs(*args):
    """Broadcast the arguments; return (shape, flat contiguous float64 arrays)."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(a).reshape(-1) for a in arrays]


def shaped(flat, shape):
    """Flat result back to the broadcast shape; a 0-d result becomes a NumPy float."""
    return flat.reshape(shape)[()]


def launch(kernel, size, *args):
    """Run a ``prange`` kernel, single-threaded when ``size`` is below PARALLEL_MIN_SIZE."""
    if size >= PARALLEL_MIN_SIZE:
        kernel(*args)
        return
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(threads)
