/*
 * Internals shared by the xdisk server and client: addresses.
 */
#ifndef SCSIKIT_SRC_XDISK_INT_H
#define SCSIKIT_SRC_XDISK_INT_H

#include <stddef.h>
#include <sys/socket.h>

/* Parse "HOST:PORT" or "[V6]:PORT" (numeric or resolvable host; a missing
 * port means XDISK_DEFAULT_PORT).  0 or -1 with a message in err. */
int xd_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		  char *err, size_t errlen);
/* Start a non-blocking connect; the socket, or -errno. */
int xd_connect_start(const struct sockaddr_storage *ss, socklen_t len);

#endif
