/*
 * bench_xdisk_bench: the xdisk workload driver, failover-stall meter and
 * throughput benchmark, speaking plain NBD to a daemon's export (an xa disk
 * exported by a client daemon, or a backend exported directly).
 *
 *   workload   --nbd HOST:PORT --export NAME [--ops N] [--qd N] [--bs N]
 *              [--blocks N] [--first N] [--seed N] [--kill PID[,PID...]] [--kill-sig N]
 *              [--kill-after OPS] [--allow-errors] [--unknown-ok]
 *              [--timeout S]
 *       Random writes and reads at queue depth qd, never two at once on
 *       one block; every read is checked against the last acknowledged
 *       write (a record kept here; blocks never written must read zero
 *       unless --unknown-ok), and at the end every block is read back and
 *       checked.  --kill sends a signal to processes after
 *       kill-after completed ops (a server to kill, or the TCP proxy to
 *       cut); "stall_ms" is the time from that signal to the completion
 *       of the first I/O issued after it (which had to go through the
 *       surviving path), "next_completion_ms" to any completion.  Exit 0 when no I/O failed (unless --allow-errors)
 *       and nothing read back wrong.
 *   proxy      LISTEN_PORT TARGET_PORT
 *       A loopback TCP proxy; SIGUSR1 drops every connection it carries
 *       (the link is cut; the server process lives on).
 *   throughput --nbd HOST:PORT --export NAME [--seconds S] [--qd N]
 *              [--only 4k-randwrite,4k-randread,1m-seqwrite,1m-seqread]
 *       4 KiB random read/write and 1 MiB sequential read/write.
 *
 * Only this file's own code; no library but libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define NBD_REQ_MAGIC 0x25609513u
#define NBD_REP_MAGIC 0x67446698u
#define NBD_OPT_MAGIC 0x49484156454F5054ull
#define NBD_OPTREP_MAGIC 0x3e889045565a9ull
#define NBD_OPT_GO 7u
#define NBD_REP_ACK 1u
#define NBD_REP_INFO 3u
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_FLUSH 3
#define MAXQD 256

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "xdisk_bench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static int tcp_try_connect(const char *hostport);

static int tcp_connect(const char *hostport)
{
	int fd = tcp_try_connect(hostport);

	if (fd < 0)
		die("cannot connect to %s", hostport);
	return fd;
}

static int tcp_try_connect(const char *hostport)
{
	char host[128];
	const char *colon = strrchr(hostport, ':');
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		die("bad address %s", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = 0;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		die("bad host %s", host);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("%s", "connection closed during handshake");
		p += r;
		n -= (size_t)r;
	}
}

static void write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("%s", "write failed during handshake");
		p += r;
		n -= (size_t)r;
	}
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Fixed newstyle handshake with NBD_OPT_GO; returns the export size. */
static uint64_t nbd_handshake(int fd, const char *export)
{
	uint8_t b[256], *opt;
	uint32_t nl = (uint32_t)strlen(export);
	uint64_t size = 0;

	read_full(fd, b, 18);
	if (memcmp(b, "NBDMAGIC", 8) || be64(b + 8) != NBD_OPT_MAGIC)
		die("%s", "not a newstyle NBD server");
	put32(b, 3); /* FIXED_NEWSTYLE | NO_ZEROES */
	write_full(fd, b, 4);
	opt = malloc(16 + 4 + nl + 2);
	put64(opt, NBD_OPT_MAGIC);
	put32(opt + 8, NBD_OPT_GO);
	put32(opt + 12, 4 + nl + 2);
	put32(opt + 16, nl);
	memcpy(opt + 20, export, nl);
	put16(opt + 20 + nl, 0);
	write_full(fd, opt, 16 + 4 + nl + 2);
	free(opt);
	for (;;) {
		uint32_t type, len;

		read_full(fd, b, 20);
		if (be64(b) != NBD_OPTREP_MAGIC)
			die("%s", "bad option reply");
		type = be32(b + 12);
		len = be32(b + 16);
		if (len > sizeof(b))
			die("%s", "option reply too long");
		read_full(fd, b, len);
		if (type & 0x80000000u)
			die("export '%s' refused", export);
		if (type == NBD_REP_INFO && len >= 12 && b[0] == 0 && b[1] == 0)
			size = be64(b + 2);
		if (type == NBD_REP_ACK)
			break;
	}
	return size;
}

/* ---- the pipelined transmission phase ----------------------------------- */

struct req {
	bool busy;
	int type;
	uint64_t seq;		/* issue order (workload) */
	uint64_t off;
	uint32_t len;
	uint64_t block;		/* first block (workload) */
	uint32_t seed;		/* content of a write */
	uint8_t *buf;
};

struct conn {
	int fd;
	struct req reqs[MAXQD];
	unsigned inflight;
	uint8_t *out;		/* pending bytes to send */
	size_t out_len, out_cap, out_off;
	uint8_t rhdr[16];
	size_t rhdr_got;
	struct req *rcur;	/* read reply awaiting data */
	size_t rdata_got;
	uint32_t rerr;
};

static void out_push(struct conn *c, const void *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		c->out_cap = (c->out_len + n) * 2;
		c->out = realloc(c->out, c->out_cap);
		if (!c->out)
			die("%s", "out of memory");
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

static void submit(struct conn *c, unsigned tag, int type, uint64_t off,
		   uint32_t len)
{
	uint8_t h[28];
	struct req *r = &c->reqs[tag];

	r->busy = true;
	r->type = type;
	r->off = off;
	r->len = len;
	put32(h, NBD_REQ_MAGIC);
	put16(h + 4, 0);
	put16(h + 6, (uint16_t)type);
	put64(h + 8, tag);
	put64(h + 16, off);
	put32(h + 24, type == NBD_CMD_FLUSH ? 0 : len);
	out_push(c, h, sizeof(h));
	if (type == NBD_CMD_WRITE)
		out_push(c, r->buf, len);
	c->inflight++;
}

/* Pump the socket; for each completion call done(tag, error). */
static int pump(struct conn *c, int timeout_ms,
		void (*done)(struct conn *, unsigned, uint32_t, void *),
		void *arg)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int n;

	if (c->out_off < c->out_len)
		pfd.events |= POLLOUT;
	n = poll(&pfd, 1, timeout_ms);
	if (n <= 0)
		return n;
	if (pfd.revents & POLLOUT) {
		ssize_t w = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);

		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (w > 0)
			c->out_off += (size_t)w;
		if (c->out_off == c->out_len)
			c->out_off = c->out_len = 0;
	}
	if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		return 1;
	for (;;) {
		ssize_t r;

		if (c->rcur) {
			struct req *q = c->rcur;

			r = read(c->fd, q->buf + c->rdata_got,
				 q->len - c->rdata_got);
			if (r == 0)
				return -1;
			if (r < 0)
				return (errno == EAGAIN || errno == EINTR) ? 1
									   : -1;
			c->rdata_got += (size_t)r;
			if (c->rdata_got == q->len) {
				unsigned tag = (unsigned)(q - c->reqs);

				c->rcur = NULL;
				q->busy = false;
				c->inflight--;
				done(c, tag, 0, arg);
			}
			continue;
		}
		r = read(c->fd, c->rhdr + c->rhdr_got, 16 - c->rhdr_got);
		if (r == 0)
			return -1;
		if (r < 0)
			return (errno == EAGAIN || errno == EINTR) ? 1 : -1;
		c->rhdr_got += (size_t)r;
		if (c->rhdr_got < 16)
			continue;
		c->rhdr_got = 0;
		{
			uint32_t err = be32(c->rhdr + 4);
			uint64_t tag = be64(c->rhdr + 8);
			struct req *q;

			if (be32(c->rhdr) != NBD_REP_MAGIC || tag >= MAXQD ||
			    !c->reqs[tag].busy) {
				fprintf(stderr, "xdisk_bench: bad NBD reply\n");
				return -1;
			}
			q = &c->reqs[tag];
			if (q->type == NBD_CMD_READ && err == 0) {
				c->rcur = q;
				c->rdata_got = 0;
				continue;
			}
			q->busy = false;
			c->inflight--;
			done(c, (unsigned)tag, err, arg);
		}
	}
}

static struct conn *conn_open(const char *hostport, const char *export,
			      uint64_t *size, unsigned qd, uint32_t maxlen)
{
	struct conn *c = calloc(1, sizeof(*c));

	c->fd = tcp_connect(hostport);
	*size = nbd_handshake(c->fd, export);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	for (unsigned i = 0; i < qd; i++)
		c->reqs[i].buf = malloc(maxlen);
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	for (unsigned i = 0; i < MAXQD; i++)
		free(c->reqs[i].buf);
	free(c->out);
	free(c);
}

/* ---- workload ----------------------------------------------------------- */

struct wl {
	uint32_t bs;
	uint64_t blocks;
	uint64_t first;		/* block index of the range's start */
	uint32_t *record;	/* seed of the last acknowledged write; 0 none */
	uint8_t *busy;		/* an op runs on this block */
	uint8_t *expect;
	uint64_t done, errors, mismatches, reads, writes;
	uint64_t lost, corrupt;	/* mismatches: stale data, or garbage */
	uint64_t last_done_ns, max_gap_ns;
	uint64_t kill_ns, stall_ns, first_new_ns;
	uint64_t kill_seq;	/* requests issued before the kill */
	uint64_t issued_total;
	bool killed, after_kill_seen, first_new_seen;
	bool unknown_ok;	/* blocks not written here may hold anything */
};

static void pattern(uint8_t *b, uint32_t bs, uint64_t block, uint32_t seed)
{
	uint64_t x = block * 0x9E3779B97F4A7C15ull ^ seed;

	for (uint32_t i = 0; i < bs; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	memcpy(b, &block, 8); /* block number in the first bytes */
	memcpy(b + 8, &seed, 4);
}

/* A block that reads back wrong: zeros, or the whole pattern of an
 * earlier write of this block, means an acknowledged write was lost;
 * anything else is corruption. */
static bool wl_stale(struct wl *w, const uint8_t *buf, uint64_t block)
{
	uint64_t b;
	uint32_t seed, i;

	for (i = 0; i < w->bs && !buf[i]; i++)
		;
	if (i == w->bs)
		return true;
	memcpy(&b, buf, 8);
	memcpy(&seed, buf + 8, 4);
	if (b != block || !seed)
		return false;
	pattern(w->expect, w->bs, block, seed);
	return memcmp(w->expect, buf, w->bs) == 0;
}

static void wl_done(struct conn *c, unsigned tag, uint32_t err, void *arg)
{
	struct wl *w = arg;
	struct req *q = &c->reqs[tag];
	uint64_t t = now_ns();

	if (w->last_done_ns && t - w->last_done_ns > w->max_gap_ns)
		w->max_gap_ns = t - w->last_done_ns;
	w->last_done_ns = t;
	if (w->killed && !w->after_kill_seen) {
		w->after_kill_seen = true;
		w->stall_ns = t - w->kill_ns;
	}
	if (w->killed && !w->first_new_seen && !err && q->seq >= w->kill_seq) {
		/* The first I/O issued after the kill that completes: it ran
		 * on the surviving path (or waited for the failover). */
		w->first_new_seen = true;
		w->first_new_ns = t - w->kill_ns;
	}
	w->busy[q->block] = 0;
	w->done++;
	if (err) {
		w->errors++;
		if (w->errors <= 5)
			fprintf(stderr, "xdisk_bench: %s at %llu failed: %u\n",
				q->type == NBD_CMD_WRITE ? "write" : "read",
				(unsigned long long)q->off, err);
		return;
	}
	if (q->type == NBD_CMD_WRITE) {
		w->record[q->block] = q->seed;
		w->writes++;
		return;
	}
	w->reads++;
	if (w->record[q->block] == 0 && w->unknown_ok)
		return;
	if (w->record[q->block] == 0) {
		for (uint32_t i = 0; i < w->bs; i++) {
			if (q->buf[i]) {
				w->mismatches++;
				if (w->mismatches <= 5)
					fprintf(stderr,
						"xdisk_bench: block %llu: "
						"never written but not zero\n",
						(unsigned long long)q->block);
				return;
			}
		}
		return;
	}
	pattern(w->expect, w->bs, q->block, w->record[q->block]);
	if (memcmp(w->expect, q->buf, w->bs) != 0) {
		w->mismatches++;
		if (wl_stale(w, q->buf, q->block))
			w->lost++;
		else
			w->corrupt++;
		if (w->mismatches <= 5)
			fprintf(stderr, "xdisk_bench: block %llu reads back "
				"wrong (expected seed %u)\n",
				(unsigned long long)q->block,
				w->record[q->block]);
	}
}

static void kill_all(const char *pids, int sig)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", pids);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		kill((pid_t)atoi(tok), sig);
}

static int cmd_workload(int argc, char **argv)
{
	const char *nbd = NULL, *export = NULL, *kill_pids = NULL;
	uint64_t ops = 20000, kill_after = 0, size, seed = 1;
	unsigned qd = 32;
	uint32_t bs = 4096;
	uint64_t blocks = 4096, first = 0;
	int kill_sig = SIGKILL, timeout_s = 120;
	bool allow_errors = false, unknown_ok = false;
	struct wl w;
	struct conn *c;
	uint64_t issued = 0, t0, deadline;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

		if (!strcmp(a, "--allow-errors")) {
			allow_errors = true;
			continue;
		}
		if (!strcmp(a, "--unknown-ok")) {
			unknown_ok = true;
			continue;
		}
		i++;
		if (!strcmp(a, "--nbd"))
			nbd = v;
		else if (!strcmp(a, "--export"))
			export = v;
		else if (!strcmp(a, "--ops"))
			ops = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--qd"))
			qd = (unsigned)atoi(v);
		else if (!strcmp(a, "--bs"))
			bs = (uint32_t)atoi(v);
		else if (!strcmp(a, "--blocks"))
			blocks = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--first"))
			first = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--seed"))
			seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--kill"))
			kill_pids = v;
		else if (!strcmp(a, "--kill-sig"))
			kill_sig = atoi(v);
		else if (!strcmp(a, "--kill-after"))
			kill_after = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--timeout"))
			timeout_s = atoi(v);
		else
			die("unknown option %s", a);
	}
	if (!nbd || !export || qd < 1 || qd > MAXQD || bs < 512 || bs % 8)
		die("%s", "workload needs --nbd and --export (qd 1..256)");
	c = conn_open(nbd, export, &size, qd, bs);
	if (first * bs >= size)
		die("%s", "--first beyond the disk");
	if ((first + blocks) * bs > size)
		blocks = size / bs - first;
	memset(&w, 0, sizeof(w));
	w.bs = bs;
	w.blocks = blocks;
	w.first = first;
	w.unknown_ok = unknown_ok;
	w.record = calloc(blocks, sizeof(*w.record));
	w.busy = calloc(blocks, 1);
	w.expect = malloc(bs);
	srandom((unsigned)seed);
	t0 = now_ns();
	deadline = t0 + (uint64_t)timeout_s * 1000000000ull;

	/* Phase 1: random writes and reads, qd at once, never two on one
	 * block; phase 2: read back every block. */
	for (int phase = 1; phase <= 2; phase++) {
		uint64_t next_block = 0;
		uint64_t target = phase == 1 ? ops : blocks;

		issued = 0;
		while (issued < target || c->inflight) {
			while (issued < target && c->inflight < qd) {
				unsigned tag = 0;
				uint64_t b;

				while (c->reqs[tag].busy)
					tag++;
				if (phase == 1) {
					int tries = 0;

					do {
						b = (uint64_t)random() % blocks;
					} while (w.busy[b] && ++tries < 1000);
					if (w.busy[b])
						break;
				} else {
					b = next_block++;
				}
				w.busy[b] = 1;
				c->reqs[tag].block = b;
				c->reqs[tag].seq = w.issued_total++;
				if (phase == 1 && (random() & 1)) {
					uint32_t s = (uint32_t)random() | 1u;

					c->reqs[tag].seed = s;
					pattern(c->reqs[tag].buf, bs, b, s);
					submit(c, tag, NBD_CMD_WRITE,
					       (first + b) * bs, bs);
				} else {
					submit(c, tag, NBD_CMD_READ,
					       (first + b) * bs, bs);
				}
				issued++;
			}
			if (pump(c, 100, wl_done, &w) < 0) {
				fprintf(stderr, "xdisk_bench: NBD connection "
					"lost\n");
				rc = 1;
				goto out;
			}
			if (kill_pids && !w.killed && w.done >= kill_after) {
				kill_all(kill_pids, kill_sig);
				w.killed = true;
				w.kill_ns = now_ns();
				w.kill_seq = w.issued_total;
			}
			if (now_ns() > deadline) {
				fprintf(stderr, "xdisk_bench: timed out with "
					"%u in flight\n", c->inflight);
				printf("ops %llu errors %llu mismatches %llu "
				       "timeout 1\n",
				       (unsigned long long)w.done,
				       (unsigned long long)w.errors,
				       (unsigned long long)w.mismatches);
				rc = 1;
				goto out;
			}
		}
	}
	printf("ops %llu writes %llu reads %llu errors %llu mismatches %llu "
	       "lost %llu corrupt %llu "
	       "seconds %.2f max_gap_ms %.1f next_completion_ms %.1f "
	       "stall_ms %.1f\n",
	       (unsigned long long)w.done, (unsigned long long)w.writes,
	       (unsigned long long)w.reads, (unsigned long long)w.errors,
	       (unsigned long long)w.mismatches, (unsigned long long)w.lost,
	       (unsigned long long)w.corrupt,
	       (double)(now_ns() - t0) / 1e9, (double)w.max_gap_ns / 1e6,
	       w.after_kill_seen ? (double)w.stall_ns / 1e6 : -1.0,
	       w.first_new_seen ? (double)w.first_new_ns / 1e6 : -1.0);
	if (w.mismatches || (w.errors && !allow_errors))
		rc = 1;
out:
	conn_close(c);
	free(w.record);
	free(w.busy);
	free(w.expect);
	return rc;
}

/* ---- throughput --------------------------------------------------------- */

struct tp {
	uint64_t done, errors;
};

static void tp_done(struct conn *c, unsigned tag, uint32_t err, void *arg)
{
	struct tp *t = arg;

	t->done++;
	if (err)
		t->errors++;
}

static double run_tp(struct conn *c, uint64_t size, int type, uint32_t bs,
		     bool seq, unsigned qd, double seconds, uint64_t *errs)
{
	struct tp t = { 0 };
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	uint64_t pos = 0, nblk = size / bs;

	for (unsigned i = 0; i < qd; i++)
		memset(c->reqs[i].buf, 0x5a, bs);
	while (now_ns() < end || c->inflight) {
		while (now_ns() < end && c->inflight < qd) {
			unsigned tag = 0;
			uint64_t b;

			while (c->reqs[tag].busy)
				tag++;
			if (seq) {
				b = pos++ % nblk;
			} else {
				b = (uint64_t)random() % nblk;
			}
			submit(c, tag, type, b * bs, bs);
		}
		if (pump(c, 100, tp_done, &t) < 0)
			die("%s", "NBD connection lost");
	}
	*errs += t.errors;
	return (double)t.done / ((double)(now_ns() - t0) / 1e9);
}

static int cmd_throughput(int argc, char **argv)
{
	const char *nbd = NULL, *export = NULL, *only = "";
	double seconds = 3;
	unsigned qd = 32;
	uint64_t size, errs = 0;
	struct conn *c;
	double r;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--nbd"))
			nbd = argv[i + 1];
		else if (!strcmp(argv[i], "--export"))
			export = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--qd"))
			qd = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--only"))
			only = argv[i + 1];
		else
			die("unknown option %s", argv[i]);
	}
	if (!nbd || !export || qd < 1 || qd > MAXQD)
		die("%s", "throughput needs --nbd and --export");
#define WANT(name) (!*only || strstr(only, name))
	c = conn_open(nbd, export, &size, qd, 1u << 20);
	if (WANT("4k-randwrite")) {
		r = run_tp(c, size, NBD_CMD_WRITE, 4096, false, qd, seconds,
			   &errs);
		printf("%s 4k-randwrite iops %.0f MiB/s %.1f\n", export, r,
		       r * 4096 / 1048576);
	}
	if (WANT("4k-randread")) {
		r = run_tp(c, size, NBD_CMD_READ, 4096, false, qd, seconds,
			   &errs);
		printf("%s 4k-randread iops %.0f MiB/s %.1f\n", export, r,
		       r * 4096 / 1048576);
	}
	if (WANT("1m-seqwrite")) {
		r = run_tp(c, size, NBD_CMD_WRITE, 1u << 20, true, qd, seconds,
			   &errs);
		printf("%s 1m-seqwrite MiB/s %.1f\n", export, r);
	}
	if (WANT("1m-seqread")) {
		r = run_tp(c, size, NBD_CMD_READ, 1u << 20, true, qd, seconds,
			   &errs);
		printf("%s 1m-seqread MiB/s %.1f\n", export, r);
	}
#undef WANT
	if (errs)
		printf("%s errors %llu\n", export, (unsigned long long)errs);
	conn_close(c);
	return errs ? 1 : 0;
}

/* ---- proxy -------------------------------------------------------------- */

static volatile sig_atomic_t cut_requested;

static void on_usr1(int sig)
{
	cut_requested = 1;
}

#define MAXPAIRS 64

static int cmd_proxy(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd, one = 1, pairs[MAXPAIRS][2], npairs = 0;
	char target[64];
	static uint8_t buf[1 << 16];

	if (argc != 3)
		die("%s", "usage: proxy LISTEN_PORT TARGET_PORT");
	snprintf(target, sizeof(target), "127.0.0.1:%s", argv[2]);
	signal(SIGUSR1, on_usr1);
	signal(SIGPIPE, SIG_IGN);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 16) < 0)
		die("cannot listen on port %s", argv[1]);
	for (;;) {
		struct pollfd pfd[1 + 2 * MAXPAIRS];
		int n = 0;

		if (cut_requested) {
			cut_requested = 0;
			for (int i = 0; i < npairs; i++) {
				close(pairs[i][0]);
				close(pairs[i][1]);
			}
			fprintf(stderr, "proxy: cut %d connection(s)\n",
				npairs);
			npairs = 0;
		}
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < npairs; i++) {
			pfd[n++] = (struct pollfd){ .fd = pairs[i][0],
						    .events = POLLIN };
			pfd[n++] = (struct pollfd){ .fd = pairs[i][1],
						    .events = POLLIN };
		}
		if (poll(pfd, (nfds_t)n, 200) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) && npairs < MAXPAIRS) {
			int a = accept(lfd, NULL, NULL);

			if (a >= 0) {
				int b = tcp_try_connect(target);

				if (b < 0) {
					close(a);
					continue;
				}
				setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
				pairs[npairs][0] = a;
				pairs[npairs][1] = b;
				npairs++;
			}
		}
		for (int i = 0, k = 1; i < npairs; i++, k += 2) {
			for (int s = 0; s < 2; s++) {
				ssize_t r;

				if (!(pfd[k + s].revents &
				      (POLLIN | POLLHUP | POLLERR)))
					continue;
				r = read(pairs[i][s], buf, sizeof(buf));
				if (r <= 0 ||
				    write(pairs[i][1 - s], buf, (size_t)r) != r) {
					close(pairs[i][0]);
					close(pairs[i][1]);
					pairs[i][0] = pairs[npairs - 1][0];
					pairs[i][1] = pairs[npairs - 1][1];
					npairs--;
					goto next_round;
				}
			}
		}
next_round:;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_xdisk_bench workload|throughput|"
				"proxy ...\n");
		return 2;
	}
	if (!strcmp(argv[1], "workload"))
		return cmd_workload(argc - 1, argv + 1);
	if (!strcmp(argv[1], "throughput"))
		return cmd_throughput(argc - 1, argv + 1);
	if (!strcmp(argv[1], "proxy"))
		return cmd_proxy(argc - 1, argv + 1);
	fprintf(stderr, "bench_xdisk_bench: unknown mode %s\n", argv[1]);
	return 2;
}
