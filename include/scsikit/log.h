/*
 * scsikit logging: one API for every module.
 *
 * Messages go to stderr (or syslog when asked) with a level; trace
 * categories (pdu, cdb, xpt, ...) are bits that can be switched on and off
 * at run time, through the control socket or the SCSIKIT_TRACE environment
 * variable, without rebuilding.  A trace call whose category is off costs one
 * load and one branch.
 */
#ifndef SCSIKIT_LOG_H
#define SCSIKIT_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include <scsikit/api.h>

enum sk_log_level {
	SK_LOG_ERR = 0,
	SK_LOG_WARN = 1,
	SK_LOG_INFO = 2,
	SK_LOG_DEBUG = 3,
};

/* Trace categories; a bit each. */
enum sk_trace {
	SK_TRACE_PDU = 1u << 0,   /* iSCSI PDUs */
	SK_TRACE_CDB = 1u << 1,   /* CDBs entering the target engine */
	SK_TRACE_XPT = 1u << 2,   /* CAM transport */
	SK_TRACE_PROBE = 1u << 3, /* CAM bus scan and peripheral probe */
	SK_TRACE_DMSG = 1u << 4,  /* DMSG messages */
	SK_TRACE_NBD = 1u << 5,   /* NBD requests */
	SK_TRACE_BDEV = 1u << 6,  /* block I/O */
	SK_TRACE_VSCSI = 1u << 7, /* vscsi operations */
	SK_TRACE_CTL = 1u << 8,   /* control socket */
};

/* The current trace mask; read by the sk_trace() macro. */
SK_API extern volatile uint32_t sk_trace_mask;

/* Set the program name shown in messages, the threshold level, and whether
 * messages go to syslog instead of stderr. */
SK_API void log_init(const char *prog, int level, int use_syslog);
SK_API void log_set_level(int level);
SK_API int log_get_level(void);

/* Parse "pdu,cdb" / "all" / "none" into a mask; -1 on an unknown name. */
SK_API int log_trace_parse(const char *spec, uint32_t *mask);
/* Write the names of the set bits of mask into buf, comma separated. */
SK_API void log_trace_format(uint32_t mask, char *buf, unsigned len);

SK_API void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
SK_API void log_vmsg(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_err(...) log_msg(SK_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(SK_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(SK_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(SK_LOG_DEBUG, __VA_ARGS__)

/* Log at error level and exit(1). */
SK_API void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* A trace message in category cat; cheap when the category is off. */
#define sk_trace(cat, ...)                                                     \
	do {                                                                   \
		if (__builtin_expect((sk_trace_mask & (cat)) != 0, 0))         \
			log_msg(SK_LOG_DEBUG, __VA_ARGS__);                    \
	} while (0)

#endif
