/* Files compiled into the binary by cmake/EmbedFiles.cmake (schemas, later the web page). */
#ifndef EMBEDDED_H
#define EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name; /* base name, e.g. "001_initial.sql"; NULL ends a table */
    const char *data; /* NUL-terminated */
    size_t len;
};

/* The SQL schema versions of schemas/sql, in version order. */
extern const struct embedded_file schema_sql_files[];

/* The web page of web/ (index.html). */
extern const struct embedded_file web_files[];

#endif
