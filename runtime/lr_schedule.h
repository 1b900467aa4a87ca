/* lr_schedule: the learning rate of each epoch (the train block's
 * `schedule = ...`, config.h).
 *
 * The rate of an epoch is a function of the run's base rate (--lr or the
 * model's), the epoch's number and, for reduce_on_plateau, the scale the run
 * has reached; the trainer writes it into the optimizer's learning-rate leaf
 * before the epoch, so the compiled step never changes.  Everything the
 * schedule remembers lives in the checkpoint position (ckpt.h), so a resumed
 * run continues the schedule exactly.
 */
#ifndef NNC_LR_SCHEDULE_H
#define NNC_LR_SCHEDULE_H

#include <stdint.h>

#include "ckpt.h"
#include "config.h"

/* The rate for epoch `epoch` (0 is the first) of a run of `epochs`. */
double lr_schedule_rate(const ScheduleConfig *s, double base, int64_t epoch, int epochs, double scale);

/* reduce_on_plateau, after an epoch whose monitored loss (validation, else
 * training) was `loss`: updates pos's plateau fields and scale.  Other
 * schedules remember nothing. */
void lr_schedule_observe(const ScheduleConfig *s, CkptPosition *pos, double loss);

#endif
