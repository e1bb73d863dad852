"""Word shingles + MinHash: near-duplicate detection of customer speech across calls.

A signature is ``permutations`` 32-bit ints; the share of equal positions of two
signatures estimates the Jaccard similarity of their shingle sets. Signatures
are deterministic (fixed seed), so they can be stored and compared later
without keeping or decrypting the transcript.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import numpy.typing as npt

from engine.analysis.signals import words

_SEED = 20260525
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@functools.lru_cache(maxsize=8)
def _masks(permutations: int) -> npt.NDArray[np.uint64]:
    rng = np.random.default_rng(_SEED)
    return rng.integers(0, np.iinfo(np.uint64).max, size=permutations, dtype=np.uint64, endpoint=True)


def _mix(v: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser: a bijection on 64-bit ints that scrambles order (wrapping arithmetic)."""
    v = (v ^ (v >> np.uint64(30))) * _M1
    v = (v ^ (v >> np.uint64(27))) * _M2
    return v ^ (v >> np.uint64(31))


def shingles(text: str, size: int) -> set[str]:
    toks = words(text)
    if len(toks) < size:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i : i + size]) for i in range(len(toks) - size + 1)}


def _hash64(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "little")


def signature(text: str, *, shingle_words: int = 3, permutations: int = 64) -> list[int]:
    """MinHash signature of ``text`` (empty list for empty text)."""
    sh = shingles(text, shingle_words)
    if not sh:
        return []
    x = np.fromiter((_hash64(s) for s in sh), dtype=np.uint64, count=len(sh))
    # One "permutation" per random mask: mix(x XOR mask) orders shingles independently per mask.
    values = _mix(x[None, :] ^ _masks(permutations)[:, None])
    mins = values.min(axis=1) >> np.uint64(32)
    return [int(v) for v in mins]


def similarity(sig_a: list[int], sig_b: list[int]) -> float:
    """Estimated Jaccard similarity; 0.0 when either is empty or lengths differ."""
    if not sig_a or len(sig_a) != len(sig_b):
        return 0.0
    return float(np.mean(np.asarray(sig_a) == np.asarray(sig_b)))


def exact_jaccard(text_a: str, text_b: str, shingle_words: int = 3) -> float:
    sa, sb = shingles(text_a, shingle_words), shingles(text_b, shingle_words)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)
