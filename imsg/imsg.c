/*
 * imsg.c: framed messages and fd passing over Unix stream sockets.
 * Written for podrunner after the design of OpenBSD's imsg(3); no code
 * is shared with it.  The wire format is described in imsg.h.
 *
 * Read side: imsgbuf_read() appends what the socket has to rbuf and
 * queues received fds in rfds; imsg_get() takes complete messages from
 * rbuf[rpos..rlen), copying each payload out so the buffer can be
 * compacted by the next read.
 *
 * Write side: composed messages wait in wqueue, one ibuf each, header
 * included.  A message's fd is sent with its first byte, alone in its
 * sendmsg() as far as fds go, and closed once sent.
 *
 * The library never exits or logs: every failure is -1 and errno.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

#define IMSG_READ_INITIAL	4096	/* first size of rbuf */
#define IMSG_WRITE_IOV		64	/* messages per sendmsg() at most */
/*
 * Linux hands at most one SCM_RIGHTS batch to a recvmsg() and our
 * sender puts one fd in each; room for a few more catches a peer that
 * does otherwise (MSG_CTRUNC is then an error, not a silent loss).
 */
#define IMSG_RECV_FDS		8

static int	 imsgbuf_rspace(struct imsgbuf *);
static void	 imsgbuf_close_fds(int *, int);
static int	 imsg_check(struct imsgbuf *, size_t, int);
static struct ibuf *imsg_create(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    int, size_t);
static void	 imsg_enqueue(struct imsgbuf *, struct ibuf *, int);

void
imsgbuf_init(struct imsgbuf *ibuf, int fd)
{
	int	i;

	memset(ibuf, 0, sizeof(*ibuf));
	ibuf->fd = fd;
	ibuf->pid = getpid();
	ibuf->maxsize = IMSG_DEFAULT_MAXSIZE;
	for (i = 0; i < IMSG_MAX_QUEUED_FDS; i++)
		ibuf->rfds[i] = -1;
	TAILQ_INIT(&ibuf->wqueue);
}

void
imsgbuf_allow_fdpass(struct imsgbuf *ibuf)
{
	ibuf->flags |= IMSGF_FDPASS;
}

int
imsgbuf_set_maxsize(struct imsgbuf *ibuf, uint32_t maxsize)
{
	if (maxsize < IMSG_HEADER_SIZE || maxsize > IMSG_ABSOLUTE_MAXSIZE) {
		errno = EINVAL;
		return (-1);
	}
	ibuf->maxsize = maxsize;
	return (0);
}

static void
imsgbuf_close_fds(int *fds, int n)
{
	int	i, saved_errno;

	saved_errno = errno;
	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	errno = saved_errno;
}

/*
 * Compact rbuf and make room for the next read.  rbuf starts small and
 * grows when it is full or when the message at its head needs more;
 * it never grows past maxsize (or what it already is, should maxsize
 * have been lowered).  A buffer holding maxsize bytes holds a complete
 * message or a bad header, so ENOBUFS means imsg_get() was not called.
 */
static int
imsgbuf_rspace(struct imsgbuf *ibuf)
{
	struct imsg_hdr	 hdr;
	unsigned char	*p;
	size_t		 limit, want, nsize;

	if (ibuf->rpos > 0) {
		memmove(ibuf->rbuf, ibuf->rbuf + ibuf->rpos,
		    ibuf->rlen - ibuf->rpos);
		ibuf->rlen -= ibuf->rpos;
		ibuf->rpos = 0;
	}

	limit = ibuf->maxsize;
	if (limit < ibuf->rsize)
		limit = ibuf->rsize;

	want = ibuf->rlen + 1;
	if (ibuf->rlen >= IMSG_HEADER_SIZE) {
		memcpy(&hdr, ibuf->rbuf, sizeof(hdr));
		if ((hdr.len & IMSG_LEN_MASK) > want)
			want = hdr.len & IMSG_LEN_MASK;
	}
	if (want > limit)
		want = limit;

	if (want > ibuf->rsize) {
		nsize = ibuf->rsize ? ibuf->rsize : IMSG_READ_INITIAL;
		while (nsize < want)
			nsize *= 2;
		if (nsize > limit)
			nsize = limit;
		if ((p = realloc(ibuf->rbuf, nsize)) == NULL)
			return (-1);
		ibuf->rbuf = p;
		ibuf->rsize = nsize;
	}
	if (ibuf->rlen >= ibuf->rsize) {
		errno = ENOBUFS;
		return (-1);
	}
	return (0);
}

ssize_t
imsgbuf_read(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IMSG_RECV_FDS)];
	}		 cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;
	int		 fds[IMSG_RECV_FDS];
	int		 nfds = 0, i, n;
	size_t		 len;
	ssize_t		 r;

	if (imsgbuf_rspace(ibuf) == -1)
		return (-1);

	len = ibuf->rsize - ibuf->rlen;
	if (len > IMSG_READ_CHUNK)
		len = IMSG_READ_CHUNK;
	iov.iov_base = ibuf->rbuf + ibuf->rlen;
	iov.iov_len = len;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		r = recvmsg(ibuf->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return (-1);

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n && nfds < IMSG_RECV_FDS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
	}

	/*
	 * fds the channel did not ask for, more than fit, or more than
	 * we queue: close what arrived and fail.  The bytes of this read
	 * are dropped too; the channel is not usable any more.
	 */
	if ((msg.msg_flags & MSG_CTRUNC) ||
	    (nfds > 0 && !(ibuf->flags & IMSGF_FDPASS)) ||
	    nfds > IMSG_MAX_QUEUED_FDS - ibuf->nrfds) {
		imsgbuf_close_fds(fds, nfds);
		errno = EBADMSG;
		return (-1);
	}
	for (i = 0; i < nfds; i++)
		ibuf->rfds[ibuf->nrfds++] = fds[i];

	if (r == 0) {
		ibuf->flags |= IMSGF_EOF;
		return (0);
	}
	ibuf->rlen += r;
	return (r);
}

int
imsgbuf_write(struct imsgbuf *ibuf)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cmsgbuf;
	struct iovec	 iov[IMSG_WRITE_IOV];
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct ibuf	*buf, *head;
	size_t		 off, left;
	ssize_t		 n;
	int		 iovcnt = 0;

	if ((head = TAILQ_FIRST(&ibuf->wqueue)) == NULL)
		return (0);

	/*
	 * Gather messages up to the next one carrying an fd: its fd must
	 * go with its own first byte, so it starts the next sendmsg().
	 */
	TAILQ_FOREACH(buf, &ibuf->wqueue, entry) {
		if (iovcnt == IMSG_WRITE_IOV)
			break;
		if (iovcnt > 0 && buf->fd >= 0)
			break;
		off = (buf == head) ? ibuf->wfirst_off : 0;
		iov[iovcnt].iov_base = buf->buf + off;
		iov[iovcnt].iov_len = buf->wpos - off;
		iovcnt++;
	}

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	/* head->fd is closed as soon as any byte of head is sent. */
	if (head->fd >= 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &head->fd, sizeof(int));
	}

	do {
		n = sendmsg(ibuf->fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		return (-1);
	}

	if (n > 0 && head->fd >= 0) {
		close(head->fd);
		head->fd = -1;
	}

	ibuf->wbytes -= n;
	while (n > 0 && (buf = TAILQ_FIRST(&ibuf->wqueue)) != NULL) {
		left = buf->wpos - ibuf->wfirst_off;
		if ((size_t)n < left) {
			ibuf->wfirst_off += n;
			break;
		}
		n -= left;
		TAILQ_REMOVE(&ibuf->wqueue, buf, entry);
		ibuf_free(buf);
		ibuf->wqueued--;
		ibuf->wfirst_off = 0;
	}
	return (0);
}

int
imsgbuf_flush(struct imsgbuf *ibuf)
{
	struct pollfd	pfd;

	while (!TAILQ_EMPTY(&ibuf->wqueue)) {
		if (imsgbuf_write(ibuf) == -1)
			return (-1);
		if (TAILQ_EMPTY(&ibuf->wqueue))
			break;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return (-1);
	}
	return (0);
}

size_t
imsgbuf_queuelen(const struct imsgbuf *ibuf)
{
	return (ibuf->wqueued);
}

size_t
imsgbuf_queuebytes(const struct imsgbuf *ibuf)
{
	return (ibuf->wbytes);
}

/* Leaves ibuf->fd open: the caller owns the socket. */
void
imsgbuf_clear(struct imsgbuf *ibuf)
{
	struct ibuf	*buf;

	while ((buf = TAILQ_FIRST(&ibuf->wqueue)) != NULL) {
		TAILQ_REMOVE(&ibuf->wqueue, buf, entry);
		ibuf_free(buf);		/* closes an unsent fd */
	}
	ibuf->wqueued = 0;
	ibuf->wbytes = 0;
	ibuf->wfirst_off = 0;

	imsgbuf_close_fds(ibuf->rfds, ibuf->nrfds);
	ibuf->nrfds = 0;

	if (ibuf->rbuf != NULL) {
		explicit_bzero(ibuf->rbuf, ibuf->rsize);
		free(ibuf->rbuf);
	}
	ibuf->rbuf = NULL;
	ibuf->rsize = ibuf->rlen = ibuf->rpos = 0;
}

int
imsg_get(struct imsgbuf *ibuf, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	unsigned char	*data = NULL;
	size_t		 avail, len, dlen;
	int		 fd = -1;

	avail = ibuf->rlen - ibuf->rpos;
	if (avail < IMSG_HEADER_SIZE)
		return (0);
	memcpy(&hdr, ibuf->rbuf + ibuf->rpos, sizeof(hdr));
	len = hdr.len & IMSG_LEN_MASK;
	if (len < IMSG_HEADER_SIZE || len > ibuf->maxsize) {
		errno = EBADMSG;
		return (-1);
	}
	/*
	 * An fd arrives with the first byte of its message, so once the
	 * header is here the fd must be queued already.
	 */
	if ((hdr.len & IMSG_FD_MARK) && ibuf->nrfds == 0) {
		errno = EBADMSG;
		return (-1);
	}
	if (avail < len)
		return (0);

	dlen = len - IMSG_HEADER_SIZE;
	if (dlen > 0) {
		if ((data = malloc(dlen)) == NULL)
			return (-1);
		memcpy(data, ibuf->rbuf + ibuf->rpos + IMSG_HEADER_SIZE, dlen);
	}
	if (hdr.len & IMSG_FD_MARK) {
		fd = ibuf->rfds[0];
		memmove(&ibuf->rfds[0], &ibuf->rfds[1],
		    (ibuf->nrfds - 1) * sizeof(int));
		ibuf->rfds[--ibuf->nrfds] = -1;
	}

	ibuf->rpos += len;
	if (ibuf->rpos == ibuf->rlen)
		ibuf->rpos = ibuf->rlen = 0;

	memset(imsg, 0, sizeof(*imsg));
	imsg->hdr = hdr;
	imsg->hdr.len = len;
	imsg->fd = fd;
	imsg->owned = data;
	imsg->data.buf = data;
	imsg->data.size = imsg->data.max = imsg->data.wpos = dlen;
	imsg->data.fd = -1;
	return (1);
}

static int
imsg_check(struct imsgbuf *ibuf, size_t datalen, int fd)
{
	if (fd >= 0 && !(ibuf->flags & IMSGF_FDPASS)) {
		errno = EPERM;
		return (-1);
	}
	if (datalen > ibuf->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (-1);
	}
	return (0);
}

/* A message buffer of exactly the right size, header written. */
static struct ibuf *
imsg_create(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, size_t datalen)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*buf;

	if (imsg_check(ibuf, datalen, fd) == -1)
		return (NULL);
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_SIZE + datalen);
	if (fd >= 0)
		hdr.len |= IMSG_FD_MARK;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)(pid != 0 ? pid : ibuf->pid);
	if ((buf = ibuf_open(IMSG_HEADER_SIZE + datalen)) == NULL)
		return (NULL);
	if (ibuf_add(buf, &hdr, sizeof(hdr)) == -1) {
		ibuf_free(buf);
		return (NULL);
	}
	return (buf);
}

static void
imsg_enqueue(struct imsgbuf *ibuf, struct ibuf *buf, int fd)
{
	buf->fd = fd >= 0 ? fd : -1;
	TAILQ_INSERT_TAIL(&ibuf->wqueue, buf, entry);
	ibuf->wqueued++;
	ibuf->wbytes += buf->wpos;
}

int
imsg_compose(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	struct ibuf	*buf;

	if ((buf = imsg_create(ibuf, type, peerid, pid, fd, datalen)) == NULL)
		return (-1);
	if (ibuf_add(buf, data, datalen) == -1) {
		ibuf_free(buf);
		return (-1);
	}
	imsg_enqueue(ibuf, buf, fd);
	return (0);
}

int
imsg_composev(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const struct iovec *iov, int iovcnt)
{
	struct ibuf	*buf;
	size_t		 datalen = 0;
	int		 i;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > IMSG_ABSOLUTE_MAXSIZE - datalen) {
			errno = ERANGE;
			return (-1);
		}
		datalen += iov[i].iov_len;
	}
	if ((buf = imsg_create(ibuf, type, peerid, pid, fd, datalen)) == NULL)
		return (-1);
	for (i = 0; i < iovcnt; i++) {
		if (ibuf_add(buf, iov[i].iov_base, iov[i].iov_len) == -1) {
			ibuf_free(buf);
			return (-1);
		}
	}
	imsg_enqueue(ibuf, buf, fd);
	return (0);
}

/* Takes ownership of payload: it is freed whether or not this succeeds. */
int
imsg_compose_ibuf(struct imsgbuf *ibuf, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, struct ibuf *payload)
{
	struct ibuf	*buf;
	int		 saved_errno;

	if (payload == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if ((buf = imsg_create(ibuf, type, peerid, pid, fd,
	    ibuf_size(payload))) == NULL ||
	    ibuf_add(buf, ibuf_data(payload), ibuf_size(payload)) == -1) {
		saved_errno = errno;
		ibuf_free(buf);
		ibuf_free(payload);
		errno = saved_errno;
		return (-1);
	}
	ibuf_free(payload);
	imsg_enqueue(ibuf, buf, fd);
	return (0);
}

uint32_t
imsg_get_type(const struct imsg *imsg)
{
	return (imsg->hdr.type);
}

uint32_t
imsg_get_peerid(const struct imsg *imsg)
{
	return (imsg->hdr.peerid);
}

pid_t
imsg_get_pid(const struct imsg *imsg)
{
	return ((pid_t)imsg->hdr.pid);
}

size_t
imsg_get_len(const struct imsg *imsg)
{
	return (imsg->data.wpos);
}

int
imsg_get_data(struct imsg *imsg, void *data, size_t len)
{
	if (len != imsg->data.wpos) {
		errno = EBADMSG;
		return (-1);
	}
	if (len > 0)
		memcpy(data, imsg->data.buf, len);
	return (0);
}

/*
 * A reader over the payload, from its start.  It borrows imsg's
 * storage: valid until imsg_free(), never ibuf_free()d.
 */
int
imsg_get_ibuf(struct imsg *imsg, struct ibuf *buf)
{
	memset(buf, 0, sizeof(*buf));
	buf->buf = imsg->data.buf;
	buf->size = buf->max = buf->wpos = imsg->data.wpos;
	buf->fd = -1;
	return (0);
}

int
imsg_get_fd(struct imsg *imsg)
{
	int	fd;

	fd = imsg->fd;
	imsg->fd = -1;
	return (fd);
}

void
imsg_free(struct imsg *imsg)
{
	int	saved_errno;

	saved_errno = errno;
	if (imsg->fd >= 0)
		close(imsg->fd);
	imsg->fd = -1;
	if (imsg->owned != NULL) {
		explicit_bzero(imsg->owned, imsg->data.wpos);
		free(imsg->owned);
	}
	imsg->owned = NULL;
	memset(&imsg->data, 0, sizeof(imsg->data));
	imsg->data.fd = -1;
	errno = saved_errno;
}

int
imsg_wait(struct imsgbuf *ib, struct imsg *imsg)
{
	struct pollfd	pfd;
	ssize_t		n;
	int		got;

	for (;;) {
		if ((got = imsg_get(ib, imsg)) != 0)
			return got;
		pfd.fd = ib->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
		if ((n = imsgbuf_read(ib)) == 0)
			return 0;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
}
