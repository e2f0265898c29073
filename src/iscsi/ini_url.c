/*
 * The initiator's configuration: defaults and the iscsi:// URL
 * (libiscsi's form: '%' separates user and secret, so there is no
 * percent-decoding; see include/scsikit/iscsi_ini.h).  When both digests
 * are acceptable CRC32C is offered first, whatever order the URL names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iscsi/ini_int.h"

#define INI_DEFAULT_PORT 3260
#define INI_DEFAULT_NAME "iqn.2026-11.org.scsikit:initiator"

static const char *const state_names[] = {
	[INI_S_DOWN] = "down",	     [INI_S_CONNECTING] = "connecting",
	[INI_S_LOGIN] = "login",     [INI_S_DISCOVER] = "discovery",
	[INI_S_FULL] = "full",	     [INI_S_LOGOUT] = "logout",
	[INI_S_DEAD] = "dead",
};

const char *ini_state_name(enum ini_state st)
{
	if ((unsigned)st < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[st];
	return "?";
}

void iscsi_ini_cfg_init(struct iscsi_ini_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->port = INI_DEFAULT_PORT;
	c->lun = ISCSI_INI_NO_LUN;
	snprintf(c->initiator, sizeof(c->initiator), "%s", INI_DEFAULT_NAME);
	c->header_digest = ISCSI_DIGEST_NONE;
	c->data_digest = ISCSI_DIGEST_NONE;
	c->backoff_ms = 200;
	c->backoff_max_ms = 2000;
	c->replacement_ms = 120000;
	c->nop_ms = 5000;
	c->nop_timeout_ms = 10000;
	c->login_timeout_ms = 15000;
	c->max_recv_dsl = 262144;
	c->max_burst = 1048576;
	c->first_burst = 262144;
	c->queue_depth = 64;
}

/* "none", "crc32c", "crc32c,none", "none,crc32c" (libiscsi also spells
 * them NONE/CRC32C and NONE_CRC32C/CRC32C_NONE). */
static int parse_digest(const char *v, uint32_t *mask)
{
	static const struct {
		const char *name;
		uint32_t mask;
	} tbl[] = {
		{"none", ISCSI_DIGEST_NONE},
		{"crc32c", ISCSI_DIGEST_CRC32C},
		{"crc32c,none", ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C},
		{"crc32c_none", ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C},
		{"none,crc32c", ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C},
		{"none_crc32c", ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C},
	};

	for (size_t i = 0; i < sizeof(tbl) / sizeof(tbl[0]); i++)
		if (!strcasecmp(v, tbl[i].name)) {
			*mask = tbl[i].mask;
			return 0;
		}
	return -EINVAL;
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int copy_field(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int parse_opt(struct iscsi_ini_cfg *c, char *kv, char *err,
		     size_t errlen)
{
	char *v = strchr(kv, '=');
	uint32_t n;

	if (!v) {
		snprintf(err, errlen, "option '%s' needs a value", kv);
		return -EINVAL;
	}
	*v++ = '\0';
	if (!strcmp(kv, "header_digest")) {
		if (parse_digest(v, &c->header_digest))
			goto bad;
	} else if (!strcmp(kv, "data_digest")) {
		if (parse_digest(v, &c->data_digest))
			goto bad;
	} else if (!strcmp(kv, "target_user")) {
		if (copy_field(c->tuser, sizeof(c->tuser), v, strlen(v)))
			goto bad;
	} else if (!strcmp(kv, "target_password")) {
		if (copy_field(c->tsecret, sizeof(c->tsecret), v, strlen(v)))
			goto bad;
	} else if (!strcmp(kv, "initiator_name")) {
		if (!*v || copy_field(c->initiator, sizeof(c->initiator), v,
				      strlen(v)))
			goto bad;
	} else if (!strcmp(kv, "backoff")) {
		if (parse_u32(v, 600000, &n) || n == 0)
			goto bad;
		c->backoff_ms = n;
	} else if (!strcmp(kv, "replacement_timeout")) {
		if (parse_u32(v, 86400, &n))
			goto bad;
		c->replacement_ms = n * 1000;
	} else if (!strcmp(kv, "nop")) {
		if (parse_u32(v, 3600000, &n))
			goto bad;
		c->nop_ms = n;
	} else if (!strcmp(kv, "queue_depth")) {
		if (parse_u32(v, 256, &n) || n == 0)
			goto bad;
		c->queue_depth = n;
	} else {
		snprintf(err, errlen, "unknown URL option '%s'", kv);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad value for URL option '%s': '%s'", kv, v);
	return -EINVAL;
}

int iscsi_ini_parse_url(const char *url, struct iscsi_ini_cfg *c, char *err,
			size_t errlen)
{
	const char *p, *at, *slash, *hostend;
	char *copy = NULL, *q, *tok, *save = NULL;
	uint32_t n;
	int rc = -EINVAL;

	if (strncmp(url, "iscsi://", 8) != 0) {
		snprintf(err, errlen, "not an iscsi:// URL: %s", url);
		return -EINVAL;
	}
	copy = strdup(url + 8);
	if (!copy)
		return -ENOMEM;
	q = strchr(copy, '?');
	if (q)
		*q++ = '\0';
	p = copy;
	slash = strchr(p, '/');
	at = strrchr(p, '@');
	if (at && (!slash || at < slash)) {
		const char *pct = memchr(p, '%', (size_t)(at - p));

		if (pct) {
			if (copy_field(c->user, sizeof(c->user), p,
				       (size_t)(pct - p)) ||
			    copy_field(c->secret, sizeof(c->secret), pct + 1,
				       (size_t)(at - pct - 1)))
				goto bad_user;
		} else if (copy_field(c->user, sizeof(c->user), p,
				      (size_t)(at - p))) {
			goto bad_user;
		}
		if (!c->user[0])
			goto bad_user;
		p = at + 1;
	}
	/* host, [v6] or name */
	if (*p == '[') {
		hostend = strchr(p, ']');
		if (!hostend || (slash && hostend > slash))
			goto bad_host;
		if (copy_field(c->host, sizeof(c->host), p + 1,
			       (size_t)(hostend - p - 1)))
			goto bad_host;
		p = hostend + 1;
	} else {
		size_t len = strcspn(p, ":/");

		if (copy_field(c->host, sizeof(c->host), p, len))
			goto bad_host;
		p += len;
	}
	if (!c->host[0])
		goto bad_host;
	if (*p == ':') {
		char port[8];
		size_t len = strcspn(p + 1, "/");

		if (copy_field(port, sizeof(port), p + 1, len) ||
		    parse_u32(port, 65535, &n) || n == 0) {
			snprintf(err, errlen, "bad port in %s", url);
			goto out;
		}
		c->port = (uint16_t)n;
		p += 1 + len;
	}
	if (*p == '/') {
		const char *iqn = p + 1;
		const char *ls = strchr(iqn, '/');
		size_t len = ls ? (size_t)(ls - iqn) : strlen(iqn);

		if (copy_field(c->target, sizeof(c->target), iqn, len)) {
			snprintf(err, errlen, "target name too long");
			goto out;
		}
		if (ls && ls[1]) {
			if (parse_u32(ls + 1, 16383, &n)) {
				snprintf(err, errlen, "bad LUN '%s'", ls + 1);
				goto out;
			}
			c->lun = n;
		}
	} else if (*p) {
		goto bad_host;
	}
	for (tok = q ? strtok_r(q, "&", &save) : NULL; tok;
	     tok = strtok_r(NULL, "&", &save))
		if (parse_opt(c, tok, err, errlen) < 0)
			goto out;
	if (c->tuser[0] && !c->user[0]) {
		snprintf(err, errlen, "mutual CHAP needs user%%secret too");
		goto out;
	}
	if (c->tuser[0] && !c->tsecret[0]) {
		snprintf(err, errlen, "target_user needs target_password");
		goto out;
	}
	rc = 0;
	goto out;
bad_user:
	snprintf(err, errlen, "bad user%%secret in URL");
	goto out;
bad_host:
	snprintf(err, errlen, "bad host in %s", url);
out:
	free(copy);
	return rc;
}
