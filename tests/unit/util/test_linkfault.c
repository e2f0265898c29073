/*
 * Link-layer faults: the spec parser (table-driven), and each fault on a
 * real loopback TCP connection whose accepted end goes through
 * sk_link_fault_wrap() as a front end's would.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/evloop.h>
#include <scsikit/linkfault.h>

static const struct {
	const char *text;
	int ok;
	enum sk_link_fault_action action;
	uint32_t fronts, dir;
	uint64_t after;
	int32_t count;
} parse_cases[] = {
	{ "drop", 0, SK_LINK_DROP, 0, SK_LINK_RX | SK_LINK_TX, 0, -1 },
	{ "drop,after=64K,dir=rx,count=1", 0, SK_LINK_DROP, 0, SK_LINK_RX,
	  65536, 1 },
	{ "stall,front=xdisk+nbd,dir=tx", 0, SK_LINK_STALL,
	  (1u << SK_LINK_XDISK) | (1u << SK_LINK_NBD), SK_LINK_TX, 0, -1 },
	{ "corrupt,after=100,front=iscsi", 0, SK_LINK_CORRUPT,
	  1u << SK_LINK_ISCSI, SK_LINK_RX | SK_LINK_TX, 100, -1 },
	{ "delay=20,front=all,peer=127.0.0.1", 0, SK_LINK_DELAY, 0,
	  SK_LINK_RX | SK_LINK_TX, 0, -1 },
	{ "", -1, 0, 0, 0, 0, 0 },
	{ "explode", -1, 0, 0, 0, 0, 0 },
	{ "delay", -1, 0, 0, 0, 0, 0 },
	{ "delay=0", -1, 0, 0, 0, 0, 0 },
	{ "drop,front=smtp", -1, 0, 0, 0, 0, 0 },
	{ "drop,dir=up", -1, 0, 0, 0, 0, 0 },
	{ "drop,after=-1", -1, 0, 0, 0, 0, 0 },
	{ "drop,after=1X", -1, 0, 0, 0, 0, 0 },
	{ "drop,count=0", -1, 0, 0, 0, 0, 0 },
	{ "drop,colour=red", -1, 0, 0, 0, 0, 0 },
	{ "drop,peer", -1, 0, 0, 0, 0, 0 },
	{ "drop,pdus=2,dir=rx,front=xdisk", 0, SK_LINK_DROP,
	  1u << SK_LINK_XDISK, SK_LINK_RX, 0, -1 },
	{ "drop,pdus=2,front=xdisk", -1, 0, 0, 0, 0, 0 },	  /* both ways */
	{ "drop,pdus=2,dir=rx", -1, 0, 0, 0, 0, 0 },		  /* any front */
	{ "drop,pdus=2,dir=rx,front=nbd", -1, 0, 0, 0, 0, 0 }, /* no framing */
	{ "drop,pdus=0,dir=rx,front=iscsi", -1, 0, 0, 0, 0, 0 },
};

static void test_parse(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		struct sk_link_fault_rule r;
		char err[200] = "";
		int rc = sk_link_fault_parse(parse_cases[i].text, &r, err,
					     sizeof(err));

		assert_int_equal(rc, parse_cases[i].ok);
		if (rc < 0) {
			assert_true(err[0] != 0);
			continue;
		}
		assert_int_equal(r.action, parse_cases[i].action);
		assert_int_equal(r.front_mask, parse_cases[i].fronts);
		assert_int_equal(r.dir, parse_cases[i].dir);
		assert_int_equal(r.after, parse_cases[i].after);
		assert_int_equal(r.count, parse_cases[i].count);
	}
}

/* A loopback connection: *cli is the peer, the return the accepted end
 * after wrapping as front end `front`. */
static int pair(int *cli, enum sk_link_front front)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), afd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&sin, sizeof(sin)),
			 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	close(lfd);
	return sk_link_fault_wrap(afd, front, NULL, 0);
}

/* Read until EOF or `ms` of silence; the byte count. */
static size_t drain(int fd, uint8_t *buf, size_t cap, int ms)
{
	size_t got = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return got;
		n = read(fd, buf + got, cap - got);
		if (n <= 0)
			return got;
		got += (size_t)n;
		if (got == cap)
			return got;
	}
}

static int add(const char *spec)
{
	struct sk_link_fault_rule r;
	char err[200];

	assert_int_equal(sk_link_fault_parse(spec, &r, err, sizeof(err)), 0);
	return sk_link_fault_add(&r);
}

static uint8_t tx[200000], rx[200000];

static void test_no_rule_no_relay(void **state)
{
	int cli, fd;

	/* A rule for another front end leaves the socket as it is. */
	int id = add("drop,front=nbd");

	fd = pair(&cli, SK_LINK_ISCSI);
	assert_int_equal(sk_link_fault_hits(id), 0);
	assert_int_equal(write(cli, "abc", 3), 3);
	assert_int_equal(drain(fd, rx, 3, 1000), 3);
	sk_link_fault_clear(0);
	close(cli);
	close(fd);
}

static void test_drop_after(void **state)
{
	int cli, fd, id = add("drop,after=1000,dir=rx,count=1,front=xdisk");

	for (size_t i = 0; i < sizeof(tx); i++)
		tx[i] = (uint8_t)i;
	fd = pair(&cli, SK_LINK_XDISK);
	assert_int_equal(sk_link_fault_hits(id), 1);
	assert_int_equal(send(cli, tx, 5000, MSG_NOSIGNAL), 5000);
	/* Exactly the first 1000 bytes arrive, then the end. */
	assert_int_equal(drain(fd, rx, sizeof(rx), 2000), 1000);
	assert_memory_equal(rx, tx, 1000);
	/* The peer sees the connection end too. */
	assert_int_equal(drain(cli, rx, sizeof(rx), 2000), 0);
	close(cli);
	close(fd);
	/* count=1: the next connection is left alone. */
	fd = pair(&cli, SK_LINK_XDISK);
	assert_int_equal(sk_link_fault_hits(id), 1);
	close(cli);
	close(fd);
	sk_link_fault_clear(id);
}

static void test_corrupt(void **state)
{
	int cli, fd;

	add("corrupt,after=70000,dir=tx");
	fd = pair(&cli, SK_LINK_NBD);
	for (size_t i = 0; i < sizeof(tx); i++)
		tx[i] = (uint8_t)(i * 7);
	assert_int_equal(write(fd, tx, 100000), 100000);
	assert_int_equal(drain(cli, rx, 100000, 2000), 100000);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(rx[i], i == 70000 ? (uint8_t)~tx[i] : tx[i]);
	sk_link_fault_clear(0);
	close(cli);
	close(fd);
}

static void test_stall_then_clear(void **state)
{
	int cli, fd, id = add("stall,after=10,dir=rx");

	fd = pair(&cli, SK_LINK_ISCSI_INI);
	assert_int_equal(write(cli, "0123456789abcdef", 16), 16);
	assert_int_equal(drain(fd, rx, 16, 300), 10);
	/* Nothing moves either way while stalled. */
	assert_int_equal(write(fd, "xyz", 3), 3);
	assert_int_equal(drain(cli, rx, 3, 300), 0);
	assert_int_equal(sk_link_fault_clear(id), 0);
	assert_int_equal(drain(fd, rx, 6, 2000), 6);
	assert_memory_equal(rx, "abcdef", 6);
	assert_int_equal(drain(cli, rx, 3, 2000), 3);
	assert_memory_equal(rx, "xyz", 3);
	close(cli);
	close(fd);
}

static void test_delay(void **state)
{
	int cli, fd;
	uint64_t t0;

	add("delay=150,front=xdisk-client");
	fd = pair(&cli, SK_LINK_XDISK_CLIENT);
	t0 = ev_now_ms();
	assert_int_equal(write(cli, "ping", 4), 4);
	assert_int_equal(drain(fd, rx, 4, 2000), 4);
	assert_true(ev_now_ms() - t0 >= 140);
	assert_int_equal(sk_link_fault_clear(0), 0);
	close(cli);
	close(fd);
}

/* A DMSG message: 64-byte header (magic, cmd's size field 1) and aux. */
static size_t dmsg_msg(uint8_t *b, uint32_t aux)
{
	uint32_t cmd = 1;

	memset(b, 0, 64 + ((aux + 63) & ~63u));
	b[0] = 0x32;
	b[1] = 0x48;
	memcpy(b + 32, &cmd, 4);
	memcpy(b + 40, &aux, 4);
	return 64 + ((aux + 63) & ~63u);
}

static void test_drop_after_pdus_dmsg(void **state)
{
	size_t one, len = 0;
	int cli, fd;

	add("drop,front=xdisk,dir=rx,pdus=2,count=1");
	fd = pair(&cli, SK_LINK_XDISK);
	len += dmsg_msg(tx + len, 100);
	one = len;
	len += dmsg_msg(tx + len, 0);
	len += dmsg_msg(tx + len, 5000);
	/* Sent in odd pieces, so that headers straddle reads; the ones
	 * after the cut may find the connection gone. */
	for (size_t off = 0; off < len; off += 37) {
		size_t k = len - off < 37 ? len - off : 37;

		if (send(cli, tx + off, k, MSG_NOSIGNAL) != (ssize_t)k)
			break;
	}
	assert_int_equal(drain(fd, rx, sizeof(rx), 2000), one + 64);
	sk_link_fault_clear(0);
	close(cli);
	close(fd);
}

/* An iSCSI PDU: BHS with opcode/flags, data padded, digests if asked. */
static size_t iscsi_pdu(uint8_t *b, uint8_t op, uint8_t fl, const char *data,
			size_t dlen, bool hd, bool dd)
{
	size_t n = 48;

	memset(b, 0, 48);
	b[0] = op;
	b[1] = fl;
	b[5] = (uint8_t)(dlen >> 16);
	b[6] = (uint8_t)(dlen >> 8);
	b[7] = (uint8_t)dlen;
	if (hd)
		n += 4;
	memset(b + n, 0, (dlen + 3) & ~(size_t)3);
	memcpy(b + n, data, dlen);
	n += (dlen + 3) & ~(size_t)3;
	if (dd && dlen)
		n += 4;
	return n;
}

static void test_drop_after_pdus_iscsi(void **state)
{
	static const char keys[] = "HeaderDigest=CRC32C\0DataDigest=CRC32C";
	static uint8_t resp[256];
	size_t login, len, rlen;
	int cli, fd;

	/* The 2nd PDU from the initiator is its first with digests. */
	add("drop,front=iscsi,dir=rx,pdus=2,count=1");
	fd = pair(&cli, SK_LINK_ISCSI);
	login = iscsi_pdu(tx, 0x43, 0x87, keys, sizeof(keys), false, false);
	assert_int_equal(write(cli, tx, login), (ssize_t)login);
	assert_int_equal(drain(fd, rx, login, 2000), login);
	/* The target's final login answer: full feature phase, digests. */
	rlen = iscsi_pdu(resp, 0x23, 0x87, keys, sizeof(keys), false, false);
	assert_int_equal(write(fd, resp, rlen), (ssize_t)rlen);
	assert_int_equal(drain(cli, rx, rlen, 2000), rlen);
	len = iscsi_pdu(tx, 0x40, 0x80, "0123456789", 10, true, true);
	assert_int_equal(len, 48 + 4 + 12 + 4);
	iscsi_pdu(tx + len, 0x40, 0x80, "0123456789", 10, true, true);
	assert_int_equal(send(cli, tx, 2 * len, MSG_NOSIGNAL),
			 (ssize_t)(2 * len));
	assert_int_equal(drain(fd, rx, sizeof(rx), 2000), len);
	sk_link_fault_clear(0);
	close(cli);
	close(fd);
}

static void test_list_and_clear(void **state)
{
	char buf[2048];
	FILE *f;
	int id = add("drop,front=iscsi,peer=10.9.8.7");

	f = fmemopen(buf, sizeof(buf), "w");
	sk_link_fault_list(f);
	fclose(f);
	assert_non_null(strstr(buf, "drop,front=iscsi,peer=10.9.8.7"));
	assert_int_equal(sk_link_fault_clear(id), 0);
	assert_int_equal(sk_link_fault_clear(id), -ENOENT);
	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf), "w");
	sk_link_fault_list(f);
	fclose(f);
	assert_null(strstr(buf, "peer=10.9.8.7"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_no_rule_no_relay),
		cmocka_unit_test(test_drop_after),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_stall_then_clear),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_drop_after_pdus_dmsg),
		cmocka_unit_test(test_drop_after_pdus_iscsi),
		cmocka_unit_test(test_list_and_clear),
	};

	/* A peer cut by a fault is written to: EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
