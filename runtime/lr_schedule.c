/* lr_schedule: learning-rate schedules (see lr_schedule.h). */
#include "lr_schedule.h"

#include <math.h>

double lr_schedule_rate(const ScheduleConfig *s, double base, int64_t epoch, int epochs, double scale) {
  switch (s->kind) {
  case SCHED_NONE: return base;
  case SCHED_STEP: return base * pow(s->gamma, (double)(epoch / s->every));
  case SCHED_EXPONENTIAL: return base * pow(s->gamma, (double)epoch);
  case SCHED_COSINE: {
    if (epoch < s->warmup) return base * (double)(epoch + 1) / s->warmup;
    int span = epochs - s->warmup > 1 ? epochs - s->warmup : 1;
    double phase = (double)(epoch - s->warmup) / span;
    return s->min + (base - s->min) * 0.5 * (1 + cos(3.14159265358979323846 * phase));
  }
  case SCHED_PLATEAU: return fmax(base * scale, s->min);
  }
  return base;
}

void lr_schedule_observe(const ScheduleConfig *s, CkptPosition *pos, double loss) {
  if (s->kind != SCHED_PLATEAU) return;
  if (loss < pos->plateau_best) {
    pos->plateau_best = loss;
    pos->plateau_bad = 0;
  } else if (++pos->plateau_bad >= s->patience) {
    pos->lr_scale = fmax(pos->lr_scale * s->factor, 1e-300);   /* stays a valid scale */
    pos->plateau_bad = 0;
  }
}
