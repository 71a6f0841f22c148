/* Small file-system helpers for the state directory. Every file the emulator writes is mode 0600
 * and every directory 0700: they hold keys. */
#ifndef FSUTIL_H
#define FSUTIL_H

#include <stddef.h>

enum fs_result { FS_OK = 0, FS_ERR_IO, FS_ERR_TOO_BIG, FS_ERR_NOMEM };

/* Creates dir (one level) with mode 0700 if it does not exist. */
enum fs_result fs_ensure_dir(const char *dir);

/* Creates a new directory under $TMPDIR (or /tmp); *out is its path (caller frees). */
enum fs_result fs_make_temp_dir(const char *prefix, char **out);

/* Deletes dir and everything under it. Best effort; symlinks are removed, never followed. */
void fs_remove_tree(const char *dir);

/* Writes data to path through a temporary file, fsync and rename, so a reader sees either the
 * old or the whole new file. */
enum fs_result fs_write_atomic(const char *path, const void *data, size_t len, int mode);

/* Reads a whole file of at most max bytes; *out is NUL-terminated (caller frees). */
enum fs_result fs_read_file(const char *path, size_t max, char **out, size_t *out_len);

/* 1 when path exists. */
int fs_exists(const char *path);

/* dir + "/" + name, or NULL on allocation failure. */
char *fs_join(const char *dir, const char *name);

#endif
