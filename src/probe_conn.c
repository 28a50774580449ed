// SPDX-License-Identifier: GPL-2.0-or-later
/* Probe connections: queue, connect, TLS, reads, timeouts (see probe_engine.h). */
#include "probe_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "fingerprint.h"
#include "probe_resolve.h"
#include "probe_sandbox.h"
#include "probe_smpp.h"
#include "probe_tls.h"
#include "util.h"

uint64_t pe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t pe_elapsed(const struct tstate *t)
{
	uint64_t n = pe_now_ms();

	return n > t->t0 ? (uint32_t)(n - t->t0) : 0;
}

uint32_t pe_random_seq(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)pe_now_ms() ^ (uint32_t)getpid() << 16;
	v &= 0x7fffffff;	/* SMPP sequence numbers are 0x00000001..0x7FFFFFFF */
	return v ? v : 1;
}

void pe_escape_into(char *dst, size_t max, const uint8_t *p, size_t n)
{
	util_escape(p, n, dst, max);
}

void pe_set_note(struct tstate *t, const char *fmt, ...)
{
	va_list ap;

	if (t->r->note[0])
		return;		/* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(t->r->note, sizeof(t->r->note), fmt, ap);
	va_end(ap);
}

static void queue_conn(struct engine *e, struct conn *c, bool front)
{
	c->st = CS_PENDING;
	c->next = NULL;
	if (front) {
		c->next = e->pending;
		e->pending = c;
		if (!e->pending_tail)
			e->pending_tail = c;
	} else {
		if (e->pending_tail)
			e->pending_tail->next = c;
		else
			e->pending = c;
		e->pending_tail = c;
	}
}

struct conn *pe_new_conn(struct engine *e, struct tstate *t, enum ckind kind, bool front)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = t;
	c->kind = kind;
	c->fd = -1;
	t->active++;
	queue_conn(e, c, front);
	return c;
}

static void set_events(struct engine *e, struct conn *c, uint32_t ev)
{
	struct epoll_event ee = { .events = ev, .data.ptr = c };

	if (c->events == ev)
		return;
	if (epoll_ctl(e->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ee) == 0)
		c->events = ev;
}

/* Close c; when it was the target's last connection, the result is final. */
void pe_conn_close(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	struct conn **pp;

	if (c->st == CS_DONE)
		return;
	if (c->st == CS_PENDING) {
		struct conn *prev = NULL;

		for (pp = &e->pending; *pp; prev = *pp, pp = &(*pp)->next)
			if (*pp == c) {
				*pp = c->next;
				if (e->pending_tail == c)
					e->pending_tail = prev;
				break;
			}
	} else {
		for (pp = &e->open; *pp; pp = &(*pp)->next)
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		e->active--;
	}
	if (c->ssl)
		probe_tls_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);	/* also removes it from the epoll set */
	c->st = CS_DONE;
	if (t->main == c)
		t->main = NULL;
	if (t->smpp == c)
		t->smpp = NULL;
	if (c->kind == CK_FP)
		pe_spawn_fp_next(e, t);
	free(c);
	/* the last connection of a silent port: one generic request before the result */
	if (t->active == 1 && pe_gen_due(e, t))
		pe_spawn_gen(e, t, false);
	if (--t->active == 0)
		pe_finish_target(e, t);
}

/* Queue data for the peer and try to send it now. */

int pe_conn_send_line(struct engine *e, struct conn *c, const char *line)
{
	char buf[PROBE_SMTP_LINE_MAX];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

	return pe_conn_send(e, c, buf, (size_t)n);
}

static void update_events(struct engine *e, struct conn *c, int want_write)
{
	set_events(e, c, (c->outpos < c->outlen || want_write) ? EPOLLOUT : EPOLLIN);
}

static int conn_flush(struct engine *e, struct conn *c)
{
	while (c->outpos < c->outlen) {
		ssize_t w;
		int ww = 1;

		if (c->ssl)
			w = probe_tls_write(c->ssl, c->out + c->outpos, c->outlen - c->outpos, &ww);
		else
			w = send(c->fd, c->out + c->outpos, c->outlen - c->outpos,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && !c->ssl)
			w = (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
		if (w == -EAGAIN) {
			set_events(e, c, ww ? EPOLLOUT : EPOLLIN);
			return 0;
		}
		if (w <= 0)
			return w ? (int)w : -EPIPE;
		c->outpos += (size_t)w;
	}
	c->outpos = c->outlen = 0;
	update_events(e, c, 0);
	return 0;
}

int pe_conn_send(struct engine *e, struct conn *c, const void *data, size_t n)
{
	if (n > sizeof(c->out) - c->outlen)
		return -ENOSPC;
	memcpy(c->out + c->outlen, data, n);
	c->outlen += n;
	c->inlen = 0;		/* each reply is read after the command that asked for it */
	return conn_flush(e, c);
}

uint64_t pe_read_deadline(const struct engine *e)
{
	return pe_now_ms() + e->o->read_ms;
}

/* ---- connection life cycle ---- */

static void transport_ready(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	if (c->starttls) {
		probe_tls_facts(c->ssl, t->r);
		t->r->starttls_done = 1;
		c->step = ST_EHLO2;
		if (pe_conn_send_line(e, c, "EHLO " EHLO_NAME) < 0) {
			pe_main_verdict(e, c, G_SMTP);
			return;
		}
		c->st = CS_SMTP;
		c->deadline = pe_read_deadline(e);
		return;
	}
	if (c->ssl && c->kind == CK_MAIN)
		probe_tls_facts(c->ssl, t->r);
	c->inlen = 0;
	if (c->kind == CK_GEN) {
		if (c->ssl) {
			probe_tls_facts(c->ssl, t->r);	/* what the handshake gives */
			t->gv = GV_TLS;
		}
		c->st = CS_GEN;
		c->deadline = pe_read_deadline(e);
		set_events(e, c, EPOLLIN);
		if (pe_conn_send(e, c, GEN_REQUEST, sizeof(GEN_REQUEST) - 1) < 0)
			pe_conn_close(e, c);
		return;
	}
	if (c->kind == CK_SMPP) {
		c->st = CS_QUIET;
		c->deadline = pe_now_ms() + SMPP_QUIET_MS;
	} else {
		c->st = CS_SMTP;
		c->step = ST_GREETING;
		c->deadline = pe_read_deadline(e);
	}
	set_events(e, c, EPOLLIN);
}

static void tls_step(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	int ww = 0, rc = probe_tls_handshake(c->ssl, &ww);

	if (rc == -EAGAIN) {
		set_events(e, c, ww ? EPOLLOUT : EPOLLIN);
		return;
	}
	if (rc < 0) {
		if (c->kind != CK_MAIN) {
			pe_conn_close(e, c);
			return;
		}
		if (c->starttls) {
			pe_set_note(t, "STARTTLS handshake failed");
			pe_main_verdict(e, c, G_SMTP);
			return;
		}
		if (t->tls_auto && !t->smpp_spawned) {
			/* 465/3550 by number only: the port may speak in clear */
			t->tls = false;
			t->tls_auto = false;
			pe_set_note(t, "no TLS handshake on port %u: probed in clear", t->tgt->port);
			t->main = pe_new_conn(e, t, CK_MAIN, true);
			pe_conn_close(e, c);
			return;
		}
		pe_set_note(t, "TLS handshake failed");
		pe_main_verdict(e, c, G_TLS_FAIL);
		return;
	}
	transport_ready(e, c);
}

void pe_start_tls(struct engine *e, struct conn *c)
{
	c->ssl = probe_tls_new(c->fd, c->t->tgt->host);
	if (!c->ssl) {
		pe_set_note(c->t, "cannot set up TLS");
		if (c->kind == CK_MAIN)
			pe_main_verdict(e, c, c->starttls ? G_SMTP : G_ERROR);
		else
			pe_conn_close(e, c);
		return;
	}
	c->st = CS_TLS;
	c->deadline = pe_read_deadline(e);
	tls_step(e, c);
}

static void connected(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	c->tconn = pe_now_ms();
	if (c->kind == CK_MAIN && !t->r->connect_ms)
		t->r->connect_ms = pe_elapsed(t) ? pe_elapsed(t) : 1;
	if (c->kind == CK_GEN ? c->gen_tls : t->tls)
		pe_start_tls(e, c);
	else
		transport_ready(e, c);
}

static void connect_failed(struct engine *e, struct conn *c, int err)
{
	struct tstate *t = c->t;

	if (c->kind != CK_MAIN) {
		pe_conn_close(e, c);
		return;
	}
	t->conn_err = err;
	if (err == ECONNREFUSED) {
		pe_main_verdict(e, c, G_CLOSED);
		return;
	}
	if (err == ETIMEDOUT) {
		pe_set_note(t, "no answer to the connection attempt within %u ms", e->o->connect_ms);
		pe_main_verdict(e, c, G_FILTERED);
		return;
	}
	pe_set_note(t, "connect: %s", strerror(err));
	pe_main_verdict(e, c, err == EHOSTUNREACH || err == ENETUNREACH || err == EACCES ||
				   err == EPERM ? G_FILTERED : G_ERROR);
}

void pe_conn_start(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	int fd;

	c->next = e->open;
	e->open = c;
	e->active++;
	c->st = CS_CONNECT;
	c->deadline = pe_now_ms() + e->o->connect_ms;
	if (c->kind == CK_MAIN && !t->t0) {
		t->t0 = pe_now_ms();
		if (!t->grp->t0)
			t->grp->t0 = t->t0;
	}
	t->r->nconns++;
	fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(e, c, errno);
		return;
	}
	c->fd = fd;
	if (e->srclen && bind(fd, (struct sockaddr *)&e->src, e->srclen) < 0) {
		if (c->kind == CK_MAIN)
			t->conn_err = errno;
		pe_set_note(t, "cannot bind the source address: %s", strerror(errno));
		if (c->kind == CK_MAIN)
			pe_main_verdict(e, c, G_ERROR);
		else
			pe_conn_close(e, c);
		return;
	}
	if (connect(fd, (struct sockaddr *)&t->sa, t->salen) == 0) {
		set_events(e, c, EPOLLIN);
		connected(e, c);
		return;
	}
	if (errno != EINPROGRESS) {
		connect_failed(e, c, errno);
		return;
	}
	set_events(e, c, EPOLLOUT);
}

/* Read what the peer sent (TLS or plain) into c->in until it would block or is full; true at EOF. */
static bool conn_fill(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	for (;;) {
		size_t room = sizeof(c->in) - c->inlen;
		ssize_t n;
		int ww = 0;

		if (!room)
			return false;
		if (c->ssl) {
			n = probe_tls_read(c->ssl, c->in + c->inlen, room, &ww);
			if (n == -EAGAIN) {
				/* level-triggered: never leave EPOLLOUT armed for nothing */
				if (ww || c->outpos < c->outlen)
					set_events(e, c, EPOLLOUT);
				else
					set_events(e, c, EPOLLIN);
				return false;
			}
		} else {
			n = recv(c->fd, c->in + c->inlen, room, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return false;
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0)
			return true;
		if (!t->r->first_byte_ms && c->kind != CK_FP)
			t->r->first_byte_ms = pe_elapsed(t) ? pe_elapsed(t) : 1;
		c->inlen += (size_t)n;
	}
}

/* The peer closed c: what that tells, by the dialogue and the step it was in. */
static void peer_closed(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	if (c->kind == CK_SMPP) {
		if (c->st == CS_SMPP_RESP && !t->s) {
			t->s = c->inlen ? S_NOT_SMPP : S_SILENT;
			if (c->inlen)
				pe_escape_into(t->sev, sizeof(t->sev), c->in, c->inlen);
			else
				pe_set_note(t, "closed the connection after enquire_link");
			/*
			 * SMPP v3.4 lets an SMSC close on enquire_link before bind;
			 * with --smpp-bind, a bind on a fresh connection can still tell.
			 */
			if (!c->inlen && e->o->smpp_bind && !t->bind_retried) {
				struct conn *b = pe_new_conn(e, t, CK_SMPP, true);

				t->bind_retried = true;
				if (b) {
					b->bind_only = true;
					t->smpp = b;
				}
			}
		}
		pe_conn_close(e, c);
		return;
	}
	if (c->kind == CK_FP) {
		pe_fp_record(e, c, 0, NULL, 0);
		return;
	}
	if (c->st == CS_TLS) {
		tls_step(e, c);
		return;
	}
	if (c->step == ST_QUIT) {
		pe_main_verdict(e, c, t->g);
		return;
	}
	if (c->step == ST_GREETING) {
		if (c->inlen) {
			pe_escape_into(t->gev, sizeof(t->gev), c->in, c->inlen);
			pe_set_note(t, "closed after an incomplete greeting");
			pe_main_verdict(e, c, G_NOT_SMTP);
		} else {
			pe_set_note(t, "closed without a greeting");
			pe_main_verdict(e, c, G_NOT_SMTP);
		}
		return;
	}
	pe_set_note(t, "connection closed after the greeting");
	pe_main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_NOT_SMTP);
}

static void conn_readable(struct engine *e, struct conn *c)
{
	bool eof = conn_fill(e, c);

	if (c->kind == CK_GEN && c->st == CS_GEN) {
		pe_gen_input(e, c, eof);
		return;
	}
	if (c->inlen) {
		struct conn *keep = c;

		if (c->kind == CK_SMPP)
			pe_smpp_input(e, c);
		else
			pe_smtp_input(e, c);
		/* the handlers may have closed c; only touch it if it is still open */
		for (struct conn *o = e->open; o; o = o->next)
			if (o == keep) {
				if (eof)
					peer_closed(e, c);
				return;
			}
		return;
	}
	if (eof)
		peer_closed(e, c);
}

void pe_conn_event(struct engine *e, struct conn *c, uint32_t ev)
{
	if (c->st == CS_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err) {
			connect_failed(e, c, err);
			return;
		}
		connected(e, c);
		return;
	}
	if (c->st == CS_TLS) {
		tls_step(e, c);
		return;
	}
	if ((ev & EPOLLOUT) && c->outpos < c->outlen) {
		if (conn_flush(e, c) < 0) {
			conn_readable(e, c);	/* let the EOF path decide */
			return;
		}
		if (c->outpos < c->outlen)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT))
		conn_readable(e, c);
}

void pe_conn_timeout(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	switch (c->st) {
	case CS_CONNECT:
		connect_failed(e, c, ETIMEDOUT);
		return;
	case CS_QUIET:
		if (c->bind_only)
			pe_smpp_send_bind(e, c);
		else
			pe_smpp_send_enquire(e, c);
		return;
	case CS_GEN:
		if (c->inlen)
			pe_gen_input(e, c, true);	/* what came is all there is */
		else
			pe_conn_close(e, c);
		return;
	case CS_SMPP_RESP:
		if (!t->s) {
			t->s = c->inlen ? S_NOT_SMPP : S_SILENT;
			if (c->inlen)
				pe_escape_into(t->sev, sizeof(t->sev), c->in, c->inlen);
		}
		pe_conn_close(e, c);
		return;
	case CS_TLS:
		if (c->kind == CK_MAIN) {
			pe_set_note(t, "TLS handshake timed out");
			pe_main_verdict(e, c, c->starttls ? G_SMTP : G_PARTIAL);
		} else {
			pe_conn_close(e, c);
		}
		return;
	case CS_SMTP:
		if (c->kind == CK_FP) {
			pe_fp_record(e, c, 0, NULL, 0);
			return;
		}
		if (c->kind == CK_SMPP) {
			pe_conn_close(e, c);
			return;
		}
		if (c->step == ST_QUIT) {
			pe_main_verdict(e, c, t->g);
		} else if (c->step == ST_GREETING) {
			if (c->inlen) {
				pe_escape_into(t->gev, sizeof(t->gev), c->in,
					    c->inlen < 300 ? c->inlen : 300);
				pe_set_note(t, "greeting incomplete after %u ms (%zu bytes)",
					 e->o->read_ms, c->inlen);
			}
			pe_main_verdict(e, c, c->inlen ? G_PARTIAL : G_SILENT);
		} else {
			pe_set_note(t, "no complete reply to %s within %u ms",
				 c->step == ST_EHLO2 ? "EHLO after STARTTLS"
				 : c->step == ST_STARTTLS ? "STARTTLS"
				 : c->step == ST_HELO ? "HELO" : "EHLO", e->o->read_ms);
			pe_main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_PARTIAL);
		}
		return;
	default:
		pe_conn_close(e, c);
	}
}

