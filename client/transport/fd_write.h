/* Writing a whole buffer to a descriptor (a file, a pipe, a blocking socket), through partial
 * writes and interrupted calls. */
#ifndef IH_FD_WRITE_H
#define IH_FD_WRITE_H

#include <stddef.h>

/* Returns 0 once all len bytes are written, or -1 (errno says why; 0 bytes written counts as a
 * failure). */
int ih_write_all(int fd, const void *data, size_t len);

#endif
