/*
 * libFuzzer harness for the DMSG iocom state machine (src/dmsg/iocom.c,
 * state.c): a real iocom on one end of a socket pair is fed a stream of
 * DMSG messages from the other -- transactions opened, continued, replied
 * to and deleted in any order, circuits (transactions under transactions),
 * one-way messages, replies to transactions it never opened -- while its
 * owner answers the way the xdisk server does: replies at once, keeps
 * some transactions open and acknowledges them, opens circuits under
 * them, and has opened a LNK_CONN of its own that the stream may answer.
 * At the end the peer closes: every transaction still open must be ended
 * with LOSTLINK, ops->lost must run exactly once, and nothing may leak.
 *
 * The first input byte: bit 0 patches each message's magic, size and
 * CRCs so that mutations reach the state machine rather than the framing
 * checks; bits 1-2 choose the owner's behaviour; bit 3 ends the link with
 * dmsg_iocom_fail instead of the peer's close.  The rest is the stream.
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.  The seeds are
 * recorded xdisk link streams (fuzz/mkseeds.py).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/crc32c.h>
#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static int lost_calls;
static unsigned mode, seen;

static void fz_state(struct dmsg_state *st, struct dmsg_msg *msg, void *arg)
{
	(void)arg;
	/* The peer ended its side: end ours, as a server would. */
	if ((msg->hdr.cmd & DMSGF_DELETE) && !dmsg_state_tx_done(st))
		dmsg_state_reply(st, msg->hdr.error ? msg->hdr.error : 0);
	else if (!dmsg_state_tx_done(st) && (seen++ & 3) == 0)
		dmsg_state_send(st, DMSG_LNK_ERROR, 0, NULL, 0, NULL, 0);
}

static void fz_rcvmsg(struct dmsg_iocom *io, struct dmsg_state *st,
		      struct dmsg_msg *msg, void *arg)
{
	static const uint8_t aux[64] = {1, 2, 3};

	(void)arg;
	if (!st) /* one-way: nothing to answer */
		return;
	switch ((mode + seen++) & 3) {
	case 0: /* answer and end at once */
		dmsg_state_reply(st, msg->hdr.error ? DMSG_ERR_PARAM : 0);
		break;
	case 1: /* acknowledge, keep open (LNK_CONN, LNK_SPAN) */
		dmsg_state_set_handler(st, fz_state, NULL);
		dmsg_state_ack(st, 0);
		break;
	case 2: /* keep open and open a circuit under it */
		dmsg_state_set_handler(st, fz_state, NULL);
		if (!dmsg_state_open(io, st, DMSG_LNK_CIRC, NULL, 0, NULL, 0,
				     fz_state, NULL))
			dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
		break;
	default: /* data back, with aux, and leave it open */
		dmsg_state_set_handler(st, fz_state, NULL);
		dmsg_state_send(st, DMSG_BLK_READ, 0, NULL, 0, aux,
				sizeof(aux));
		break;
	}
}

static void fz_lost(struct dmsg_iocom *io, int error, void *arg)
{
	(void)error;
	(void)arg;
	lost_calls++;
	dmsg_iocom_destroy(io);
}

static const struct dmsg_iocom_ops fz_ops = {
	.rcvmsg = fz_rcvmsg,
	.lost = fz_lost,
};

/* Give every whole message in b[0..n) a valid magic, size and CRCs. */
static void fz_patch(uint8_t *b, size_t n)
{
	size_t off = 0;

	while (n - off >= DMSG_HDR_SIZE) {
		struct dmsg_hdr h;
		size_t ext, apad;
		uint32_t crc;

		memcpy(&h, b + off, sizeof(h));
		h.magic = DMSG_HDR_MAGIC;
		h.aux_descr = 0;
		h.cmd &= ~DMSGF_AUXOOB;
		ext = (h.cmd & DMSGF_SIZE) * 64u;
		if (ext < 64 || ext > n - off || ext > DMSG_EXT_MAX)
			ext = 64;
		h.cmd = (h.cmd & ~DMSGF_SIZE) | (uint32_t)(ext / 64);
		h.aux_bytes %= 4096;
		apad = (h.aux_bytes + 63u) & ~63u;
		if (apad > n - off - ext) {
			h.aux_bytes = 0;
			apad = 0;
		}
		h.aux_crc = apad ? sk_crc32c(0, b + off + ext, apad) : 0;
		h.hdr_crc = 0;
		memcpy(b + off, &h, sizeof(h));
		crc = sk_crc32c(0, b + off, ext);
		memcpy(b + off + offsetof(struct dmsg_hdr, hdr_crc), &crc, 4);
		off += ext + apad;
	}
}

static void fz_drain(int fd)
{
	static uint8_t sink[1 << 16];

	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmsg_iocom_opts o = {.max_states = 64, .name = "fuzz"};
	struct dmsg_lnk_conn conn;
	struct dmsg_iocom *io;
	uint8_t *buf;
	size_t off = 0, n;
	int sv[2], i;

	if (!loop) {
		log_set_level(SK_LOG_ERR);
		loop = ev_loop_create();
	}
	if (size < 1)
		return 0;
	mode = data[0] >> 1;
	seen = 0;
	lost_calls = 0;
	n = size - 1;
	buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, n);
	if (data[0] & 1)
		fz_patch(buf, n);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	io = dmsg_iocom_create(loop, sv[0], &fz_ops, NULL, &o);
	if (!io)
		abort();
	memset(&conn, 0, sizeof(conn));
	conn.peer_type = DMSG_PEER_BLOCK;
	dmsg_state_open(io, NULL, DMSG_LNK_CONN, &conn, sizeof(conn), NULL, 0,
			fz_state, NULL);
	while (off < n && !lost_calls) {
		size_t chunk = n - off < 8192 ? n - off : 8192;
		ssize_t w = send(sv[1], buf + off, chunk,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno != EAGAIN)
			break;
		if (w > 0)
			off += (size_t)w;
		ev_loop_run_once(loop, 0);
		fz_drain(sv[1]);
	}
	for (i = 0; i < 4 && !lost_calls; i++) {
		ev_loop_run_once(loop, 0);
		fz_drain(sv[1]);
	}
	if (!lost_calls && (data[0] & 8))
		dmsg_iocom_fail(io, -ECONNRESET);
	else
		shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 1000 && !lost_calls; i++) {
		ev_loop_run_once(loop, i < 50 ? 0 : 1);
		fz_drain(sv[1]);
	}
	if (lost_calls != 1)
		abort(); /* the link neither ended nor reported it once */
	for (i = 0; i < 4; i++)
		ev_loop_run_once(loop, 0); /* the deferred free */
	close(sv[1]);
	free(buf);
	return 0;
}
