/*
 * imsg: framed messages and fd passing over Unix socketpairs, after
 * OpenBSD's imsg(3).  Written for podrunner; no code is shared with
 * OpenBSD's implementation.
 *
 * Wire format: a 16-byte header in host byte order, then the payload.
 *
 *	u32 type	message type (common/proto.h)
 *	u32 len		header + payload length; bit 31 set when an fd
 *			travels with this message (SCM_RIGHTS on its first byte)
 *	u32 peerid	free correlation id (pod id, request id)
 *	u32 pid		sender's pid
 *
 * A header whose length is below the header size or above the channel's
 * maximum is an error (EBADMSG); nothing past the received bytes is read.
 */
#ifndef PODRUNNER_IMSG_H
#define PODRUNNER_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	16
#define IMSG_FD_MARK		0x80000000U
#define IMSG_LEN_MASK		0x7fffffffU
#define IMSG_DEFAULT_MAXSIZE	(64 * 1024)	/* header included */
#define IMSG_ABSOLUTE_MAXSIZE	(16 * 1024 * 1024)
#define IMSG_READ_CHUNK		(64 * 1024)
#define IMSG_MAX_QUEUED_FDS	64

struct imsg_hdr {
	uint32_t	type;
	uint32_t	len;
	uint32_t	peerid;
	uint32_t	pid;
};

/*
 * A bounds-checked buffer.  Writers append with ibuf_add*(); readers
 * consume with ibuf_get*(), which fail (EBADMSG) rather than read past
 * the end.
 */
struct ibuf {
	TAILQ_ENTRY(ibuf)	 entry;
	unsigned char		*buf;
	size_t			 size;	/* allocated */
	size_t			 max;	/* growth limit */
	size_t			 wpos;	/* bytes written */
	size_t			 rpos;	/* bytes consumed (readers) */
	int			 fd;	/* fd to pass with it, or -1 */
};

struct imsgbuf {
	int			 fd;
	pid_t			 pid;
	uint32_t		 maxsize;	/* header included */
	int			 flags;
#define IMSGF_FDPASS		0x01	/* fds may travel on this channel */
#define IMSGF_EOF		0x02	/* peer closed */
	/* read side */
	unsigned char		*rbuf;
	size_t			 rsize;	/* allocated */
	size_t			 rlen;	/* valid bytes */
	size_t			 rpos;	/* bytes already taken by imsg_get */
	int			 rfds[IMSG_MAX_QUEUED_FDS];
	int			 nrfds;
	/* write side */
	TAILQ_HEAD(, ibuf)	 wqueue;
	size_t			 wqueued;	/* messages */
	size_t			 wbytes;	/* bytes not yet written */
	size_t			 wfirst_off;	/* bytes of head already sent */
};

struct imsg {
	struct imsg_hdr		 hdr;
	int			 fd;	/* -1 if none or claimed */
	struct ibuf		 data;	/* payload view, read-only */
	unsigned char		*owned;	/* storage freed by imsg_free */
};

/* ibuf: building */
struct ibuf	*ibuf_open(size_t);		/* fixed size */
struct ibuf	*ibuf_dynamic(size_t, size_t);	/* initial, max */
int		 ibuf_add(struct ibuf *, const void *, size_t);
int		 ibuf_add_n8(struct ibuf *, uint8_t);
int		 ibuf_add_n32(struct ibuf *, uint32_t);	/* host order */
int		 ibuf_add_n64(struct ibuf *, uint64_t);
int		 ibuf_add_string(struct ibuf *, const char *); /* u32 len + bytes */
void		 ibuf_free(struct ibuf *);
size_t		 ibuf_size(const struct ibuf *);	/* bytes left to read */
void		*ibuf_data(const struct ibuf *);	/* at read position */

/* ibuf: reading (bounds-checked; -1 and errno EBADMSG on short data) */
int		 ibuf_get(struct ibuf *, void *, size_t);
int		 ibuf_get_n8(struct ibuf *, uint8_t *);
int		 ibuf_get_n32(struct ibuf *, uint32_t *);
int		 ibuf_get_n64(struct ibuf *, uint64_t *);
/* u32 len + bytes; copies into a NUL-terminated malloc'd string;
 * fails on embedded NUL or len > max. */
int		 ibuf_get_string(struct ibuf *, char **, size_t);
int		 ibuf_skip(struct ibuf *, size_t);

/* imsgbuf */
void		 imsgbuf_init(struct imsgbuf *, int);
void		 imsgbuf_allow_fdpass(struct imsgbuf *);
int		 imsgbuf_set_maxsize(struct imsgbuf *, uint32_t);
/* read what is available: >0 bytes read, 0 EOF, -1 error (EAGAIN
 * returns -1 with errno EAGAIN; ENOBUFS: the read buffer holds maxsize
 * bytes already, call imsg_get() first; EBADMSG: unwanted fds). */
ssize_t		 imsgbuf_read(struct imsgbuf *);
/* write what the socket takes: 0 ok (possibly partial), -1 error */
int		 imsgbuf_write(struct imsgbuf *);
/* write everything, polling on EAGAIN: 0 ok, -1 error */
int		 imsgbuf_flush(struct imsgbuf *);
size_t		 imsgbuf_queuelen(const struct imsgbuf *);	/* messages */
size_t		 imsgbuf_queuebytes(const struct imsgbuf *);
void		 imsgbuf_clear(struct imsgbuf *);	/* free queues, close fds */

/*
 * Block until one whole message is in: 1 and the message, 0 on EOF,
 * -1 on error.  For a process that waits for one message before its
 * event loop runs.
 */
int		 imsg_wait(struct imsgbuf *, struct imsg *);

/* messages: 1 one returned, 0 none complete yet, -1 error (EBADMSG) */
int		 imsg_get(struct imsgbuf *, struct imsg *);
/*
 * compose: 0 queued, -1 error: ERANGE (payload too big for maxsize),
 * EPERM (fd on a channel without IMSGF_FDPASS), ENOMEM.  A queued fd
 * belongs to the imsgbuf and is closed once sent; on error it stays
 * the caller's.
 */
int		 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
		    const void *, size_t);
int		 imsg_composev(struct imsgbuf *, uint32_t, uint32_t, pid_t, int,
		    const struct iovec *, int);
/* compose from a built ibuf (payload = ibuf contents); takes ownership */
int		 imsg_compose_ibuf(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    int, struct ibuf *);

uint32_t	 imsg_get_type(const struct imsg *);
uint32_t	 imsg_get_peerid(const struct imsg *);
pid_t		 imsg_get_pid(const struct imsg *);
size_t		 imsg_get_len(const struct imsg *);	/* payload bytes */
/* exact-size payload copy: -1 (EBADMSG) unless len == payload size */
int		 imsg_get_data(struct imsg *, void *, size_t);
/* a reader over the payload */
int		 imsg_get_ibuf(struct imsg *, struct ibuf *);
/* claim the fd; -1 if none.  Unclaimed fds are closed by imsg_free. */
int		 imsg_get_fd(struct imsg *);
void		 imsg_free(struct imsg *);

/*
 * libevent glue.  After every dispatch the handler calls imsgev_add()
 * which re-arms for read, and for write while messages are queued.
 */
struct event;
struct imsgev {
	struct imsgbuf	  ibuf;
	void		(*handler)(int, short, void *);
	struct event	 *ev;
	short		  events;
	void		 *data;
	const char	 *name;	/* peer's title, for logs */
	int		  paused;	/* no reading: imsgev_pause() */
};

struct event_base;
/* the event base imsgev_init() uses; set it once before any imsgev_init */
void		 imsgev_set_base(struct event_base *);
/* iev->ev is NULL (errno set) if the event could not be created */
void		 imsgev_init(struct imsgev *, int, const char *,
		    void (*)(int, short, void *), void *);
void		 imsgev_add(struct imsgev *);
/* Stop reading (flow control: the reader's consumer is behind), or
 * read again; queued messages are still written while paused. */
void		 imsgev_pause(struct imsgev *, int);
void		 imsgev_clear(struct imsgev *);	/* del event, clear, close fd */
int		 imsgev_compose(struct imsgev *, uint32_t, uint32_t, pid_t,
		    int, const void *, size_t);
int		 imsgev_composev(struct imsgev *, uint32_t, uint32_t, pid_t,
		    int, const struct iovec *, int);
int		 imsgev_compose_ibuf(struct imsgev *, uint32_t, uint32_t,
		    pid_t, int, struct ibuf *);
/*
 * imsgev_handle_io: the common part of a handler: on EV_READ read
 * (returns 0 on EOF), on EV_WRITE write.  Returns 1 when messages may
 * be fetched with imsg_get, 0 on EOF, -1 on error.
 */
int		 imsgev_handle_io(struct imsgev *, short);

#endif
