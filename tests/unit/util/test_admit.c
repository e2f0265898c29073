/*
 * Unit tests for admission control (src/util/admit.c): the cap, the
 * per-address cap (ports do not matter, v4-mapped IPv6 is the IPv4
 * address, Unix peers are exempt), leaving frees the slot, forced
 * admission over the cap, and the counters shown by `scsikit stats`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/log.h>

#include "util/admit.h"

static struct sockaddr_storage v4(const char *a, uint16_t port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in = (void *)&ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *in6 = (void *)&ss;

	in6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
	return ss;
}

static void test_per_peer(void **state)
{
	struct sk_admit a;
	struct sockaddr_storage p1 = v4("10.0.0.1", 1), p1b = v4("10.0.0.1", 2);
	struct sockaddr_storage p2 = v4("10.0.0.2", 1);
	struct sockaddr_storage mapped = v6("::ffff:10.0.0.1");
	struct sockaddr_storage six = v6("fe80::1");

	(void)state;
	sk_admit_init(&a, "t", 0, 2);
	assert_int_equal(sk_admit_enter(&a, &p1, "p1"), 0);
	assert_int_equal(sk_admit_enter(&a, &p1b, "p1b"), 0);
	/* Same address, other port, and the v4-mapped form: refused. */
	assert_int_equal(sk_admit_enter(&a, &p1, "p1"), -EUSERS);
	assert_int_equal(sk_admit_enter(&a, &mapped, "mapped"), -EUSERS);
	assert_int_equal(sk_admit_enter(&a, &p2, "p2"), 0);
	assert_int_equal(sk_admit_enter(&a, &six, "six"), 0);
	assert_int_equal(sk_admit_open(&a), 4);
	assert_int_equal(a.count[SK_ADMIT_REFUSED_PEER], 2);
	sk_admit_leave(&a, &p1b);
	assert_int_equal(sk_admit_enter(&a, &mapped, "mapped"), 0);
	sk_admit_leave(&a, &mapped);
	sk_admit_leave(&a, &p1);
	sk_admit_leave(&a, &p2);
	sk_admit_leave(&a, &six);
	assert_int_equal(sk_admit_open(&a), 0);
	for (int i = 0; i < SK_ADMIT_BUCKETS; i++)
		assert_null(a.peers[i]); /* nothing kept for gone peers */
	sk_admit_fini(&a);
}

static void test_cap_and_unix(void **state)
{
	struct sk_admit a;
	struct sockaddr_storage local = {.ss_family = AF_UNIX};
	struct sockaddr_storage p = v4("10.0.0.9", 5);

	(void)state;
	sk_admit_init(&a, "t", 3, 1);
	/* Unix peers: no per-address cap, but the cap counts them. */
	assert_int_equal(sk_admit_enter(&a, &local, "u"), 0);
	assert_int_equal(sk_admit_enter(&a, &local, "u"), 0);
	assert_int_equal(sk_admit_enter(&a, &p, "p"), 0);
	assert_int_equal(sk_admit_enter(&a, &local, "u"), -EMFILE);
	assert_int_equal(a.count[SK_ADMIT_REFUSED_CAP], 1);
	/* Forced in over the cap (an eviction is on its way). */
	sk_admit_force(&a, &local);
	assert_int_equal(sk_admit_open(&a), 4);
	for (int i = 0; i < 3; i++)
		sk_admit_leave(&a, &local);
	sk_admit_leave(&a, &p);
	assert_int_equal(sk_admit_open(&a), 0);
	sk_admit_note(&a, SK_ADMIT_TIMEOUT, "%s", "slow");
	sk_admit_note(&a, SK_ADMIT_TIMEOUT, "%s", "slow");
	assert_int_equal(a.count[SK_ADMIT_TIMEOUT], 2);
	assert_int_equal(a.unlogged[SK_ADMIT_TIMEOUT], 1); /* rate-limited */
	sk_admit_fini(&a);
}

static void test_dump(void **state)
{
	struct sk_admit a;
	struct sockaddr_storage p = v4("10.0.0.1", 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	sk_admit_init(&a, "zz", 1, 0);
	assert_int_equal(sk_admit_enter(&a, &p, "p"), 0);
	assert_int_equal(sk_admit_enter(&a, &p, "p"), -EMFILE);
	sk_admit_dump_all(f);
	fclose(f);
	assert_non_null(strstr(buf, "zz       open 1 refused-cap 1 "
				    "refused-peer 0 evicted 0 timeouts 0\n"));
	free(buf);
	sk_admit_leave(&a, &p);
	sk_admit_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_peer),
		cmocka_unit_test(test_cap_and_unix),
		cmocka_unit_test(test_dump),
	};

	log_set_level(SK_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
