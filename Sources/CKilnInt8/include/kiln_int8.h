// The int8 GEMM micro-kernel Swift cannot express: AVX-512 VNNI (vpdpbusd), behind a run-time
// CPU check. Packing, blocking and the portable fallback are Swift (KilnKernels' Int8Gemm).

#ifndef KILN_INT8_H
#define KILN_INT8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU (and OS) runs AVX-512F, AVX-512BW and AVX-512 VNNI instructions, else 0.
int kiln_int8_vnni_available(void);

/// One tile of C (int32): rows 0..<rows (<= 14) and columns 0..<columns (<= 32) of
/// `c[i * ldc + j] = offsets[j] + sum over q < k4, t < 4 of a[(q * 14 + i) * 4 + t] * b[(q * 32 + j) * 4 + t]`,
/// `a` unsigned bytes (a 14-row panel: 4 consecutive k of row i per 32-bit group), `b` signed
/// bytes (a 32-column panel: 4 consecutive k of column j per 32-bit lane), sums wrapping modulo
/// 2^32. Call only when kiln_int8_vnni_available() returned 1.
void kiln_u8s8_tile_14x32_vnni(size_t k4, const uint8_t *a, const int8_t *b, const int32_t *offsets,
                               int32_t *c, size_t ldc, size_t rows, size_t columns);

#ifdef __cplusplus
}
#endif

#endif
