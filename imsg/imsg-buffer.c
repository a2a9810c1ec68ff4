/*
 * imsg-buffer.c: bounds-checked buffers for building and reading imsg
 * payloads.  Written for podrunner after the shape of OpenBSD's
 * ibuf(3); no code is shared with it.
 *
 * A writer appends at wpos and may grow the buffer up to max; a reader
 * consumes from rpos and never goes past wpos.  Every failing call
 * leaves the buffer as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

static unsigned char	*ibuf_reserve(struct ibuf *, size_t);

struct ibuf *
ibuf_open(size_t size)
{
	struct ibuf	*buf;

	if (size == 0) {
		errno = EINVAL;
		return (NULL);
	}
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	if ((buf->buf = malloc(size)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = buf->max = size;
	buf->fd = -1;
	return (buf);
}

struct ibuf *
ibuf_dynamic(size_t initial, size_t max)
{
	struct ibuf	*buf;

	if (max == 0 || initial > max) {
		errno = EINVAL;
		return (NULL);
	}
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return (NULL);
	/* An initial size of 0 allocates on the first add. */
	if (initial > 0 && (buf->buf = malloc(initial)) == NULL) {
		free(buf);
		return (NULL);
	}
	buf->size = initial;
	buf->max = max;
	buf->fd = -1;
	return (buf);
}

/*
 * Make room for len more bytes and return where they go, advancing
 * wpos.  Grows by doubling, capped at max.  ERANGE when it cannot fit.
 */
static unsigned char *
ibuf_reserve(struct ibuf *buf, size_t len)
{
	unsigned char	*p;
	size_t		 need, nsize;

	if (len > SIZE_MAX - buf->wpos) {
		errno = ERANGE;
		return (NULL);
	}
	need = buf->wpos + len;
	if (need > buf->size) {
		if (need > buf->max) {
			errno = ERANGE;
			return (NULL);
		}
		nsize = buf->size < 64 ? 64 : buf->size;
		while (nsize < need && nsize <= buf->max / 2)
			nsize *= 2;
		if (nsize < need || nsize > buf->max)
			nsize = buf->max;
		if ((p = realloc(buf->buf, nsize)) == NULL)
			return (NULL);
		buf->buf = p;
		buf->size = nsize;
	}
	p = buf->buf + buf->wpos;
	buf->wpos += len;
	return (p);
}

int
ibuf_add(struct ibuf *buf, const void *data, size_t len)
{
	unsigned char	*p;

	if (len == 0)
		return (0);
	if ((p = ibuf_reserve(buf, len)) == NULL)
		return (-1);
	memcpy(p, data, len);
	return (0);
}

int
ibuf_add_n8(struct ibuf *buf, uint8_t v)
{
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n32(struct ibuf *buf, uint32_t v)
{
	return (ibuf_add(buf, &v, sizeof(v)));
}

int
ibuf_add_n64(struct ibuf *buf, uint64_t v)
{
	return (ibuf_add(buf, &v, sizeof(v)));
}

/* u32 length (host order) then the bytes, without the NUL. */
int
ibuf_add_string(struct ibuf *buf, const char *s)
{
	unsigned char	*p;
	size_t		 len;
	uint32_t	 len32;

	len = strlen(s);
	if (len > UINT32_MAX || len > SIZE_MAX - sizeof(len32)) {
		errno = ERANGE;
		return (-1);
	}
	/* Reserve both parts at once so a failure writes nothing. */
	if ((p = ibuf_reserve(buf, sizeof(len32) + len)) == NULL)
		return (-1);
	len32 = (uint32_t)len;
	memcpy(p, &len32, sizeof(len32));
	if (len > 0)
		memcpy(p + sizeof(len32), s, len);
	return (0);
}

/*
 * Closes a pending fd: a queued message that is freed unsent must not
 * leak the descriptor it carried.
 */
void
ibuf_free(struct ibuf *buf)
{
	int	saved_errno;

	if (buf == NULL)
		return;
	saved_errno = errno;
	if (buf->fd >= 0)
		close(buf->fd);
	if (buf->buf != NULL) {
		explicit_bzero(buf->buf, buf->size);
		free(buf->buf);
	}
	free(buf);
	errno = saved_errno;
}

size_t
ibuf_size(const struct ibuf *buf)
{
	return (buf->wpos - buf->rpos);
}

void *
ibuf_data(const struct ibuf *buf)
{
	if (buf->buf == NULL)
		return (NULL);
	return (buf->buf + buf->rpos);
}

int
ibuf_get(struct ibuf *buf, void *data, size_t len)
{
	if (len > ibuf_size(buf)) {
		errno = EBADMSG;
		return (-1);
	}
	if (len == 0)
		return (0);
	memcpy(data, buf->buf + buf->rpos, len);
	buf->rpos += len;
	return (0);
}

int
ibuf_get_n8(struct ibuf *buf, uint8_t *v)
{
	return (ibuf_get(buf, v, sizeof(*v)));
}

int
ibuf_get_n32(struct ibuf *buf, uint32_t *v)
{
	return (ibuf_get(buf, v, sizeof(*v)));
}

int
ibuf_get_n64(struct ibuf *buf, uint64_t *v)
{
	return (ibuf_get(buf, v, sizeof(*v)));
}

/*
 * Read a string written by ibuf_add_string() into a fresh NUL-terminated
 * allocation.  EBADMSG if it is short, longer than max, or holds a NUL
 * (which would make the C string differ from what was sent).
 */
int
ibuf_get_string(struct ibuf *buf, char **out, size_t max)
{
	const unsigned char	*p;
	uint32_t		 len32;
	char			*s;

	if (ibuf_size(buf) < sizeof(len32)) {
		errno = EBADMSG;
		return (-1);
	}
	p = buf->buf + buf->rpos;
	memcpy(&len32, p, sizeof(len32));
	if (len32 > max || len32 > ibuf_size(buf) - sizeof(len32)) {
		errno = EBADMSG;
		return (-1);
	}
	p += sizeof(len32);
	if (len32 > 0 && memchr(p, '\0', len32) != NULL) {
		errno = EBADMSG;
		return (-1);
	}
	if ((s = malloc((size_t)len32 + 1)) == NULL)
		return (-1);
	if (len32 > 0)
		memcpy(s, p, len32);
	s[len32] = '\0';
	buf->rpos += sizeof(len32) + len32;
	*out = s;
	return (0);
}

int
ibuf_skip(struct ibuf *buf, size_t len)
{
	if (len > ibuf_size(buf)) {
		errno = EBADMSG;
		return (-1);
	}
	buf->rpos += len;
	return (0);
}
