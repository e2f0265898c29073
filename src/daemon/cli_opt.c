/*
 * The scsikit command's option parser (see cli_opt.h): table lookup, value
 * checks, one-line errors.  Sizes go through sk_parse_size() and addresses
 * through sk_parse_hostport(), the parsers the library itself uses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>

#include "cli_opt.h"

void cli_init(struct cli_parser *p, const char *prog, int argc, char **argv,
	      int first, char **pos, int maxpos)
{
	memset(p, 0, sizeof(*p));
	p->prog = prog;
	p->argc = argc;
	p->argv = argv;
	p->next = first;
	p->pos = pos;
	p->maxpos = maxpos;
}

void cli_add_table(struct cli_parser *p, const struct cli_opt *table)
{
	for (int i = 0; i < CLI_MAX_TABLES; i++)
		if (!p->tables[i]) {
			p->tables[i] = table;
			return;
		}
}

/* Short-only options are named by their letter ("C" for -C) and match
 * only as "-C"; long names match only as "--name". */
static bool opt_matches(const struct cli_opt *o, const char *name, size_t n,
			bool is_short)
{
	size_t on = strlen(o->name);

	if (is_short)
		return o->short_name && o->short_name == name[0];
	if (on == 1 && o->short_name)
		return false;
	if (n == on && strncmp(o->name, name, n) == 0)
		return true;
	return (o->flags & CLI_PREFIX) && n > on + 1 &&
	       strncmp(o->name, name, on) == 0 && name[on] == '-';
}

static const struct cli_opt *opt_find_n(const struct cli_opt *table,
					const char *name, size_t n,
					bool is_short)
{
	for (const struct cli_opt *o = table; o && o->name; o++)
		if (opt_matches(o, name, n, is_short))
			return o;
	return NULL;
}

const struct cli_opt *cli_opt_find(const struct cli_opt *table,
				   const char *name)
{
	size_t n = strlen(name);

	return opt_find_n(table, name, n, false) ?:
	       (n == 1 ? opt_find_n(table, name, n, true) : NULL);
}

static int parse_num(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

int cli_opt_check(const struct cli_opt *o, const char *value,
		  struct cli_val *v, char *err, size_t errlen)
{
	const char *dash = o->name[1] || !o->short_name ? "--" : "-";
	int rc = 0;

	v->opt = o;
	v->id = o->id;
	v->str = value;
	v->num = 0;
	if (o->type == CLI_FLAG) {
		if (value) {
			snprintf(err, errlen, "option '%s%s' takes no value",
				 dash, o->name);
			return -1;
		}
		return 0;
	}
	if (!value || !*value) {
		snprintf(err, errlen, "option '%s%s' needs a value (%s)", dash,
			 o->name, o->arg ? o->arg : "a value");
		return -1;
	}
	if (o->type == CLI_NUM)
		rc = parse_num(value, &v->num);
	else if (o->type == CLI_SIZE)
		rc = sk_parse_size(value, &v->num);
	if (rc == 0 && (o->type == CLI_NUM || o->type == CLI_SIZE) &&
	    (v->num < o->min || (o->max && v->num > o->max)))
		rc = -1;
	if (rc < 0) {
		if (o->max)
			snprintf(err, errlen,
				 "bad value '%s' for '%s%s' (%llu to %llu)",
				 value, dash, o->name,
				 (unsigned long long)o->min,
				 (unsigned long long)o->max);
		else
			snprintf(err, errlen,
				 "bad value '%s' for '%s%s' (%s)", value,
				 dash, o->name, o->arg ? o->arg : "a number");
		return -1;
	}
	return 0;
}

static const struct cli_opt *lookup(struct cli_parser *p, const char *name,
				    size_t n, bool is_short)
{
	for (int i = 0; i < CLI_MAX_TABLES; i++) {
		const struct cli_opt *o =
			opt_find_n(p->tables[i], name, n, is_short);

		if (o)
			return o;
	}
	return NULL;
}

static int add_pos(struct cli_parser *p, char *arg)
{
	if (p->npos == p->maxpos) {
		snprintf(p->err, sizeof(p->err), "too many arguments ('%s')",
			 arg);
		return CLI_ERROR;
	}
	p->pos[p->npos++] = arg;
	return 0;
}

int cli_next(struct cli_parser *p, struct cli_val *v)
{
	while (p->next < p->argc) {
		char *a = p->argv[p->next++];
		const struct cli_opt *o;
		const char *name, *value = NULL, *eq;
		size_t n;

		if (p->no_more_opts || a[0] != '-' || a[1] == '\0') {
			if (add_pos(p, a) < 0)
				return CLI_ERROR;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			p->no_more_opts = true;
			continue;
		}
		if (a[1] == '-') {
			name = a + 2;
			eq = strchr(name, '=');
			n = eq ? (size_t)(eq - name) : strlen(name);
			if (eq)
				value = eq + 1;
		} else {
			name = a + 1;
			n = 1;
			if (a[2])
				value = a + 2;
		}
		o = lookup(p, name, n, a[1] != '-');
		if (!o) {
			if (p->raw_after_pos && p->npos > 0) {
				if (add_pos(p, a) < 0)
					return CLI_ERROR;
				continue;
			}
			snprintf(p->err, sizeof(p->err),
				 "unknown option '%.*s'",
				 (int)(name - a + (ptrdiff_t)n), a);
			return CLI_ERROR;
		}
		if (a[1] != '-')
			snprintf(p->key, sizeof(p->key), "%s", o->name);
		else
			snprintf(p->key, sizeof(p->key), "%.*s", (int)n, name);
		if (o->type != CLI_FLAG && !value) {
			if (p->next >= p->argc) {
				snprintf(p->err, sizeof(p->err),
					 "option '%s' needs a value (%s)", a,
					 o->arg ? o->arg : "a value");
				return CLI_ERROR;
			}
			value = p->argv[p->next++];
		}
		if (cli_opt_check(o, value, v, p->err, sizeof(p->err)) < 0)
			return CLI_ERROR;
		v->key = p->key;
		return o->id;
	}
	return CLI_END;
}

int cli_parse_all(struct cli_parser *p,
		  int (*fn)(const struct cli_val *v, void *arg), void *arg)
{
	struct cli_val v;
	int id, rc;

	while ((id = cli_next(p, &v)) != CLI_END) {
		if (id == CLI_ERROR)
			return CLI_ERROR;
		rc = fn(&v, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int cli_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

void cli_print_options(FILE *out, const struct cli_opt *table)
{
	for (const struct cli_opt *o = table; o && o->name; o++) {
		char left[64];
		int n = 0;

		if (o->flags & CLI_HIDDEN)
			continue;
		if (o->name[1])
			n = snprintf(left, sizeof(left), "--%s", o->name);
		if (o->short_name)
			n += snprintf(left + n, sizeof(left) - (size_t)n,
				      "%s-%c", n ? ", " : "", o->short_name);
		if (o->arg && o->type != CLI_FLAG)
			snprintf(left + n, sizeof(left) - (size_t)n, " %s",
				 o->arg);
		fprintf(out, "  %-24s %s\n", left, o->help ? o->help : "");
	}
}
