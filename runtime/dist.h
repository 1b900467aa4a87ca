/* dist: data-parallel training over MPI (docs/distributed.md).
 *
 * `mpirun -np N nnc train model.nn` runs N ranks of the same trainer.  Each
 * takes its fixed shard of every global batch (trainer.h, TrainerRanks),
 * whose gradients its graph weights by the shard's share of the batch.  The
 * update is sharded (ZeRO stage 1; trainer_slice): a before-update hook
 * reduce-scatters the flat gradient buffer, so each rank's slice holds the
 * global batch's mean gradient; each rank updates its slice of the
 * parameters and optimizer state; an after-step hook all-gathers the
 * parameters (bits), and a whole-store hook the optimizer state.  Ranks
 * that all run on one machine keep their gradients and one copy of the
 * parameters in memory they share: the reduce-scatter reads the other
 * ranks' gradients in place and the all-gather is a barrier.  Otherwise
 * both go around a ring of messages.  Clipping
 * by the global norm reads the squared norm summed over the slices.
 * After each step the ranks agree on stopping (a signal seen by any rank
 * stops all at the same step) and average batch-norm running statistics;
 * after each epoch they check that their parameters and state are still the
 * same bits.
 *
 * A rank that fails reports why, then dist_abort stops every rank (Open MPI
 * also ends the job when a rank dies), so a run never hangs on a missing
 * rank.  Built without MPI (make MPI=0), dist_start refuses with a clear
 * message.
 */
#ifndef NNC_DIST_H
#define NNC_DIST_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "trainer.h"

/* Whether this process was started by an MPI launcher (mpirun sets
 * OMPI_COMM_WORLD_SIZE, Hydra PMI_SIZE, PMIx PMIX_RANK). */
bool dist_launched(void);

/* Joins the MPI job and fills *r (rank, size, the metric sum).  false with
 * a message printed (also in a build without MPI). */
bool dist_start(TrainerRanks *r);
/* Adds the gradient sum (and, sharded, the gathers), the stop agreement, the
 * running-statistics average and the weight check to t; stop is the flag a
 * signal sets. */
void dist_attach(Trainer *t, volatile sig_atomic_t *stop);
/* Says this rank failed and stops every rank (does not return). */
void dist_abort(int status);
/* Leaves the MPI job (a run that ended the same way on every rank). */
void dist_finish(void);
/* Time spent summing gradients and the steps that did, for --timings. */
void dist_print_timings(FILE *out);

#endif
