/* byterow: unsigned bytes to floats, a row at a time (byterow.h). */
#include "byterow.h"

#include <stdatomic.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void row_scalar(const uint8_t *src, size_t n, float divisor, float *dst) {
  for (size_t k = 0; k < n; k++) dst[k] = (float)src[k] / divisor;
}

#if defined(__x86_64__)
/* SSE2 is every x86-64's baseline: no dispatch needed. */
static void row_sse2(const uint8_t *src, size_t n, float divisor, float *dst) {
  const __m128 q = _mm_set1_ps(divisor);
  const __m128i zero = _mm_setzero_si128();
  size_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(src + k));
    __m128i lo = _mm_unpacklo_epi8(b, zero), hi = _mm_unpackhi_epi8(b, zero);
    _mm_storeu_ps(dst + k, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)), q));
    _mm_storeu_ps(dst + k + 4, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)), q));
    _mm_storeu_ps(dst + k + 8, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)), q));
    _mm_storeu_ps(dst + k + 12, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)), q));
  }
  row_scalar(src + k, n - k, divisor, dst + k);
}

__attribute__((target("avx2"))) static void row_avx2(const uint8_t *src, size_t n, float divisor, float *dst) {
  const __m256 q = _mm256_set1_ps(divisor);
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    __m128i b = _mm_loadl_epi64((const __m128i *)(src + k));
    _mm256_storeu_ps(dst + k, _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)), q));
  }
  row_scalar(src + k, n - k, divisor, dst + k);
}

__attribute__((target("avx512f"))) static void row_avx512(const uint8_t *src, size_t n, float divisor, float *dst) {
  const __m512 q = _mm512_set1_ps(divisor);
  size_t k = 0;
  for (; k + 16 <= n; k += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(src + k));
    _mm512_storeu_ps(dst + k, _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), q));
  }
  row_scalar(src + k, n - k, divisor, dst + k);
}
#endif

static bool always(void) { return true; }
#if defined(__x86_64__)
static bool has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
static bool has_avx2(void) { return __builtin_cpu_supports("avx2"); }
#endif

/* Widest first; the host runs an entry when its test says so. */
static const struct {
  ByteRowConverter c;
  bool (*host_runs)(void);
} converters[] = {
#if defined(__x86_64__)
    {{"avx512", row_avx512}, has_avx512},
    {{"avx2", row_avx2}, has_avx2},
    {{"sse2", row_sse2}, always},
#endif
    {{"scalar", row_scalar}, always},
};
enum { NCONVERTERS = sizeof converters / sizeof converters[0] };

int byterow_converters(ByteRowConverter *out, int max) {
  int n = 0;
  for (int i = 0; i < NCONVERTERS && n < max; i++)
    if (converters[i].host_runs()) out[n++] = converters[i].c;
  return n;
}

/* The widest converter the host runs, chosen at the first row. */
static ByteRowFn *host_converter(void) {
  static _Atomic(ByteRowFn *) chosen;
  ByteRowFn *fn = atomic_load_explicit(&chosen, memory_order_relaxed);
  if (!fn) {
    ByteRowConverter best;
    byterow_converters(&best, 1);
    atomic_store_explicit(&chosen, fn = best.fn, memory_order_relaxed);
  }
  return fn;
}

float byterow_divisor(double scale, const float value[256]) {
  float q = (float)(1.0 / scale);
  if (!(q > 0) || q > 1e30f) return 0;
  for (int b = 0; b < 256; b++)
    if ((float)b / q != value[b]) return 0;
  return q;
}

void byterow_convert(const uint8_t *src, size_t n, const float value[256], float divisor, float *dst) {
  if (divisor > 0) {
    host_converter()(src, n, divisor, dst);
    return;
  }
  for (size_t k = 0; k < n; k++) dst[k] = value[src[k]];
}
