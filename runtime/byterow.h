/* byterow: rows of unsigned bytes to floats, for the data sets kept as bytes.
 *
 * A Fashion-MNIST batch is 64 rows of 784 bytes, converted every step.  Looked
 * up in a 256-entry table that is about one element per cycle, 20 us of a
 * 400 us step.  Where every byte's float is the byte divided by one float
 * (scale 1/255 and 1 are), the division is done in vector registers instead:
 * IEEE division is correctly rounded, so each element is bit for bit the
 * table's, whatever the vector width.  5-7 us a batch (AVX-512 or AVX2),
 * 10 us with SSE2 alone.
 */
#ifndef NNC_BYTEROW_H
#define NNC_BYTEROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dst[k] = (float)src[k] / divisor, k < n. */
typedef void ByteRowFn(const uint8_t *src, size_t n, float divisor, float *dst);
typedef struct {
  const char *name;   /* the instruction set: "avx512", "avx2", "sse2", "scalar" */
  ByteRowFn *fn;
} ByteRowConverter;

/* The divisor q with (float)b / q == value[b] for every byte b, where value
 * was filled as (float)(b * scale); 0 when there is none. */
float byterow_divisor(double scale, const float value[256]);
/* dst[k] = value[src[k]] for k < n, by division when divisor > 0 (from
 * byterow_divisor), in the widest vectors the host runs. */
void byterow_convert(const uint8_t *src, size_t n, const float value[256], float divisor, float *dst);
/* The converters the host can run, widest first, plain C last (for tests):
 * up to max of them into out; returns how many. */
int byterow_converters(ByteRowConverter *out, int max);

#endif
