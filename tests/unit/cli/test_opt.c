/*
 * Unit tests for the scsikit command's option parser (tools/cli_opt.c):
 * table lookup (long, short, prefix-routed, aliases), value checks (numbers
 * with ranges, sizes, flags), options and positionals in any order, "--",
 * raw requests, and the one-line errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_opt.h"

enum { O_SOCKET, O_JSON, O_N, O_SIZE, O_V, O_C, O_FE, O_OLD };

static const struct cli_opt table[] = {
	{ "socket", 0, CLI_STR, O_SOCKET, "PATH", 0, 0, "socket" },
	{ "json", 0, CLI_FLAG, O_JSON, NULL, 0, 0, "json" },
	{ "reactors", 0, CLI_NUM, O_N, "N", 1, 16, "reactors" },
	{ "max-buffer", 0, CLI_SIZE, O_SIZE, "SIZE", 4096, 1 << 30, "size" },
	{ "verbose", 'v', CLI_FLAG, O_V, NULL, 0, 0, "verbose" },
	{ "C", 'C', CLI_NUM, O_C, "RETRIES", 0, 100, "retries" },
	{ "nbd", 0, CLI_STR, O_FE, "VALUE", 0, 0, NULL,
	  CLI_PREFIX | CLI_HIDDEN },
	{ "ctl", 0, CLI_STR, O_SOCKET, "PATH", 0, 0, NULL, CLI_HIDDEN },
	{ NULL },
};

/* Parse argv (NULL-terminated) and render what was found as text:
 * "id:key=value ..." then "| pos ...", or "ERR: message". */
static void parse(const char *const *args, char *out, size_t len)
{
	char *argv[32], *pos[8];
	struct cli_parser p;
	struct cli_val v;
	int argc = 0, id;
	size_t n = 0;

	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	cli_init(&p, "test", argc, argv, 0, pos, 8);
	cli_add_table(&p, table);
	out[0] = '\0';
	while ((id = cli_next(&p, &v)) != CLI_END) {
		if (id == CLI_ERROR) {
			snprintf(out, len, "ERR: %s", p.err);
			assert_null(strchr(p.err, '\n'));
			return;
		}
		if (v.opt->type == CLI_NUM || v.opt->type == CLI_SIZE)
			n += (size_t)snprintf(out + n, len - n, "%d:%s=%llu ",
					      id, v.key,
					      (unsigned long long)v.num);
		else
			n += (size_t)snprintf(out + n, len - n, "%d:%s=%s ", id,
					      v.key, v.str ? v.str : "-");
	}
	n += (size_t)snprintf(out + n, len - n, "|");
	for (int i = 0; i < p.npos; i++)
		n += (size_t)snprintf(out + n, len - n, " %s", pos[i]);
}

struct case_ {
	const char *argv[8];
	const char *want;
};

static const struct case_ cases[] = {
	/* any order, both value forms */
	{ { "list", "--json", "--socket", "/s", NULL }, "1:json=- 0:socket=/s | list" },
	{ { "--socket=/s", "list", NULL }, "0:socket=/s | list" },
	{ { "--json", "a", "b", "--json", NULL }, "1:json=- 1:json=- | a b" },
	/* "--" ends options; "-" alone is positional */
	{ { "--", "--json", "-", NULL }, "| --json -" },
	/* short options, with the value attached or apart */
	{ { "-v", "-C", "3", "-C7", NULL }, "4:verbose=- 5:C=3 5:C=7 |" },
	/* numbers: range, base 0 */
	{ { "--reactors", "16", "--reactors=0x2", NULL }, "2:reactors=16 2:reactors=2 |" },
	{ { "--reactors", "0", NULL }, "ERR: bad value '0' for '--reactors' (1 to 16)" },
	{ { "--reactors", "17", NULL }, "ERR: bad value '17' for '--reactors' (1 to 16)" },
	{ { "--reactors", "-1", NULL }, "ERR: bad value '-1' for '--reactors' (1 to 16)" },
	{ { "--reactors", "2x", NULL }, "ERR: bad value '2x' for '--reactors' (1 to 16)" },
	{ { "--reactors", "99999999999999999999999", NULL }, "ERR: bad value '99999999999999999999999' for '--reactors' (1 to 16)" },
	{ { "-C", "101", NULL }, "ERR: bad value '101' for '-C' (0 to 100)" },
	/* sizes go through sk_parse_size */
	{ { "--max-buffer", "64M", NULL }, "3:max-buffer=67108864 |" },
	{ { "--max-buffer", "1k", NULL }, "ERR: bad value '1k' for '--max-buffer' (4096 to 1073741824)" },
	{ { "--max-buffer", "2G", NULL }, "ERR: bad value '2G' for '--max-buffer' (4096 to 1073741824)" },
	/* missing and unwanted values */
	{ { "--socket", NULL }, "ERR: option '--socket' needs a value (PATH)" },
	{ { "--socket=", NULL }, "ERR: option '--socket' needs a value (PATH)" },
	{ { "--json=yes", NULL }, "ERR: option '--json' takes no value" },
	/* unknown options; short-only names are not long ones */
	{ { "list", "--bogus", NULL }, "ERR: unknown option '--bogus'" },
	{ { "--bogus=1", NULL }, "ERR: unknown option '--bogus'" },
	{ { "-x", NULL }, "ERR: unknown option '-x'" },
	{ { "--C", "1", NULL }, "ERR: unknown option '--C'" },
	{ { "--v", NULL }, "ERR: unknown option '--v'" },
	{ { "--jso", NULL }, "ERR: unknown option '--jso'" },
	/* prefix routing: a front end's options, by name */
	{ { "--nbd", "none", "--nbd-max-conns=4", NULL }, "6:nbd=none 6:nbd-max-conns=4 |" },
	{ { "--nbdx", "1", NULL }, "ERR: unknown option '--nbdx'" },
	{ { "--nbd-", "1", NULL }, "ERR: unknown option '--nbd-'" },
	/* aliases */
	{ { "--ctl", "/old", NULL }, "0:ctl=/old |" },
	/* too many positionals */
	{ { "1", "2", "3", "4", "5", "6", "7", NULL }, "| 1 2 3 4 5 6 7" },
};

static void test_table(void **state)
{
	char out[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(cases[i].argv, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out,
				 cases[i].want);
	}
}

static void test_too_many_positionals(void **state)
{
	static const char *const args[] = { "1", "2", "3", "4", "5", "6", "7",
					    "8", "9", NULL };
	char out[256];

	(void)state;
	parse(args, out, sizeof(out));
	assert_string_equal(out, "ERR: too many arguments ('9')");
}

static void test_raw_after_pos(void **state)
{
	char *argv[] = { "--json", "disk", "frob", "--fast", "--socket", "/s" };
	char *pos[8];
	struct cli_parser p;
	struct cli_val v;
	int ids[4], n = 0, id;

	(void)state;
	cli_init(&p, "test", 6, argv, 0, pos, 8);
	cli_add_table(&p, table);
	p.raw_after_pos = true;
	while ((id = cli_next(&p, &v)) != CLI_END) {
		assert_true(id >= 0);
		ids[n++] = id;
	}
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], O_JSON);
	assert_int_equal(ids[1], O_SOCKET);
	assert_int_equal(p.npos, 3);
	assert_string_equal(pos[2], "--fast");

	/* Before the first word, an unknown option is still an error. */
	char *argv2[] = { "--fast", "disk" };

	cli_init(&p, "test", 2, argv2, 0, pos, 8);
	cli_add_table(&p, table);
	p.raw_after_pos = true;
	assert_int_equal(cli_next(&p, &v), CLI_ERROR);
}

static void test_lookup(void **state)
{
	(void)state;
	assert_ptr_equal(cli_opt_find(table, "socket"), &table[0]);
	assert_ptr_equal(cli_opt_find(table, "ctl"), &table[7]);
	assert_ptr_equal(cli_opt_find(table, "C"), &table[5]);
	assert_ptr_equal(cli_opt_find(table, "v"), &table[4]);
	assert_ptr_equal(cli_opt_find(table, "nbd-unix"), &table[6]);
	assert_null(cli_opt_find(table, "nb"));
	assert_null(cli_opt_find(table, "sock"));
	assert_null(cli_opt_find(table, ""));
}

static void test_check_value(void **state)
{
	struct cli_val v;
	char err[128];

	(void)state;
	assert_int_equal(cli_opt_check(&table[2], "4", &v, err, sizeof(err)),
			 0);
	assert_int_equal(v.num, 4);
	assert_int_equal(v.id, O_N);
	assert_int_equal(cli_opt_check(&table[1], NULL, &v, err, sizeof(err)),
			 0);
	assert_int_equal(cli_opt_check(&table[1], "yes", &v, err, sizeof(err)),
			 -1);
	assert_int_equal(cli_opt_check(&table[3], "4K", &v, err, sizeof(err)),
			 0);
	assert_int_equal(v.num, 4096);
}

static void test_help_hides_aliases(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	cli_print_options(f, table);
	fclose(f);
	assert_non_null(strstr(buf, "--socket PATH"));
	assert_non_null(strstr(buf, "--verbose, -v"));
	assert_non_null(strstr(buf, "-C RETRIES"));
	assert_null(strstr(buf, "--ctl"));
	assert_null(strstr(buf, "--nbd"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_too_many_positionals),
		cmocka_unit_test(test_raw_after_pos),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_help_hides_aliases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
