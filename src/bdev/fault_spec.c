/*
 * Text forms of the fault bdev, so that the daemon can make fault disks
 * ("fault:mem:64M") and change their rule at run time through the control
 * socket ("disk fault d0 fail=EIO,type=write,count=3").  Used by the
 * integration tests of every front end to inject backend errors.
 *
 * Rule syntax: ACTION[,type=T[+T...]][,offset=SIZE][,length=SIZE]
 *              [,count=N]
 *   ACTION: fail[=ERRNO] | delay=MS | tear[=ERRNO] | hold | none
 *   ERRNO:  EIO (default), ENOSPC, EROFS, ENOMEM, EAGAIN or a number
 *   T:      read, write, flush, discard, write_zeroes
 *   count:  how many I/Os the rule hits (default: unlimited)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdev/bdev_int.h"

static const struct {
	const char *name;
	int err;
} fault_errnos[] = {
	{ "EIO", EIO },	      { "ENOSPC", ENOSPC }, { "EROFS", EROFS },
	{ "ENOMEM", ENOMEM }, { "EAGAIN", EAGAIN }, { "ENXIO", ENXIO },
};

static const char *const fault_types[BDEV_IO_TYPE_COUNT] = {
	"read", "write", "flush", "discard", "write_zeroes", "compare_write",
};

static int parse_errno(const char *v, int *out)
{
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]);
	     i++) {
		if (strcmp(v, fault_errnos[i].name) == 0) {
			*out = fault_errnos[i].err;
			return 0;
		}
	}
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n <= 0 || n > 4095)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_types(char *v, uint32_t *mask)
{
	*mask = 0;
	for (char *t = strtok(v, "+"); t; t = strtok(NULL, "+")) {
		int found = -1;

		for (int i = 0; i < BDEV_IO_TYPE_COUNT; i++)
			if (strcmp(t, fault_types[i]) == 0)
				found = i;
		if (found < 0)
			return -1;
		*mask |= 1u << found;
	}
	return *mask ? 0 : -1;
}

int bdev_fault_parse(const char *text, struct bdev_fault_rule *r, char *err,
		     size_t errlen)
{
	char *copy = strdup(text), *save = NULL, *tok;
	int rc = -1;
	bool first = true;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->count = -1;
	r->err = EIO;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), first = false) {
		char *v = strchr(tok, '=');
		uint64_t n;

		if (v)
			*v++ = '\0';
		if (first) {
			if (strcmp(tok, "fail") == 0 || strcmp(tok, "tear") == 0) {
				r->action = tok[0] == 'f' ? BDEV_FAULT_FAIL
							  : BDEV_FAULT_TEAR;
				if (v && parse_errno(v, &r->err) < 0) {
					snprintf(err, errlen,
						 "unknown errno '%s'", v);
					goto out;
				}
			} else if (strcmp(tok, "delay") == 0 && v &&
				   sk_parse_size(v, &n) == 0 && n <= 600000) {
				r->action = BDEV_FAULT_DELAY;
				r->delay_ms = (uint32_t)n;
			} else if (strcmp(tok, "hold") == 0 && !v) {
				r->action = BDEV_FAULT_HOLD;
			} else if (strcmp(tok, "none") == 0 && !v) {
				r->action = BDEV_FAULT_NONE;
			} else {
				snprintf(err, errlen,
					 "unknown fault '%s' (want fail[=E], "
					 "delay=MS, tear[=E], hold or none)",
					 tok);
				goto out;
			}
			continue;
		}
		if (!v) {
			snprintf(err, errlen, "'%s' needs a value", tok);
			goto out;
		}
		if (strcmp(tok, "type") == 0) {
			if (parse_types(v, &r->type_mask) < 0) {
				snprintf(err, errlen, "bad type list");
				goto out;
			}
		} else if (strcmp(tok, "offset") == 0 &&
			   sk_parse_size(v, &n) == 0) {
			r->offset = n;
		} else if (strcmp(tok, "length") == 0 &&
			   sk_parse_size(v, &n) == 0) {
			r->length = n;
		} else if (strcmp(tok, "count") == 0 &&
			   sk_parse_size(v, &n) == 0 && n <= INT32_MAX) {
			r->count = (int32_t)n;
		} else {
			snprintf(err, errlen, "bad option '%s=%s'", tok, v);
			goto out;
		}
	}
	if (first) {
		snprintf(err, errlen, "empty fault rule");
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

struct bdev *bdev_fault_create_spec(const char *name, const char *inner_spec,
				    char *err, size_t errlen)
{
	char iname[160];
	struct bdev *inner, *bd;

	snprintf(iname, sizeof(iname), "%s.inner", name);
	inner = bdev_create_spec(iname, inner_spec, err, errlen);
	if (!inner)
		return NULL;
	bd = bdev_fault_create(name, inner);
	bdev_release(inner);
	if (!bd)
		snprintf(err, errlen, "cannot create fault disk: %s",
			 strerror(errno ? errno : ENOMEM));
	return bd;
}

bool bdev_is_fault(const struct bdev *bd)
{
	return strcmp(bdev_backend(bd), "fault") == 0;
}
