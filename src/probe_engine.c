// SPDX-License-Identifier: GPL-2.0-or-later
/* Probe targets: addresses, Happy Eyeballs, the event loop (see probe_engine.h). */
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

/*
 * The addresses of target i (a record of the resolver, or of
 * probe_resolve_one() for a numeric address or an unsandboxed run): one
 * attempt each, in getaddrinfo() order (RFC 6724). A name without an
 * address makes the result PROBE_SVC_UNRESOLVED (natt 0). Returns 0 or
 * -ENOMEM.
 */
static int group_addresses(struct prep *p, size_t i, const struct probe_resolved *rec)
{
	struct engine *e = &p->e;
	struct tgroup *g = &p->gs[i];
	const struct probe_target *tgt = &p->tg[i];
	struct probe_result *r = g->r;
	size_t n = 0;

	if (g->resolving) {
		g->resolving = false;
		p->nresolving--;
	}
	if (rec->gai || !rec->n) {
		snprintf(r->note, sizeof(r->note), "cannot resolve '%.160s'%s: %s", tgt->host,
			 !e->srclen ? "" : e->src.ss_family == AF_INET ? " to an IPv4 address (--source)"
								: " to an IPv6 address (--source)",
			 rec->gai == EAI_SYSTEM ? strerror(rec->err)
			 : rec->gai	       ? gai_strerror(rec->gai)
					       : "no IPv4 or IPv6 address");
		r->service = PROBE_SVC_UNRESOLVED;
		g->done = true;
		return 0;
	}
	g->att = calloc(rec->n, sizeof(*g->att));
	if (!g->att)
		return -ENOMEM;
	for (size_t k = 0; k < rec->n && k < PROBE_ADDRS_MAX; k++) {
		struct tstate *t = &g->att[n];

		t->salen = probe_raddr_sockaddr(&rec->a[k], &t->sa);
		if (!t->salen || rec->a[k].port != tgt->port)
			continue;	/* the resolver is not trusted either */
		if (getnameinfo((struct sockaddr *)&t->sa, t->salen, t->res.addr, sizeof(t->res.addr),
				NULL, 0, NI_NUMERICHOST))
			t->res.addr[0] = '\0';
		t->r = &t->res;
		t->grp = g;
		t->tgt = tgt;
		snprintf(t->r->target, sizeof(t->r->target), "%s", tgt->spec);
		t->r->port = tgt->port;
		for (int c = 0; c < PROBE_SMTP_NTESTS; c++)
			t->codes[c] = -1;
		t->tls = e->o->tls || tgt->port == 465 || tgt->port == 3550;
		t->tls_auto = !e->o->tls && t->tls;
		n++;
	}
	g->natt = n;
	if (!n) {
		snprintf(r->note, sizeof(r->note), "cannot resolve '%.160s': no usable address", tgt->host);
		r->service = PROBE_SVC_UNRESOLVED;
		g->done = true;
	} else if (rec->more) {
		snprintf(r->note, sizeof(r->note), "%u more addresses not tried", rec->more);
	}
	return 0;
}

static int family_of(const struct engine *e)
{
	return e->srclen ? e->src.ss_family : AF_UNSPEC;
}

static void prep_free(struct prep *p)
{
	for (size_t i = 0; p->gs && i < p->n; i++)
		free(p->gs[i].att);
	free(p->gs);
	p->gs = NULL;
	if (p->rfd >= 0)
		close(p->rfd);
	p->rfd = -1;
}

int pe_engine_prepare(struct prep *p, const struct probe_target *tg, size_t n,
			  const struct probe_opts *o, struct probe_result *out)
{
	struct engine *e = &p->e;

	memset(p, 0, sizeof(*p));
	p->rfd = -1;
	e->o = o;
	e->cap = o->concurrency;
	p->n = n;
	p->tg = tg;
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
		struct probe_resolved rec;

		memset(&out[i], 0, sizeof(out[i]));
		g->r = &out[i];
		snprintf(g->r->target, sizeof(g->r->target), "%s", tg[i].spec);
		g->r->port = tg[i].port;
		if (!o->no_sandbox && !probe_host_numeric(tg[i].host)) {
			g->resolving = true;	/* by the resolver, once sandboxed */
			p->nresolving++;
			continue;
		}
		probe_resolve_one(tg[i].host, tg[i].port, family_of(e), (uint32_t)i, &rec);
		if (group_addresses(p, i, &rec) < 0) {
			prep_free(p);
			close(e->ep);
			probe_tls_fini();
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * Start the resolver for the names still to resolve (before the engine's
 * own sandbox: it forks). Its pipe joins the epoll set with a NULL pointer.
 */
int pe_resolver_start(struct prep *p)
{
	struct epoll_event ev = { .events = EPOLLIN };
	bool *names;
	pid_t pid;

	if (!p->nresolving)
		return 0;
	names = calloc(p->n, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		names[i] = p->gs[i].resolving;
	p->rfd = probe_resolver_start(p->tg, p->n, names, family_of(&p->e), &pid);
	free(names);
	if (p->rfd < 0)
		return p->rfd;
	ev.data.ptr = NULL;
	if (epoll_ctl(p->e.ep, EPOLL_CTL_ADD, p->rfd, &ev) < 0)
		return -errno;
	return 0;
}

/* Names still unresolved when the resolver ended or the deadline came. */
static void resolver_abandon(struct prep *p, const char *why)
{
	for (size_t i = 0; i < p->n; i++) {
		struct tgroup *g = &p->gs[i];

		if (!g->resolving)
			continue;
		g->resolving = false;
		snprintf(g->r->note, sizeof(g->r->note), "cannot resolve '%.160s': %s", p->tg[i].host,
			 why);
		g->r->service = PROBE_SVC_UNRESOLVED;
		g->done = true;
	}
	p->nresolving = 0;
	if (p->rfd >= 0) {
		epoll_ctl(p->e.ep, EPOLL_CTL_DEL, p->rfd, NULL);
		close(p->rfd);
		p->rfd = -1;
	}
}

/* Whole records from the resolver; every one checked before it is used. */
static void resolver_input(struct prep *p)
{
	for (;;) {
		ssize_t r = read(p->rfd, p->rbuf + p->rlen, sizeof(p->rbuf) - p->rlen);
		struct probe_resolved rec;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			resolver_abandon(p, "the resolver process ended without an answer");
			return;
		}
		p->rlen += (size_t)r;
		if (p->rlen < sizeof(rec))
			continue;
		memcpy(&rec, p->rbuf, sizeof(rec));
		p->rlen = 0;
		if (rec.index >= p->n || !p->gs[rec.index].resolving || rec.n > PROBE_ADDRS_MAX) {
			resolver_abandon(p, "malformed answer from the resolver process");
			return;
		}
		if (group_addresses(p, rec.index, &rec) < 0) {
			resolver_abandon(p, "out of memory");
			return;
		}
	}
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
	t->main = pe_new_conn(e, t, CK_MAIN, false);
	if (!t->main) {
		pe_set_note(t, "out of memory");
		t->conn_err = ENOMEM;
		t->final = true;
		t->tfinal = pe_now_ms();
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
			pe_conn_close(e, c);
	} while (c);
	if (!t->final)
		pe_finish_target(e, t);
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
	case PROBE_SVC_HTTP:
	case PROBE_SVC_HTTPS:
	case PROBE_SVC_TLS:
	case PROBE_SVC_SSH: return 5;	/* answered: something else */
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
			pe_finish_target(e, t);
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

		if (g->done || g->resolving)
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

/* Hand every target that became final to the emitter, once. */
static void emit_done(struct prep *p)
{
	if (!p->emit)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->gs[i].done && !p->emitted[i]) {
			p->emitted[i] = true;
			if (p->emit(p->emit_arg, (uint32_t)i, p->gs[i].r) < 0)
				p->emit = NULL;	/* the parent is gone */
		}
}

/* Start queued connections while fewer than the concurrency limit are active */
static void start_pending(struct engine *e)
{
	while (e->pending && e->active < e->cap) {
		struct conn *c = e->pending;

		e->pending = c->next;
		if (!e->pending)
			e->pending_tail = NULL;
		pe_conn_start(e, c);
	}
}

/* The global deadline: close every connection (a silent main one is G_SILENT), abandon the resolver */
static void at_deadline(struct prep *p)
{
	struct engine *e = &p->e;

	/* closing a test connection may queue the next test: drain both */
	while (e->pending || e->open) {
		struct conn *c = e->pending ? e->pending : e->open;

		pe_set_note(c->t, "global deadline of %u ms reached", e->o->deadline_ms);
		if (c->kind == CK_MAIN && c->t->g == G_NONE)
			c->t->g = G_SILENT;
		pe_conn_close(e, c);
	}
	if (p->nresolving) {
		char why[64];

		snprintf(why, sizeof(why), "no answer within the deadline of %u ms",
			 e->o->deadline_ms);
		resolver_abandon(p, why);
	}
}

/* A silent SMTP greeting that is due for an SMPP try (spawned at tconn + PROBE_SMPP_DELAY_MS) */
static bool smpp_candidate(const struct conn *c)
{
	return c->kind == CK_MAIN && c->st == CS_SMTP && c->step == ST_GREETING && !c->inlen &&
	       !c->t->smpp_spawned;
}

/* When the loop must wake next: the earliest of next, every connection's deadline and SMPP try. */
static uint64_t next_wakeup(const struct engine *e, uint64_t next)
{
	for (const struct conn *c = e->open; c; c = c->next) {
		if (c->deadline < next)
			next = c->deadline;
		if (smpp_candidate(c)) {
			uint64_t at = c->tconn + PROBE_SMPP_DELAY_MS;

			if (at < next)
				next = at;
		}
	}
	return next;
}

/* Hand each epoll event to its connection (still open), or to the resolver */
static void dispatch_events(struct prep *p, const struct epoll_event *evs, int nev)
{
	struct engine *e = &p->e;

	for (int i = 0; i < nev; i++) {
		struct conn *c = evs[i].data.ptr;
		bool alive = false;

		if (!c) {
			if (p->rfd >= 0)
				resolver_input(p);
			continue;
		}

		/* a handler for an earlier event may have closed this one */
		for (struct conn *o = e->open; o; o = o->next)
			if (o == c) {
				alive = true;
				break;
			}
		if (alive)
			pe_conn_event(e, c, evs[i].events);
	}
}

/* Timers due at now: SMPP tries on silent greetings, connection timeouts */
static void run_timers(struct engine *e, uint64_t now)
{
	for (struct conn *c = e->open, *nx; c; c = nx) {
		nx = c->next;
		if (smpp_candidate(c) && now >= c->tconn + PROBE_SMPP_DELAY_MS) {
			pe_spawn_smpp(e, c->t);
			nx = e->open;	/* list order unchanged, but be safe: rescan */
			continue;
		}
		if (now >= c->deadline) {
			pe_conn_timeout(e, c);
			nx = e->open;	/* the handler may have closed c and others */
		}
	}
}

void pe_engine_run(struct prep *p)
{
	struct engine *e = &p->e;
	struct epoll_event evs[64];

	e->deadline = pe_now_ms() + e->o->deadline_ms;
	for (;;) {
		uint64_t now = pe_now_ms(), next = e->deadline, due;
		int nev, wait;

		groups_update(e, p, now);
		emit_done(p);
		start_pending(e);
		due = groups_due(p, now);
		if (!e->open && !e->pending && due == UINT64_MAX && !p->nresolving)
			break;
		if (now >= e->deadline) {
			at_deadline(p);
			break;
		}
		next = next_wakeup(e, due < next ? due : next);
		wait = next > now ? (int)(next - now) : 0;
		nev = epoll_wait(e->ep, evs, (int)ARRAY_SIZE(evs), wait);
		if (nev < 0 && errno != EINTR)
			break;
		dispatch_events(p, evs, nev);
		run_timers(e, pe_now_ms());
	}
	resolver_abandon(p, "the probe ended before the resolver answered");
	for (size_t i = 0; i < p->n; i++)
		if (!p->gs[i].done)
			group_finish(e, &p->gs[i]);
	emit_done(p);
}

void pe_engine_fini(struct prep *p)
{
	close(p->e.ep);
	probe_tls_fini();
	prep_free(p);
}

