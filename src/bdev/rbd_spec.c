/*
 * The rbd disk spec's own parts (the rest -- ",pbsize=", ",thick",
 * ",wsnz=" -- is shared with mem and file in spec.c):
 *
 *   rbd:POOL/IMAGE[@SNAP][,conf=PATH][,id=CLIENT][,ro][,timeout=SECONDS]
 *       [,bs=512|4096]
 *
 * Kept apart from rbd.c, and compiled whether or not librbd is there, so
 * that a build without librbd still says what is wrong with a spec before
 * saying it cannot open one, and so that the unit tests need no cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_int.h"

/* Ceph's own limits are looser; these keep a name printable in one line
 * and within what the monitor and the OSDs accept for object names. */
#define RBD_NAME_MAX 250
#define RBD_TIMEOUT_MAX 3600

static int rbd_name_ok(const char *what, const char *s, char *err,
		       size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0) {
		snprintf(err, errlen, "rbd: empty %s (want POOL/IMAGE[@SNAP])",
			 what);
		return -1;
	}
	if (n > RBD_NAME_MAX) {
		snprintf(err, errlen, "rbd: %s longer than %d bytes", what,
			 RBD_NAME_MAX);
		return -1;
	}
	for (const char *c = s; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '/' ||
		    *c == '@') {
			snprintf(err, errlen, "rbd: bad character in %s '%s'",
				 what, s);
			return -1;
		}
	}
	return 0;
}

int rbd_spec_name(char *s, struct bdev_rbd_opts *o, char *err, size_t errlen)
{
	char *slash, *at;

	if (s == NULL || (slash = strchr(s, '/')) == NULL) {
		snprintf(err, errlen, "rbd: missing pool or image in '%s' "
			 "(want POOL/IMAGE[@SNAP])", s ? s : "");
		return -1;
	}
	*slash = '\0';
	at = strchr(slash + 1, '@');
	if (at != NULL)
		*at = '\0';
	if (rbd_name_ok("pool", s, err, errlen) < 0 ||
	    rbd_name_ok("image", slash + 1, err, errlen) < 0 ||
	    (at != NULL && rbd_name_ok("snapshot", at + 1, err, errlen) < 0))
		return -1;
	o->pool = s;
	o->image = slash + 1;
	o->snap = at != NULL ? at + 1 : NULL;
	/* A snapshot cannot be written. */
	if (o->snap != NULL)
		o->read_only = true;
	return 0;
}

int rbd_spec_opt(struct bdev_rbd_opts *o, const char *opt, const char *val,
		 char *err, size_t errlen)
{
	if (strcmp(opt, "ro") == 0 && val == NULL) {
		o->read_only = true;
		return 1;
	}
	if (strcmp(opt, "conf") == 0 && val != NULL) {
		if (val[0] == '\0') {
			snprintf(err, errlen, "rbd: empty conf=");
			return -1;
		}
		o->conf = val;
		return 1;
	}
	if (strcmp(opt, "id") == 0 && val != NULL) {
		if (strncmp(val, "client.", 7) == 0)
			val += 7;
		if (rbd_name_ok("client id", val, err, errlen) < 0)
			return -1;
		o->id = val;
		return 1;
	}
	if (strcmp(opt, "timeout") == 0 && val != NULL) {
		char *end;
		unsigned long t = strtoul(val, &end, 10);

		if (val[0] < '0' || val[0] > '9' || *end != '\0' || t == 0 ||
		    t > RBD_TIMEOUT_MAX) {
			snprintf(err, errlen, "rbd: bad timeout '%s' (seconds, "
				 "1 to %d)", val, RBD_TIMEOUT_MAX);
			return -1;
		}
		o->timeout_s = (uint32_t)t;
		return 1;
	}
	if (strcmp(opt, "bs") == 0 && val != NULL) {
		if (strcmp(val, "512") == 0) {
			o->lbsize = 512;
		} else if (strcmp(val, "4096") == 0 || strcmp(val, "4K") == 0) {
			o->lbsize = 4096;
		} else {
			snprintf(err, errlen, "rbd: bs must be 512 or 4096");
			return -1;
		}
		return 1;
	}
	return 0;
}
