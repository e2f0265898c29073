/*
 * Synchronous block I/O for tools and tests: each call makes a private
 * event loop, submits one I/O completing on it, and runs the loop until
 * the callback has run.  Never for an event-loop thread: it would stall
 * the loop's other work, and a backend completing onto that loop would
 * wait for us forever.
 */
#include <errno.h>
#include <string.h>

#include <scsikit/evloop.h>

#include "bdev/bdev_int.h"

struct sync_wait {
	bool done;
	int status;
};

static void sync_done(struct bdev_io *io, int status, void *arg)
{
	struct sync_wait *w = arg;

	(void)io;
	w->status = status;
	w->done = true;
}

static int sync_run(struct bdev *bd, struct bdev_io *io)
{
	struct sync_wait w = { false, 0 };
	struct ev_loop *loop;
	int rc;

	if (bd == NULL)
		return -EINVAL;
	loop = ev_loop_create();
	if (loop == NULL)
		return -ENOMEM;
	io->loop = loop;
	io->cb = sync_done;
	io->cb_arg = &w;
	rc = bdev_submit(bd, io);
	/* Even if the loop reports an error we must keep it until the
	 * callback ran: the I/O will complete onto it. */
	while (rc == 0 && !w.done)
		ev_loop_run_once(loop, -1);
	ev_loop_destroy(loop);
	return rc != 0 ? rc : w.status;
}

int bdev_read_sync(struct bdev *bd, void *buf, uint64_t offset,
		   uint64_t length)
{
	struct iovec v = { buf, (size_t)length };
	struct bdev_io io;

	memset(&io, 0, sizeof(io));
	io.type = BDEV_IO_READ;
	io.offset = offset;
	io.length = length;
	io.iov = &v;
	io.iovcnt = 1;
	return sync_run(bd, &io);
}

int bdev_write_sync(struct bdev *bd, const void *buf, uint64_t offset,
		    uint64_t length, uint32_t flags)
{
	struct iovec v = { (void *)(uintptr_t)buf, (size_t)length };
	struct bdev_io io;

	memset(&io, 0, sizeof(io));
	io.type = BDEV_IO_WRITE;
	io.flags = flags;
	io.offset = offset;
	io.length = length;
	io.iov = &v;
	io.iovcnt = 1;
	return sync_run(bd, &io);
}

int bdev_io_sync(struct bdev *bd, enum bdev_io_type type, uint64_t offset,
		 uint64_t length, uint32_t flags)
{
	struct bdev_io io;

	/* Reads and writes need a buffer: use the two above. */
	if (type == BDEV_IO_READ || type == BDEV_IO_WRITE)
		return -EINVAL;
	memset(&io, 0, sizeof(io));
	io.type = type;
	io.flags = flags;
	io.offset = offset;
	io.length = length;
	return sync_run(bd, &io);
}
