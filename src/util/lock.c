/*
 * lock.c -- who owns an output: an exclusive lock for the whole run (see
 * util.h). Local (one process takes a lock; callers agree over ranks).
 *
 *   int fg_lock_output(const char *output, fg_output_lock **out, char *note, size_t n,
 *                      fg_error *err)
 *     Takes an exclusive fcntl (POSIX record) lock on "<output>.lock",
 *     creating it and output's parent folders, and writes "host pid" into
 *     it. The kernel drops the lock when the process ends in any way
 *     (kill -9 included), so a lock file nobody holds is stale by
 *     definition: it is taken over, and note (n bytes, may be NULL) says
 *     whose it was and whether that process is gone ("" when there was no
 *     earlier holder). FG_ERR_INPUT when another process holds the lock,
 *     naming the holder's host and pid; FG_ERR_RUNTIME when the lock file
 *     cannot be made. *out is NULL on failure.
 *
 *   void fg_unlock_output(fg_output_lock *l)
 *     Removes the lock file, then releases the lock (NULL: nothing to do).
 *
 * Unlinking a lock file while a rival has it open could give two owners
 * (one on the unlinked inode, one on a new file); fg_output_lock therefore
 * checks after locking that the name still leads to the inode it locked,
 * and tries again if not.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flowgen/error.h"
#include "flowgen/util.h"

struct fg_output_lock {
  int fd;
  char *path;
};

static const char WHERE[] = "fg_output_lock [lock.c]";

/* The "host pid" the file holds (empty host and pid 0 if unreadable). */
static void read_holder(int fd, char *host, size_t hn, long *pid)
{
  char buf[320] = "";
  ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
  buf[r > 0 ? r : 0] = '\0';
  host[0] = '\0';
  *pid = 0;
  char fmt[32];
  snprintf(fmt, sizeof fmt, "%%%zus %%ld", hn - 1);
  if (sscanf(buf, fmt, host, pid) != 2) {
    host[0] = '\0';
    *pid = 0;
  }
}

/* One attempt: 1 locked, 0 the name moved under us (retry), else an error. */
static int try_lock(const char *output, const char *path, const char *me, int *fd_out,
                    char *note, size_t n, fg_error *err)
{
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return fg_fail(err, FG_ERR_RUNTIME, WHERE, "cannot create lock file '%s': %s", path,
                   strerror(errno));
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  char host[256];
  long pid;
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int saved = errno;
    read_holder(fd, host, sizeof host, &pid);
    close(fd);
    if (saved == EACCES || saved == EAGAIN)
      return fg_fail(err, FG_ERR_INPUT, WHERE,
                     "'%s': the output is in use by another run (host %s, pid %ld; lock file "
                     "'%s'): wait for it to finish or stop it first", output,
                     host[0] ? host : "unknown", pid, path);
    return fg_fail(err, FG_ERR_RUNTIME, WHERE, "cannot lock '%s': %s", path, strerror(saved));
  }
  struct stat a, b;
  if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
    close(fd); /* the holder removed it between our open and our lock */
    return 0;
  }
  read_holder(fd, host, sizeof host, &pid);
  if (note != NULL && n > 0) {
    char self[256];
    if (gethostname(self, sizeof self) != 0)
      self[0] = '\0';
    self[sizeof self - 1] = '\0';
    if (pid <= 0)
      note[0] = '\0';
    else if (strcmp(host, self) == 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
      snprintf(note, n, "stale lock '%s' of pid %ld on %s taken over (that process is gone)",
               path, pid, host);
    else
      snprintf(note, n, "stale lock '%s' of pid %ld on %s taken over (it no longer holds it)",
               path, pid, host);
  }
  size_t len = strlen(me);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me, len, 0) != (ssize_t)len) {
    int saved = errno;
    close(fd);
    return fg_fail(err, FG_ERR_RUNTIME, WHERE, "cannot write lock file '%s': %s", path,
                   strerror(saved));
  }
  *fd_out = fd;
  return 1;
}

int fg_lock_output(const char *output, fg_output_lock **out, char *note, size_t n, fg_error *err)
{
  *out = NULL;
  if (note != NULL && n > 0)
    note[0] = '\0';
  int rc = fg_make_parent_dir(output, err);
  if (rc != FG_OK)
    return rc;
  fg_output_lock *l = fg_alloc(sizeof *l, err, WHERE);
  size_t len = strlen(output);
  char *path = l != NULL ? fg_alloc(len + 6, err, WHERE) : NULL;
  if (path == NULL) {
    fg_free(l);
    return FG_ERR_RUNTIME;
  }
  snprintf(path, len + 6, "%s.lock", output);
  char me[320], host[256];
  if (gethostname(host, sizeof host) != 0)
    snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = '\0';
  snprintf(me, sizeof me, "%s %ld\n", host, (long)getpid());
  int fd = -1, got = 0;
  for (int attempt = 0; attempt < 100 && got == 0; ++attempt)
    got = try_lock(output, path, me, &fd, note, n, err);
  if (got == 0)
    got = fg_fail(err, FG_ERR_RUNTIME, WHERE, "'%s': the lock file keeps being replaced", path);
  if (got != 1) {
    fg_free(path);
    fg_free(l);
    return got;
  }
  l->fd = fd;
  l->path = path;
  *out = l;
  return FG_OK;
}

void fg_unlock_output(fg_output_lock *l)
{
  if (l == NULL)
    return;
  unlink(l->path);
  close(l->fd);
  fg_free(l->path);
  fg_free(l);
}
