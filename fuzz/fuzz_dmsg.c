/*
 * libFuzzer harness for the DMSG parser: dmsg_decode() over arbitrary
 * bytes, as a stream (many messages back to back, like the iocom's read
 * buffer), plus the byte-swapping of every known command body.
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.
 *
 * The decoder must never read outside the input, never report a message
 * longer than the input, and never accept sizes beyond the limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/dmsg.h>

#include <scsikit/crc32c.h>

#include "dmsg/dmsg_int.h"

/* Half the inputs get a valid magic and CRCs patched in, so that the
 * fuzzer reaches the size checks and the body decoding behind them. */
static uint8_t *patched(const uint8_t *data, size_t size)
{
	uint8_t *b;
	struct dmsg_hdr h;
	uint32_t ext, crc;
	size_t apad;

	if (size < 65 || !(data[0] & 1))
		return NULL;
	b = malloc(size - 1);
	memcpy(b, data + 1, size - 1);
	size--;
	memcpy(&h, b, sizeof(h));
	h.magic = DMSG_HDR_MAGIC;
	h.aux_descr = 0;
	h.cmd &= ~DMSGF_AUXOOB;
	ext = (h.cmd & DMSGF_SIZE) * 64;
	if (ext < 64 || ext > size)
		ext = 64;
	h.cmd = (h.cmd & ~DMSGF_SIZE) | (ext / 64);
	apad = (h.aux_bytes + 63u) & ~63u;
	if (h.aux_bytes <= DMSG_AUX_MAX && ext + apad <= size)
		h.aux_crc = sk_crc32c(0, b + ext, apad);
	h.hdr_crc = 0;
	memcpy(b, &h, sizeof(h));
	crc = sk_crc32c(0, b, ext);
	memcpy(b + offsetof(struct dmsg_hdr, hdr_crc), &crc, 4);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dmsg_msg msg;
	size_t pos = 0, need;
	uint8_t *fixed = patched(data, size);

	if (fixed) {
		data = fixed;
		size--;
	}

	while (pos < size) {
		long n = dmsg_decode(data + pos, size - pos, &msg, &need);

		if (n <= 0)
			break;
		if ((size_t)n > size - pos || msg.aux_len > DMSG_AUX_MAX ||
		    msg.body_len > DMSG_BODY_MAX)
			abort();
		if (msg.aux_len &&
		    (msg.aux < data + pos || msg.aux + msg.aux_len > data + size))
			abort();
		/* Swapping a decoded body again must stay in bounds too. */
		dmsg_swap_body(msg.hdr.cmd, msg.body.raw, msg.body_len);
		pos += (size_t)n;
	}
	free(fixed);
	return 0;
}
