/*
 * NBD fixed newstyle negotiation (see handshake.h for the states).  Every
 * length the client sends is checked against the bytes actually present
 * before anything is read; options longer than NBD_OPT_DATA_MAX are skipped
 * without being stored and answered NBD_REP_ERR_TOO_BIG, so the memory a
 * handshake uses does not depend on what the client claims.
 *
 * TLS: the policy is in handshake.h; the TLS session itself is the
 * connection's business (tls.c), this machine only says when it starts.
 * Extended headers are not
 * implemented: NBD_OPT_EXTENDED_HEADERS is answered NBD_REP_ERR_UNSUP.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nbd/handshake.h"

/* ---- output buffer ---- */

uint8_t *nbd_buf_reserve(struct nbd_buf *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *d;

		while (cap - b->len < n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return NULL;
		b->data = d;
		b->cap = cap;
	}
	return b->data + b->len;
}

int nbd_buf_append(struct nbd_buf *b, const void *p, size_t n)
{
	uint8_t *d = nbd_buf_reserve(b, n);

	if (!d)
		return -ENOMEM;
	if (n)
		memcpy(d, p, n);
	b->len += n;
	return 0;
}

void nbd_buf_reset(struct nbd_buf *b)
{
	b->len = 0;
	b->off = 0;
}

void nbd_buf_free(struct nbd_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- replies ---- */

/* One option reply with an optional payload made of two pieces. */
static int hs_reply2(struct nbd_buf *out, uint32_t opt, uint32_t type,
		     const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t *p = nbd_buf_reserve(out, NBD_OPT_REPLY_HDR_LEN + alen + blen);

	if (!p)
		return -ENOMEM;
	nbd_put_opt_reply_hdr(p, opt, type, (uint32_t)(alen + blen));
	if (alen)
		memcpy(p + NBD_OPT_REPLY_HDR_LEN, a, alen);
	if (blen)
		memcpy(p + NBD_OPT_REPLY_HDR_LEN + alen, b, blen);
	out->len += NBD_OPT_REPLY_HDR_LEN + alen + blen;
	return 0;
}

static int hs_reply(struct nbd_buf *out, uint32_t opt, uint32_t type,
		    const void *data, size_t len)
{
	return hs_reply2(out, opt, type, data, len, NULL, 0);
}

/* An error reply; the message is for a human and goes in the payload. */
static int hs_error(struct nbd_buf *out, uint32_t opt, uint32_t type,
		    const char *msg)
{
	return hs_reply(out, opt, type, msg, strlen(msg));
}

static void hs_export_put(struct nbd_hs *hs, struct nbd_export_desc *d)
{
	if (hs->ops->put)
		hs->ops->put(hs->ops_arg, d);
}

/* ---- NBD_OPT_LIST ---- */

struct hs_list_ctx {
	struct nbd_buf *out;
	int err;
};

static void hs_list_one(void *fnarg, const char *name, const char *desc)
{
	struct hs_list_ctx *c = fnarg;
	uint8_t len4[4];
	size_t nlen = strnlen(name, NBD_NAME_MAX);
	size_t dlen = desc ? strnlen(desc, NBD_NAME_MAX) : 0;
	uint8_t *p;

	if (c->err)
		return;
	nbd_put32(len4, (uint32_t)nlen);
	p = nbd_buf_reserve(c->out, NBD_OPT_REPLY_HDR_LEN + 4 + nlen + dlen);
	if (!p) {
		c->err = -ENOMEM;
		return;
	}
	nbd_put_opt_reply_hdr(p, NBD_OPT_LIST, NBD_REP_SERVER,
			      (uint32_t)(4 + nlen + dlen));
	memcpy(p + NBD_OPT_REPLY_HDR_LEN, len4, 4);
	memcpy(p + NBD_OPT_REPLY_HDR_LEN + 4, name, nlen);
	if (dlen)
		memcpy(p + NBD_OPT_REPLY_HDR_LEN + 4 + nlen, desc, dlen);
	c->out->len += NBD_OPT_REPLY_HDR_LEN + 4 + nlen + dlen;
}

static int hs_opt_list(struct nbd_hs *hs, struct nbd_buf *out)
{
	struct hs_list_ctx c = {out, 0};

	if (hs->opt_len)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"NBD_OPT_LIST takes no data");
	hs->ops->list(hs->ops_arg, hs_list_one, &c);
	if (c.err)
		return c.err;
	return hs_reply(out, hs->opt, NBD_REP_ACK, NULL, 0);
}

/* ---- NBD_OPT_INFO / NBD_OPT_GO ---- */

static uint16_t hs_session_tflags(const struct nbd_hs *hs, uint16_t tflags)
{
	/* DF is about structured replies, so it depends on the session. */
	if (hs->structured)
		tflags |= NBD_FLAG_SEND_DF;
	return tflags;
}

static int hs_info_export(struct nbd_buf *out, uint32_t opt,
			  const struct nbd_export_desc *d, uint16_t tflags)
{
	uint8_t p[12];

	nbd_put16(p, NBD_INFO_EXPORT);
	nbd_put64(p + 2, d->size);
	nbd_put16(p + 10, tflags);
	return hs_reply(out, opt, NBD_REP_INFO, p, sizeof(p));
}

static int hs_info_string(struct nbd_buf *out, uint32_t opt, uint16_t type,
			  const char *s)
{
	uint8_t t[2];

	nbd_put16(t, type);
	return hs_reply2(out, opt, NBD_REP_INFO, t, 2, s,
			 strnlen(s, NBD_NAME_MAX));
}

static int hs_info_block_size(struct nbd_buf *out, uint32_t opt,
			      const struct nbd_block_sizes *bs)
{
	uint8_t p[14];

	nbd_put16(p, NBD_INFO_BLOCK_SIZE);
	nbd_put32(p + 2, bs->min);
	nbd_put32(p + 6, bs->pref);
	nbd_put32(p + 10, bs->max);
	return hs_reply(out, opt, NBD_REP_INFO, p, sizeof(p));
}

static int hs_opt_info_go(struct nbd_hs *hs, struct nbd_buf *out)
{
	const uint8_t *p = hs->data;
	uint32_t len = hs->opt_len, nlen, i;
	uint16_t ninfo, tflags;
	bool want_name = false, want_desc = false;
	struct nbd_export_desc d;
	int rc;

	/* name length (4), name, count (2), count * 2 bytes: all must fit
	 * the option exactly. */
	if (len < 6)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"option too short");
	nlen = nbd_get32(p);
	if (nlen > len - 6)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"export name length exceeds the option");
	if (nlen > NBD_NAME_MAX)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"export name too long");
	ninfo = nbd_get16(p + 4 + nlen);
	if ((uint32_t)ninfo * 2 != len - 6 - nlen)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"information request count does not match "
				"the option length");
	for (i = 0; i < ninfo; i++) {
		uint16_t t = nbd_get16(p + 6 + nlen + 2 * i);

		if (t == NBD_INFO_NAME)
			want_name = true;
		else if (t == NBD_INFO_DESCRIPTION)
			want_desc = true;
	}

	memset(&d, 0, sizeof(d));
	if (hs->ops->get(hs->ops_arg, (const char *)p + 4, nlen, &d) < 0)
		return hs_error(out, hs->opt, NBD_REP_ERR_UNKNOWN,
				nlen ? "no such export" : "no default export");
	tflags = hs_session_tflags(hs, d.tflags);

	rc = hs_info_export(out, hs->opt, &d, tflags);
	if (!rc && want_name)
		rc = hs_info_string(out, hs->opt, NBD_INFO_NAME, d.name);
	if (!rc && want_desc && d.description && d.description[0])
		rc = hs_info_string(out, hs->opt, NBD_INFO_DESCRIPTION,
				    d.description);
	/* Always sent: clients that did not ask must still obey the size
	 * and alignment checks, which answer EINVAL cleanly. */
	if (!rc)
		rc = hs_info_block_size(out, hs->opt, &d.bs);
	if (!rc)
		rc = hs_reply(out, hs->opt, NBD_REP_ACK, NULL, 0);
	if (rc || hs->opt == NBD_OPT_INFO) {
		hs_export_put(hs, &d);
		return rc;
	}

	/* GO: transmission starts with this export. */
	hs->export = d;
	hs->have_export = true;
	hs->tflags = tflags;
	hs->meta_alloc = hs->meta_set && hs->meta_name_len == nlen &&
			 memcmp(hs->meta_name, p + 4, nlen) == 0;
	hs->state = NBD_HS_DONE;
	return 0;
}

/* ---- NBD_OPT_EXPORT_NAME: no error reply possible; failure closes ---- */

static int hs_opt_export_name(struct nbd_hs *hs, struct nbd_buf *out)
{
	struct nbd_export_desc d;
	uint8_t *p;
	size_t n;

	memset(&d, 0, sizeof(d));
	if (hs->opt_len > NBD_NAME_MAX ||
	    hs->ops->get(hs->ops_arg, (const char *)hs->data, hs->opt_len,
			 &d) < 0) {
		hs->state = NBD_HS_CLOSE;
		hs->why = "NBD_OPT_EXPORT_NAME: unknown export";
		return 0;
	}
	n = 10 + (hs->no_zeroes ? 0 : 124);
	p = nbd_buf_reserve(out, n);
	if (!p) {
		hs_export_put(hs, &d);
		return -ENOMEM;
	}
	memset(p, 0, n);
	hs->tflags = hs_session_tflags(hs, d.tflags);
	nbd_put64(p, d.size);
	nbd_put16(p + 8, hs->tflags);
	out->len += n;
	hs->export = d;
	hs->have_export = true;
	hs->meta_alloc = hs->meta_set && hs->meta_name_len == hs->opt_len &&
			 memcmp(hs->meta_name, hs->data, hs->opt_len) == 0;
	hs->state = NBD_HS_DONE;
	return 0;
}

/* ---- simple options ---- */

static int hs_opt_abort(struct nbd_hs *hs, struct nbd_buf *out)
{
	/* Data, if any, is ignored as the protocol asks. */
	hs->state = NBD_HS_CLOSE;
	hs->why = "client sent NBD_OPT_ABORT";
	hs->aborted = true;
	return hs_reply(out, hs->opt, NBD_REP_ACK, NULL, 0);
}

static int hs_opt_structured(struct nbd_hs *hs, struct nbd_buf *out)
{
	if (hs->opt_len)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"NBD_OPT_STRUCTURED_REPLY takes no data");
	hs->structured = true;
	return hs_reply(out, hs->opt, NBD_REP_ACK, NULL, 0);
}

static int hs_opt_starttls(struct nbd_hs *hs, struct nbd_buf *out)
{
	if (hs->opt_len)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"NBD_OPT_STARTTLS takes no data");
	if (hs->tls_active)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"TLS is already negotiated");
	if (hs->tls == NBD_HS_TLS_OFF)
		return hs_error(out, hs->opt, NBD_REP_ERR_POLICY,
				"TLS is not enabled on this server");
	hs->state = NBD_HS_STARTTLS;
	return hs_reply(out, hs->opt, NBD_REP_ACK, NULL, 0);
}

/*
 * FORCEDTLS: before TLS, only STARTTLS (and ABORT, which ends the
 * session anyway) are served.  Returns 1 when the option was answered
 * here (rc set), 0 when it may proceed.
 */
static int hs_tls_gate(struct nbd_hs *hs, struct nbd_buf *out, int *rc)
{
	if (hs->tls != NBD_HS_TLS_REQUIRE || hs->tls_active ||
	    hs->opt == NBD_OPT_STARTTLS || hs->opt == NBD_OPT_ABORT)
		return 0;
	if (hs->opt == NBD_OPT_EXPORT_NAME) {
		/* It cannot be answered with an error: close. */
		hs->state = NBD_HS_CLOSE;
		hs->why = "NBD_OPT_EXPORT_NAME without TLS; TLS is required";
		*rc = 0;
		return 1;
	}
	*rc = hs_error(out, hs->opt, NBD_REP_ERR_TLS_REQD,
		       "TLS is required: send NBD_OPT_STARTTLS first");
	return 1;
}

/* ---- metadata contexts ---- */

/*
 * Parse an export name and a list of queries.  Returns 0 and sets
 * *sel_alloc when some query selects (SET) or lists (LIST) base:allocation;
 * returns 1 after sending an error reply.
 */
static int hs_meta_parse(struct nbd_hs *hs, struct nbd_buf *out, bool list,
			 bool *sel_alloc, int *rc)
{
	const uint8_t *p = hs->data;
	uint32_t len = hs->opt_len, nlen, nq, off, i;
	struct nbd_export_desc d;

	*rc = 0;
	*sel_alloc = false;
	if (len < 8)
		goto invalid;
	nlen = nbd_get32(p);
	if (nlen > len - 8 || nlen > NBD_NAME_MAX)
		goto invalid;
	nq = nbd_get32(p + 4 + nlen);
	off = 8 + nlen;
	if (list && nq == 0)
		*sel_alloc = true; /* no query: everything we know */
	for (i = 0; i < nq; i++) {
		uint32_t qlen;
		const char *q;

		if (len - off < 4)
			goto invalid;
		qlen = nbd_get32(p + off);
		off += 4;
		if (qlen > len - off || qlen > NBD_NAME_MAX)
			goto invalid;
		q = (const char *)p + off;
		off += qlen;
		if (!memchr(q, ':', qlen))
			goto invalid; /* a query starts with "namespace:" */
		if (qlen == strlen(NBD_CTX_BASE_ALLOCATION) &&
		    !memcmp(q, NBD_CTX_BASE_ALLOCATION, qlen))
			*sel_alloc = true;
		else if (list && qlen == 5 && !memcmp(q, "base:", 5))
			*sel_alloc = true; /* wildcard, LIST only */
		/* Anything else (unknown namespace or leaf) is ignored. */
	}
	if (off != len)
		goto invalid;

	memset(&d, 0, sizeof(d));
	if (hs->ops->get(hs->ops_arg, (const char *)p + 4, nlen, &d) < 0) {
		*rc = hs_error(out, hs->opt, NBD_REP_ERR_UNKNOWN,
			       "no such export");
		return 1;
	}
	hs_export_put(hs, &d);
	if (!list) {
		memcpy(hs->meta_name, p + 4, nlen);
		hs->meta_name_len = nlen;
	}
	return 0;
invalid:
	*rc = hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
		       "malformed metadata context option");
	return 1;
}

static int hs_opt_meta(struct nbd_hs *hs, struct nbd_buf *out)
{
	bool list = hs->opt == NBD_OPT_LIST_META_CONTEXT;
	bool sel;
	uint8_t id[4];
	int rc;

	/* SET replaces the selection even when it fails. */
	if (!list)
		hs->meta_set = false;
	if (!hs->structured)
		return hs_error(out, hs->opt, NBD_REP_ERR_INVALID,
				"structured replies must be negotiated "
				"first");
	if (hs_meta_parse(hs, out, list, &sel, &rc))
		return rc;
	if (sel) {
		nbd_put32(id, list ? 0 : NBD_CTX_ID_BASE_ALLOCATION);
		rc = hs_reply2(out, hs->opt, NBD_REP_META_CONTEXT, id, 4,
			       NBD_CTX_BASE_ALLOCATION,
			       strlen(NBD_CTX_BASE_ALLOCATION));
		if (rc)
			return rc;
		if (!list)
			hs->meta_set = true;
	}
	return hs_reply(out, hs->opt, NBD_REP_ACK, NULL, 0);
}

/* The options this server implements; everything else: ERR_UNSUP. */
static const struct {
	uint32_t opt;
	int (*handler)(struct nbd_hs *hs, struct nbd_buf *out);
} hs_opt_table[] = {
	{NBD_OPT_EXPORT_NAME, hs_opt_export_name},
	{NBD_OPT_ABORT, hs_opt_abort},
	{NBD_OPT_LIST, hs_opt_list},
	{NBD_OPT_STARTTLS, hs_opt_starttls},
	{NBD_OPT_INFO, hs_opt_info_go},
	{NBD_OPT_GO, hs_opt_info_go},
	{NBD_OPT_STRUCTURED_REPLY, hs_opt_structured},
	{NBD_OPT_LIST_META_CONTEXT, hs_opt_meta},
	{NBD_OPT_SET_META_CONTEXT, hs_opt_meta},
};

static int hs_dispatch(struct nbd_hs *hs, struct nbd_buf *out)
{
	size_t i;
	int rc;

	if (hs_tls_gate(hs, out, &rc))
		return rc;
	for (i = 0; i < sizeof(hs_opt_table) / sizeof(hs_opt_table[0]); i++)
		if (hs_opt_table[i].opt == hs->opt)
			return hs_opt_table[i].handler(hs, out);
	return hs_error(out, hs->opt, NBD_REP_ERR_UNSUP,
			"option not supported by this server");
}

/* ---- the machine ---- */

void nbd_hs_init(struct nbd_hs *hs, const struct nbd_export_ops *ops,
		 void *ops_arg)
{
	memset(hs, 0, offsetof(struct nbd_hs, data));
	hs->ops = ops;
	hs->ops_arg = ops_arg;
	hs->state = NBD_HS_CLIENT_FLAGS;
	hs->have_export = false;
}

void nbd_hs_fini(struct nbd_hs *hs)
{
	if (hs->have_export) {
		hs_export_put(hs, &hs->export);
		hs->have_export = false;
	}
}

void nbd_hs_tls_done(struct nbd_hs *hs)
{
	hs->tls_active = true;
	hs->state = NBD_HS_OPT_HDR;
	hs->got = 0;
}

int nbd_hs_greeting(struct nbd_buf *out)
{
	uint8_t g[18];

	nbd_put64(g, NBD_MAGIC_INIT);
	nbd_put64(g + 8, NBD_MAGIC_OPT);
	nbd_put16(g + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	return nbd_buf_append(out, g, sizeof(g));
}

static void hs_close(struct nbd_hs *hs, const char *why)
{
	hs->state = NBD_HS_CLOSE;
	hs->why = why;
}

/* Take up to want-got bytes into dst; returns the bytes taken. */
static size_t hs_take(uint8_t *dst, uint32_t *got, uint32_t want,
		      const uint8_t *in, size_t len)
{
	size_t n = want - *got;

	if (n > len)
		n = len;
	memcpy(dst + *got, in, n);
	*got += (uint32_t)n;
	return n;
}

long nbd_hs_input(struct nbd_hs *hs, const uint8_t *in, size_t len,
		  struct nbd_buf *out)
{
	size_t used = 0;
	int rc = 0;

	while (used < len && !rc) {
		const uint8_t *p = in + used;
		size_t avail = len - used;

		switch (hs->state) {
		case NBD_HS_CLIENT_FLAGS:
			used += hs_take(hs->hdr, &hs->got, 4, p, avail);
			if (hs->got < 4)
				break;
			hs->got = 0;
			hs->client_flags = nbd_get32(hs->hdr);
			if (hs->client_flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE |
						 NBD_FLAG_C_NO_ZEROES)) {
				hs_close(hs, "unknown client flags");
				break;
			}
			hs->no_zeroes =
				hs->client_flags & NBD_FLAG_C_NO_ZEROES;
			hs->state = NBD_HS_OPT_HDR;
			break;
		case NBD_HS_OPT_HDR:
			used += hs_take(hs->hdr, &hs->got, NBD_OPT_HDR_LEN, p,
					avail);
			if (hs->got < NBD_OPT_HDR_LEN)
				break;
			hs->got = 0;
			if (nbd_get64(hs->hdr) != NBD_MAGIC_OPT) {
				hs_close(hs, "bad option magic");
				break;
			}
			if (++hs->nopts > NBD_HS_MAX_OPTIONS) {
				hs_close(hs, "too many options");
				break;
			}
			hs->opt = nbd_get32(hs->hdr + 8);
			hs->opt_len = nbd_get32(hs->hdr + 12);
			if (hs->opt_len > NBD_OPT_DATA_MAX) {
				hs->discard_left = hs->opt_len;
				hs->state = NBD_HS_OPT_DISCARD;
				break;
			}
			hs->state = NBD_HS_OPT_DATA;
			/* fall through: a zero-length option is complete */
			__attribute__((fallthrough));
		case NBD_HS_OPT_DATA:
			used += hs_take(hs->data, &hs->got, hs->opt_len,
					in + used, len - used);
			if (hs->got < hs->opt_len)
				break;
			hs->got = 0;
			hs->state = NBD_HS_OPT_HDR;
			rc = hs_dispatch(hs, out);
			break;
		case NBD_HS_OPT_DISCARD: {
			size_t n = avail < hs->discard_left ? avail
							    : hs->discard_left;

			used += n;
			hs->discard_left -= (uint32_t)n;
			if (hs->discard_left)
				break;
			hs->state = NBD_HS_OPT_HDR;
			if (hs_tls_gate(hs, out, &rc))
				break;
			if (hs->opt == NBD_OPT_EXPORT_NAME) {
				hs_close(hs, "export name too long");
				break;
			}
			rc = hs_error(out, hs->opt, NBD_REP_ERR_TOO_BIG,
				      "option data too long");
			break;
		}
		case NBD_HS_DONE:
		case NBD_HS_CLOSE:
		case NBD_HS_STARTTLS:
			return (long)used;
		}
	}
	return rc ? rc : (long)used;
}
