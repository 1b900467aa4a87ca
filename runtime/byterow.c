/* byterow: unsigned bytes to floats, a row at a time (byterow.h). */
#include "byterow.h"

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

static const ByteRowConverter converters[] = {
#if defined(__x86_64__)
    {"avx512", row_avx512},
    {"avx2", row_avx2},
    {"sse2", row_sse2},
#endif
    {"scalar", row_scalar},
};
enum { NCONVERTERS = sizeof converters / sizeof converters[0] };

/* __builtin_cpu_supports reads a word filled at start-up: cheap per row. */
static bool host_runs(const ByteRowConverter *c) {
#if defined(__x86_64__)
  if (c->fn == row_avx512) return __builtin_cpu_supports("avx512f");
  if (c->fn == row_avx2) return __builtin_cpu_supports("avx2");
#endif
  (void)c;
  return true;
}

int byterow_converters(ByteRowConverter *out, int max) {
  int n = 0;
  for (int i = 0; i < NCONVERTERS && n < max; i++)
    if (host_runs(&converters[i])) out[n++] = converters[i];
  return n;
}

float byterow_divisor(double scale, const float value[256]) {
  float q = (float)(1.0 / scale);
  if (!(q > 0) || q > 1e30f) return 0;
  for (int b = 0; b < 256; b++)
    if ((float)b / q != value[b]) return 0;
  return q;
}

void byterow_convert(const uint8_t *src, size_t n, const float value[256], float divisor, float *dst) {
  if (!(divisor > 0)) {
    for (size_t k = 0; k < n; k++) dst[k] = value[src[k]];
    return;
  }
  for (int i = 0; i < NCONVERTERS; i++)
    if (host_runs(&converters[i])) {
      converters[i].fn(src, n, divisor, dst);
      return;
    }
}
