/*
 * One parser for the "HOST:PORT" addresses people write on command lines
 * and in config files (listeners of the iSCSI, NBD and DMSG front ends, the
 * tools' options).  Internal to the library; tools and tests include it as
 * "util/hostport.h".
 */
#ifndef SCSIKIT_UTIL_HOSTPORT_H
#define SCSIKIT_UTIL_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Split s into host and port.  Accepted forms:
 *
 *   HOST:PORT   [V6ADDR]:PORT   [V6ADDR]   :PORT   HOST   PORT (digits only,
 *   with SK_HP_BARE_PORT)   V6ADDR (two or more colons, no brackets:
 *   no port)
 *
 * host gets the host without brackets ("" when absent: the caller picks
 * its default); *port gets 1-65535 (or 0 with SK_HP_PORT_ZERO), or defport
 * when s names no port.  A port that is not all digits or is outside that
 * range is an error, so a
 * listener can never wrap to another port.  0, or -1 with a one-line
 * reason in err (err may be NULL).
 */
int sk_parse_hostport(const char *s, unsigned flags, char *host,
		      size_t hlen, uint16_t *port, uint16_t defport,
		      char *err, size_t errlen);

/* flags of sk_parse_hostport() */
#define SK_HP_BARE_PORT 0x1	/* "10809" alone is a port */
#define SK_HP_PORT_ZERO 0x2	/* port 0 (any free port) is allowed: for
				 * the library's listeners, not for people */

/* Parse a port number alone: digits, 1-65535 (0-65535 with zero_ok).
 * 0 or -1. */
int sk_parse_port(const char *s, int zero_ok, uint16_t *port);

#endif
