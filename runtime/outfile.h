/* outfile: how nnc writes every file (the guarantees are docs/reliability.md).
 *
 * Replaced files (checkpoints, compile outputs, predictions): the contents
 * are written whole to an unnamed temporary file in the target's directory
 * (O_TMPFILE; a named PATH.tmp.PID on file systems without unnamed files),
 * synced, given a name only then and renamed over the target, and the
 * directory is synced.  A crash, a kill or a full disk leaves the old file or
 * the new one, never a mix; a failure removes the temporary file, and named
 * temporaries that a killed process left are removed by the next write to
 * the same target.  Only a missing path or a regular file is replaced: a
 * directory, device, FIFO, socket or symbolic link is refused, never
 * replaced (replacing a link would cut it; writing through it would let a
 * link planted in a shared directory aim nnc anywhere).
 *
 * Appended files (the --log): fully buffered, flushed per record, every
 * flush and the close checked.
 *
 * Locks: a run that owns a checkpoint path holds an advisory flock on
 * PATH.lock, which holds its process id, so a second run is refused with the
 * holder's id instead of silently racing it.
 *
 * Every failure comes back as false with "PATH: reason" in err.
 */
#ifndef NNC_OUTFILE_H
#define NNC_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Whether path may be written: its directory exists and is writable, and
 * path is missing or a regular file.  Commands check their outputs with
 * this before any long work, so a bad path fails at once. */
bool outfile_check(const char *path, char *err, size_t errlen);
/* Whether two paths name the same file: the same path, or one existing file
 * under two names (links, "./x" and "x"). */
bool outfile_same(const char *a, const char *b);

/* A replacement in two steps, so several files can be written first and
 * put in place together.  outfile_stage writes data[0..len) to a synced
 * temporary beside path (path itself is untouched); outfile_commit renames
 * it over path; outfile_discard drops a staged file (no-op after commit or
 * on a zeroed OutFile).  Each OutFile must end in commit or discard. */
typedef struct {
  char *path;   /* the destination (heap); NULL once committed or discarded */
  int fd;       /* the staged temporary, or -1 */
  bool named;   /* the temporary has the name PATH.tmp.PID (else it is unnamed) */
  bool durable; /* synced, and its directory after the rename */
} OutFile;

bool outfile_stage(OutFile *o, const char *path, const void *data, size_t len, char *err, size_t errlen);
bool outfile_commit(OutFile *o, char *err, size_t errlen);
void outfile_discard(OutFile *o);

/* Both steps at once. */
bool outfile_write(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* The same for a file only this user may read or write (mode 0600) that no
 * one needs after a power cut, so it is not synced: cache entries, where a
 * lost entry is a miss and a torn one fails its checksum.  Its contents are
 * the parts one after another (a header and a large payload need no copy
 * into one buffer). */
typedef struct {
  const void *data;
  size_t len;
} OutPart;
bool outfile_write_private(const char *path, const OutPart *parts, int nparts, char *err, size_t errlen);

/* An exclusive advisory lock on path for as long as the run lasts. */
typedef struct {
  char *path;   /* the lock file, PATH.lock (heap) */
  int fd;       /* it, open and locked, or -1 */
} OutLock;

/* Takes the lock, or refuses naming the process that holds it. */
bool outfile_lock(OutLock *l, const char *path, char *err, size_t errlen);
void outfile_unlock(OutLock *l);   /* removes PATH.lock; no-op on a zeroed OutLock */

/* A file opened for appending records (created if missing). */
typedef struct {
  FILE *f;        /* the stream, fully buffered */
  char *path;     /* for messages (heap) */
  bool created;   /* this run created it: removed at close if nothing reached it */
  bool failed;    /* a flush failed and said why: closing fails without saying it again */
} OutLog;

bool outlog_open(OutLog *l, const char *path, char *err, size_t errlen);
/* The same, but the file starts empty (a new log replacing an old one). */
bool outlog_start(OutLog *l, const char *path, char *err, size_t errlen);
/* Pushes the records written since the last flush to the file. */
bool outlog_flush(OutLog *l, char *err, size_t errlen);
/* Flushes and closes; no-op on a zeroed OutLog.  After a failed flush it
 * returns false with err empty (the reason was given then). */
bool outlog_close(OutLog *l, char *err, size_t errlen);

/* Flushes and closes a stream nnc did not open (standard output), naming
 * it as name in the message. */
bool outfile_close_stream(FILE *f, const char *name, char *err, size_t errlen);

#endif
