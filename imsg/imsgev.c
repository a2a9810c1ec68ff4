/*
 * imsgev.c: libevent 2 glue for imsg channels.  The event is one-shot
 * (not EV_PERSIST): after every dispatch the handler calls imsgev_add(),
 * which re-arms it for read, and for write while messages are queued.
 */
#include <sys/types.h>

#include <errno.h>
#include <unistd.h>

#include <event2/event.h>

#include "imsg.h"

static struct event_base	*imsgev_base;

void
imsgev_set_base(struct event_base *base)
{
	imsgev_base = base;
}

/*
 * The handler is called with data as its argument; usually data is iev
 * itself or the structure holding it.
 */
void
imsgev_init(struct imsgev *iev, int fd, const char *name,
    void (*handler)(int, short, void *), void *data)
{
	imsgbuf_init(&iev->ibuf, fd);
	iev->handler = handler;
	iev->data = data;
	iev->name = name;
	iev->events = EV_READ;
	iev->paused = 0;
	iev->ev = NULL;
	if (imsgev_base == NULL) {
		errno = EINVAL;
		return;
	}
	/* Created unarmed; imsgev_add() arms it. */
	if ((iev->ev = event_new(imsgev_base, fd, iev->events, handler,
	    data)) == NULL)
		errno = ENOMEM;
}

void
imsgev_add(struct imsgev *iev)
{
	short	events;

	if (iev->ev == NULL)
		return;
	events = iev->paused ? 0 : EV_READ;
	if (imsgbuf_queuelen(&iev->ibuf) > 0)
		events |= EV_WRITE;
	/*
	 * Armed already for just these (the second and later message of a
	 * burst): nothing to change.  Deleting and adding again costs two
	 * epoll_ctl(2) calls a message, the start-up's configuration
	 * hundreds.
	 */
	if (events != 0 && events == iev->events &&
	    event_pending(iev->ev, EV_READ | EV_WRITE, NULL) != 0)
		return;
	iev->events = events;
	/*
	 * event_del() also drops a pending activation, which makes
	 * event_assign() on the same storage safe, even from the
	 * event's own callback.
	 */
	event_del(iev->ev);
	if (iev->events == 0)
		return;
	if (event_assign(iev->ev, imsgev_base, iev->ibuf.fd, iev->events,
	    iev->handler, iev->data) == 0)
		event_add(iev->ev, NULL);
}

void
imsgev_pause(struct imsgev *iev, int pause)
{
	iev->paused = pause;
	imsgev_add(iev);
}

void
imsgev_clear(struct imsgev *iev)
{
	if (iev->ev != NULL) {
		event_del(iev->ev);
		event_free(iev->ev);
		iev->ev = NULL;
	}
	imsgbuf_clear(&iev->ibuf);
	if (iev->ibuf.fd >= 0)
		close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
}

int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	int	ret;

	if ((ret = imsg_compose(&iev->ibuf, type, peerid, pid, fd, data,
	    datalen)) != -1)
		imsgev_add(iev);
	return (ret);
}

int
imsgev_composev(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const struct iovec *iov, int iovcnt)
{
	int	ret;

	if ((ret = imsg_composev(&iev->ibuf, type, peerid, pid, fd, iov,
	    iovcnt)) != -1)
		imsgev_add(iev);
	return (ret);
}

int
imsgev_compose_ibuf(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, struct ibuf *payload)
{
	int	ret;

	if ((ret = imsg_compose_ibuf(&iev->ibuf, type, peerid, pid, fd,
	    payload)) != -1)
		imsgev_add(iev);
	return (ret);
}

/*
 * A peer that sent its last messages and closed gives EPIPE on write
 * while those messages are still to be fetched: then this returns 1,
 * and the next read reports the EOF.
 */
int
imsgev_handle_io(struct imsgev *iev, short events)
{
	ssize_t	n = -1;

	if (events & EV_READ) {
		n = imsgbuf_read(&iev->ibuf);
		if (n == 0)
			return (0);
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return (-1);
	}
	if (events & EV_WRITE) {
		if (imsgbuf_write(&iev->ibuf) == -1) {
			if (errno != EPIPE)
				return (-1);
			if (n <= 0)
				return (0);
		}
	}
	return (1);
}
