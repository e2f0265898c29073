/*
 * JSON output for the listings the control socket answers with --json
 * (library modules and the daemon): a quoted, escaped string.  Numbers and
 * booleans are plain fprintf.  Internal; include as "util/json.h".
 */
#ifndef SCSIKIT_UTIL_JSON_H
#define SCSIKIT_UTIL_JSON_H

#include <stdio.h>

/* Write s as a JSON string literal, quotes included. */
void sk_json_str(FILE *out, const char *s);

#endif
