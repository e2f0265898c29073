/*
 * Unit tests of the NBD handshake state machine (src/nbd/handshake.c),
 * driven with byte strings against two fake exports; checks every reply,
 * the bounds on lengths, and that export references are all returned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nbd/handshake.h"

static int held;

static int fake_get(void *arg, const char *name, size_t len,
		    struct nbd_export_desc *d)
{
	(void)arg;
	if (len == 0 || (len == 5 && !memcmp(name, "disk0", 5))) {
		d->name = "disk0";
		d->description = "mem:1M";
		d->size = 1 << 20;
		d->tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH;
	} else if (len == 2 && !memcmp(name, "ro", 2)) {
		d->name = "ro";
		d->description = "";
		d->size = 4096;
		d->tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY;
	} else {
		return -ENOENT;
	}
	d->bs.min = 512;
	d->bs.pref = 4096;
	d->bs.max = 1 << 20;
	d->handle = &held;
	held++;
	return 0;
}

static void fake_put(void *arg, struct nbd_export_desc *d)
{
	(void)arg;
	assert_ptr_equal(d->handle, &held);
	held--;
}

static void fake_list(void *arg, nbd_export_list_fn fn, void *fnarg)
{
	(void)arg;
	fn(fnarg, "disk0", "mem:1M");
	fn(fnarg, "ro", "");
}

static const struct nbd_export_ops fake_ops = {fake_get, fake_put,
					       fake_list};

/* Test fixture: a machine, its output and a client-side byte builder. */
struct fx {
	struct nbd_hs *hs;
	struct nbd_buf out;
	size_t rd;		/* how far the test has read out */
	uint8_t in[200000];
	size_t inlen;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->hs = malloc(sizeof(*f->hs));
	nbd_hs_init(f->hs, &fake_ops, NULL);
	held = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nbd_hs_fini(f->hs);
	assert_int_equal(held, 0);
	nbd_buf_free(&f->out);
	free(f->hs);
	free(f);
	return 0;
}

static void put_flags(struct fx *f, uint32_t fl)
{
	nbd_put32(f->in + f->inlen, fl);
	f->inlen += 4;
}

static void put_opt(struct fx *f, uint32_t opt, const void *data,
		    uint32_t len)
{
	nbd_put64(f->in + f->inlen, NBD_MAGIC_OPT);
	nbd_put32(f->in + f->inlen + 8, opt);
	nbd_put32(f->in + f->inlen + 12, len);
	if (len)
		memcpy(f->in + f->inlen + 16, data, len);
	f->inlen += 16 + len;
}

/* GO/INFO data: name + info requests. */
static uint32_t mk_go(uint8_t *p, const char *name, int ninfo,
		      const uint16_t *infos)
{
	uint32_t n = (uint32_t)strlen(name);
	int i;

	nbd_put32(p, n);
	memcpy(p + 4, name, n);
	nbd_put16(p + 4 + n, (uint16_t)ninfo);
	for (i = 0; i < ninfo; i++)
		nbd_put16(p + 6 + n + 2 * i, infos[i]);
	return 6 + n + 2 * (uint32_t)ninfo;
}

static uint32_t mk_meta(uint8_t *p, const char *name, int nq,
			const char **q)
{
	uint32_t n = (uint32_t)strlen(name), off;
	int i;

	nbd_put32(p, n);
	memcpy(p + 4, name, n);
	nbd_put32(p + 4 + n, (uint32_t)nq);
	off = 8 + n;
	for (i = 0; i < nq; i++) {
		uint32_t l = (uint32_t)strlen(q[i]);

		nbd_put32(p + off, l);
		memcpy(p + off + 4, q[i], l);
		off += 4 + l;
	}
	return off;
}

/* Feed everything built so far (in pieces of chunk bytes). */
static void feed(struct fx *f, size_t chunk)
{
	size_t off = 0;

	while (off < f->inlen) {
		size_t n = f->inlen - off < chunk ? f->inlen - off : chunk;
		long used = nbd_hs_input(f->hs, f->in + off, n, &f->out);

		assert_true(used >= 0);
		off += (size_t)used;
		if (f->hs->state == NBD_HS_DONE ||
		    f->hs->state == NBD_HS_CLOSE ||
		    f->hs->state == NBD_HS_STARTTLS)
			break;
		assert_int_equal((size_t)used, n);
	}
	f->inlen = 0;
}

/* Read the next option reply; returns its data length. */
static uint32_t next_reply(struct fx *f, uint32_t opt, uint32_t type,
			   const uint8_t **data)
{
	const uint8_t *p = f->out.data + f->rd;
	uint32_t len;

	assert_true(f->out.len - f->rd >= NBD_OPT_REPLY_HDR_LEN);
	assert_true(nbd_get64(p) == NBD_MAGIC_OPT_REPLY);
	assert_int_equal(nbd_get32(p + 8), opt);
	assert_int_equal(nbd_get32(p + 12), type);
	len = nbd_get32(p + 16);
	assert_true(f->out.len - f->rd >= NBD_OPT_REPLY_HDR_LEN + len);
	if (data)
		*data = p + NBD_OPT_REPLY_HDR_LEN;
	f->rd += NBD_OPT_REPLY_HDR_LEN + len;
	return len;
}

static void no_more(struct fx *f)
{
	assert_int_equal(f->rd, f->out.len);
}

static void test_greeting(void **state)
{
	struct fx *f = *state;

	assert_int_equal(nbd_hs_greeting(&f->out), 0);
	assert_int_equal(f->out.len, 18);
	assert_true(nbd_get64(f->out.data) == NBD_MAGIC_INIT);
	assert_true(nbd_get64(f->out.data + 8) == NBD_MAGIC_OPT);
	assert_int_equal(nbd_get16(f->out.data + 16),
			 NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
}

static void test_bad_client_flags(void **state)
{
	struct fx *f = *state;

	put_flags(f, 0x4);
	feed(f, 1000);
	assert_int_equal(f->hs->state, NBD_HS_CLOSE);
}

static void test_list_and_info(void **state)
{
	struct fx *f = *state;
	const uint16_t infos[] = {NBD_INFO_NAME, NBD_INFO_DESCRIPTION,
				  NBD_INFO_BLOCK_SIZE, 77};
	const uint8_t *d;
	uint8_t go[64];
	uint32_t n;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	put_opt(f, NBD_OPT_LIST, NULL, 0);
	put_opt(f, NBD_OPT_LIST, "x", 1);
	n = mk_go(go, "disk0", 4, infos);
	put_opt(f, NBD_OPT_INFO, go, n);
	n = mk_go(go, "nope", 0, NULL);
	put_opt(f, NBD_OPT_INFO, go, n);
	feed(f, 7);
	assert_int_equal(f->hs->state, NBD_HS_OPT_HDR);

	n = next_reply(f, NBD_OPT_LIST, NBD_REP_SERVER, &d);
	assert_int_equal(nbd_get32(d), 5);
	assert_memory_equal(d + 4, "disk0mem:1M", 11);
	assert_int_equal(n, 4 + 11);
	next_reply(f, NBD_OPT_LIST, NBD_REP_SERVER, &d);
	assert_memory_equal(d + 4, "ro", 2);
	next_reply(f, NBD_OPT_LIST, NBD_REP_ACK, NULL);
	next_reply(f, NBD_OPT_LIST, NBD_REP_ERR_INVALID, NULL);

	n = next_reply(f, NBD_OPT_INFO, NBD_REP_INFO, &d);
	assert_int_equal(n, 12);
	assert_int_equal(nbd_get16(d), NBD_INFO_EXPORT);
	assert_true(nbd_get64(d + 2) == 1 << 20);
	assert_int_equal(nbd_get16(d + 10),
			 NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH);
	n = next_reply(f, NBD_OPT_INFO, NBD_REP_INFO, &d);
	assert_int_equal(nbd_get16(d), NBD_INFO_NAME);
	assert_memory_equal(d + 2, "disk0", 5);
	n = next_reply(f, NBD_OPT_INFO, NBD_REP_INFO, &d);
	assert_int_equal(nbd_get16(d), NBD_INFO_DESCRIPTION);
	n = next_reply(f, NBD_OPT_INFO, NBD_REP_INFO, &d);
	assert_int_equal(n, 14);
	assert_int_equal(nbd_get16(d), NBD_INFO_BLOCK_SIZE);
	assert_int_equal(nbd_get32(d + 2), 512);
	assert_int_equal(nbd_get32(d + 6), 4096);
	assert_int_equal(nbd_get32(d + 10), 1 << 20);
	next_reply(f, NBD_OPT_INFO, NBD_REP_ACK, NULL);
	next_reply(f, NBD_OPT_INFO, NBD_REP_ERR_UNKNOWN, NULL);
	no_more(f);
	assert_int_equal(held, 0);
}

static void test_go_structured_meta(void **state)
{
	struct fx *f = *state;
	const char *q1[] = {"base:allocation", "qemu:dirty-bitmap:x"};
	const char *q2[] = {"base:"};
	const uint8_t *d;
	uint8_t buf[256];
	uint32_t n;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	/* Meta contexts need structured replies first. */
	n = mk_meta(buf, "", 1, q1);
	put_opt(f, NBD_OPT_SET_META_CONTEXT, buf, n);
	put_opt(f, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	put_opt(f, NBD_OPT_LIST_META_CONTEXT, buf, mk_meta(buf, "", 1, q2));
	put_opt(f, NBD_OPT_LIST_META_CONTEXT, buf, mk_meta(buf, "", 0, NULL));
	put_opt(f, NBD_OPT_SET_META_CONTEXT, buf, mk_meta(buf, "", 2, q1));
	/* Malformed: count says 2, data has 1. */
	n = mk_meta(buf, "", 1, q1);
	nbd_put32(buf + 4, 2);
	put_opt(f, NBD_OPT_LIST_META_CONTEXT, buf, n);
	n = mk_go(buf, "", 0, NULL);
	put_opt(f, NBD_OPT_GO, buf, n);
	/* Bytes after GO belong to the transmission phase. */
	memcpy(f->in + f->inlen, "tail", 4);
	f->inlen += 4;
	feed(f, 3);

	next_reply(f, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID, NULL);
	next_reply(f, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL);
	n = next_reply(f, NBD_OPT_LIST_META_CONTEXT, NBD_REP_META_CONTEXT, &d);
	assert_int_equal(n, 4 + 15);
	assert_memory_equal(d + 4, "base:allocation", 15);
	next_reply(f, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL);
	next_reply(f, NBD_OPT_LIST_META_CONTEXT, NBD_REP_META_CONTEXT, NULL);
	next_reply(f, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL);
	n = next_reply(f, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, &d);
	assert_int_equal(nbd_get32(d), NBD_CTX_ID_BASE_ALLOCATION);
	next_reply(f, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL);
	next_reply(f, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_INVALID, NULL);
	n = next_reply(f, NBD_OPT_GO, NBD_REP_INFO, &d);
	assert_int_equal(nbd_get16(d + 10),
			 NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
				 NBD_FLAG_SEND_DF);
	next_reply(f, NBD_OPT_GO, NBD_REP_INFO, NULL); /* block size */
	next_reply(f, NBD_OPT_GO, NBD_REP_ACK, NULL);
	no_more(f);
	assert_int_equal(f->hs->state, NBD_HS_DONE);
	assert_true(f->hs->structured);
	assert_true(f->hs->meta_alloc);
	assert_true(f->hs->have_export);
	assert_string_equal(f->hs->export.name, "disk0");
	assert_int_equal(held, 1); /* released by teardown's fini */
}

static void test_meta_other_export(void **state)
{
	struct fx *f = *state;
	const char *q[] = {"base:allocation"};
	uint8_t buf[128];

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(f, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	put_opt(f, NBD_OPT_SET_META_CONTEXT, buf, mk_meta(buf, "ro", 1, q));
	put_opt(f, NBD_OPT_GO, buf, mk_go(buf, "disk0", 0, NULL));
	feed(f, 1 << 20);
	assert_int_equal(f->hs->state, NBD_HS_DONE);
	/* Contexts were chosen for another export: none apply. */
	assert_false(f->hs->meta_alloc);
}

static void test_unsupported(void **state)
{
	struct fx *f = *state;
	uint8_t big[64] = {0};

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(f, NBD_OPT_STARTTLS, NULL, 0);
	put_opt(f, NBD_OPT_STARTTLS, "x", 1);
	put_opt(f, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	put_opt(f, NBD_OPT_PEEK_EXPORT, NULL, 0);
	put_opt(f, 0x12345678, big, sizeof(big));
	put_opt(f, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	/* Malformed GO: name longer than the option. */
	nbd_put32(big, 1000);
	put_opt(f, NBD_OPT_GO, big, 10);
	put_opt(f, NBD_OPT_GO, big, 3);
	feed(f, 5);
	/* TLS off (the default): the protocol's NOTLS mode. */
	next_reply(f, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY, NULL);
	next_reply(f, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, NULL);
	next_reply(f, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_UNSUP, NULL);
	next_reply(f, NBD_OPT_PEEK_EXPORT, NBD_REP_ERR_UNSUP, NULL);
	next_reply(f, 0x12345678, NBD_REP_ERR_UNSUP, NULL);
	next_reply(f, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID, NULL);
	next_reply(f, NBD_OPT_GO, NBD_REP_ERR_INVALID, NULL);
	next_reply(f, NBD_OPT_GO, NBD_REP_ERR_INVALID, NULL);
	no_more(f);
	assert_int_equal(f->hs->state, NBD_HS_OPT_HDR);
	assert_false(f->hs->structured);
}

static void test_too_big(void **state)
{
	struct fx *f = *state;
	static uint8_t big[NBD_OPT_DATA_MAX + 100];

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(f, NBD_OPT_GO, big, sizeof(big));
	put_opt(f, NBD_OPT_LIST, NULL, 0);
	feed(f, 4000);
	next_reply(f, NBD_OPT_GO, NBD_REP_ERR_TOO_BIG, NULL);
	next_reply(f, NBD_OPT_LIST, NBD_REP_SERVER, NULL);
	next_reply(f, NBD_OPT_LIST, NBD_REP_SERVER, NULL);
	next_reply(f, NBD_OPT_LIST, NBD_REP_ACK, NULL);
	no_more(f);

	/* An over-long EXPORT_NAME cannot be answered: close. */
	put_opt(f, NBD_OPT_EXPORT_NAME, big, sizeof(big));
	feed(f, 4000);
	assert_int_equal(f->hs->state, NBD_HS_CLOSE);
}

static void test_bad_magic(void **state)
{
	struct fx *f = *state;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(f, NBD_OPT_LIST, NULL, 0);
	f->in[4] ^= 0xff;
	feed(f, 100);
	assert_int_equal(f->hs->state, NBD_HS_CLOSE);
	no_more(f);
}

static void test_export_name(void **state)
{
	struct fx *f = *state;
	const uint8_t *p;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(f, NBD_OPT_EXPORT_NAME, "ro", 2);
	feed(f, 100);
	assert_int_equal(f->hs->state, NBD_HS_DONE);
	assert_int_equal(f->out.len, 8 + 2 + 124);
	p = f->out.data;
	assert_true(nbd_get64(p) == 4096);
	assert_int_equal(nbd_get16(p + 8),
			 NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY);
}

static void test_export_name_unknown(void **state)
{
	struct fx *f = *state;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	put_opt(f, NBD_OPT_EXPORT_NAME, "zz", 2);
	feed(f, 100);
	assert_int_equal(f->hs->state, NBD_HS_CLOSE);
	assert_int_equal(f->out.len, 0);
}

static void test_abort(void **state)
{
	struct fx *f = *state;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	put_opt(f, NBD_OPT_ABORT, NULL, 0);
	put_opt(f, NBD_OPT_LIST, NULL, 0); /* never answered */
	feed(f, 1);
	assert_int_equal(f->hs->state, NBD_HS_CLOSE);
	next_reply(f, NBD_OPT_ABORT, NBD_REP_ACK, NULL);
	no_more(f);
}

static void test_option_flood(void **state)
{
	struct fx *f = *state;
	unsigned i;

	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	feed(f, 4);
	for (i = 0; i < NBD_HS_MAX_OPTIONS + 1; i++) {
		put_opt(f, 999, NULL, 0);
		feed(f, 64);
	}
	assert_int_equal(f->hs->state, NBD_HS_CLOSE);
}

/* ---- TLS policy ---- */

/* Feed one STARTTLS and check the machine stops for the TLS handshake
 * without consuming what follows (those bytes belong to TLS). */
static void starttls_ok(struct fx *f)
{
	size_t before;
	long used;

	put_opt(f, NBD_OPT_STARTTLS, NULL, 0);
	put_opt(f, NBD_OPT_LIST, NULL, 0);	/* "TLS records" */
	before = f->inlen;
	used = nbd_hs_input(f->hs, f->in, f->inlen, &f->out);
	assert_int_equal(used, 16);
	assert_true((size_t)used < before);
	assert_int_equal(f->hs->state, NBD_HS_STARTTLS);
	next_reply(f, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL);
	no_more(f);
	/* Still stopped: nothing more is taken before the handshake. */
	assert_int_equal(nbd_hs_input(f->hs, f->in + 16, 16, &f->out), 0);
	f->inlen = 0;
	nbd_hs_tls_done(f->hs);
	assert_true(f->hs->tls_active);
	assert_int_equal(f->hs->state, NBD_HS_OPT_HDR);
}

static void test_tls_on(void **state)
{
	struct fx *f = *state;

	f->hs->tls = NBD_HS_TLS_ON;
	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	/* Optional TLS: options work before it. */
	put_opt(f, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	put_opt(f, NBD_OPT_STARTTLS, "x", 1);
	feed(f, 7);
	next_reply(f, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL);
	next_reply(f, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, NULL);
	starttls_ok(f);
	/* Over TLS: a second STARTTLS is invalid; the rest works. */
	put_opt(f, NBD_OPT_STARTTLS, NULL, 0);
	put_opt(f, NBD_OPT_EXPORT_NAME, "disk0", 5);
	feed(f, 3);
	next_reply(f, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, NULL);
	assert_int_equal(f->hs->state, NBD_HS_DONE);
}

static void test_tls_require(void **state)
{
	struct fx *f = *state;
	static uint8_t big[NBD_OPT_DATA_MAX + 10];
	uint8_t go[64];
	const uint32_t refused[] = {
		NBD_OPT_LIST, NBD_OPT_INFO, NBD_OPT_GO,
		NBD_OPT_STRUCTURED_REPLY, NBD_OPT_LIST_META_CONTEXT,
		NBD_OPT_SET_META_CONTEXT, NBD_OPT_EXTENDED_HEADERS, 999,
	};
	uint32_t golen = mk_go(go, "disk0", 0, NULL);
	size_t i;

	f->hs->tls = NBD_HS_TLS_REQUIRE;
	put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		put_opt(f, refused[i], go, golen);
	/* Too long to be stored: still TLS_REQD, not TOO_BIG. */
	put_opt(f, NBD_OPT_GO, big, sizeof(big));
	feed(f, 1000);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		next_reply(f, refused[i], NBD_REP_ERR_TLS_REQD, NULL);
	next_reply(f, NBD_OPT_GO, NBD_REP_ERR_TLS_REQD, NULL);
	no_more(f);
	assert_false(f->hs->structured);
	assert_int_equal(held, 0);
	starttls_ok(f);
	/* Over TLS every option is served, and no TLS_REQD is sent. */
	put_opt(f, NBD_OPT_LIST, NULL, 0);
	put_opt(f, NBD_OPT_GO, go, golen);
	feed(f, 9);
	next_reply(f, NBD_OPT_LIST, NBD_REP_SERVER, NULL);
	next_reply(f, NBD_OPT_LIST, NBD_REP_SERVER, NULL);
	next_reply(f, NBD_OPT_LIST, NBD_REP_ACK, NULL);
	next_reply(f, NBD_OPT_GO, NBD_REP_INFO, NULL);
	next_reply(f, NBD_OPT_GO, NBD_REP_INFO, NULL);
	next_reply(f, NBD_OPT_GO, NBD_REP_ACK, NULL);
	assert_int_equal(f->hs->state, NBD_HS_DONE);
}

/* FORCEDTLS: EXPORT_NAME before TLS cannot be answered, so it closes
 * (short or too long); ABORT is still honoured. */
static void test_tls_require_close(void **state)
{
	struct fx *f = *state;
	static uint8_t big[NBD_OPT_DATA_MAX + 10];
	const struct {
		uint32_t opt;
		const void *data;
		uint32_t len;
		bool ack;
	} cases[] = {
		{NBD_OPT_EXPORT_NAME, "disk0", 5, false},
		{NBD_OPT_EXPORT_NAME, big, sizeof(big), false},
		{NBD_OPT_ABORT, NULL, 0, true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nbd_hs_init(f->hs, &fake_ops, NULL);
		nbd_buf_reset(&f->out);
		f->rd = 0;
		f->hs->tls = NBD_HS_TLS_REQUIRE;
		put_flags(f, NBD_FLAG_C_FIXED_NEWSTYLE);
		put_opt(f, cases[i].opt, cases[i].data, cases[i].len);
		feed(f, 4096);
		assert_int_equal(f->hs->state, NBD_HS_CLOSE);
		if (cases[i].ack)
			next_reply(f, NBD_OPT_ABORT, NBD_REP_ACK, NULL);
		no_more(f);
		assert_false(f->hs->have_export);
		assert_int_equal(held, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_greeting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_client_flags, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_list_and_info, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_go_structured_meta,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_other_export, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_export_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_export_name_unknown,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_require, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tls_require_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_option_flood, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
