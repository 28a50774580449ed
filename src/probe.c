// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Probe engine: non-blocking connects under epoll, SMTP and SMPP
 * identification, TLS, the behavioural fingerprint, and the privilege
 * separated child that runs all of it (see probe.h for the design and the
 * result record format). The parent side of probe_run() only decodes
 * records; it never sees peer bytes.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "diag.h"
#include "fingerprint.h"
#include "probe_smpp.h"
#include "probe_tls.h"
#include "util.h"

#define SMPP_QUIET_MS 200	/* an SMPP server never speaks first: wait this long to see */
#define EHLO_NAME "probe.portlock.invalid"
#define FP_REPLY_MAX 160
#define PROBE_FP_PARALLEL 3	/* behavioural test connections per target at a time */

static const char *const svc_names[] = {
	[PROBE_SVC_UNKNOWN] = "unknown", [PROBE_SVC_SMTP] = "smtp",
	[PROBE_SVC_SMTPS] = "smtps",	 [PROBE_SVC_SMPP] = "smpp",
	[PROBE_SVC_SMPP_TLS] = "smpp-tls", [PROBE_SVC_CLOSED] = "closed",
	[PROBE_SVC_FILTERED] = "filtered", [PROBE_SVC_TIMEOUT] = "timeout",
	[PROBE_SVC_UNRESOLVED] = "unresolved",
};
_Static_assert(ARRAY_SIZE(svc_names) == PROBE_SVC_MAX, "service names");

static const char *const outcome_names[] = {
	[PROBE_OUT_NOT_TRIED] = "not tried",	 [PROBE_OUT_ANSWERED] = "answered",
	[PROBE_OUT_UNIDENTIFIED] = "unidentified", [PROBE_OUT_SILENT] = "silent",
	[PROBE_OUT_REFUSED] = "refused",	 [PROBE_OUT_TIMEOUT] = "timeout",
	[PROBE_OUT_UNREACHABLE] = "unreachable", [PROBE_OUT_ERROR] = "error",
	[PROBE_OUT_CANCELLED] = "cancelled",
};
_Static_assert(ARRAY_SIZE(outcome_names) == PROBE_OUT_MAX, "outcome names");

const char *probe_outcome_name(enum probe_outcome o)
{
	return (unsigned)o < PROBE_OUT_MAX ? outcome_names[o] : "invalid";
}

const char *probe_service_name(enum probe_service s)
{
	return (unsigned)s < PROBE_SVC_MAX ? svc_names[s] : "invalid";
}

int probe_service_parse(const char *name)
{
	for (int i = 0; i < PROBE_SVC_MAX; i++)
		if (!strcmp(name, svc_names[i]))
			return i;
	return -EINVAL;
}

int probe_target_parse(const char *s, struct probe_target *t)
{
	const char *colon, *hs, *he;
	char *end;
	unsigned long port;

	memset(t, 0, sizeof(*t));
	if (strlen(s) >= sizeof(t->spec))
		return -EINVAL;
	strcpy(t->spec, s);
	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;	/* no port, or an IPv6 address without brackets */
		hs = s;
		he = colon;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof(t->host))
		return -EINVAL;
	if (!colon[1] || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || port < 1 || port > 65535)
		return -ERANGE;
	memcpy(t->host, hs, (size_t)(he - hs));
	for (const char *c = t->host; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '[' || *c == ']' || *c == '/')
			return -EINVAL;
	t->port = (uint16_t)port;
	return 0;
}

/* ---- engine state ---- */

enum ckind { CK_MAIN, CK_SMPP, CK_FP };
enum cstate { CS_PENDING, CS_CONNECT, CS_TLS, CS_SMTP, CS_QUIET, CS_SMPP_RESP, CS_SMPP_BIND,
	      CS_DONE };
enum step { ST_GREETING, ST_EHLO, ST_HELO, ST_STARTTLS, ST_EHLO2, ST_QUIT, ST_FP };

/* verdicts of the main (SMTP) connection and of the SMPP connection */
enum gverdict { G_NONE, G_CLOSED, G_FILTERED, G_SMTP, G_NOT_SMTP, G_SILENT, G_PARTIAL,
		G_OVERSIZED, G_TLS_FAIL, G_ERROR };
enum sverdict { S_NONE, S_SMPP, S_NOT_SMPP, S_SPOKE_FIRST, S_SILENT, S_MALFORMED };

struct tstate;
struct tgroup;

struct conn {
	struct conn *next;		/* pending queue or active list */
	struct tstate *t;
	enum ckind kind;
	enum cstate st;
	enum step step;
	int fd;
	SSL *ssl;
	bool starttls;			/* the TLS handshake is a STARTTLS upgrade */
	bool bind_only;			/* SMPP: bind at once (the server closed on enquire_link) */
	int fp_test, fp_cmd;
	uint32_t events;
	uint64_t deadline, tconn;
	uint32_t seq;
	size_t inlen, outlen, outpos;
	uint8_t in[PROBE_BUF_MAX];
	uint8_t out[PROBE_SMTP_LINE_MAX];
};

/* One address of a target: probed on its own, into its own result. */
struct tstate {
	struct probe_result *r;		/* &res */
	struct tgroup *grp;
	const struct probe_target *tgt;
	struct sockaddr_storage sa;
	socklen_t salen;
	bool started, cancelled;	/* Happy Eyeballs (see tgroup) */
	int conn_err;			/* errno of a failed connect of the main connection */
	uint64_t tfinal;		/* when the result became final */
	bool tls, tls_auto, final;
	bool smpp_spawned, fp_spawned, refused, smtp_like_smpp, bind_retried;
	int fp_next;			/* next behavioural test to start */
	int active;			/* connections queued or open */
	uint64_t t0;
	enum gverdict g;
	enum sverdict s;
	struct conn *main, *smpp;
	char gev[PROBE_EVIDENCE_MAX], sev[PROBE_EVIDENCE_MAX];
	char banner[1024], ehlo_text[2048];
	int codes[PROBE_SMTP_NTESTS];
	char replies[PROBE_SMTP_NTESTS][FP_REPLY_MAX];
	struct probe_result res;
};

/*
 * One target: every address of its name, tried Happy Eyeballs style (see
 * probe.h); r gets the result of the address that answered.
 */
struct tgroup {
	struct probe_result *r;
	struct tstate *att;		/* natt attempts, in getaddrinfo order */
	size_t natt, next;		/* next: attempts started so far */
	struct tstate *winner;
	uint64_t t0;			/* first attempt's start */
	bool done;
};

struct engine {
	const struct probe_opts *o;
	int ep;
	unsigned active, cap;
	struct conn *pending, *pending_tail, *open;
	uint64_t deadline;
	struct sockaddr_storage src;
	socklen_t srclen;
	uint8_t bindpdu[PROBE_SMPP_BIND_MAX];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t elapsed(const struct tstate *t)
{
	uint64_t n = now_ms();

	return n > t->t0 ? (uint32_t)(n - t->t0) : 0;
}

static uint32_t random_seq(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
	v &= 0x7fffffff;	/* SMPP sequence numbers are 0x00000001..0x7FFFFFFF */
	return v ? v : 1;
}

static void escape_into(char *dst, size_t max, const uint8_t *p, size_t n)
{
	util_escape(p, n, dst, max);
}

static void set_note(struct tstate *t, const char *fmt, ...) __printf(2, 3);
static void set_note(struct tstate *t, const char *fmt, ...)
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

static struct conn *new_conn(struct engine *e, struct tstate *t, enum ckind kind, bool front)
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

static void finish_target(struct engine *e, struct tstate *t);
static void spawn_fp_next(struct engine *e, struct tstate *t);

/* Close c; when it was the target's last connection, the result is final. */
static void conn_close(struct engine *e, struct conn *c)
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
		spawn_fp_next(e, t);
	free(c);
	if (--t->active == 0)
		finish_target(e, t);
}

/* Queue data for the peer and try to send it now. */
static int conn_send(struct engine *e, struct conn *c, const void *data, size_t n);

static int conn_send_line(struct engine *e, struct conn *c, const char *line)
{
	char buf[PROBE_SMTP_LINE_MAX];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);

	return conn_send(e, c, buf, (size_t)n);
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

static int conn_send(struct engine *e, struct conn *c, const void *data, size_t n)
{
	if (n > sizeof(c->out) - c->outlen)
		return -ENOSPC;
	memcpy(c->out + c->outlen, data, n);
	c->outlen += n;
	c->inlen = 0;		/* each reply is read after the command that asked for it */
	return conn_flush(e, c);
}

static uint64_t read_deadline(const struct engine *e)
{
	return now_ms() + e->o->read_ms;
}

/* ---- result assembly ---- */

static void fp_input_fill(struct tstate *t, struct fp_input *in, const char **replies)
{
	memset(in, 0, sizeof(*in));
	in->banner = t->banner;
	in->ehlo_text = t->ehlo_text;
	in->keywords = t->r->smtp_keywords;
	if (t->fp_spawned) {
		in->codes = t->codes;
		for (int i = 0; i < PROBE_SMTP_NTESTS; i++)
			replies[i] = t->replies[i];
		in->replies = replies;
	}
}

static void finish_target(struct engine *e, struct tstate *t)
{
	struct probe_result *r = t->r;

	if (t->final)
		return;
	t->final = true;
	t->tfinal = now_ms();
	r->total_ms = elapsed(t);
	if (t->s == S_SMPP) {
		r->service = t->tls ? PROBE_SVC_SMPP_TLS : PROBE_SVC_SMPP;
		snprintf(r->evidence, sizeof(r->evidence), "%s", t->sev);
		return;
	}
	snprintf(r->evidence, sizeof(r->evidence), "%s", t->gev[0] ? t->gev : t->sev);
	switch (t->g) {
	case G_CLOSED:
		r->service = PROBE_SVC_CLOSED;
		return;
	case G_FILTERED:
		r->service = PROBE_SVC_FILTERED;
		return;
	case G_SMTP: {
		struct fp_input in;
		struct fp_guess g;
		const char *replies[PROBE_SMTP_NTESTS];

		r->service = t->tls ? PROBE_SVC_SMTPS : PROBE_SVC_SMTP;
		if (t->fp_spawned) {
			size_t o = 0;

			for (int i = 0; i < PROBE_SMTP_NTESTS && o + 5 < sizeof(r->fp_codes); i++) {
				if (t->codes[i] > 0)
					o += (size_t)snprintf(r->fp_codes + o, sizeof(r->fp_codes) - o,
							      "%s%d", i ? " " : "", t->codes[i]);
				else
					o += (size_t)snprintf(r->fp_codes + o, sizeof(r->fp_codes) - o,
							      "%s-", i ? " " : "");
			}
		}
		fp_input_fill(t, &in, replies);
		fingerprint_match(e->o->fp, &in, &g);
		if (g.confidence) {
			util_escape(g.software, strlen(g.software), r->software, sizeof(r->software));
			r->confidence = (uint32_t)g.confidence;
		} else if (g.closest_confidence) {	/* unknown: the best match, as such */
			util_escape(g.closest, strlen(g.closest), r->closest, sizeof(r->closest));
			r->closest_confidence = (uint32_t)g.closest_confidence;
		}
		util_escape(g.basis, strlen(g.basis), r->software_basis, sizeof(r->software_basis));
		return;
	}
	case G_NOT_SMTP:
	case G_OVERSIZED:
	case G_TLS_FAIL:
	case G_ERROR:
		r->service = PROBE_SVC_UNKNOWN;
		return;
	default:
		break;
	}
	if (t->s == S_NOT_SMPP || t->s == S_MALFORMED || t->s == S_SPOKE_FIRST) {
		r->service = PROBE_SVC_UNKNOWN;
		return;
	}
	r->service = PROBE_SVC_TIMEOUT;
	if (!r->evidence[0] && !r->note[0])
		set_note(t, "connected, but nothing answered within %u ms", e->o->read_ms);
}

static void spawn_smpp(struct engine *e, struct tstate *t)
{
	if (t->smpp_spawned)
		return;
	t->smpp_spawned = true;
	t->smpp = new_conn(e, t, CK_SMPP, true);
}

static void spawn_fp(struct engine *e, struct tstate *t)
{
	if (t->fp_spawned || !e->o->fingerprint)
		return;
	t->fp_spawned = true;
	for (int i = 0; i < PROBE_FP_PARALLEL; i++)
		spawn_fp_next(e, t);
}

/*
 * At most PROBE_FP_PARALLEL test connections per target at a time: small
 * servers (OpenSMTPD and Python's smtpd listen with a backlog of 5) would
 * otherwise leave some connections unaccepted, and it is gentler.
 */
static void spawn_fp_next(struct engine *e, struct tstate *t)
{
	struct conn *c;

	if (t->fp_next >= PROBE_SMTP_NTESTS || t->cancelled)
		return;
	c = new_conn(e, t, CK_FP, false);
	if (c)
		c->fp_test = t->fp_next++;
}

/* ---- SMTP side ---- */

static void main_verdict(struct engine *e, struct conn *c, enum gverdict v)
{
	struct tstate *t = c->t;

	/*
	 * A well-formed 554 greeting is an SMTP server refusing us (RFC 5321
	 * 3.1); it may close or answer anything after it and still be SMTP.
	 */
	if (t->refused && (v == G_NOT_SMTP || v == G_PARTIAL))
		v = G_SMTP;

	if (t->g == G_NONE || t->g == G_SILENT)
		t->g = v;
	conn_close(e, c);
}

static void fp_record(struct engine *e, struct conn *c, int code, const uint8_t *buf, size_t n)
{
	struct tstate *t = c->t;

	if (c->step == ST_QUIT) {	/* the test is over; this is the QUIT */
		conn_close(e, c);
		return;
	}
	t->codes[c->fp_test] = code;
	if (buf)
		probe_smtp_reply_text(buf, n, t->replies[c->fp_test], FP_REPLY_MAX);
	if (code > 0 && conn_send_line(e, c, "QUIT") == 0) {
		c->step = ST_QUIT;
		c->deadline = now_ms() + 1000;
		return;
	}
	conn_close(e, c);
}

static void start_tls(struct engine *e, struct conn *c);

static void smtp_reply(struct engine *e, struct conn *c, const struct probe_smtp_reply *rep)
{
	struct tstate *t = c->t;
	struct probe_result *r = t->r;

	if (c->kind == CK_FP) {
		if (c->step == ST_QUIT) {
			conn_close(e, c);
			return;
		}
		if (c->step == ST_GREETING) {
			if (rep->code != 220) {
				fp_record(e, c, 0, NULL, 0);
				return;
			}
			c->step = ST_FP;
			c->fp_cmd = 0;
		} else if (c->fp_cmd + 1 >= PROBE_SMTP_TEST_CMDS ||
			   !probe_smtp_tests[c->fp_test].cmds[c->fp_cmd + 1]) {
			fp_record(e, c, rep->code, c->in, rep->len);
			return;
		} else {
			c->fp_cmd++;
		}
		if (conn_send_line(e, c, probe_smtp_tests[c->fp_test].cmds[c->fp_cmd]) < 0) {
			fp_record(e, c, 0, NULL, 0);
			return;
		}
		c->deadline = read_deadline(e);
		return;
	}

	switch (c->step) {
	case ST_GREETING:
		r->smtp_code = (uint32_t)rep->code;
		escape_into(t->gev, sizeof(t->gev), c->in, rep->len);
		probe_smtp_reply_text(c->in, rep->len, t->banner, sizeof(t->banner));
		if (rep->code == 554) {
			t->refused = true;
			set_note(t, "554 greeting: the server refuses this client");
		}
		else if (rep->code != 220)
			set_note(t, "greeting code %d", rep->code);
		/* a 220 alone proves nothing (FTP says 220 too): EHLO decides */
		c->step = ST_EHLO;
		break;
	case ST_EHLO:
	case ST_EHLO2: {
		struct probe_smtp_caps caps;
		bool upgraded = c->step == ST_EHLO2;

		if (rep->code != 250) {
			if (upgraded) {
				set_note(t, "EHLO after STARTTLS answered %d", rep->code);
				c->step = ST_QUIT;
				break;
			}
			c->step = ST_HELO;
			break;
		}
		if (probe_smtp_ehlo_parse(c->in, rep->len, &caps) < 0) {
			main_verdict(e, c, G_NOT_SMTP);
			return;
		}
		t->g = G_SMTP;
		if (!upgraded) {
			probe_smtp_reply_text(c->in, rep->len, t->ehlo_text, sizeof(t->ehlo_text));
			memcpy(r->smtp_keywords, caps.keywords, sizeof(r->smtp_keywords));
			r->smtp_caps = caps.flags;
		} else {
			/* keep STARTTLS (offered in clear); AUTH often appears only now */
			r->smtp_caps = caps.flags | (r->smtp_caps & PROBE_SMTP_CAP_STARTTLS);
		}
		r->smtp_size = caps.size;
		memcpy(r->smtp_auth, caps.auth, sizeof(r->smtp_auth));
		if (t->refused)
			set_note(t, "554 greeting: the server refuses this client");
		spawn_fp(e, t);
		if (!upgraded && e->o->starttls && !c->ssl &&
		    (caps.flags & PROBE_SMTP_CAP_STARTTLS)) {
			c->step = ST_STARTTLS;
			if (conn_send_line(e, c, "STARTTLS") < 0)
				main_verdict(e, c, G_SMTP);
			c->deadline = read_deadline(e);
			return;
		}
		c->step = ST_QUIT;
		break;
	}
	case ST_HELO:
		if (rep->code == 250 || t->refused) {
			/* plain SMTP without ESMTP, or a refusing SMTP server */
			t->g = G_SMTP;
			if (t->refused)
				set_note(t, "554 greeting: the server refuses this client");
			spawn_fp(e, t);
			c->step = ST_QUIT;
			break;
		}
		set_note(t, "greeting, but EHLO and HELO answered %d: not SMTP%s", rep->code,
			 probe_smtp_text_looks_ftp(t->banner) ? " (FTP?)" : "");
		main_verdict(e, c, G_NOT_SMTP);
		return;
	case ST_STARTTLS:
		if (rep->code != 220) {
			set_note(t, "STARTTLS answered %d", rep->code);
			c->step = ST_QUIT;
			break;
		}
		c->starttls = true;
		start_tls(e, c);
		return;
	case ST_QUIT:
	default:
		main_verdict(e, c, t->g);
		return;
	}
	switch (c->step) {
	case ST_EHLO:
	case ST_EHLO2:
		if (conn_send_line(e, c, "EHLO " EHLO_NAME) < 0)
			goto gone;
		break;
	case ST_HELO:
		if (conn_send_line(e, c, "HELO " EHLO_NAME) < 0)
			goto gone;
		break;
	case ST_QUIT:
		if (conn_send_line(e, c, "QUIT") < 0) {
			main_verdict(e, c, t->g);
			return;
		}
		c->deadline = now_ms() + 1000;
		return;
	default:
		break;
	}
	c->deadline = read_deadline(e);
	return;
gone:
	set_note(t, "connection lost after greeting");
	main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_NOT_SMTP);
}

/* Bytes arrived on an SMTP-speaking (main or fingerprint) connection. */
static void smtp_input(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	struct probe_smtp_reply rep;
	int rc = probe_smtp_reply_parse(c->in, c->inlen, &rep);

	if (c->kind == CK_MAIN && c->step == ST_GREETING && t->smpp && t->smpp->st <= CS_QUIET) {
		/* it speaks first: not SMPP, don't send it binary */
		conn_close(e, t->smpp);
	}
	if (rc == 0 && c->inlen < sizeof(c->in))
		return;
	if (rc == 1) {
		smtp_reply(e, c, &rep);
		return;
	}
	if (c->kind == CK_FP) {
		fp_record(e, c, 0, NULL, 0);
		return;
	}
	if (c->step == ST_QUIT) {
		main_verdict(e, c, t->g);
		return;
	}
	if (c->step == ST_GREETING)
		escape_into(t->gev, sizeof(t->gev), c->in, c->inlen < 300 ? c->inlen : 300);
	if (rc == 0) {
		set_note(t, "oversized reply: more than %u bytes without an end", PROBE_BUF_MAX);
		main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_OVERSIZED);
		return;
	}
	if (c->step == ST_GREETING)
		set_note(t, "not an SMTP greeting");
	else
		set_note(t, "EHLO answered with something that is not an SMTP reply");
	main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_NOT_SMTP);
}

/* ---- SMPP side ---- */

static void smpp_send_enquire(struct engine *e, struct conn *c)
{
	uint8_t pdu[PROBE_SMPP_HDR_LEN];

	c->seq = random_seq();
	probe_smpp_encode_hdr(pdu, PROBE_SMPP_ENQUIRE_LINK, 0, c->seq);
	if (conn_send(e, c, pdu, sizeof(pdu)) < 0) {
		conn_close(e, c);
		return;
	}
	c->st = CS_SMPP_RESP;
	c->deadline = read_deadline(e);
}

static void smpp_send_bind(struct engine *e, struct conn *c)
{
	int n;

	c->seq = random_seq();
	n = probe_smpp_encode_bind(e->bindpdu, sizeof(e->bindpdu), c->seq, "portlock", "probe");
	if (n < 0 || conn_send(e, c, e->bindpdu, (size_t)n) < 0) {
		conn_close(e, c);
		return;
	}
	c->st = CS_SMPP_BIND;
	c->deadline = read_deadline(e);
}

static void smpp_input(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	struct probe_result *r = t->r;
	struct probe_smpp_hdr h;
	int rc;

	if (c->st == CS_QUIET) {
		t->s = S_SPOKE_FIRST;
		escape_into(t->sev, sizeof(t->sev), c->in, c->inlen < 200 ? c->inlen : 200);
		conn_close(e, c);
		return;
	}
	if (probe_smpp_decode_hdr(c->in, c->inlen, &h) < 0)
		return;		/* fewer than 16 bytes so far */
	if (c->st == CS_SMPP_BIND) {
		rc = probe_smpp_check_reply(&h, PROBE_SMPP_BIND_TRANSMITTER, c->seq);
		if (rc == 0 && c->bind_only) {
			/* a v3.4 SMSC that closed on enquire_link answered the bind */
			t->s = S_SMPP;
			r->smpp_cmd = h.id;
			r->smpp_status = h.status;
			escape_into(t->sev, sizeof(t->sev), c->in, PROBE_SMPP_HDR_LEN);
			if (t->main && t->main->inlen == 0)
				conn_close(e, t->main);
		} else if (rc == -EBADMSG && c->bind_only) {
			t->s = S_MALFORMED;
			set_note(t, "SMPP-like header with impossible command_length %u", h.len);
		}
		if (rc == 0) {
			r->smpp_bind_done = 1;
			r->smpp_bind_cmd = h.id;
			r->smpp_bind_status = h.status;
			if (h.status == 0 && h.id == PROBE_SMPP_BIND_TRANSMITTER_RESP) {
				uint8_t pdu[PROBE_SMPP_HDR_LEN];

				/* dummy credentials accepted (!): leave politely */
				probe_smpp_encode_hdr(pdu, PROBE_SMPP_UNBIND, 0, c->seq + 1);
				conn_send(e, c, pdu, sizeof(pdu));
			}
		}
		conn_close(e, c);
		return;
	}
	rc = probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, c->seq);
	escape_into(t->sev, sizeof(t->sev), c->in, PROBE_SMPP_HDR_LEN);
	if (rc == 0) {
		t->s = S_SMPP;
		r->smpp_cmd = h.id;
		r->smpp_status = h.status;
		if (t->main && t->main->st != CS_DONE && t->main->inlen == 0)
			conn_close(e, t->main);	/* the silent SMTP wait is moot now */
		if (e->o->smpp_bind) {
			smpp_send_bind(e, c);
			return;
		}
		conn_close(e, c);
		return;
	}
	if (rc == -EBADMSG) {
		t->s = S_MALFORMED;
		set_note(t, "SMPP-like header with impossible command_length %u", h.len);
	} else {
		t->s = S_NOT_SMPP;
		escape_into(t->sev, sizeof(t->sev), c->in, c->inlen < 200 ? c->inlen : 200);
		t->smtp_like_smpp = c->inlen >= 4 && c->in[0] >= '2' && c->in[0] <= '5' &&
				    c->in[1] >= '0' && c->in[1] <= '9' && c->in[2] >= '0' &&
				    c->in[2] <= '9' && (c->in[3] == ' ' || c->in[3] == '-');
	}
	/* an answer to binary that is not SMTP-like: no greeting will come */
	if (!t->smtp_like_smpp && t->main && t->main->st != CS_DONE && t->main->inlen == 0)
		conn_close(e, t->main);
	conn_close(e, c);
}

/* ---- connection life cycle ---- */

static void transport_ready(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	if (c->starttls) {
		probe_tls_facts(c->ssl, t->r);
		t->r->starttls_done = 1;
		c->step = ST_EHLO2;
		if (conn_send_line(e, c, "EHLO " EHLO_NAME) < 0) {
			main_verdict(e, c, G_SMTP);
			return;
		}
		c->st = CS_SMTP;
		c->deadline = read_deadline(e);
		return;
	}
	if (c->ssl && c->kind == CK_MAIN)
		probe_tls_facts(c->ssl, t->r);
	c->inlen = 0;
	if (c->kind == CK_SMPP) {
		c->st = CS_QUIET;
		c->deadline = now_ms() + SMPP_QUIET_MS;
	} else {
		c->st = CS_SMTP;
		c->step = ST_GREETING;
		c->deadline = read_deadline(e);
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
			conn_close(e, c);
			return;
		}
		if (c->starttls) {
			set_note(t, "STARTTLS handshake failed");
			main_verdict(e, c, G_SMTP);
			return;
		}
		if (t->tls_auto && !t->smpp_spawned) {
			/* 465/3550 by number only: the port may speak in clear */
			t->tls = false;
			t->tls_auto = false;
			set_note(t, "no TLS handshake on port %u: probed in clear", t->tgt->port);
			t->main = new_conn(e, t, CK_MAIN, true);
			conn_close(e, c);
			return;
		}
		set_note(t, "TLS handshake failed");
		main_verdict(e, c, G_TLS_FAIL);
		return;
	}
	transport_ready(e, c);
}

static void start_tls(struct engine *e, struct conn *c)
{
	c->ssl = probe_tls_new(c->fd, c->t->tgt->host);
	if (!c->ssl) {
		set_note(c->t, "cannot set up TLS");
		if (c->kind == CK_MAIN)
			main_verdict(e, c, c->starttls ? G_SMTP : G_ERROR);
		else
			conn_close(e, c);
		return;
	}
	c->st = CS_TLS;
	c->deadline = read_deadline(e);
	tls_step(e, c);
}

static void connected(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	c->tconn = now_ms();
	if (c->kind == CK_MAIN && !t->r->connect_ms)
		t->r->connect_ms = elapsed(t) ? elapsed(t) : 1;
	if (t->tls)
		start_tls(e, c);
	else
		transport_ready(e, c);
}

static void connect_failed(struct engine *e, struct conn *c, int err)
{
	struct tstate *t = c->t;

	if (c->kind != CK_MAIN) {
		conn_close(e, c);
		return;
	}
	t->conn_err = err;
	if (err == ECONNREFUSED) {
		main_verdict(e, c, G_CLOSED);
		return;
	}
	if (err == ETIMEDOUT) {
		set_note(t, "no answer to the connection attempt within %u ms", e->o->connect_ms);
		main_verdict(e, c, G_FILTERED);
		return;
	}
	set_note(t, "connect: %s", strerror(err));
	main_verdict(e, c, err == EHOSTUNREACH || err == ENETUNREACH || err == EACCES ||
				   err == EPERM ? G_FILTERED : G_ERROR);
}

static void conn_start(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	int fd;

	c->next = e->open;
	e->open = c;
	e->active++;
	c->st = CS_CONNECT;
	c->deadline = now_ms() + e->o->connect_ms;
	if (c->kind == CK_MAIN && !t->t0) {
		t->t0 = now_ms();
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
		set_note(t, "cannot bind the source address: %s", strerror(errno));
		if (c->kind == CK_MAIN)
			main_verdict(e, c, G_ERROR);
		else
			conn_close(e, c);
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

static void conn_readable(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	bool eof = false;

	for (;;) {
		size_t room = sizeof(c->in) - c->inlen;
		ssize_t n;
		int ww = 0;

		if (!room)
			break;
		if (c->ssl) {
			n = probe_tls_read(c->ssl, c->in + c->inlen, room, &ww);
			if (n == -EAGAIN) {
				/* level-triggered: never leave EPOLLOUT armed for nothing */
				if (ww || c->outpos < c->outlen)
					set_events(e, c, EPOLLOUT);
				else
					set_events(e, c, EPOLLIN);
				break;
			}
		} else {
			n = recv(c->fd, c->in + c->inlen, room, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0) {
			eof = true;
			break;
		}
		if (!t->r->first_byte_ms && c->kind != CK_FP)
			t->r->first_byte_ms = elapsed(t) ? elapsed(t) : 1;
		c->inlen += (size_t)n;
	}
	if (c->inlen) {
		struct conn *keep = c;

		if (c->kind == CK_SMPP)
			smpp_input(e, c);
		else
			smtp_input(e, c);
		/* the handlers may have closed c; only touch it if it is still open */
		for (struct conn *o = e->open; o; o = o->next)
			if (o == keep) {
				if (eof)
					goto closed;
				return;
			}
		return;
	}
	if (!eof)
		return;
closed:
	/* the peer closed */
	if (c->kind == CK_SMPP) {
		if (c->st == CS_SMPP_RESP && !t->s) {
			t->s = c->inlen ? S_NOT_SMPP : S_SILENT;
			if (c->inlen)
				escape_into(t->sev, sizeof(t->sev), c->in, c->inlen);
			else
				set_note(t, "closed the connection after enquire_link");
			/*
			 * SMPP v3.4 lets an SMSC close on enquire_link before bind;
			 * with --smpp-bind, a bind on a fresh connection can still tell.
			 */
			if (!c->inlen && e->o->smpp_bind && !t->bind_retried) {
				struct conn *b = new_conn(e, t, CK_SMPP, true);

				t->bind_retried = true;
				if (b) {
					b->bind_only = true;
					t->smpp = b;
				}
			}
		}
		conn_close(e, c);
		return;
	}
	if (c->kind == CK_FP) {
		fp_record(e, c, 0, NULL, 0);
		return;
	}
	if (c->st == CS_TLS) {
		tls_step(e, c);
		return;
	}
	if (c->step == ST_QUIT) {
		main_verdict(e, c, t->g);
		return;
	}
	if (c->step == ST_GREETING) {
		if (c->inlen) {
			escape_into(t->gev, sizeof(t->gev), c->in, c->inlen);
			set_note(t, "closed after an incomplete greeting");
			main_verdict(e, c, G_NOT_SMTP);
		} else {
			set_note(t, "closed without a greeting");
			main_verdict(e, c, G_NOT_SMTP);
		}
		return;
	}
	set_note(t, "connection closed after the greeting");
	main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_NOT_SMTP);
}

static void conn_event(struct engine *e, struct conn *c, uint32_t ev)
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

static void conn_timeout(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	switch (c->st) {
	case CS_CONNECT:
		connect_failed(e, c, ETIMEDOUT);
		return;
	case CS_QUIET:
		if (c->bind_only)
			smpp_send_bind(e, c);
		else
			smpp_send_enquire(e, c);
		return;
	case CS_SMPP_RESP:
		if (!t->s) {
			t->s = c->inlen ? S_NOT_SMPP : S_SILENT;
			if (c->inlen)
				escape_into(t->sev, sizeof(t->sev), c->in, c->inlen);
		}
		conn_close(e, c);
		return;
	case CS_TLS:
		if (c->kind == CK_MAIN) {
			set_note(t, "TLS handshake timed out");
			main_verdict(e, c, c->starttls ? G_SMTP : G_PARTIAL);
		} else {
			conn_close(e, c);
		}
		return;
	case CS_SMTP:
		if (c->kind == CK_FP) {
			fp_record(e, c, 0, NULL, 0);
			return;
		}
		if (c->kind == CK_SMPP) {
			conn_close(e, c);
			return;
		}
		if (c->step == ST_QUIT) {
			main_verdict(e, c, t->g);
		} else if (c->step == ST_GREETING) {
			if (c->inlen) {
				escape_into(t->gev, sizeof(t->gev), c->in,
					    c->inlen < 300 ? c->inlen : 300);
				set_note(t, "greeting incomplete after %u ms (%zu bytes)",
					 e->o->read_ms, c->inlen);
			}
			main_verdict(e, c, c->inlen ? G_PARTIAL : G_SILENT);
		} else {
			set_note(t, "no complete reply to %s within %u ms",
				 c->step == ST_EHLO2 ? "EHLO after STARTTLS"
				 : c->step == ST_STARTTLS ? "STARTTLS"
				 : c->step == ST_HELO ? "HELO" : "EHLO", e->o->read_ms);
			main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_PARTIAL);
		}
		return;
	default:
		conn_close(e, c);
	}
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b, socklen_t len)
{
	return a->sa_family == b->sa_family && !memcmp(a, b, len);
}

/*
 * Every address of the target's name, in getaddrinfo() order (RFC 6724),
 * duplicates dropped, at most PROBE_ADDRS_MAX: one attempt each. A name
 * without an address makes the result PROBE_SVC_UNRESOLVED (natt 0).
 * Returns 0 or -ENOMEM.
 */
static int resolve(struct engine *e, struct tgroup *g, const struct probe_target *tgt)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL, *pick[PROBE_ADDRS_MAX];
	struct probe_result *r = g->r;
	size_t n = 0, more = 0;
	char port[8];
	int rc;

	hints.ai_family = e->srclen ? e->src.ss_family : AF_UNSPEC;
	snprintf(port, sizeof(port), "%u", tgt->port);
	rc = getaddrinfo(tgt->host, port, &hints, &ai);
	if (rc || !ai) {
		snprintf(r->note, sizeof(r->note), "cannot resolve '%s'%s: %s", tgt->host,
			 !e->srclen ? "" : e->src.ss_family == AF_INET ? " to an IPv4 address (--source)"
								: " to an IPv6 address (--source)",
			 rc == EAI_SYSTEM ? strerror(errno) : rc ? gai_strerror(rc) : "no address");
		r->service = PROBE_SVC_UNRESOLVED;
		g->done = true;
		if (ai)
			freeaddrinfo(ai);
		return 0;
	}
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		bool dup = false;

		if (a->ai_addrlen > sizeof(struct sockaddr_storage) ||
		    (a->ai_family != AF_INET && a->ai_family != AF_INET6))
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = pick[k]->ai_addrlen == a->ai_addrlen &&
			      same_addr(pick[k]->ai_addr, a->ai_addr, a->ai_addrlen);
		if (dup)
			continue;
		if (n == PROBE_ADDRS_MAX)
			more++;
		else
			pick[n++] = a;
	}
	g->att = n ? calloc(n, sizeof(*g->att)) : NULL;
	if (n && !g->att) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	for (size_t k = 0; k < n; k++) {
		struct tstate *t = &g->att[k];

		memcpy(&t->sa, pick[k]->ai_addr, pick[k]->ai_addrlen);
		t->salen = pick[k]->ai_addrlen;
		if (getnameinfo((struct sockaddr *)&t->sa, t->salen, t->res.addr, sizeof(t->res.addr),
				NULL, 0, NI_NUMERICHOST))
			t->res.addr[0] = '\0';
	}
	freeaddrinfo(ai);
	g->natt = n;
	if (!n) {
		snprintf(r->note, sizeof(r->note), "cannot resolve '%s': no IPv4 or IPv6 address",
			 tgt->host);
		r->service = PROBE_SVC_UNRESOLVED;
		g->done = true;
	} else if (more) {
		snprintf(r->note, sizeof(r->note), "%zu more addresses not tried", more);
	}
	return 0;
}

/* Everything the engine needs before the sandbox closes. */
struct prep {
	struct engine e;
	struct tgroup *gs;
	size_t n;
};

static void prep_free(struct prep *p)
{
	for (size_t i = 0; p->gs && i < p->n; i++)
		free(p->gs[i].att);
	free(p->gs);
	p->gs = NULL;
}

static int engine_prepare(struct prep *p, const struct probe_target *tg, size_t n,
			  const struct probe_opts *o, struct probe_result *out)
{
	struct engine *e = &p->e;

	memset(p, 0, sizeof(*p));
	e->o = o;
	e->cap = o->concurrency;
	p->n = n;
	p->gs = calloc(n ? n : 1, sizeof(*p->gs));
	if (!p->gs)
		return -ENOMEM;
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	if (e->ep < 0) {
		free(p->gs);
		return -errno;
	}
	if (probe_tls_init() < 0) {
		close(e->ep);
		free(p->gs);
		return -ENOMEM;
	}
	if (o->source) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&e->src;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&e->src;

		if (inet_pton(AF_INET, o->source, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			e->srclen = sizeof(*s4);
		} else if (inet_pton(AF_INET6, o->source, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			e->srclen = sizeof(*s6);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct tgroup *g = &p->gs[i];

		memset(&out[i], 0, sizeof(out[i]));
		g->r = &out[i];
		snprintf(g->r->target, sizeof(g->r->target), "%s", tg[i].spec);
		g->r->port = tg[i].port;
		if (resolve(e, g, &tg[i]) < 0) {
			prep_free(p);
			close(e->ep);
			probe_tls_fini();
			return -ENOMEM;
		}
		for (size_t a = 0; a < g->natt; a++) {
			struct tstate *t = &g->att[a];

			t->r = &t->res;
			t->grp = g;
			t->tgt = &tg[i];
			snprintf(t->r->target, sizeof(t->r->target), "%s", tg[i].spec);
			t->r->port = tg[i].port;
			for (int k = 0; k < PROBE_SMTP_NTESTS; k++)
				t->codes[k] = -1;
			t->tls = o->tls || tg[i].port == 465 || tg[i].port == 3550;
			t->tls_auto = !o->tls && t->tls;
		}
	}
	return 0;
}

/* ---- Happy Eyeballs over the addresses of a target ---- */

static bool identified(const struct tstate *t)
{
	return t->g == G_SMTP || t->s == S_SMPP;
}

static void attempt_start(struct engine *e, struct tgroup *g)
{
	struct tstate *t = &g->att[g->next++];

	t->started = true;
	t->main = new_conn(e, t, CK_MAIN, false);
	if (!t->main) {
		set_note(t, "out of memory");
		t->conn_err = ENOMEM;
		t->final = true;
		t->tfinal = now_ms();
	}
}

/* Close every connection of t (another address answered). */
static void attempt_cancel(struct engine *e, struct tstate *t)
{
	struct conn *c;

	t->cancelled = true;
	do {
		for (c = e->pending; c && c->t != t; c = c->next)
			;
		if (!c)
			for (c = e->open; c && c->t != t; c = c->next)
				;
		if (c)
			conn_close(e, c);
	} while (c);
	if (!t->final)
		finish_target(e, t);
}

static enum probe_outcome attempt_outcome(const struct tgroup *g, const struct tstate *t)
{
	if (!t->started)
		return PROBE_OUT_NOT_TRIED;
	if (t == g->winner)
		return PROBE_OUT_ANSWERED;
	if (t->cancelled)
		return PROBE_OUT_CANCELLED;
	switch (t->r->service) {
	case PROBE_SVC_SMTP:
	case PROBE_SVC_SMTPS:
	case PROBE_SVC_SMPP:
	case PROBE_SVC_SMPP_TLS:
		return PROBE_OUT_ANSWERED;
	case PROBE_SVC_CLOSED:
		return PROBE_OUT_REFUSED;
	case PROBE_SVC_FILTERED:
		return t->conn_err == ETIMEDOUT ? PROBE_OUT_TIMEOUT : PROBE_OUT_UNREACHABLE;
	case PROBE_SVC_TIMEOUT:
		return PROBE_OUT_SILENT;
	default:
		return t->conn_err ? PROBE_OUT_ERROR : PROBE_OUT_UNIDENTIFIED;
	}
}

/* Which result tells most when no address was identified. */
static int result_rank(const struct tstate *t)
{
	if (!t->started)
		return 0;
	switch (t->r->service) {
	case PROBE_SVC_UNKNOWN: return t->conn_err ? 1 : 5;
	case PROBE_SVC_TIMEOUT: return 4;
	case PROBE_SVC_FILTERED: return 3;
	case PROBE_SVC_CLOSED: return 2;
	default: return 1;
	}
}

/* Every started address is final: the target's result. */
static void group_finish(struct engine *e, struct tgroup *g)
{
	struct probe_result *r = g->r;
	struct tstate *best = g->winner;
	uint32_t nconns = 0;
	uint64_t tend = g->t0;
	char note[PROBE_NOTE_MAX];

	for (size_t a = 0; a < g->natt; a++) {
		struct tstate *t = &g->att[a];

		if (t->started && !t->final)
			finish_target(e, t);
		if (!best || (!g->winner && result_rank(t) > result_rank(best)))
			best = t;
	}
	snprintf(note, sizeof(note), "%s", r->note);	/* "N more addresses not tried" */
	memcpy(r, best->r, sizeof(*r));
	if (!r->note[0] && note[0])
		snprintf(r->note, sizeof(r->note), "%s", note);
	for (size_t a = 0; a < g->natt; a++) {
		struct tstate *t = &g->att[a];
		struct probe_addr *pa = &r->addrs[a];

		nconns += t->r->nconns;
		if (t->started && t->tfinal > tend)
			tend = t->tfinal;
		snprintf(pa->addr, sizeof(pa->addr), "%s", t->r->addr);
		pa->outcome = attempt_outcome(g, t);
		pa->service = t->started && !t->cancelled ? t->r->service : PROBE_SVC_UNKNOWN;
		pa->start_ms = t->t0 && g->t0 ? (uint32_t)(t->t0 - g->t0) : 0;
	}
	r->naddrs = (uint32_t)g->natt;
	r->nconns = nconns;
	if (g->natt > 1)
		r->total_ms = tend > g->t0 ? (uint32_t)(tend - g->t0) : 0;
	g->done = true;
}

/*
 * Per loop turn: declare a winner (cancelling the other addresses), start
 * the next address when its turn came, and finish the targets whose every
 * started address is final.
 */
static void groups_update(struct engine *e, struct prep *p, uint64_t now)
{
	for (size_t i = 0; i < p->n; i++) {
		struct tgroup *g = &p->gs[i];
		bool all_final = true;

		if (g->done)
			continue;
		for (size_t a = 0; !g->winner && a < g->next; a++)
			if (!g->att[a].cancelled && identified(&g->att[a]))
				g->winner = &g->att[a];
		if (g->winner) {
			for (size_t a = 0; a < g->next; a++)
				if (&g->att[a] != g->winner && !g->att[a].final)
					attempt_cancel(e, &g->att[a]);
		} else if (g->next < g->natt) {
			struct tstate *prev = g->next ? &g->att[g->next - 1] : NULL;

			if (!prev || prev->final || (prev->t0 && now >= prev->t0 + PROBE_ATTEMPT_DELAY_MS))
				attempt_start(e, g);
		}
		for (size_t a = 0; a < g->next; a++)
			all_final = all_final && g->att[a].final;
		if (all_final && (g->winner || g->next == g->natt))
			group_finish(e, g);
	}
}

/* When the next address of some target is due (UINT64_MAX: none is waiting). */
static uint64_t groups_due(const struct prep *p, uint64_t now)
{
	uint64_t due = UINT64_MAX;

	for (size_t i = 0; i < p->n; i++) {
		const struct tgroup *g = &p->gs[i];
		const struct tstate *prev;

		if (g->done || g->winner || !g->next || g->next >= g->natt)
			continue;
		prev = &g->att[g->next - 1];
		if (prev->final)
			return now;	/* an address failed: the next one at once */
		if (prev->t0 && prev->t0 + PROBE_ATTEMPT_DELAY_MS < due)
			due = prev->t0 + PROBE_ATTEMPT_DELAY_MS;
	}
	return due;
}

static void engine_run(struct prep *p)
{
	struct engine *e = &p->e;
	struct epoll_event evs[64];

	e->deadline = now_ms() + e->o->deadline_ms;
	for (;;) {
		uint64_t now = now_ms(), next = e->deadline, due;
		int nev, wait;

		groups_update(e, p, now);
		while (e->pending && e->active < e->cap) {
			struct conn *c = e->pending;

			e->pending = c->next;
			if (!e->pending)
				e->pending_tail = NULL;
			conn_start(e, c);
		}
		due = groups_due(p, now);
		if (!e->open && !e->pending && due == UINT64_MAX)
			break;
		if (now >= e->deadline) {
			/* closing a test connection may queue the next test: drain both */
			while (e->pending || e->open) {
				struct conn *c = e->pending ? e->pending : e->open;

				set_note(c->t, "global deadline of %u ms reached", e->o->deadline_ms);
				if (c->kind == CK_MAIN && c->t->g == G_NONE)
					c->t->g = G_SILENT;
				conn_close(e, c);
			}
			break;
		}
		if (due < next)
			next = due;
		for (struct conn *c = e->open; c; c = c->next) {
			struct tstate *t = c->t;

			if (c->deadline < next)
				next = c->deadline;
			if (c->kind == CK_MAIN && c->st == CS_SMTP && c->step == ST_GREETING &&
			    !c->inlen && !t->smpp_spawned) {
				uint64_t at = c->tconn + PROBE_SMPP_DELAY_MS;

				if (at < next)
					next = at;
			}
		}
		wait = next > now ? (int)(next - now) : 0;
		nev = epoll_wait(e->ep, evs, (int)ARRAY_SIZE(evs), wait);
		if (nev < 0 && errno != EINTR)
			break;
		for (int i = 0; i < nev; i++) {
			struct conn *c = evs[i].data.ptr;
			bool alive = false;

			/* a handler for an earlier event may have closed this one */
			for (struct conn *o = e->open; o; o = o->next)
				if (o == c) {
					alive = true;
					break;
				}
			if (alive)
				conn_event(e, c, evs[i].events);
		}
		now = now_ms();
		for (struct conn *c = e->open, *nx; c; c = nx) {
			nx = c->next;
			if (c->kind == CK_MAIN && c->st == CS_SMTP && c->step == ST_GREETING &&
			    !c->inlen && !c->t->smpp_spawned && now >= c->tconn + PROBE_SMPP_DELAY_MS) {
				spawn_smpp(e, c->t);
				nx = e->open;	/* list order unchanged, but be safe: rescan */
				continue;
			}
			if (now >= c->deadline) {
				conn_timeout(e, c);
				nx = e->open;	/* the handler may have closed c and others */
			}
		}
	}
	for (size_t i = 0; i < p->n; i++)
		if (!p->gs[i].done)
			group_finish(e, &p->gs[i]);
}

static void engine_fini(struct prep *p)
{
	close(p->e.ep);
	probe_tls_fini();
	prep_free(p);
}

/* ---- result records ---- */

enum ftype { F_STR, F_U32, F_U64, F_ADDRS };
#define FSTR(id, m) { id, F_STR, offsetof(struct probe_result, m), sizeof(((struct probe_result *)0)->m) }
#define FU32(id, m) { id, F_U32, offsetof(struct probe_result, m), 4 }
#define FU64(id, m) { id, F_U64, offsetof(struct probe_result, m), 8 }
static const struct field {
	uint8_t id;
	enum ftype type;
	size_t off, size;
} fields[] = {
	FSTR(1, target), FSTR(2, addr), FU32(3, port), FU32(4, service), FSTR(5, evidence),
	FSTR(6, note), FU32(7, tls), FSTR(8, tls_version), FSTR(9, tls_cipher),
	FSTR(10, tls_subject), FSTR(11, tls_expiry), FU32(12, smtp_code), FU32(13, smtp_caps),
	FU64(14, smtp_size), FSTR(15, smtp_auth), FSTR(16, smtp_keywords),
	FU32(17, starttls_done), FSTR(18, software), FU32(19, confidence),
	FSTR(20, software_basis), FSTR(21, fp_codes), FU32(22, smpp_cmd), FU32(23, smpp_status),
	FU32(24, smpp_bind_done), FU32(25, smpp_bind_cmd), FU32(26, smpp_bind_status),
	FU32(27, connect_ms), FU32(28, first_byte_ms), FU32(29, total_ms), FU32(30, nconns),
	FSTR(32, closest), FU32(33, closest_confidence),
	/* the address list last (test_probe_smpp.c finds it at the end) */
	{ 31, F_ADDRS, offsetof(struct probe_result, naddrs), 0 },
};

#define REC_MAGIC "PLPR"
#define REC_MAX 16384
#define REC_END 0xffffffffu

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The address list as a field payload (see probe.h); returns its length or -ENOSPC. */
static int addrs_encode(const struct probe_result *r, uint8_t *buf, size_t max)
{
	uint32_t n = r->naddrs < PROBE_ADDRS_MAX ? r->naddrs : PROBE_ADDRS_MAX;
	size_t o = 1;

	if (max < 1)
		return -ENOSPC;
	buf[0] = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++) {
		const struct probe_addr *a = &r->addrs[i];
		size_t len = strnlen(a->addr, sizeof(a->addr) - 1);

		if (o + 1 + len + 6 > max)
			return -ENOSPC;
		buf[o++] = (uint8_t)len;
		memcpy(buf + o, a->addr, len);
		o += len;
		buf[o++] = (uint8_t)a->outcome;
		buf[o++] = (uint8_t)a->service;
		put32(buf + o, a->start_ms);
		o += 4;
	}
	return (int)o;
}

static int addrs_decode(const uint8_t *p, size_t n, struct probe_result *r)
{
	size_t o = 1;

	if (n < 1 || p[0] > PROBE_ADDRS_MAX)
		return -EBADMSG;
	r->naddrs = p[0];
	for (uint32_t i = 0; i < r->naddrs; i++) {
		struct probe_addr *a = &r->addrs[i];
		size_t len;

		if (n - o < 1)
			return -EBADMSG;
		len = p[o++];
		if (len >= sizeof(a->addr) || n - o < len + 6)
			return -EBADMSG;
		for (size_t k = 0; k < len; k++)
			if (p[o + k] < 0x20 || p[o + k] >= 0x7f)
				return -EBADMSG;
		memcpy(a->addr, p + o, len);
		a->addr[len] = '\0';
		o += len;
		a->outcome = p[o++];
		a->service = p[o++];
		a->start_ms = get32(p + o);
		o += 4;
		if (a->outcome >= PROBE_OUT_MAX || a->service >= PROBE_SVC_MAX)
			return -EBADMSG;
	}
	return o == n ? 0 : -EBADMSG;
}

int probe_result_encode(uint32_t index, const struct probe_result *r, uint8_t *buf, size_t max)
{
	size_t o = 12;

	if (max < 12)
		return -ENOSPC;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const struct field *f = &fields[i];
		const uint8_t *src = (const uint8_t *)r + f->off;
		size_t len = f->type == F_STR ? strnlen((const char *)src, f->size - 1) : f->size;

		if (f->type == F_ADDRS) {
			int al;

			if (o + 3 > max)
				return -ENOSPC;
			al = addrs_encode(r, buf + o + 3, max - o - 3);
			if (al < 0 || o + 3 + (size_t)al - 12 > REC_MAX)
				return -ENOSPC;
			buf[o] = f->id;
			buf[o + 1] = (uint8_t)((unsigned)al >> 8);
			buf[o + 2] = (uint8_t)al;
			o += 3 + (size_t)al;
			continue;
		}

		if (o + 3 + len > max || o + 3 + len - 12 > REC_MAX)
			return -ENOSPC;
		buf[o] = f->id;
		buf[o + 1] = (uint8_t)(len >> 8);
		buf[o + 2] = (uint8_t)len;
		o += 3;
		if (f->type == F_U32) {
			put32(buf + o, *(const uint32_t *)src);
		} else if (f->type == F_U64) {
			uint64_t v;

			memcpy(&v, src, 8);
			put32(buf + o, (uint32_t)(v >> 32));
			put32(buf + o + 4, (uint32_t)v);
		} else {
			memcpy(buf + o, src, len);
		}
		o += len;
	}
	memcpy(buf, REC_MAGIC, 4);
	put32(buf + 4, index);
	put32(buf + 8, (uint32_t)(o - 12));
	return (int)o;
}

static int decode_one(const uint8_t *p, size_t n, struct probe_result *r)
{
	uint64_t seen = 0;
	size_t o = 0;

	memset(r, 0, sizeof(*r));
	while (o < n) {
		const struct field *f = NULL;
		size_t len;
		uint8_t *dst;

		if (n - o < 3)
			return -EBADMSG;
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			if (fields[i].id == p[o])
				f = &fields[i];
		len = (size_t)p[o + 1] << 8 | p[o + 2];
		o += 3;
		if (!f || (seen & (1ull << f->id)) || len > n - o)
			return -EBADMSG;
		seen |= 1ull << f->id;
		dst = (uint8_t *)r + f->off;
		if (f->type == F_ADDRS) {
			if (addrs_decode(p + o, len, r) < 0)
				return -EBADMSG;
		} else if (f->type == F_STR) {
			if (len >= f->size)
				return -EBADMSG;
			for (size_t i = 0; i < len; i++)
				if (p[o + i] < 0x20 || p[o + i] >= 0x7f)
					return -EBADMSG;	/* the child escapes everything */
			memcpy(dst, p + o, len);
			dst[len] = '\0';
		} else if (f->type == F_U32) {
			uint32_t v;

			if (len != 4)
				return -EBADMSG;
			v = get32(p + o);
			memcpy(dst, &v, 4);
		} else {
			uint64_t v;

			if (len != 8)
				return -EBADMSG;
			v = (uint64_t)get32(p + o) << 32 | get32(p + o + 4);
			memcpy(dst, &v, 8);
		}
		o += len;
	}
	if (r->service >= PROBE_SVC_MAX || r->port > 65535 || r->confidence > 100 ||
	    r->closest_confidence > 100 || (r->software[0] && r->closest[0]))
		return -EBADMSG;
	return 0;
}

int probe_results_decode(const uint8_t *buf, size_t len, struct probe_result *out, size_t n,
			 bool *seen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		seen[i] = false;
	while (len - o >= 12) {
		uint32_t idx = get32(buf + o + 4), rl = get32(buf + o + 8);

		if (memcmp(buf + o, REC_MAGIC, 4))
			return -EBADMSG;
		o += 12;
		if (idx == REC_END)
			return rl == 0 && o == len ? 0 : -EBADMSG;
		if (idx >= n || seen[idx] || rl > REC_MAX || rl > len - o)
			return -EBADMSG;
		if (decode_one(buf + o, rl, &out[idx]) < 0)
			return -EBADMSG;
		seen[idx] = true;
		o += rl;
	}
	return -EBADMSG;	/* no end record */
}

/* ---- the child ---- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define PROBE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_SANITIZED 1
#endif

#if defined(__x86_64__)
#define PROBE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PROBE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/*
 * seccomp allow-list: what the engine, OpenSSL and libc need once the
 * sockets' addresses are resolved. Anything else fails with EPERM (not a
 * kill: a libc path we did not foresee degrades a result, it doesn't crash
 * the probe). Not installed under sanitizers, whose runtimes need more.
 */
static int install_seccomp(void)
{
#if defined(PROBE_AUDIT_ARCH) && !defined(PROBE_SANITIZED)
	static const int allow[] = {
		SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_socket, SYS_connect,
		SYS_bind, SYS_getsockopt, SYS_setsockopt, SYS_getsockname, SYS_getpeername,
		SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg, SYS_shutdown, SYS_epoll_ctl,
		SYS_epoll_pwait, SYS_ppoll, SYS_fcntl, SYS_clock_gettime, SYS_clock_nanosleep,
		SYS_getrandom, SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_madvise, SYS_mprotect,
		SYS_futex, SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_exit, SYS_exit_group,
		SYS_getpid, SYS_gettid, SYS_tgkill, SYS_fstat, SYS_newfstatat, SYS_lseek,
		SYS_sched_yield, SYS_nanosleep, SYS_restart_syscall,
#ifdef SYS_epoll_wait
		SYS_epoll_wait,
#endif
#ifdef SYS_poll
		SYS_poll,
#endif
	};
	struct sock_filter f[8 + 2 * ARRAY_SIZE(allow)];
	struct sock_fprog prog;
	size_t k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROBE_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < ARRAY_SIZE(allow); i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allow[i],
						      0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	prog.len = (unsigned short)k;
	prog.filter = f;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
#endif
	return 0;
}

/* Drop everything the probe child does not need. Order matters: see inline. */
static int sandbox(unsigned concurrency)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	/* sockets for every connection, the epoll fd, the pipe, stdio and slack */
	rl.rlim_cur = rl.rlim_max = concurrency + 32;
	setrlimit(RLIMIT_NOFILE, &rl);	/* best effort: valgrind, for one, refuses it */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (geteuid() == 0) {
		/* the bounding set can only shrink while we still hold CAP_SETPCAP */
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				return -errno;
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			return -errno;
		rl.rlim_cur = rl.rlim_max = 0;
		setrlimit(RLIMIT_NPROC, &rl);	/* nobody may not fork */
	}
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return install_seccomp();
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void normalize(struct probe_opts *o)
{
	if (!o->concurrency)
		o->concurrency = PROBE_DEFAULT_CONCURRENCY;
	if (!o->connect_ms)
		o->connect_ms = PROBE_DEFAULT_CONNECT_MS;
	if (!o->read_ms)
		o->read_ms = PROBE_DEFAULT_READ_MS;
	if (!o->deadline_ms)
		o->deadline_ms = PROBE_DEFAULT_DEADLINE_MS;
}

static int run_local(const struct probe_target *t, size_t n, const struct probe_opts *o,
		     struct probe_result *out, bool sandboxed)
{
	struct prep p;
	int rc = engine_prepare(&p, t, n, o, out);

	if (rc < 0)
		return rc;
	if (sandboxed) {
		rc = sandbox(o->concurrency);
		if (rc < 0) {
			engine_fini(&p);
			return rc;
		}
	}
	engine_run(&p);
	engine_fini(&p);
	return 0;
}

static void child_main(int wfd, const struct probe_target *t, size_t n,
		       const struct probe_opts *o)
{
	struct probe_result *out;
	uint8_t *buf;
	int rc;

	/*
	 * Keep only stdio and the result pipe (as fd 3): a caller such as audit
	 * may hold netlink sockets or the journal lock, none of which the
	 * prober may touch.
	 */
	if (wfd != 3) {
		if (dup2(wfd, 3) < 0)
			_exit(3);
		wfd = 3;
	}
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	prctl(PR_SET_DUMPABLE, 0);	/* no ptrace by other 'nobody' processes */
	signal(SIGPIPE, SIG_IGN);
	out = calloc(n ? n : 1, sizeof(*out));
	buf = malloc(REC_MAX + 12);
	if (!out || !buf)
		_exit(3);
	rc = run_local(t, n, o, out, true);
	if (rc < 0)
		_exit(rc == -EPERM ? 4 : 5);
	for (size_t i = 0; i < n; i++) {
		int len = probe_result_encode((uint32_t)i, &out[i], buf, REC_MAX + 12);

		if (len < 0 || write_all(wfd, buf, (size_t)len) < 0)
			_exit(6);
	}
	memcpy(buf, REC_MAGIC, 4);
	put32(buf + 4, REC_END);
	put32(buf + 8, 0);
	rc = write_all(wfd, buf, 12);
	free(buf);
	free(out);
	_exit(rc < 0 ? 6 : 0);
}

int probe_run(const struct probe_target *t, size_t n, const struct probe_opts *opts,
	      struct probe_result *out, struct diag *d)
{
	struct probe_opts o = *opts;
	size_t cap = n * (REC_MAX + 12) + 12, len = 0, bufcap = 65536;
	uint8_t *buf = NULL;
	bool *seen = NULL;
	int pfd[2], status = 0, rc = 0;
	uint64_t limit;
	pid_t pid;

	normalize(&o);
	if (o.no_sandbox) {
		rc = run_local(t, n, &o, out, false);
		return rc < 0 ? diag_err(d, DIAG_INTERNAL, NULL, -rc, "probe") : 0;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = diag_err(d, DIAG_INTERNAL, NULL, errno, "probe: pipe");
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = diag_err(d, DIAG_INTERNAL, NULL, errno, "probe: fork");
		close(pfd[0]);
		close(pfd[1]);
		goto out;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_main(pfd[1], t, n, &o);
	}
	close(pfd[1]);
	/* allocated after fork, so the child's heap holds nothing of ours */
	buf = malloc(bufcap);
	seen = calloc(n ? n : 1, sizeof(*seen));
	if (!buf || !seen) {
		kill(pid, SIGKILL);
		rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "probe");
	}
	/* the child keeps its own deadline; this one only guards against a hang */
	limit = now_ms() + o.deadline_ms + 2ull * o.connect_ms + 10000 + n * 100ull;
	while (!rc) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= limit) {
			kill(pid, SIGKILL);
			rc = diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: the probe process hung; killed");
			break;
		}
		if (poll(&pf, 1, (int)(limit - now)) < 0 && errno != EINTR)
			break;
		if (len == bufcap) {
			uint8_t *nb;

			if (bufcap >= cap) {
				kill(pid, SIGKILL);
				rc = diag_err(d, DIAG_INTERNAL, NULL, 0,
					      "probe: the probe process sent too much");
				break;
			}
			nb = realloc(buf, bufcap * 2);
			if (!nb) {
				kill(pid, SIGKILL);
				rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "probe");
				break;
			}
			buf = nb;
			bufcap *= 2;
		}
		r = read(pfd[0], buf + len, bufcap - len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		rc = diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: the probe process failed (%s %d)%s",
			      WIFEXITED(status) ? "exit" : "signal",
			      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			      WIFEXITED(status) && WEXITSTATUS(status) == 4
				      ? ": cannot drop privileges"
				      : "");
		goto out;
	}
	if (probe_results_decode(buf, len, out, n, seen) < 0)
		rc = diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: malformed results from the probe process");
	for (size_t i = 0; !rc && i < n; i++)
		if (!seen[i])
			rc = diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: no result for '%s'", t[i].spec);
out:
	free(buf);
	free(seen);
	return rc;
}
