/* init: IrInit rules -> float buffers.
 *
 * Sums are done in double and rounded once per element.
 */
#include "init.h"

#include <math.h>

/* Fans default to the outer and inner dimensions: for a [in, out] weight
 * matrix used as x @ W these are the number of inputs and outputs. */
static double fan(int given, Shape s, int axis) {
  if (given > 0) return given;
  return s.ndim > 0 ? s.dim[axis] : 1;
}

void init_fill(const IrInit *init, Shape shape, float *out, Rng *rng) {
  int64_t n = shape_numel(shape);
  double mean = 0, std = 0;
  switch (init->kind) {
  case INIT_ZEROS:
    for (int64_t i = 0; i < n; i++) out[i] = 0.0f;
    return;
  case INIT_CONST:
    for (int64_t i = 0; i < n; i++) out[i] = (float)init->a;
    return;
  case INIT_VALUES:
    for (int64_t i = 0; i < n; i++) out[i] = (float)init->values[i];
    return;
  case INIT_UNIFORM:
    /* Rounding to float can land on b itself; the range is half-open. */
    for (int64_t i = 0; i < n; i++) {
      float v = (float)(init->a + (init->b - init->a) * rng_double(rng));
      out[i] = v >= (float)init->b && init->b > init->a ? nextafterf((float)init->b, (float)init->a) : v;
    }
    return;
  case INIT_NORMAL:
    mean = init->a;
    std = init->b;
    break;
  case INIT_XAVIER:
    std = sqrt(2.0 / (fan(init->fan_in, shape, 0) + fan(init->fan_out, shape, shape.ndim - 1)));
    break;
  case INIT_KAIMING:
    std = sqrt(2.0 / fan(init->fan_in, shape, 0));
    break;
  }
  for (int64_t i = 0; i < n; i++) out[i] = (float)(mean + std * rng_normal(rng));
}
