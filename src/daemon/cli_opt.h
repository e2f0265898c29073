/*
 * The one option parser of the scsikit command.  Every subcommand (and the
 * daemon, `scsikit serve`) describes its options in a const table of struct
 * cli_opt; cli_parse() walks argv with it, so that every command accepts
 * options in any order, "--name=value" as well as "--name value", and "--"
 * to end the options, and rejects an unknown option or a bad value in the
 * same words.  The same tables drive `--help`, the bash completion
 * (`scsikit completion`) and the check of the man pages, so none of them
 * can drift from what the parser accepts.
 *
 * Exit codes, the same for every subcommand (scsikit(8)):
 *   0  success
 *   1  the operation failed (the daemon or the device answered an error)
 *   2  usage: unknown option, bad value, missing argument
 *   3  the daemon (or the peer the command needs) could not be reached
 */
#ifndef SCSIKIT_TOOLS_CLI_OPT_H
#define SCSIKIT_TOOLS_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNREACHABLE = 3,
};

enum cli_opt_type {
	CLI_FLAG,	/* no value */
	CLI_STR,	/* any non-empty string */
	CLI_NUM,	/* integer in [min, max]; 0x prefix allowed */
	CLI_SIZE,	/* "64M" etc. (sk_parse_size) in [min, max] */
};

/* Flags of an option. */
#define CLI_PREFIX 0x1	/* also matches "--NAME-anything" (a front end's
			 * options, routed by name); always takes a value */
#define CLI_HIDDEN 0x2	/* an alias: accepted, left out of help */

struct cli_opt {
	const char *name;	/* long name without "--"; NULL ends a table */
	char short_name;	/* 'v' for -v; 0: none */
	enum cli_opt_type type;
	int id;			/* what cli_next() returns for it */
	const char *arg;	/* metavariable for help text ("PATH") */
	uint64_t min, max;	/* CLI_NUM, CLI_SIZE (max 0: no limit) */
	const char *help;	/* one line */
	unsigned flags;		/* CLI_PREFIX, CLI_HIDDEN */
};

/* One option found in argv. */
struct cli_val {
	int id;
	const struct cli_opt *opt;
	const char *key;	/* the long name as written, without "--"
				 * (the short name for -x); points into a
				 * buffer of the parser, valid until the
				 * next call */
	const char *str;	/* the value as written (NULL for flags) */
	uint64_t num;		/* CLI_NUM, CLI_SIZE; the port of HOSTPORT */
};

#define CLI_MAX_TABLES 3

struct cli_parser {
	const char *prog;	/* "scsikit disk": starts error messages */
	const struct cli_opt *tables[CLI_MAX_TABLES];
	int argc;
	char **argv;
	int next;		/* next argv index to look at */
	bool no_more_opts;	/* "--" seen */
	bool raw_after_pos;	/* after the first positional, unknown
				 * "-..." words are positional (raw control
				 * requests) */
	char key[128];
	char **pos;		/* positional arguments, in order */
	int npos;
	int maxpos;
	char err[256];		/* the one-line reason after CLI_ERROR */
};

#define CLI_END (-1)
#define CLI_ERROR (-2)

/*
 * Start parsing argv[first..argc-1] with up to CLI_MAX_TABLES tables
 * (searched in order; NULL entries ignored).  Positional arguments are
 * collected into pos (room for maxpos).
 */
void cli_init(struct cli_parser *p, const char *prog, int argc, char **argv,
	      int first, char **pos, int maxpos);
void cli_add_table(struct cli_parser *p, const struct cli_opt *table);

/* The next option: its id (>= 0) with *v filled, CLI_END when argv is
 * used up, or CLI_ERROR with p->err set. */
int cli_next(struct cli_parser *p, struct cli_val *v);

/* Parse everything, calling fn for each option; 0, or the first nonzero
 * value fn returns, or CLI_ERROR (p->err set). */
int cli_parse_all(struct cli_parser *p,
		  int (*fn)(const struct cli_val *v, void *arg), void *arg);

/* Print "PROG: MESSAGE" as one line on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Find an option by long name (without "--") or, when name is one
 * character, by short name.  NULL if not in table. */
const struct cli_opt *cli_opt_find(const struct cli_opt *table,
				   const char *name);

/* Check a value against an option's type; 0, or -1 with err set. */
int cli_opt_check(const struct cli_opt *o, const char *value,
		  struct cli_val *v, char *err, size_t errlen);

/* "  --name ARG, -n   help" lines for a table. */
void cli_print_options(FILE *out, const struct cli_opt *table);

#endif
