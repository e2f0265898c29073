/*
 * "HOST:PORT" parsing shared by every listener and by the tools (see
 * hostport.h).  Nothing here resolves names: callers hand host and port to
 * getaddrinfo() with AI_NUMERICSERV, so the port is exactly what was
 * checked here.
 */
#include <stdio.h>
#include <string.h>

#include "util/hostport.h"

#define HP_ERR(...)                                                  \
	do {                                                         \
		if (err)                                             \
			snprintf(err, errlen, __VA_ARGS__);          \
	} while (0)

int sk_parse_port(const char *s, int zero_ok, uint16_t *port)
{
	unsigned long v = 0;

	if (!s || !*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if ((v < 1 && !zero_ok) || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int hp_copy(char *dst, size_t dlen, const char *src, size_t n)
{
	if (n >= dlen)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int sk_parse_hostport(const char *s, unsigned flags, char *host,
		      size_t hlen, uint16_t *port, uint16_t defport,
		      char *err, size_t errlen)
{
	const char *colon, *pstr = NULL;

	if (!s || !*s) {
		HP_ERR("empty address");
		return -1;
	}
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end == s + 1 ||
		    hp_copy(host, hlen, s + 1, (size_t)(end - s - 1)) < 0 ||
		    (end[1] != '\0' && end[1] != ':')) {
			HP_ERR("bad address '%s'", s);
			return -1;
		}
		if (end[1] == ':')
			pstr = end + 2;
	} else if ((colon = strchr(s, ':')) != NULL &&
		   strchr(colon + 1, ':') != NULL) {
		/* A bare IPv6 address: no port can follow it. */
		if (hp_copy(host, hlen, s, strlen(s)) < 0) {
			HP_ERR("bad address '%s'", s);
			return -1;
		}
	} else if (colon) {
		if (hp_copy(host, hlen, s, (size_t)(colon - s)) < 0) {
			HP_ERR("bad address '%s'", s);
			return -1;
		}
		pstr = colon + 1;
	} else if ((flags & SK_HP_BARE_PORT) && s[strspn(s, "0123456789")] == '\0') {
		host[0] = '\0';
		pstr = s;
	} else if (hp_copy(host, hlen, s, strlen(s)) < 0) {
		HP_ERR("bad address '%s'", s);
		return -1;
	}
	if (!pstr) {
		*port = defport;
		return 0;
	}
	if (sk_parse_port(pstr, flags & SK_HP_PORT_ZERO, port) < 0) {
		HP_ERR("bad port '%s' in '%s' (%d-65535)", pstr, s,
		       flags & SK_HP_PORT_ZERO ? 0 : 1);
		return -1;
	}
	return 0;
}
