/*
 * iovec helpers for the bdev layer: a cursor that walks a caller's iov list
 * while a backend copies to or from its own storage in pieces that do not
 * line up with the iov elements (mem chunks, O_DIRECT bounce buffers).
 */
#include <string.h>

#include "bdev/bdev_int.h"

void iov_cursor_init(struct iov_cursor *c, const struct iovec *iov, int cnt)
{
	c->iov = iov;
	c->cnt = cnt;
	c->idx = 0;
	c->off = 0;
}

/* The one walker behind the three copy directions: op 0 iov->buf,
 * 1 buf->iov, 2 zero the iov. */
static size_t iov_cursor_walk(struct iov_cursor *c, void *buf, size_t n,
			      int op)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < n && c->idx < c->cnt) {
		const struct iovec *v = &c->iov[c->idx];
		size_t avail = v->iov_len - c->off;
		size_t take = n - done < avail ? n - done : avail;
		unsigned char *base = (unsigned char *)v->iov_base + c->off;

		if (take > 0) {
			if (op == 0)
				memcpy(p + done, base, take);
			else if (op == 1)
				memcpy(base, p + done, take);
			else
				memset(base, 0, take);
		}
		done += take;
		c->off += take;
		if (c->off == v->iov_len) {
			c->idx++;
			c->off = 0;
		}
	}
	return done;
}

size_t iov_cursor_to_buf(struct iov_cursor *c, void *dst, size_t n)
{
	return iov_cursor_walk(c, dst, n, 0);
}

size_t iov_cursor_from_buf(struct iov_cursor *c, const void *src, size_t n)
{
	/* The walker only reads through buf in this direction. */
	return iov_cursor_walk(c, (void *)(uintptr_t)src, n, 1);
}

size_t iov_cursor_zero(struct iov_cursor *c, size_t n)
{
	return iov_cursor_walk(c, NULL, n, 2);
}

bool iov_total(const struct iovec *iov, int cnt, uint64_t *total)
{
	uint64_t t = 0;

	for (int i = 0; i < cnt; i++) {
		if (__builtin_add_overflow(t, (uint64_t)iov[i].iov_len, &t))
			return false;
	}
	*total = t;
	return true;
}

bool iov_aligned(const struct iovec *iov, int cnt, size_t align)
{
	for (int i = 0; i < cnt; i++) {
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (align - 1))
			return false;
	}
	return true;
}
