"""The K largest losses of each account and horizon over a run's paths: the tail VaR and ES read.

A worker thread keeps, per account and horizon, a buffer of :data:`ROOM` × K losses
(:func:`tail_store`): a loss is appended if it is above the K-th largest known (``least``, −∞
until the buffer has first been full), and a full buffer is cut back to its K largest by a
quickselect (:func:`_select`) — amortised O(1) per loss offered, against O(log K) per loss kept of
a heap, and no branch per value when a whole pass of losses is offered at once
(:func:`offer_losses_nb`). What is kept is exactly the multiset of the K largest (a value equal
to ``least`` that is turned away only replaces an equal one). :func:`largest_losses` merges the
threads' buffers.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

ROOM = 2
"""A buffer holds ROOM × K losses before it is cut back to its K largest."""
SAMPLE = 8
"""Every SAMPLE-th value is the sample whose order statistic pre-selects the candidates of
:func:`_largest`."""


def kept_losses(n_paths: int) -> int:
    """How many of the largest losses VaR99 and ES99 read: those at or above the 99 % quantile
    (``n − ⌈0.99·n⌉ + 1``)."""
    return n_paths - math.ceil(0.99 * n_paths) + 1


def tail_store(n_acc: int, n_h: int, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An empty store: (buffer (n_acc, n_h, ROOM·K) of −∞, how many are filled, ``least``)."""
    return (np.full((n_acc, n_h, ROOM * K), -np.inf), np.zeros((n_acc, n_h), np.int64),
            np.full((n_acc, n_h), -np.inf))


def largest_losses(buffers: list[np.ndarray], K: int) -> np.ndarray:
    """The K largest losses (n_acc, n_h, K), descending, of the threads' buffers (−∞ where a
    run had fewer paths than K)."""
    top = -np.concatenate(buffers, axis=2)
    if top.shape[2] > K:          # the K largest, then only those sorted (equal values only reorder)
        top = np.partition(top, K - 1, axis=2)[:, :, :K]
    return -np.sort(top, axis=2)


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False, inline="always")
def _partition(x, lo, hi, pivot, strict):
    """Move the values of ``x[lo:hi]`` below ``pivot`` (``strict``; else at or below it) to the
    front; returns where the others start. Branch-free (Lomuto's scheme, every value swapped)."""
    s = lo
    for i in range(lo, hi):
        v = x[i]
        x[i] = x[s]
        x[s] = v
        s += (v < pivot) if strict else (v <= pivot)
    return s


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _select(x, n, K):
    """Reorder ``x[:n]`` so that ``x[n − K:n]`` holds its K largest values: quickselect around
    the median of three, each range split into below / equal to / above the pivot (so ties end
    it), with branch-free partitions — a branchy quickselect's mispredictions cost ≈ 10 µs on
    1,024 values."""
    lo, hi, kth = 0, n, n - K
    while hi - lo > 1:
        a, b, c = x[lo], x[(lo + hi) // 2], x[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        s = _partition(x, lo, hi, pivot, True)
        if kth < s:
            hi = s
            continue
        e = _partition(x, s, hi, pivot, False)      # [s, e): the pivot's value
        if kth < e:
            return
        lo = e


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _largest(x, n, K, cand):
    """The K largest of ``x[:n]`` as ``cand[m − K:m]``; returns m. A quickselect's branches are
    unpredictable (≈ 10 µs for 1,024 values), so first the values at or above the
    (K/SAMPLE + 12)-th largest of every SAMPLE-th value are gathered without branches (≈ 8·(K/8 +
    12) of them; at least K unless the sample is 3 standard deviations off, then all are taken):
    every value at or above the K-th largest is among them, ties included."""
    m = 0
    if n >= 4 * SAMPLE * K:
        for i in range(0, n, SAMPLE):
            cand[m] = x[i]
            m += 1
        kk = min(m, K // SAMPLE + 12)
        _select(cand, m, kk)
        t = cand[m - kk]
        m = 0
        for i in range(n):
            cand[m] = x[i]
            m += x[i] >= t
    if m < K:
        for i in range(n):
            cand[i] = x[i]
        m = n
    _select(cand, m, K)
    return m


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _cut(buf, n, K):
    """Keep the K largest of the full buffer ``buf[:n]`` in ``buf[:K]`` (the rest −∞); returns
    the smallest kept, the new ``least``."""
    _select(buf, n, K)
    least = np.inf
    for t in range(K):
        buf[t] = buf[n - K + t]
        least = min(least, buf[t])
    for t in range(K, buf.shape[0]):
        buf[t] = -np.inf
    return least


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def insert_loss_nb(top, top_n, top_min, i, j, loss, K):
    """Offer one ``loss`` to the K largest of account ``i`` at horizon ``j`` (module docstring)."""
    if loss > top_min[i, j]:
        n = top_n[i, j]
        top[i, j, n] = loss
        n += 1
        if n == top.shape[2]:
            top_min[i, j] = _cut(top[i, j], n, K)
            n = K
        top_n[i, j] = n


@njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def offer_losses_nb(top, top_n, top_min, i, j, x, n, K, cand):
    """Offer the losses ``x[:n]`` to the K largest of account ``i`` at horizon ``j``: into an
    empty buffer the K largest of ``x`` (:func:`_largest`), else those above ``least`` appended
    without branches, the buffer cut back whenever it has less room than K/4 + 1. ``cand`` (n):
    a work array."""
    buf, C = top[i, j], top.shape[2]
    m, least = top_n[i, j], top_min[i, j]
    t = 0
    if m == 0 and n >= K:
        q = _largest(x, n, K, cand)
        for r in range(K):
            buf[r] = cand[q - K + r]
            least = min(least, buf[r]) if r else buf[r]
        m, t = K, n
    while t < n:
        if C - m < K // 4 + 1:
            least = _cut(buf, m, K)
            m = K
        seg = min(n - t, C - m)
        for q in range(t, t + seg):          # writes at most up to buf[C − 1]
            buf[m] = x[q]
            m += x[q] > least
        t += seg
    if m < C:
        buf[m] = -np.inf                     # the last value looked at, if turned away
    top_n[i, j], top_min[i, j] = m, least
