/*
 * Symbol visibility for libscsikit.  The library is built with
 * -fvisibility=hidden; only declarations marked SK_API are exported, and the
 * linker version script (src/libscsikit.map) gives them a version node.
 */
#ifndef SCSIKIT_API_H
#define SCSIKIT_API_H

#define SK_API __attribute__((visibility("default")))

#define SCSIKIT_VERSION_MAJOR 0
#define SCSIKIT_VERSION_MINOR 1
#define SCSIKIT_VERSION_PATCH 0
#define SCSIKIT_VERSION_STRING "0.1.0"

#endif
