/*
 * files.c -- small file-system helpers (see util.h). Local.
 *
 *   int fg_make_parent_dir(const char *path, fg_error *err)
 *     mkdir -p of path's folder; FG_ERR_RUNTIME naming the folder.
 *
 *   int fg_check_writable_output(const char *path, fg_error *err)
 *     Whether a run will be able to write path (up front, before any work):
 *     creates path's folder, refuses a path that is a folder or a
 *     non-regular file, and creates and removes a probe file beside it
 *     (outputs are written to a temporary name in the same folder and
 *     renamed). FG_ERR_INPUT "cannot write 'path': reason" with the OS
 *     reason (strerror) otherwise. Leaves an existing path untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flowgen/error.h"
#include "flowgen/util.h"

int fg_make_parent_dir(const char *path, fg_error *err)
{
  static const char where[] = "fg_make_parent_dir [files.c]";
  size_t n = strlen(path);
  char *dir = fg_alloc(n + 1, err, where);
  if (dir == NULL)
    return FG_ERR_RUNTIME;
  memcpy(dir, path, n + 1);
  char *slash = strrchr(dir, '/');
  int rc = FG_OK;
  if (slash != NULL && slash != dir) {
    *slash = '\0';
    for (char *p = dir + 1; rc == FG_OK; ++p) {
      if (*p != '/' && *p != '\0')
        continue;
      char keep = *p;
      *p = '\0';
      struct stat st;
      if (mkdir(dir, 0777) != 0 &&
          (errno != EEXIST || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = fg_fail(err, FG_ERR_RUNTIME, where, "cannot create folder '%s' for '%s': %s", dir,
                     path, strerror(errno == EEXIST ? ENOTDIR : errno));
      *p = keep;
      if (keep == '\0')
        break;
    }
  }
  fg_free(dir);
  return rc;
}

/* The folder of path ("." for a bare name) into dir. */
static int folder_of(const char *path, char *dir, size_t cap)
{
  const char *slash = strrchr(path, '/');
  int n = slash == NULL ? snprintf(dir, cap, ".")
                        : snprintf(dir, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

int fg_check_writable_output(const char *path, fg_error *err)
{
  static const char where[] = "fg_check_writable_output [files.c]";
  if (path == NULL || path[0] == '\0')
    return fg_fail(err, FG_ERR_INPUT, where, "no output path given");
  fg_error mk = {0};
  if (fg_make_parent_dir(path, &mk) != FG_OK) {
    const char *why = strstr(mk.msg, "cannot create folder");
    return fg_fail(err, FG_ERR_INPUT, where, "cannot write '%s': %s", path, why ? why : mk.msg);
  }
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return fg_fail(err, FG_ERR_INPUT, where, "cannot write '%s': it is a folder", path);
    if (!S_ISREG(st.st_mode))
      return fg_fail(err, FG_ERR_INPUT, where, "cannot write '%s': not a regular file", path);
  } else if (errno != ENOENT) {
    return fg_fail(err, FG_ERR_INPUT, where, "cannot write '%s': %s", path, strerror(errno));
  }
  char dir[4096], probe[4096 + 64];
  if (folder_of(path, dir, sizeof dir) != 0)
    return fg_fail(err, FG_ERR_INPUT, where, "cannot write '%s': path too long", path);
  int fd = -1, e = 0;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    snprintf(probe, sizeof probe, "%s/.flowgen-probe.%ld.%d", dir, (long)getpid(), i);
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    e = fd < 0 ? errno : 0;
    if (fd < 0 && e != EEXIST)
      break;
  }
  if (fd < 0)
    return fg_fail(err, FG_ERR_INPUT, where, "cannot write '%s': cannot create a file in '%s': %s",
                   path, dir, strerror(e));
  close(fd);
  unlink(probe);
  return FG_OK;
}
