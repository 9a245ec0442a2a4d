#include "kiln_int8.h"

#if defined(__x86_64__)
#include <immintrin.h>

int kiln_int8_vnni_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni");
}

#define KILN_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

// Row i of the tile: broadcast its 4 bytes of A, multiply-add against both vectors of B.
#define KILN_ROW(i)                                                                   \
    do {                                                                              \
        const __m512i s = _mm512_set1_epi32(*(const int32_t *)(a + 4 * (i)));         \
        acc##i##0 = _mm512_dpbusd_epi32(acc##i##0, s, b0);                            \
        acc##i##1 = _mm512_dpbusd_epi32(acc##i##1, s, b1);                            \
    } while (0)

#define KILN_STORE(i)                                                                 \
    do {                                                                              \
        if ((i) < rows) {                                                             \
            _mm512_mask_storeu_epi32(c + (i) * ldc, m0, acc##i##0);                   \
            _mm512_mask_storeu_epi32(c + (i) * ldc + 16, m1, acc##i##1);              \
        }                                                                             \
    } while (0)

KILN_VNNI void kiln_u8s8_tile_14x32_vnni(size_t k4, const uint8_t *a, const int8_t *b, const int32_t *offsets,
                                          int32_t *c, size_t ldc, size_t rows, size_t columns) {
    const __m512i o0 = _mm512_loadu_si512((const void *)offsets);
    const __m512i o1 = _mm512_loadu_si512((const void *)(offsets + 16));
    __m512i acc00 = o0, acc01 = o1, acc10 = o0, acc11 = o1, acc20 = o0, acc21 = o1, acc30 = o0, acc31 = o1;
    __m512i acc40 = o0, acc41 = o1, acc50 = o0, acc51 = o1, acc60 = o0, acc61 = o1, acc70 = o0, acc71 = o1;
    __m512i acc80 = o0, acc81 = o1, acc90 = o0, acc91 = o1;
    __m512i acc100 = o0, acc101 = o1, acc110 = o0, acc111 = o1, acc120 = o0, acc121 = o1, acc130 = o0, acc131 = o1;
    for (size_t q = 0; q < k4; q++) {
        const __m512i b0 = _mm512_loadu_si512((const void *)b);
        const __m512i b1 = _mm512_loadu_si512((const void *)(b + 64));
        KILN_ROW(0); KILN_ROW(1); KILN_ROW(2); KILN_ROW(3); KILN_ROW(4); KILN_ROW(5); KILN_ROW(6);
        KILN_ROW(7); KILN_ROW(8); KILN_ROW(9); KILN_ROW(10); KILN_ROW(11); KILN_ROW(12); KILN_ROW(13);
        a += 14 * 4;
        b += 32 * 4;
    }
    const __mmask16 m0 = columns >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << columns) - 1);
    const __mmask16 m1 = columns >= 32 ? (__mmask16)0xFFFF
        : columns > 16 ? (__mmask16)((1u << (columns - 16)) - 1) : (__mmask16)0;
    KILN_STORE(0); KILN_STORE(1); KILN_STORE(2); KILN_STORE(3); KILN_STORE(4); KILN_STORE(5); KILN_STORE(6);
    KILN_STORE(7); KILN_STORE(8); KILN_STORE(9); KILN_STORE(10); KILN_STORE(11); KILN_STORE(12); KILN_STORE(13);
}

#else

int kiln_int8_vnni_available(void) { return 0; }

void kiln_u8s8_tile_14x32_vnni(size_t k4, const uint8_t *a, const int8_t *b, const int32_t *offsets,
                               int32_t *c, size_t ldc, size_t rows, size_t columns) {
    // Never called: kiln_int8_vnni_available() is 0 on this architecture.
    (void)k4; (void)a; (void)b; (void)offsets; (void)c; (void)ldc; (void)rows; (void)columns;
}

#endif
