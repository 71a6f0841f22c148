#include "fsutil.h"

#include "transport/fd_write.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum fs_result fs_ensure_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return FS_OK;
    return FS_ERR_IO;
}

enum fs_result fs_make_temp_dir(const char *prefix, char **out)
{
    const char *tmp = getenv("TMPDIR");
    char *path = NULL;
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if (asprintf(&path, "%s/%sXXXXXX", tmp, prefix) < 0)
        return FS_ERR_NOMEM;
    if (mkdtemp(path) == NULL) {
        free(path);
        return FS_ERR_IO;
    }
    *out = path;
    return FS_OK;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void fs_remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static enum fs_result write_all(int fd, const void *data, size_t len)
{
    return ih_write_all(fd, data, len) == 0 ? FS_OK : FS_ERR_IO;
}

/* The temporary file is made with mkstemp in the target's directory: a fresh name opened with
 * O_EXCL, so nothing planted at a guessable name is followed or overwritten. */
enum fs_result fs_write_atomic(const char *path, const void *data, size_t len, int mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
        return FS_ERR_NOMEM;
    enum fs_result r = FS_ERR_IO;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd >= 0) {
        r = fchmod(fd, (mode_t)mode) == 0 ? write_all(fd, data, len) : FS_ERR_IO;
        if (r == FS_OK && fsync(fd) != 0)
            r = FS_ERR_IO;
        if (close(fd) != 0 && r == FS_OK)
            r = FS_ERR_IO;
        if (r == FS_OK && rename(tmp, path) != 0)
            r = FS_ERR_IO;
        if (r != FS_OK)
            unlink(tmp);
    }
    free(tmp);
    return r;
}

enum fs_result fs_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rbe");
    if (f == NULL)
        return FS_ERR_IO;
    enum fs_result r = FS_ERR_NOMEM;
    char *buf = malloc(max + 1);
    if (buf != NULL) {
        size_t n = fread(buf, 1, max + 1, f);
        if (ferror(f))
            r = FS_ERR_IO;
        else if (n > max)
            r = FS_ERR_TOO_BIG;
        else
            r = FS_OK;
        if (r == FS_OK) {
            buf[n] = '\0';
            *out = buf;
            if (out_len != NULL)
                *out_len = n;
        } else {
            free(buf);
        }
    }
    fclose(f);
    return r;
}

int fs_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

char *fs_join(const char *dir, const char *name)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    return path;
}
