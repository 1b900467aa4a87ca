/* init: first values of PARAM and STATE tensors.
 *
 * The compiler records how each persistent leaf starts (IrInit, ir.h); the
 * runtime fills the leaf's float buffer from it before the first step.  Random
 * rules draw from the caller's Rng in row-major element order, so the same
 * seed and the same sequence of init_fill calls give bit-identical weights.
 */
#ifndef NNC_INIT_H
#define NNC_INIT_H

#include "ir.h"
#include "rng.h"

/* Writes numel(shape) floats to out following init (every InitKind, as ir.h
 * documents them).  XAVIER and KAIMING take fan_in/fan_out from init, or from
 * the shape's first/last dimension when those are 0 (1 for a scalar).  Rules
 * without randomness (ZEROS, CONST, VALUES) do not touch rng. */
void init_fill(const IrInit *init, Shape shape, float *out, Rng *rng);

#endif
