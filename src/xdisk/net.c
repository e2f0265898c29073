/*
 * Address parsing and socket set-up for the xdisk server and client.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <scsikit/xdisk.h>

#include "util/hostport.h"
#include "xdisk/xdisk_int.h"

int xd_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		  char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints, *res = NULL;
	uint16_t pn;
	int rc;

	if (sk_parse_hostport(s, SK_HP_PORT_ZERO, host, sizeof(host), &pn,
			      XDISK_DEFAULT_PORT, err, errlen) < 0)
		return -1;
	snprintf(port, sizeof(port), "%u", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* IPv4 first: "localhost" should mean what the default listener
	 * (127.0.0.1) is bound to; IPv6-only names still resolve below. */
	hints.ai_family = AF_INET;
	rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints, &res);
	if (rc != 0) {
		hints.ai_family = AF_UNSPEC;
		rc = getaddrinfo(host[0] ? host : "127.0.0.1", port, &hints,
				 &res);
	}
	if (rc != 0 || !res) {
		snprintf(err, errlen, "cannot resolve '%s': %s", s,
			 gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int xd_connect_start(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}
