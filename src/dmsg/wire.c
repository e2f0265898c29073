/*
 * DMSG wire format: encoding and checked decoding of single messages.
 *
 * Pure functions, no state: the iocom (iocom.c) feeds them a stream, the
 * fuzz harness feeds them garbage.  Integers travel in the sender's byte
 * order; a byte-swapped magic tells us to swap the header and the body of
 * the commands we know (the layouts are described as data below).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/crc32c.h>
#include <scsikit/dmsg.h>

#include "dmsg/dmsg_int.h"

_Static_assert(sizeof(struct dmsg_hdr) == 64, "DMSG header is 64 bytes");
_Static_assert(sizeof(struct dmsg_lnk_conn) == 392, "LNK_CONN body");
_Static_assert(sizeof(struct dmsg_lnk_span) == 368, "LNK_SPAN body");
_Static_assert(sizeof(struct dmsg_blk_open) == 24, "BLK_OPEN body");
/* What a BLK_OPEN must carry: DragonFly's modes and reserved word. */
#define DMSG_BLK_OPEN_MIN 8
_Static_assert(sizeof(struct dmsg_blk_rw) == 32, "BLK_READ body");
_Static_assert(sizeof(struct dmsg_blk_error) == 80, "BLK_ERROR body");

/* A field to swap in a body: offset and width (2, 4 or 8). */
struct dmsg_swap_field {
	uint16_t off;
	uint8_t width;
};

#define F(type, member, w) { offsetof(type, member), w }

static const struct dmsg_swap_field conn_fields[] = {
	F(struct dmsg_lnk_conn, peer_mask, 8),
	F(struct dmsg_lnk_conn, proto_version, 2),
	F(struct dmsg_lnk_conn, status, 4),
	F(struct dmsg_lnk_conn, rnss, 4),
	F(struct dmsg_lnk_conn, pfs_mask, 8),
	{ 0, 0 },
};
static const struct dmsg_swap_field span_fields[] = {
	F(struct dmsg_lnk_span, proto_version, 2),
	F(struct dmsg_lnk_span, status, 4),
	F(struct dmsg_lnk_span, dist, 4),
	F(struct dmsg_lnk_span, rnss, 4),
	F(struct dmsg_lnk_span, media.block.bytes, 8),
	F(struct dmsg_lnk_span, media.block.blksize, 4),
	{ 0, 0 },
};
static const struct dmsg_swap_field open_fields[] = {
	F(struct dmsg_blk_open, modes, 4),
	F(struct dmsg_blk_open, fence_id, 8),
	F(struct dmsg_blk_open, fence_gen, 8),
	{ 0, 0 },
};
static const struct dmsg_swap_field rw_fields[] = {
	F(struct dmsg_blk_rw, keyid, 8),
	F(struct dmsg_blk_rw, offset, 8),
	F(struct dmsg_blk_rw, bytes, 4),
	F(struct dmsg_blk_rw, flags, 4),
	{ 0, 0 },
};
static const struct dmsg_swap_field error_fields[] = {
	F(struct dmsg_blk_error, keyid, 8),
	F(struct dmsg_blk_error, resid, 4),
	{ 0, 0 },
};

#undef F

/* The commands scsikit knows: name, minimum body, fields to byte-swap. */
struct dmsg_cmd_info {
	uint32_t cmd;
	const char *name;
	uint16_t body_min;
	const struct dmsg_swap_field *swap;
};

static const struct dmsg_cmd_info cmd_table[] = {
	{ DMSG_LNK_PAD, "LNK_PAD", 0, NULL },
	{ DMSG_LNK_PING, "LNK_PING", 0, NULL },
	{ DMSG_LNK_AUTH, "LNK_AUTH", 0, NULL },
	{ DMSG_LNK_CONN, "LNK_CONN", sizeof(struct dmsg_lnk_conn),
	  conn_fields },
	{ DMSG_LNK_SPAN, "LNK_SPAN", sizeof(struct dmsg_lnk_span),
	  span_fields },
	{ DMSG_LNK_CIRC, "LNK_CIRC", 0, NULL },
	{ DMSG_LNK_VOLCONF, "LNK_VOLCONF", 0, NULL },
	{ DMSG_LNK_ERROR, "LNK_ERROR", 0, NULL },
	{ DMSG_DBG_SHELL, "DBG_SHELL", 0, NULL },
	{ DMSG_BLK_OPEN, "BLK_OPEN", DMSG_BLK_OPEN_MIN, open_fields },
	{ DMSG_BLK_READ, "BLK_READ", sizeof(struct dmsg_blk_rw), rw_fields },
	{ DMSG_BLK_WRITE, "BLK_WRITE", sizeof(struct dmsg_blk_rw), rw_fields },
	{ DMSG_BLK_FLUSH, "BLK_FLUSH", sizeof(struct dmsg_blk_rw), rw_fields },
	{ DMSG_BLK_FREEBLKS, "BLK_FREEBLKS", sizeof(struct dmsg_blk_rw),
	  rw_fields },
	{ DMSG_BLK_ERROR, "BLK_ERROR", sizeof(struct dmsg_blk_error),
	  error_fields },
};

static const struct dmsg_cmd_info *cmd_info(uint32_t cmd)
{
	cmd &= DMSGF_BASECMDMASK;
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++)
		if (cmd_table[i].cmd == cmd)
			return &cmd_table[i];
	return NULL;
}

const char *dmsg_cmd_name(uint32_t cmd)
{
	const struct dmsg_cmd_info *ci = cmd_info(cmd);

	return ci ? ci->name : "?";
}

size_t dmsg_body_min(uint32_t cmd)
{
	const struct dmsg_cmd_info *ci = cmd_info(cmd);

	return ci ? ci->body_min : 0;
}

uint32_t dmsg_ext_size(size_t body_len)
{
	return (uint32_t)((DMSG_HDR_SIZE + body_len + DMSG_ALIGN - 1) &
			  ~(size_t)(DMSG_ALIGN - 1));
}

static size_t aux_padded(size_t aux_len)
{
	return (aux_len + DMSG_ALIGN - 1) & ~(size_t)(DMSG_ALIGN - 1);
}

size_t dmsg_wire_size(size_t body_len, size_t aux_len)
{
	return dmsg_ext_size(body_len) + aux_padded(aux_len);
}

/* A cheap per-message salt: xorshift, seeded once per process. */
static uint32_t dmsg_salt(void)
{
	static __thread uint32_t s;

	if (s == 0)
		s = (uint32_t)random() | 1u;
	s ^= s << 13;
	s ^= s >> 17;
	s ^= s << 5;
	return s;
}

long dmsg_seal(const struct dmsg_hdr *hdr, const void *body, size_t body_len,
	       size_t aux_len, void *out, size_t room)
{
	uint8_t *p = out;
	struct dmsg_hdr h;
	uint32_t ext;
	size_t apad, total;

	if (body_len > DMSG_BODY_MAX || aux_len > DMSG_AUX_MAX)
		return -EMSGSIZE;
	ext = dmsg_ext_size(body_len);
	apad = aux_padded(aux_len);
	total = ext + apad;
	if (total > room)
		return -ENOSPC;

	memset(&h, 0, sizeof(h));
	h.magic = DMSG_HDR_MAGIC;
	h.salt = dmsg_salt();
	h.msgid = hdr->msgid;
	h.circuit = hdr->circuit;
	h.cmd = (hdr->cmd & ~DMSGF_SIZE) | (ext / DMSG_ALIGN);
	h.error = hdr->error;
	h.aux_bytes = (uint32_t)aux_len;

	if (aux_len) {
		memset(p + ext + aux_len, 0, apad - aux_len);
		h.aux_crc = sk_crc32c(0, p + ext, apad);
	}
	memset(p + DMSG_HDR_SIZE, 0, ext - DMSG_HDR_SIZE);
	if (body_len)
		memcpy(p + DMSG_HDR_SIZE, body, body_len);
	h.hdr_crc = 0;
	memcpy(p, &h, sizeof(h));
	h.hdr_crc = sk_crc32c(0, p, ext);
	memcpy(p + offsetof(struct dmsg_hdr, hdr_crc), &h.hdr_crc,
	       sizeof(h.hdr_crc));
	return (long)total;
}

long dmsg_encode(const struct dmsg_hdr *hdr, const void *body,
		 size_t body_len, const void *aux, size_t aux_len, void *out,
		 size_t room)
{
	if (body_len > DMSG_BODY_MAX || aux_len > DMSG_AUX_MAX)
		return -EMSGSIZE;
	if (dmsg_wire_size(body_len, aux_len) > room)
		return -ENOSPC;
	if (aux_len)
		memcpy((uint8_t *)out + dmsg_ext_size(body_len), aux, aux_len);
	return dmsg_seal(hdr, body, body_len, aux_len, out, room);
}

static void swap_hdr(struct dmsg_hdr *h)
{
	h->magic = __builtin_bswap16(h->magic);
	h->reserved02 = __builtin_bswap16(h->reserved02);
	h->salt = __builtin_bswap32(h->salt);
	h->msgid = __builtin_bswap64(h->msgid);
	h->circuit = __builtin_bswap64(h->circuit);
	h->reserved18 = __builtin_bswap64(h->reserved18);
	h->cmd = __builtin_bswap32(h->cmd);
	h->aux_crc = __builtin_bswap32(h->aux_crc);
	h->aux_bytes = __builtin_bswap32(h->aux_bytes);
	h->error = __builtin_bswap32(h->error);
	h->aux_descr = __builtin_bswap64(h->aux_descr);
	h->reserved38 = __builtin_bswap32(h->reserved38);
	h->hdr_crc = __builtin_bswap32(h->hdr_crc);
}

void dmsg_swap_body(uint32_t cmd, void *body, size_t len)
{
	const struct dmsg_cmd_info *ci = cmd_info(cmd);
	uint8_t *b = body;

	if (!ci || !ci->swap)
		return;
	for (const struct dmsg_swap_field *f = ci->swap; f->width; f++) {
		if ((size_t)f->off + f->width > len)
			continue;
		if (f->width == 2) {
			uint16_t v;
			memcpy(&v, b + f->off, 2);
			v = __builtin_bswap16(v);
			memcpy(b + f->off, &v, 2);
		} else if (f->width == 4) {
			uint32_t v;
			memcpy(&v, b + f->off, 4);
			v = __builtin_bswap32(v);
			memcpy(b + f->off, &v, 4);
		} else {
			uint64_t v;
			memcpy(&v, b + f->off, 8);
			v = __builtin_bswap64(v);
			memcpy(b + f->off, &v, 8);
		}
	}
}

long dmsg_decode(const void *buf, size_t len, struct dmsg_msg *msg,
		 size_t *need)
{
	const uint8_t *p = buf;
	struct dmsg_hdr h;
	bool swap;
	uint32_t ext, crc, want_crc;
	size_t apad, total;

	if (need)
		*need = DMSG_HDR_SIZE;
	if (len < DMSG_HDR_SIZE)
		return DMSG_DEC_NEED;
	memcpy(&h, p, sizeof(h));
	if (h.magic == DMSG_HDR_MAGIC)
		swap = false;
	else if (h.magic == DMSG_HDR_MAGIC_REV)
		swap = true;
	else
		return -EBADMSG;
	if (swap)
		swap_hdr(&h);

	ext = (h.cmd & DMSGF_SIZE) * DMSG_ALIGN;
	if (ext < DMSG_HDR_SIZE || ext > DMSG_EXT_MAX)
		return -EMSGSIZE;
	if (h.aux_bytes > DMSG_AUX_MAX)
		return -EMSGSIZE;
	if ((h.cmd & DMSGF_AUXOOB) || h.aux_descr != 0)
		return -EPROTO;
	apad = aux_padded(h.aux_bytes);
	total = ext + apad;
	if (need)
		*need = total;
	if (len < total)
		return DMSG_DEC_NEED;

	/* The header CRC covers the extended header with hdr_crc zeroed:
	 * compute over the bytes before the field, four zeroes, the rest. */
	{
		static const uint8_t zero4[4];
		size_t off = offsetof(struct dmsg_hdr, hdr_crc);

		crc = sk_crc32c(0, p, off);
		crc = sk_crc32c(crc, zero4, 4);
		crc = sk_crc32c(crc, p + off + 4, ext - off - 4);
	}
	if (crc != h.hdr_crc)
		return -EBADMSG;
	if (h.aux_bytes) {
		want_crc = sk_crc32c(0, p + ext, apad);
		if (want_crc != h.aux_crc)
			return -EBADMSG;
	}

	msg->hdr = h;
	msg->body_len = ext - DMSG_HDR_SIZE;
	memset(&msg->body, 0, sizeof(msg->body));
	memcpy(msg->body.raw, p + DMSG_HDR_SIZE, msg->body_len);
	if (swap)
		dmsg_swap_body(h.cmd, msg->body.raw, msg->body_len);
	msg->aux_len = h.aux_bytes;
	msg->aux = h.aux_bytes ? p + ext : NULL;
	msg->state = NULL;
	return (long)total;
}
