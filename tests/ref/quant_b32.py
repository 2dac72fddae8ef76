"""quant_b32.py - NumPy dequantization of GGUF's 32-element block types Q4_1, Q5_0, Q5_1 and
IQ4_NL, written from ggml's block definitions (ggml-common.h) and dequantize_row_* rules, not
from libtinylm's code:

    block_q4_1   { f16 d; f16 m; u8 qs[16]; }          x = q * d + m, q 4-bit
    block_q5_0   { f16 d; u8 qh[4]; u8 qs[16]; }       x = (q - 16) * d, q 5-bit
    block_q5_1   { f16 d; f16 m; u8 qh[4]; u8 qs[16]; } x = q * d + m, q 5-bit
    block_iq4_nl { f16 d; u8 qs[16]; }                 x = d * kvalues_iq4nl[q], q 4-bit

qs[j] holds element j in its low nibble and element j + 16 in its high nibble; the fifth bit
of element j is bit j of qh read as a little-endian uint32. Every product is float32, and
q * d + m is rounded twice (product, then sum), as the C reference writes it.
"""
import numpy as np

Q4_1, Q5_0, Q5_1, IQ4_NL = 3, 6, 7, 20
BLOCK_BYTES = {Q4_1: 20, Q5_0: 22, Q5_1: 24, IQ4_NL: 18}
KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89,
                          113], dtype=np.float32)


def _f16(b, col):
    return b[:, col:col + 2].copy().view("<f2").astype(np.float32)


def _nibbles(qs):
    return np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.int32)  # j, then j + 16


def _bit5(qh):
    h = qh.copy().view("<u4").astype(np.uint64)  # [blocks, 1]
    return ((h >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int32)


def dequantize(gtype, raw):
    """float32 values of the blocks in raw (bytes or uint8 array) of type gtype."""
    b = np.frombuffer(bytes(raw), np.uint8).reshape(-1, BLOCK_BYTES[gtype])
    d = _f16(b, 0)
    if gtype == Q4_1:
        q = _nibbles(b[:, 4:20]).astype(np.float32)
        return (q * d + _f16(b, 2)).astype(np.float32).reshape(-1)
    if gtype == Q5_0:
        q = (_nibbles(b[:, 6:22]) | _bit5(b[:, 2:6]) << 4) - 16
        return (q.astype(np.float32) * d).reshape(-1)
    if gtype == Q5_1:
        q = (_nibbles(b[:, 8:24]) | _bit5(b[:, 4:8]) << 4).astype(np.float32)
        return (q * d + _f16(b, 2)).astype(np.float32).reshape(-1)
    if gtype == IQ4_NL:
        return (KVALUES_IQ4NL[_nibbles(b[:, 2:18])] * d).reshape(-1)
    raise ValueError("type %d is not a 32-element block type here" % gtype)
