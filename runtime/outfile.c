/* outfile: replaced files, appended logs and run locks (see outfile.h).
 *
 * The unnamed temporary is what makes a kill -9 harmless: until the commit
 * links it into the directory it has no name, and the kernel frees it when
 * the process dies.  The link goes through /proc/self/fd (linkat with
 * AT_EMPTY_PATH needs a capability); from there to the rename the file has
 * the name PATH.tmp.PID for a few system calls, and a file of that name
 * whose process is gone is removed by the next write to PATH.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* O_TMPFILE */
#endif
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The directory part of path ("." for a bare name), heap. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return xstrdup(".");
  char *dir = xstrdup(path);
  dir[slash == path ? 1 : slash - path] = '\0';
  return dir;
}

static const char *base_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* PATH.tmp.PID of this process, heap. */
static char *tmp_name(const char *path) {
  size_t n = strlen(path) + 32;
  char *t = xmalloc(n);
  snprintf(t, n, "%s.tmp.%ld", path, (long)getpid());
  return t;
}

/* The refusal of an existing path that is not a regular file. */
static bool refuse_kind(const char *path, const struct stat *st, char *err, size_t errlen) {
  if (S_ISDIR(st->st_mode)) return errorf(err, errlen, "%s: is a directory (give a file name)", path);
  if (S_ISLNK(st->st_mode)) {
    char to[512];
    ssize_t n = readlink(path, to, sizeof to - 1);
    to[n > 0 ? n : 0] = '\0';
    return errorf(err, errlen,
                  "%s: is a symbolic link to %s; nnc replaces output files whole and does not write through "
                  "links (give the file's own path)",
                  path, to);
  }
  const char *kind = S_ISCHR(st->st_mode) ? "character device" : S_ISBLK(st->st_mode) ? "block device"
                     : S_ISFIFO(st->st_mode) ? "FIFO" : "socket";
  return errorf(err, errlen, "%s: is a %s, not a regular file; nnc replaces output files whole and would remove it",
                path, kind);
}

bool outfile_check(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) return refuse_kind(path, &st, err, errlen);
  char *dir = dir_of(path);
  bool ok = access(dir, W_OK | X_OK) == 0 || errorf(err, errlen, "%s: cannot write into %s: %s", path, dir,
                                                    strerror(errno));
  free(dir);
  return ok;
}

/* Removes PATH.tmp.PID files whose process no longer exists (a kill -9
 * between link and rename, or a file system without unnamed files). */
static void remove_stale_temps(const char *path) {
  char *dir = dir_of(path);
  DIR *d = opendir(dir);
  free(dir);
  if (!d) return;
  const char *base = base_of(path);
  size_t blen = strlen(base);
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0) continue;
    char *end;
    long pid = strtol(n + blen + 5, &end, 10);
    struct stat st;
    if (*end || end == n + blen + 5 || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive, or not ours to judge */
    if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) unlinkat(dirfd(d), n, 0);
  }
  closedir(d);
}

static bool write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;   /* no progress and no reason: do not spin */
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* An unnamed file in path's directory, else (no O_TMPFILE there, or no
 * /proc to link it through) a new PATH.tmp.PID; *named says which. */
static int create_temp(const char *path, mode_t mode, bool *named) {
  *named = false;
  if (access("/proc/self/fd", X_OK) == 0) {
    char *dir = dir_of(path);
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    int e = errno;
    free(dir);
    if (fd >= 0) return fd;
    if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL) {
      errno = e;
      return -1;
    }
  }
  *named = true;
  char *tmp = tmp_name(path);
  unlink(tmp);   /* one of ours from an earlier life of this pid */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  free(tmp);
  return fd;
}

/* Drops the temporary: closes it and removes its name, if it has one. */
static void drop_temp(OutFile *o) {
  if (o->fd >= 0) close(o->fd);
  o->fd = -1;
  if (o->named) {
    char *tmp = tmp_name(o->path);
    unlink(tmp);
    free(tmp);
  }
  o->named = false;
}

/* outfile_stage with the file's mode and whether it must survive a power cut
 * (synced, and its directory after the rename). */
static bool stage(OutFile *o, const char *path, const OutPart *parts, int nparts, mode_t mode, bool durable, char *err,
                  size_t errlen) {
  *o = (OutFile){.path = xstrdup(path), .fd = -1, .durable = durable};
  if (!outfile_check(path, err, errlen)) return false;
  remove_stale_temps(path);
  o->fd = create_temp(path, mode, &o->named);
  if (o->fd < 0) {
    o->named = false;
    return errorf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
  }
  bool written = true;
  for (int i = 0; i < nparts && written; i++) written = write_all(o->fd, parts[i].data, parts[i].len);
  const char *what = !written                        ? "cannot write"
                     : durable && fsync(o->fd) != 0 ? "cannot sync"
                                                     : NULL;
  if (!what) return true;
  int e = errno;
  drop_temp(o);
  return errorf(err, errlen, "%s: %s: %s", path, what, strerror(e));
}

/* Makes the rename itself durable.  Best effort: the new file is already in
 * place when this runs, and some file systems refuse fsync on directories. */
static void sync_dir(const char *path) {
  char *dir = dir_of(path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

bool outfile_commit(OutFile *o, char *err, size_t errlen) {
  char *tmp = tmp_name(o->path);
  bool named = o->named;
  const char *what = NULL;
  if (!named) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    unlink(tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0) named = true;
    else what = "cannot create";
  }
  int e = errno;
  if (!what && close(o->fd) != 0) {
    what = "cannot close";
    e = errno;
  }
  o->fd = -1;
  struct stat st;
  bool ok = true;
  if (!what && lstat(o->path, &st) == 0 && !S_ISREG(st.st_mode)) {   /* appeared since the check */
    ok = refuse_kind(o->path, &st, err, errlen);
  } else if (!what && rename(tmp, o->path) != 0) {
    what = "cannot replace";
    e = errno;
  }
  if (what) ok = errorf(err, errlen, "%s: %s: %s", o->path, what, strerror(e));
  if (!ok && named) unlink(tmp);
  else if (ok && o->durable) sync_dir(o->path);
  free(tmp);
  free(o->path);
  *o = (OutFile){.fd = -1};
  return ok;
}

void outfile_discard(OutFile *o) {
  if (!o->path) return;
  drop_temp(o);
  free(o->path);
  *o = (OutFile){.fd = -1};
}

bool outfile_stage(OutFile *o, const char *path, const void *data, size_t len, char *err, size_t errlen) {
  return stage(o, path, &(OutPart){data, len}, 1, 0666, true, err, errlen);
}

static bool stage_and_commit(const char *path, const OutPart *parts, int nparts, mode_t mode, bool durable, char *err,
                             size_t errlen) {
  OutFile o;
  if (!stage(&o, path, parts, nparts, mode, durable, err, errlen)) {
    outfile_discard(&o);
    return false;
  }
  return outfile_commit(&o, err, errlen);
}

bool outfile_write(const char *path, const void *data, size_t len, char *err, size_t errlen) {
  return stage_and_commit(path, &(OutPart){data, len}, 1, 0666, true, err, errlen);
}

bool outfile_write_private(const char *path, const OutPart *parts, int nparts, char *err, size_t errlen) {
  return stage_and_commit(path, parts, nparts, 0600, false, err, errlen);
}

/* ---- run locks ---- */

/* The process id a lock file holds, or 0. */
static long holder_of(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = '\0';
  return strtol(buf, NULL, 10);
}

/* Writes this process's id into its lock file, for the message of a run
 * refused.  On a full disk the lock holds without it (holder_of reads 0). */
static void note_holder(int fd) {
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) return;   /* the lock holds all the same */
}

bool outfile_lock(OutLock *l, const char *path, char *err, size_t errlen) {
  size_t n = strlen(path) + 6;
  *l = (OutLock){.path = xmalloc(n), .fd = -1};
  snprintf(l->path, n, "%s.lock", path);
  /* a holder that finishes removes the file: a lock taken on the removed
   * file is worth nothing, so it is taken again on the new one */
  for (int tries = 0; tries < 8; tries++) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) break;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      long pid = e == EWOULDBLOCK ? holder_of(fd) : 0;
      close(fd);
      bool r = e != EWOULDBLOCK ? errorf(err, errlen, "%s: cannot lock %s: %s", path, l->path, strerror(e))
               : pid > 0 ? errorf(err, errlen, "%s: in use by process %ld (it holds %s); two runs writing one "
                                               "checkpoint would overwrite each other's work", path, pid, l->path)
                         : errorf(err, errlen, "%s: in use by another process (it holds %s)", path, l->path);
      outfile_unlock(l);
      return r;
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      note_holder(fd);
      l->fd = fd;
      return true;
    }
    close(fd);
  }
  bool r = errorf(err, errlen, "%s: cannot lock %s: %s", path, l->path, strerror(errno));
  outfile_unlock(l);
  return r;
}

void outfile_unlock(OutLock *l) {
  if (l->fd >= 0 && l->path) {
    unlink(l->path);   /* before the close, so no one locks a file about to vanish */
    close(l->fd);
  }
  free(l->path);
  *l = (OutLock){.fd = -1};
}

bool outfile_same(const char *a, const char *b) {
  if (strcmp(a, b) == 0) return true;
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- appended logs and streams ---- */

static bool outlog_open_as(OutLog *l, const char *path, const char *mode, char *err, size_t errlen) {
  *l = (OutLog){0};
  struct stat st;
  bool existed = stat(path, &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) return errorf(err, errlen, "%s: is a directory (give a file name)", path);
  /* starting afresh truncates: never through a link (a link planted in a
   * shared directory would empty its target) nor into a pipe, which would
   * block; a device such as /dev/full is not harmed by truncation */
  if (mode[0] == 'w' && lstat(path, &st) == 0 && (S_ISLNK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
    return errorf(err, errlen, "%s: is a %s; nnc starts a log afresh only in a regular file (or give --log-append to add "
                  "to it)", path, S_ISLNK(st.st_mode) ? "symbolic link" : S_ISFIFO(st.st_mode) ? "pipe" : "socket");
  FILE *f = fopen(path, mode);
  if (!f) return errorf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  setvbuf(f, NULL, _IOFBF, 1 << 16);   /* a record reaches the file only at a flush, whole */
  *l = (OutLog){.f = f, .path = xstrdup(path), .created = !existed};
  return true;
}

bool outlog_open(OutLog *l, const char *path, char *err, size_t errlen) {
  return outlog_open_as(l, path, "a", err, errlen);
}

bool outlog_start(OutLog *l, const char *path, char *err, size_t errlen) {
  return outlog_open_as(l, path, "w", err, errlen);
}

/* fflush and the error flag, with the reason when the system gave one. */
static bool flush_checked(FILE *f, const char *name, char *err, size_t errlen) {
  errno = 0;
  if (fflush(f) == 0 && !ferror(f)) return true;
  return errorf(err, errlen, "%s: cannot write: %s", name, errno ? strerror(errno) : "write error");
}

bool outlog_flush(OutLog *l, char *err, size_t errlen) {
  bool ok = flush_checked(l->f, l->path, err, errlen);
  if (!ok) l->failed = true;
  return ok;
}

bool outlog_close(OutLog *l, char *err, size_t errlen) {
  if (!l->f) return true;
  if (errlen) err[0] = 0;
  bool ok = l->failed ? false : flush_checked(l->f, l->path, err, errlen);
  struct stat st;
  bool empty = fstat(fileno(l->f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
  if (fclose(l->f) != 0 && ok) ok = errorf(err, errlen, "%s: cannot write: %s", l->path, strerror(errno));
  if (!ok && l->created && empty) unlink(l->path);   /* nothing of this run reached it */
  free(l->path);
  *l = (OutLog){0};
  return ok;
}

bool outfile_close_stream(FILE *f, const char *name, char *err, size_t errlen) {
  bool ok = flush_checked(f, name, err, errlen);
  if (fclose(f) != 0 && ok) ok = errorf(err, errlen, "%s: cannot write: %s", name, strerror(errno));
  return ok;
}
