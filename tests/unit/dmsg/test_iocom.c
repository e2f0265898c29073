/*
 * The DMSG iocom over socketpairs: transactions in both directions,
 * sub-transactions, LOSTLINK children first, keep-alive, NOSUPP for
 * DBG_SHELL and unknown commands, batching, and every bad-input case
 * (each its own test) ending in a reset of that link only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/crc32c.h>
#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>

static struct ev_loop *loop;

/* What a side saw. */
struct side {
	struct dmsg_iocom *io;
	int lost;
	int lost_err;
	int oneway;
	int created;
	char order[64];	/* LOSTLINK order, one letter per state */
	int norder;
	struct dmsg_msg last;	/* last reply header seen by a handler */
	int replies;
	char aux[64];
	bool ack_spans;		/* rcvmsg acks instead of answering */
};

static struct side A, B;

static void run_for(int ms)
{
	uint64_t end = ev_now_ms() + (uint64_t)ms;

	while (ev_now_ms() < end)
		ev_loop_run_once(loop, 10);
}

static bool run_until(int *flag, int ms)
{
	uint64_t end = ev_now_ms() + (uint64_t)ms;

	while (!*flag && ev_now_ms() < end)
		ev_loop_run_once(loop, 10);
	return *flag != 0;
}

static void order_handler(struct dmsg_state *st, struct dmsg_msg *m,
			  void *arg);

static void span_seen_handler(struct dmsg_state *st, struct dmsg_msg *m,
			      void *arg)
{
	struct side *s = arg;

	if ((m->hdr.cmd & DMSGF_DELETE) && s->norder < 60)
		s->order[s->norder++] = 'S';
}

static void side_rcvmsg(struct dmsg_iocom *io, struct dmsg_state *st,
			struct dmsg_msg *m, void *arg)
{
	struct side *s = arg;

	if (!st) {
		s->oneway++;
		return;
	}
	s->created++;
	switch (m->hdr.cmd & DMSGF_BASECMDMASK) {
	case DMSG_BLK_READ: {
		struct dmsg_blk_error e = { .keyid = m->body.blk_rw.keyid };

		dmsg_state_send(st, DMSG_BLK_ERROR | DMSGF_DELETE, 0, &e,
				sizeof(e), "hello", 5);
		break;
	}
	case DMSG_LNK_SPAN:
		dmsg_state_ack(st, 0);
		if (s->ack_spans) {
			struct dmsg_blk_open bo = { .modes = 1 };

			dmsg_state_set_handler(st, span_seen_handler, s);
			dmsg_state_open(io, st, DMSG_BLK_OPEN, &bo, sizeof(bo),
					NULL, 0, order_handler,
					(void *)(uintptr_t)'C');
		}
		break;
	case DMSG_BLK_OPEN:
	case DMSG_LNK_CONN:
		dmsg_state_ack(st, 0);
		break;
	default:
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
	}
}

static void side_lost(struct dmsg_iocom *io, int err, void *arg)
{
	struct side *s = arg;

	s->lost++;
	s->lost_err = err;
}

static const struct dmsg_iocom_ops side_ops = {
	.rcvmsg = side_rcvmsg,
	.lost = side_lost,
};

static void reply_handler(struct dmsg_state *st, struct dmsg_msg *m,
			  void *arg)
{
	struct side *s = arg;

	s->replies++;
	s->last.hdr = m->hdr;
	s->last.body = m->body;
	if (m->aux_len && m->aux_len < sizeof(s->aux)) {
		memcpy(s->aux, m->aux, m->aux_len);
		s->aux[m->aux_len] = 0;
	}
}

/* A handler that records the order in which LOSTLINK arrives. */
static void order_handler(struct dmsg_state *st, struct dmsg_msg *m,
			  void *arg)
{
	char c = (char)(uintptr_t)arg;

	if ((m->hdr.cmd & DMSGF_DELETE) &&
	    m->hdr.error == DMSG_ERR_LOSTLINK && A.norder < 60)
		A.order[A.norder++] = c;
}

static int setup(void **state)
{
	int sv[2];
	struct dmsg_iocom_opts o = { .ping_ms = 100, .timeout_ms = 2000 };

	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	loop = ev_loop_create();
	assert_non_null(loop);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	o.name = "A";
	A.io = dmsg_iocom_create(loop, sv[0], &side_ops, &A, &o);
	o.name = "B";
	B.io = dmsg_iocom_create(loop, sv[1], &side_ops, &B, &o);
	assert_non_null(A.io);
	assert_non_null(B.io);
	return 0;
}

static int teardown(void **state)
{
	if (A.io)
		dmsg_iocom_destroy(A.io);
	if (B.io)
		dmsg_iocom_destroy(B.io);
	run_for(20);
	ev_loop_destroy(loop);
	return 0;
}

static uint32_t open_states(struct dmsg_iocom *io)
{
	struct dmsg_iocom_stats st;

	dmsg_iocom_get_stats(io, &st);
	return st.states_open;
}

static void test_one_message_transaction(void **state)
{
	struct dmsg_blk_rw rw = { .keyid = 9, .bytes = 512 };

	assert_non_null(dmsg_state_open(A.io, NULL,
					DMSG_BLK_READ | DMSGF_DELETE, &rw,
					sizeof(rw), NULL, 0, reply_handler,
					&A));
	assert_true(run_until(&A.replies, 1000));
	assert_int_equal(A.last.hdr.cmd & ~DMSGF_SIZE,
			 DMSG_BLK_ERROR | DMSGF_CREATE | DMSGF_DELETE |
				 DMSGF_REPLY);
	assert_int_equal(A.last.body.blk_error.keyid, 9);
	assert_string_equal(A.aux, "hello");
	run_for(20);
	assert_int_equal(open_states(A.io), 0);
	assert_int_equal(open_states(B.io), 0);
}

static void test_long_transaction_both_deletes(void **state)
{
	struct dmsg_lnk_span sp = { 0 };
	struct dmsg_state *st;

	st = dmsg_state_open(A.io, NULL, DMSG_LNK_SPAN, &sp, sizeof(sp), NULL,
			     0, reply_handler, &A);
	assert_non_null(st);
	assert_true(run_until(&A.replies, 1000));
	/* acknowledged, still open on both sides */
	assert_int_equal(A.last.hdr.cmd & ~DMSGF_SIZE,
			 DMSG_LNK_ERROR | DMSGF_CREATE | DMSGF_REPLY);
	assert_int_equal(open_states(A.io), 1);
	assert_int_equal(open_states(B.io), 1);
	/* we close ours; the peer's side closes in answer */
	assert_int_equal(dmsg_state_reply(st, 0), 0);
	A.replies = 0;
	assert_true(run_until(&A.replies, 1000));
	assert_true(A.last.hdr.cmd & DMSGF_DELETE);
	run_for(20);
	assert_int_equal(open_states(A.io), 0);
	assert_int_equal(open_states(B.io), 0);
}

static void test_lostlink_children_first(void **state)
{
	struct dmsg_lnk_span sp = { 0 };
	struct dmsg_blk_open bo = { .modes = 1 };
	struct dmsg_state *p, *c, *g, *p2;

	p = dmsg_state_open(A.io, NULL, DMSG_LNK_SPAN, &sp, sizeof(sp), NULL,
			    0, order_handler, (void *)(uintptr_t)'P');
	p2 = dmsg_state_open(A.io, NULL, DMSG_LNK_SPAN, &sp, sizeof(sp), NULL,
			     0, order_handler, (void *)(uintptr_t)'Q');
	c = dmsg_state_open(A.io, p, DMSG_BLK_OPEN, &bo, sizeof(bo), NULL, 0,
			    order_handler, (void *)(uintptr_t)'C');
	g = dmsg_state_open(A.io, c, DMSG_BLK_OPEN, &bo, sizeof(bo), NULL, 0,
			    order_handler, (void *)(uintptr_t)'G');
	assert_non_null(p);
	assert_non_null(p2);
	assert_non_null(c);
	assert_non_null(g);
	run_for(50);
	assert_int_equal(B.created, 4);
	assert_int_equal(open_states(B.io), 4);
	dmsg_iocom_destroy(B.io);
	B.io = NULL;
	assert_true(run_until(&A.lost, 1000));
	A.order[A.norder] = 0;
	/* G before C before P; Q anywhere */
	assert_int_equal(A.norder, 4);
	assert_true(strchr(A.order, 'G') < strchr(A.order, 'C'));
	assert_true(strchr(A.order, 'C') < strchr(A.order, 'P'));
	assert_int_equal(A.lost_err, 0); /* clean EOF */
	assert_int_equal(open_states(A.io), 0);
	/* a lost link refuses new transactions */
	assert_null(dmsg_state_open(A.io, NULL, DMSG_LNK_SPAN, &sp,
				    sizeof(sp), NULL, 0, NULL, NULL));
}

static void test_parent_delete_ends_children(void **state)
{
	/* B opens a span to A, A opens a BLK_OPEN under it; B closes the
	 * span: A's child is ended (LOSTLINK) before the span's DELETE. */
	struct dmsg_lnk_span sp = { 0 };
	struct dmsg_state *bspan;

	A.ack_spans = true;
	bspan = dmsg_state_open(B.io, NULL, DMSG_LNK_SPAN, &sp, sizeof(sp),
				NULL, 0, reply_handler, &B);
	assert_non_null(bspan);
	run_for(50);
	assert_int_equal(open_states(A.io), 2);
	assert_int_equal(open_states(B.io), 2);
	dmsg_state_reply(bspan, 0);
	run_for(50);
	A.order[A.norder] = 0;
	assert_string_equal(A.order, "CS");
	assert_int_equal(A.lost, 0);
	assert_int_equal(B.lost, 0);
}

static void test_oneway_and_batching(void **state)
{
	struct dmsg_iocom_stats sa, sb;

	for (int i = 0; i < 200; i++)
		assert_int_equal(dmsg_iocom_send_oneway(
					 A.io, DMSG_CMD(DMSG_PROTO_DBG, 0x42),
					 0, NULL, 0, "x", 1),
				 0);
	run_for(100);
	assert_int_equal(B.oneway, 200);
	dmsg_iocom_get_stats(A.io, &sa);
	dmsg_iocom_get_stats(B.io, &sb);
	/* 200 messages in a handful of writev and read calls */
	assert_true(sa.writev_calls <= 8);
	assert_true(sb.read_calls <= 8);
	assert_int_equal(open_states(A.io), 0);
}

static void test_ping_keeps_link(void **state)
{
	run_for(600); /* idle well beyond several ping intervals */
	assert_int_equal(A.lost, 0);
	assert_int_equal(B.lost, 0);
}

/* ---- a raw peer ----------------------------------------------------------*/

static int raw_fd;

static void raw_setup(uint32_t timeout_ms, uint32_t max_states)
{
	int sv[2];
	struct dmsg_iocom_opts o = { .ping_ms = 100,
				     .timeout_ms = timeout_ms,
				     .max_states = max_states,
				     .name = "A" };

	memset(&A, 0, sizeof(A));
	memset(&B, 0, sizeof(B));
	loop = ev_loop_create();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	A.io = dmsg_iocom_create(loop, sv[0], &side_ops, &A, &o);
	assert_non_null(A.io);
	raw_fd = sv[1];
	fcntl(raw_fd, F_SETFL, O_NONBLOCK);
}

static int raw_setup_default(void **state)
{
	raw_setup(2000, 0);
	return 0;
}

static int raw_teardown(void **state)
{
	close(raw_fd);
	return teardown(state);
}

static uint8_t wbuf[8192];

static size_t raw_msg(uint64_t msgid, uint64_t circuit, uint32_t cmd,
		      const void *body, size_t blen, const void *aux,
		      size_t alen)
{
	struct dmsg_hdr h = { .msgid = msgid, .circuit = circuit, .cmd = cmd };
	long n = dmsg_encode(&h, body, blen, aux, alen, wbuf, sizeof(wbuf));

	assert_true(n > 0);
	return (size_t)n;
}

static void raw_write(const void *p, size_t n)
{
	assert_int_equal(write(raw_fd, p, n), (ssize_t)n);
}

/* Read what A sent and find the first message that is not a PING. */
static bool raw_read_reply(struct dmsg_msg *m)
{
	static uint8_t rb[65536];
	size_t len = 0;

	run_for(100);
	for (;;) {
		ssize_t n = read(raw_fd, rb + len, sizeof(rb) - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	for (size_t pos = 0; pos < len;) {
		long u = dmsg_decode(rb + pos, len - pos, m, NULL);

		if (u <= 0)
			return false;
		pos += (size_t)u;
		if ((m->hdr.cmd & DMSGF_BASECMDMASK) != DMSG_LNK_PING)
			return true;
	}
	return false;
}

static struct dmsg_msg rm;

static void test_dbg_shell_nosupp(void **state)
{
	size_t n = raw_msg(77, 0, DMSG_DBG_SHELL | DMSGF_CREATE | DMSGF_DELETE,
			   NULL, 0, "ls", 2);

	raw_write(wbuf, n);
	assert_true(raw_read_reply(&rm));
	assert_int_equal(rm.hdr.msgid, 77);
	assert_int_equal(rm.hdr.cmd & ~DMSGF_SIZE,
			 DMSG_LNK_ERROR | DMSGF_CREATE | DMSGF_DELETE |
				 DMSGF_REPLY);
	assert_int_equal(rm.hdr.error, DMSG_ERR_NOSUPP);
	assert_int_equal(A.lost, 0);
	assert_int_equal(open_states(A.io), 0);
}

static void test_unknown_command_nosupp(void **state)
{
	size_t n = raw_msg(78, 0,
			   DMSG_CMD(DMSG_PROTO_VOP, 0x7) | DMSGF_CREATE |
				   DMSGF_DELETE,
			   NULL, 0, NULL, 0);

	raw_write(wbuf, n);
	assert_true(raw_read_reply(&rm));
	assert_int_equal(rm.hdr.msgid, 78);
	assert_int_equal(rm.hdr.error, DMSG_ERR_NOSUPP);
	assert_int_equal(A.lost, 0);
}

static void test_short_body_param(void **state)
{
	/* BLK_READ with a bare header: no room for its fields. */
	size_t n = raw_msg(79, 0, DMSG_BLK_READ | DMSGF_CREATE | DMSGF_DELETE,
			   NULL, 0, NULL, 0);

	raw_write(wbuf, n);
	assert_true(raw_read_reply(&rm));
	assert_int_equal(rm.hdr.error, DMSG_ERR_PARAM);
	assert_int_equal(A.lost, 0);
}

static void test_unknown_circuit_cantcirc(void **state)
{
	struct dmsg_blk_rw rw = { 0 };
	size_t n = raw_msg(80, 0xdead, DMSG_BLK_READ | DMSGF_CREATE |
					       DMSGF_DELETE,
			   &rw, sizeof(rw), NULL, 0);

	raw_write(wbuf, n);
	assert_true(raw_read_reply(&rm));
	assert_int_equal(rm.hdr.error, DMSG_ERR_CANTCIRC);
	assert_int_equal(A.lost, 0);
}

static void expect_reset(void)
{
	assert_true(run_until(&A.lost, 1000));
	assert_true(A.lost_err < 0);
	assert_int_equal(open_states(A.io), 0);
}

static void test_bad_magic_resets(void **state)
{
	size_t n = raw_msg(1, 0, DMSG_LNK_PING, NULL, 0, NULL, 0);

	wbuf[0] = 0x55;
	raw_write(wbuf, n);
	expect_reset();
}

static void test_bad_crc_resets(void **state)
{
	size_t n = raw_msg(1, 0, DMSG_LNK_PING, NULL, 0, "abc", 3);

	wbuf[70] ^= 1; /* aux byte */
	raw_write(wbuf, n);
	expect_reset();
}

static void test_size_beyond_limits_resets(void **state)
{
	struct dmsg_hdr h;
	uint32_t crc;
	size_t n = raw_msg(1, 0, DMSG_LNK_PING, NULL, 0, NULL, 0);

	memcpy(&h, wbuf, sizeof(h));
	h.aux_bytes = 512u << 20; /* 512 MiB claimed */
	h.hdr_crc = 0;
	memcpy(wbuf, &h, sizeof(h));
	crc = sk_crc32c(0, wbuf, 64);
	memcpy(wbuf + 60, &crc, 4);
	raw_write(wbuf, n);
	expect_reset();
}

static void test_reply_to_unknown_msgid_resets(void **state)
{
	size_t n = raw_msg(0x999, 0,
			   DMSG_LNK_ERROR | DMSGF_CREATE | DMSGF_DELETE |
				   DMSGF_REPLY,
			   NULL, 0, NULL, 0);

	raw_write(wbuf, n);
	expect_reset();
}

static void test_truncated_message_resets(void **state)
{
	struct dmsg_blk_rw rw = { 0 };
	size_t n = raw_msg(5, 0, DMSG_BLK_WRITE | DMSGF_CREATE | DMSGF_DELETE,
			   &rw, sizeof(rw), wbuf + 4096, 1000);

	raw_write(wbuf, n - 200);
	run_for(50);
	assert_int_equal(A.lost, 0); /* waiting for the rest */
	shutdown(raw_fd, SHUT_WR);
	expect_reset();
	assert_int_equal(A.lost_err, -EPIPE);
}

static void test_silence_loses_link(void **state)
{
	/* The raw peer never speaks: lost after the 300 ms timeout. */
	uint64_t t0 = ev_now_ms();

	expect_reset();
	assert_int_equal(A.lost_err, -ETIMEDOUT);
	assert_true(ev_now_ms() - t0 >= 250);
}

static int raw_setup_short_timeout(void **state)
{
	raw_setup(300, 0);
	return 0;
}

static void test_too_many_transactions_resets(void **state)
{
	struct dmsg_lnk_span sp = { 0 };

	for (uint64_t i = 1; i <= 9; i++) {
		size_t n = raw_msg(i, 0, DMSG_LNK_SPAN | DMSGF_CREATE, &sp,
				   sizeof(sp), NULL, 0);

		raw_write(wbuf, n);
	}
	expect_reset();
	assert_int_equal(A.created, 8);
}

static int raw_setup_few_states(void **state)
{
	raw_setup(2000, 8);
	return 0;
}

static void test_duplicate_create_resets(void **state)
{
	struct dmsg_lnk_span sp = { 0 };
	size_t n = raw_msg(3, 0, DMSG_LNK_SPAN | DMSGF_CREATE, &sp, sizeof(sp),
			   NULL, 0);

	raw_write(wbuf, n);
	raw_write(wbuf, n);
	expect_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_message_transaction,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_long_transaction_both_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lostlink_children_first,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_parent_delete_ends_children, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oneway_and_batching,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_keeps_link, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dbg_shell_nosupp,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command_nosupp,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_short_body_param,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_circuit_cantcirc,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic_resets,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_bad_crc_resets,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_size_beyond_limits_resets,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(
			test_reply_to_unknown_msgid_resets, raw_setup_default,
			raw_teardown),
		cmocka_unit_test_setup_teardown(test_truncated_message_resets,
						raw_setup_default,
						raw_teardown),
		cmocka_unit_test_setup_teardown(test_silence_loses_link,
						raw_setup_short_timeout,
						raw_teardown),
		cmocka_unit_test_setup_teardown(
			test_too_many_transactions_resets,
			raw_setup_few_states, raw_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_create_resets,
						raw_setup_default,
						raw_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
