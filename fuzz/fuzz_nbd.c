/*
 * libFuzzer harness for the NBD server's wire parsers: the handshake state
 * machine (src/nbd/handshake.c) fed arbitrary client bytes in arbitrary
 * pieces, and the transmission request parser and checks (src/nbd/proto.c).
 * Checks that nothing crashes, that every reply written is well formed,
 * that output stays bounded, and that export references balance.
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd/handshake.h"
#include "nbd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int held;

static int fz_get(void *arg, const char *name, size_t len,
		  struct nbd_export_desc *d)
{
	(void)arg;
	if (len > 8 || (len && name[0] == 'x'))
		return -ENOENT;
	d->name = "disk0";
	d->description = "fuzz";
	d->size = 1u << 20;
	d->tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH;
	d->bs.min = 512;
	d->bs.pref = 4096;
	d->bs.max = 1u << 20;
	d->handle = &held;
	held++;
	return 0;
}

static void fz_put(void *arg, struct nbd_export_desc *d)
{
	(void)arg;
	if (d->handle != &held)
		abort();
	held--;
}

static void fz_list(void *arg, nbd_export_list_fn fn, void *fnarg)
{
	(void)arg;
	fn(fnarg, "disk0", "fuzz");
	fn(fnarg, "other", "");
}

static const struct nbd_export_ops fz_ops = {fz_get, fz_put, fz_list};

/* Every option reply in out must be complete and carry a known type. */
static void check_replies(const struct nbd_buf *out, size_t start)
{
	size_t off = start;

	while (off < out->len) {
		uint32_t type, len;

		/* EXPORT_NAME's answer: 8 + 2 (+124) bytes, last; shorter
		 * than a reply header when the zeroes are left out. */
		if (out->len - off < 8 ||
		    nbd_get64(out->data + off) != NBD_MAGIC_OPT_REPLY) {
			if (out->len - off != 10 && out->len - off != 134)
				abort();
			return;
		}
		if (out->len - off < NBD_OPT_REPLY_HDR_LEN)
			abort();
		type = nbd_get32(out->data + off + 12);
		len = nbd_get32(out->data + off + 16);
		if (type > NBD_REP_META_CONTEXT &&
		    (type < NBD_REP_ERR(1) || type > NBD_REP_ERR(9)))
			abort();
		if (out->len - off - NBD_OPT_REPLY_HDR_LEN < len)
			abort();
		off += NBD_OPT_REPLY_HDR_LEN + len;
	}
}

static void fuzz_handshake(const uint8_t *data, size_t size)
{
	static struct nbd_hs hs;
	struct nbd_buf out = {0};
	size_t off = 0, step = 1;

	nbd_hs_init(&hs, &fz_ops, NULL);
	if (size) {
		step = 1 + data[0] % 64; /* feed in pieces of this size */
		/* and the TLS policy: off, on, require */
		hs.tls = (enum nbd_hs_tls)((data[0] >> 6) % 3);
		off = 1;
	}
	while (off < size && hs.state != NBD_HS_DONE &&
	       hs.state != NBD_HS_CLOSE) {
		size_t n = size - off < step ? size - off : step;
		size_t before = out.len;
		long used;

		if (hs.state == NBD_HS_STARTTLS) {
			/* As if the TLS handshake succeeded: the rest of
			 * the input is what came through TLS. */
			if (hs.tls == NBD_HS_TLS_OFF || hs.tls_active)
				abort();
			nbd_hs_tls_done(&hs);
		}
		used = nbd_hs_input(&hs, data + off, n, &out);
		if (used < 0 || (size_t)used > n)
			abort();
		if ((size_t)used < n && hs.state != NBD_HS_DONE &&
		    hs.state != NBD_HS_CLOSE && hs.state != NBD_HS_STARTTLS)
			abort();
		(void)before;
		off += (size_t)used;
		/* Output grows with input, never more than this. */
		if (out.len > 64 * 1024 + 64 * off)
			abort();
	}
	check_replies(&out, 0);
	if (hs.state == NBD_HS_DONE && !hs.have_export)
		abort();
	nbd_hs_fini(&hs);
	if (held != 0)
		abort();
	nbd_buf_free(&out);
}

static void fuzz_requests(const uint8_t *data, size_t size)
{
	struct nbd_export_limits lim = {
		.size = 1u << 30,
		.min_block = 512,
		.max_block = 1u << 25,
		.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
			  NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
			  NBD_FLAG_SEND_WRITE_ZEROES,
	};
	uint8_t chunk[256];
	size_t off = 0;

	if (size) {
		/* The first byte picks the session's options. */
		lim.structured = data[0] & 1;
		lim.meta_alloc = data[0] & 2;
		if (data[0] & 4)
			lim.tflags |= NBD_FLAG_READ_ONLY;
		if (data[0] & 8)
			lim.tflags |= NBD_FLAG_SEND_DF;
		if (data[0] & 16)
			lim.min_block = 1;
		off = 1;
	}
	while (off < size) {
		struct nbd_request r;
		int rc = nbd_request_parse(data + off, size - off, &r);
		uint32_t err;

		if (rc == 0)
			break;
		if (rc < 0) {
			off++; /* a real connection would close here */
			continue;
		}
		off += (size_t)rc;
		err = nbd_request_check(&r, &lim);
		if (!err && r.type != NBD_CMD_FLUSH &&
		    r.type != NBD_CMD_DISC &&
		    (r.offset > lim.size || r.length > lim.size - r.offset))
			abort(); /* accepted a range past the end */
		if (!err && (r.type == NBD_CMD_READ ||
			     r.type == NBD_CMD_WRITE) &&
		    r.length > lim.max_block)
			abort();
		nbd_put_error_chunk(chunk, NBD_REPLY_FLAG_DONE, r.cookie,
				    err, "fuzz", 80, r.flags & 1, r.offset);
		(void)nbd_errno_to_wire(-(int)(r.offset & 0xff));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 0x80)
		fuzz_requests(data + 1, size - 1);
	else
		fuzz_handshake(data + 1, size - 1);
	return 0;
}
