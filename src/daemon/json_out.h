/*
 * Tiny helpers for --json output in the tools: a quoted, escaped JSON
 * string.  Numbers and booleans are plain fprintf.
 */
#ifndef SCSIKIT_TOOLS_JSON_OUT_H
#define SCSIKIT_TOOLS_JSON_OUT_H

#include <stdio.h>

/* Write s as a JSON string literal, quotes included. */
void json_put_string(FILE *out, const char *s);

#endif
