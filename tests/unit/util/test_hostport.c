/*
 * Unit tests for sk_parse_hostport() and sk_parse_port(): every accepted
 * form, the default port, and the refusals (ports outside 1-65535, junk,
 * hosts too long) that keep a listener from wrapping to another port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/hostport.h"

struct hp_case {
	const char *in;
	unsigned flags;
	int rc;
	const char *host;
	uint16_t port;
};

static const struct hp_case hp_cases[] = {
	{ "127.0.0.1:3260", 0, 0, "127.0.0.1", 3260 },
	{ "example.org:1", 0, 0, "example.org", 1 },
	{ "host:65535", 0, 0, "host", 65535 },
	{ ":10809", 0, 0, "", 10809 },
	{ "host", 0, 0, "host", 999 },
	{ "[::1]:9987", 0, 0, "::1", 9987 },
	{ "[::1]", 0, 0, "::1", 999 },
	{ "fe80::1", 0, 0, "fe80::1", 999 },
	{ "10809", SK_HP_BARE_PORT, 0, "", 10809 },
	{ "10809", 0, 0, "10809", 999 },
	{ "127.0.0.1:0", SK_HP_PORT_ZERO, 0, "127.0.0.1", 0 },
	/* refused */
	{ "127.0.0.1:0", 0, -1, NULL, 0 },
	{ "127.0.0.1:76576", 0, -1, NULL, 0 },
	{ "127.0.0.1:65536", SK_HP_PORT_ZERO, -1, NULL, 0 },
	{ "127.0.0.1:99999999999", 0, -1, NULL, 0 },
	{ "127.0.0.1:", 0, -1, NULL, 0 },
	{ "127.0.0.1:x", 0, -1, NULL, 0 },
	{ "127.0.0.1:+80", 0, -1, NULL, 0 },
	{ "127.0.0.1:-1", 0, -1, NULL, 0 },
	{ "127.0.0.1: 80", 0, -1, NULL, 0 },
	{ "[::1]:99999", 0, -1, NULL, 0 },
	{ "[::1", 0, -1, NULL, 0 },
	{ "[]:80", 0, -1, NULL, 0 },
	{ "[::1]x", 0, -1, NULL, 0 },
	{ "70000", SK_HP_BARE_PORT, -1, NULL, 0 },
	{ "", 0, -1, NULL, 0 },
};

static void test_hostport_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hp_cases) / sizeof(hp_cases[0]); i++) {
		const struct hp_case *c = &hp_cases[i];
		char host[64] = "unchanged", err[128] = "";
		uint16_t port = 12345;
		int rc = sk_parse_hostport(c->in, c->flags, host, sizeof(host),
					   &port, 999, err, sizeof(err));

		if (rc != c->rc)
			fail_msg("'%s': rc %d, want %d (%s)", c->in, rc, c->rc,
				 err);
		if (rc == 0) {
			assert_string_equal(host, c->host);
			assert_int_equal(port, c->port);
		} else {
			assert_true(err[0] != '\0');
			assert_null(strchr(err, '\n'));
		}
	}
}

static void test_hostport_host_too_long(void **state)
{
	char host[8], err[128];
	uint16_t port;

	(void)state;
	assert_int_equal(sk_parse_hostport("a-long-name:80", 0, host,
					   sizeof(host), &port, 1, err,
					   sizeof(err)),
			 -1);
	assert_int_equal(sk_parse_hostport("[1:2:3:4:5:6:7:8]:80", 0, host,
					   sizeof(host), &port, 1, NULL, 0),
			 -1);
	/* Exactly fits: 7 characters and the NUL. */
	assert_int_equal(sk_parse_hostport("abcdefg:80", 0, host, sizeof(host),
					   &port, 1, NULL, 0),
			 0);
	assert_string_equal(host, "abcdefg");
}

static void test_port_alone(void **state)
{
	uint16_t p;

	(void)state;
	assert_int_equal(sk_parse_port("1", 0, &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(sk_parse_port("65535", 0, &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(sk_parse_port("0", 1, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(sk_parse_port("0", 0, &p), -1);
	assert_int_equal(sk_parse_port("65536", 1, &p), -1);
	assert_int_equal(sk_parse_port("000080", 0, &p), -1);
	assert_int_equal(sk_parse_port("", 0, &p), -1);
	assert_int_equal(sk_parse_port("8o", 0, &p), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport_table),
		cmocka_unit_test(test_hostport_host_too_long),
		cmocka_unit_test(test_port_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
