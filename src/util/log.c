/*
 * Logging: levels, trace categories, stderr or syslog.
 *
 * A message is formatted into one buffer and written with a single write()
 * so that lines from several reactor threads do not interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <scsikit/log.h>

volatile uint32_t sk_trace_mask;

static const char *log_prog = "scsikit";
static int log_level = SK_LOG_INFO;
static int log_syslog;

static const struct {
	const char *name;
	uint32_t bit;
} trace_names[] = {
	{ "pdu", SK_TRACE_PDU },     { "cdb", SK_TRACE_CDB },
	{ "xpt", SK_TRACE_XPT },     { "probe", SK_TRACE_PROBE },
	{ "dmsg", SK_TRACE_DMSG },   { "nbd", SK_TRACE_NBD },
	{ "bdev", SK_TRACE_BDEV },   { "vscsi", SK_TRACE_VSCSI },
	{ "ctl", SK_TRACE_CTL },
};

void log_init(const char *prog, int level, int use_syslog)
{
	const char *env;

	if (prog)
		log_prog = prog;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	env = getenv("SCSIKIT_TRACE");
	if (env) {
		uint32_t m;

		if (log_trace_parse(env, &m) == 0)
			sk_trace_mask = m;
	}
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_trace_parse(const char *spec, uint32_t *mask)
{
	uint32_t m = 0;
	const char *p = spec;

	while (*p) {
		size_t len = strcspn(p, ",");
		bool found = false;

		if (len == 3 && strncmp(p, "all", 3) == 0) {
			m = ~0u;
			found = true;
		} else if (len == 4 && strncmp(p, "none", 4) == 0) {
			m = 0;
			found = true;
		}
		for (size_t i = 0; !found && i < sizeof(trace_names) /
						       sizeof(trace_names[0]);
		     i++) {
			if (strlen(trace_names[i].name) == len &&
			    strncmp(p, trace_names[i].name, len) == 0) {
				m |= trace_names[i].bit;
				found = true;
			}
		}
		if (!found && len > 0)
			return -1;
		p += len;
		if (*p == ',')
			p++;
	}
	*mask = m;
	return 0;
}

void log_trace_format(uint32_t mask, char *buf, unsigned len)
{
	size_t off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(trace_names) / sizeof(trace_names[0]);
	     i++) {
		if (!(mask & trace_names[i].bit))
			continue;
		int n = snprintf(buf + off, len - off, "%s%s", off ? "," : "",
				 trace_names[i].name);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(buf, len, "none");
}

static const char *level_name(int level)
{
	switch (level) {
	case SK_LOG_ERR:
		return "error";
	case SK_LOG_WARN:
		return "warning";
	case SK_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	char buf[1024];
	int off, n;

	if (level > log_level)
		return;
	if (log_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
					    LOG_DEBUG };
		vsyslog(prio[level < 0 ? 0 : level > 3 ? 3 : level], fmt, ap);
		return;
	}
	off = snprintf(buf, sizeof(buf), "%s: %s: ", log_prog,
		       level_name(level));
	if (off < 0)
		return;
	n = vsnprintf(buf + off, sizeof(buf) - (size_t)off - 1, fmt, ap);
	if (n < 0)
		return;
	off += n;
	if ((size_t)off > sizeof(buf) - 2)
		off = (int)sizeof(buf) - 2;
	buf[off++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)off) < 0) {
		/* Nowhere left to report it. */
	}
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(SK_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
