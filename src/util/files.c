/*
 * files.c -- small file-system helpers (see util.h). Local.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
                     path, errno == EEXIST ? "not a folder" : strerror(errno));
      *p = keep;
      if (keep == '\0')
        break;
    }
  }
  fg_free(dir);
  return rc;
}
