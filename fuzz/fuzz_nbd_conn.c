/*
 * libFuzzer harness for a whole NBD server connection (src/nbd/conn.c,
 * cmd.c, handshake.c): the input is what a client sends, from its flags
 * through the negotiation into transmission -- requests and WRITE
 * payloads -- fed over a socket pair to a real connection of a real
 * nbd_server exporting a 1 MiB memory disk, on an event loop run here.
 * The first byte sets the size of the pieces the stream is sent in.
 * Every reply is drained; at the end the client's side is shut and the
 * connection must close and free itself within a bounded number of loop
 * rounds (nothing leaks, nothing hangs).
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.  The seeds are
 * whole recorded client streams (fuzz/mkseeds.py).
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
#include <scsikit/log.h>
#include <scsikit/nbd.h>

#include "nbd/nbd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_loop *loop;
static struct nbd_server *srv;

static void fz_setup(void)
{
	struct nbd_server_opts o;
	struct bdev *bd;

	log_set_level(SK_LOG_ERR);
	loop = ev_loop_create();
	bd = bdev_mem_create("d", 1u << 20, 512, false);
	if (!loop || !bd || bdev_registry_add(bd) < 0)
		abort();
	bdev_release(bd);
	nbd_server_opts_init(&o);
	o.accept_loop = loop;
	o.max_buffered = 4u << 20;
	srv = nbd_server_create(&o);
	if (!srv)
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
	static uint64_t id;
	const struct sockaddr_storage local = {.ss_family = AF_UNIX};
	struct nbd_conn *c;
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
	/* As server_accept_one does, without the listener. */
	c = nbd_conn_create(srv, sv[0], loop, "fuzz", ++id);
	if (!c)
		abort();
	c->peer_ss = local;
	sk_admit_force(&srv->admit, &local);
	pthread_mutex_lock(&srv->lock);
	c->next = srv->conns;
	if (c->next)
		c->next->prevp = &c->next;
	c->prevp = &srv->conns;
	srv->conns = c;
	srv->nconns++;
	srv->refs++;
	pthread_mutex_unlock(&srv->lock);
	nbd_conn_start(c);

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
