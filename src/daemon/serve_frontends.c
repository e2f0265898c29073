/*
 * The daemon's front ends.  Each is defined in its own serve_<name>.c;
 * the references are weak so that a build without one of them still links
 * (its entry is then NULL and the daemon skips it).  Order matters only for
 * --help and start-up: exporters before importers would race nothing, since
 * importers add disks through the registry that exporters listen to.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"

extern const struct serve_frontend serve_frontend_alua __attribute__((weak));
extern const struct serve_frontend serve_frontend_iscsi __attribute__((weak));
extern const struct serve_frontend serve_frontend_nbd __attribute__((weak));
extern const struct serve_frontend serve_frontend_xdisk __attribute__((weak));
extern const struct serve_frontend serve_frontend_cam __attribute__((weak));
extern const struct serve_frontend serve_frontend_vscsi __attribute__((weak));
extern const struct serve_frontend serve_frontend_import
	__attribute__((weak));
extern const struct serve_frontend serve_frontend_ha __attribute__((weak));

const struct serve_frontend *const serve_frontends[] = {
	&serve_frontend_iscsi, &serve_frontend_nbd,   &serve_frontend_xdisk,
	&serve_frontend_cam,   &serve_frontend_vscsi, &serve_frontend_import,
	&serve_frontend_alua,  &serve_frontend_ha,
};

/* Names of the entries above, known even when one is not linked in, so
 * that "--NAME none" is accepted by every build. */
const char *const serve_frontend_names[] = {
	"iscsi", "nbd", "xdisk", "cam", "vscsi", "import", "alua", "ha",
};

const unsigned serve_nfrontends =
	sizeof(serve_frontends) / sizeof(serve_frontends[0]);

const char *serve_frontend_next_option(const struct serve_frontend *fe,
				       const char *p, char *buf, size_t len)
{
	size_t n = strlen(fe->name);

	if (!fe->usage)
		return NULL;
	for (p = p ? p : fe->usage; (p = strstr(p, "--")) != NULL;) {
		const char *s = p + 2, *e = s;

		while (*e && (isalnum((unsigned char)*e) || *e == '-'))
			e++;
		p = e;
		if (strncmp(s, fe->name, n) == 0 &&
		    (s[n] == '-' || s + n == e) && (size_t)(e - s) < len) {
			snprintf(buf, len, "%.*s", (int)(e - s), s);
			return p;
		}
	}
	return NULL;
}

bool serve_frontend_has_option(const struct serve_frontend *fe,
			       const char *key)
{
	char name[80];

	for (const char *p = NULL;
	     (p = serve_frontend_next_option(fe, p, name, sizeof(name)));)
		if (strcmp(name, key) == 0)
			return true;
	return false;
}
