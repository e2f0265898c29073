/*
 * libFuzzer harness for a whole iSCSI target connection (src/iscsi/
 * tgt_conn.c, tgt_cmd.c, tgt_req.c, login.c and the target engine behind
 * them): the input is what an initiator sends -- Login Requests, then in
 * the full feature phase SCSI commands with immediate and Data-Out data,
 * NOP-Outs, task management, text and logout -- fed over a socket pair to
 * a real connection of a real iSCSI server exporting a 1 MiB memory disk
 * (target iqn.2026-11.org.scsikit:d), on an event loop run here.  The
 * first byte sets the size of the pieces the stream is sent in.  Every
 * answer is drained; at the end the initiator's side is shut and the
 * connection must close within a bounded number of loop rounds.
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.  The seeds are
 * whole recorded initiator streams (fuzz/mkseeds.py).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/iscsi.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct iscsi_srv *srv;

static void fz_setup(void)
{
	char err[200];
	struct bdev *bd;

	log_set_level(SK_LOG_ERR);
	loop = ev_loop_create();
	bd = bdev_mem_create("d", 1u << 20, 512, false);
	if (!loop || !bd || bdev_registry_add(bd) < 0)
		abort();
	bdev_release(bd);
	srv = iscsi_srv_create(NULL, NULL);
	/* A portal on a free port: the connections come from here. */
	if (!srv || iscsi_srv_configure(srv, "portal", "127.0.0.1:0", err,
					sizeof(err)) < 0 ||
	    iscsi_srv_start(srv, loop, err, sizeof(err)) < 0)
		abort();
}

static void fz_drain(int fd)
{
	static uint8_t sink[1 << 16];

	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

static unsigned fz_open(void)
{
	unsigned n;

	pthread_mutex_lock(&srv->lock);
	n = srv->nconns;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sockaddr_storage local = {.ss_family = AF_UNIX};
	size_t off = 1, step;
	int sv[2], i;

	if (!srv)
		fz_setup();
	if (size == 0)
		return 0;
	/* Pieces of 1..16 bytes (to split every header), else of 256 B up
	 * to 60 KiB. */
	step = data[0] < 16 ? 1u + data[0] : (size_t)(data[0] - 15) * 256;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	/* Counted as portal_admit does, then started as on a reactor. */
	sk_admit_force(&srv->admit, &local);
	pthread_mutex_lock(&srv->lock);
	srv->nconns++;
	srv->nlogin++;
	pthread_mutex_unlock(&srv->lock);
	iscsi_conn_start(srv, sv[0], loop, 1, &local, ev_now_ms());

	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		ssize_t w = send(sv[1], data + off, n,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno != EAGAIN)
			break; /* the server closed: the rest goes nowhere */
		if (w > 0)
			off += (size_t)w;
		for (i = 0; i < (w > 0 ? 1 : 4); i++) {
			ev_loop_run_once(loop, 0);
			fz_drain(sv[1]);
		}
		if (w <= 0 && fz_open() == 0)
			break;
	}
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 2000 && fz_open(); i++) {
		ev_loop_run_once(loop, i < 100 ? 0 : 1);
		fz_drain(sv[1]);
	}
	if (fz_open())
		abort(); /* the connection neither finished nor closed */
	for (i = 0; i < 4; i++)
		ev_loop_run_once(loop, 0); /* its deferred free */
	close(sv[1]);
	return 0;
}
