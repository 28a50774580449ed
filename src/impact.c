// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The impact of a change (see impact.h): which established connections and
 * which observed sources the desired policy would cut. Reads the kernel
 * through listen.c (sock_diag) and nl_ct.c (ctnetlink); judges purely.
 */
#include "impact.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "diag.h"
#include "nft_model.h"
#include "nl.h"
#include "seen.h"
#include "util.h"

/* one line per connection in a refusal, then "and N more" */
#define IMPACT_SHOWN 8

void impact_state_init(struct impact_state *st)
{
	memset(st, 0, sizeof(*st));
	listen_set_init(&st->sockets);
	ct_list_init(&st->flows);
}

void impact_state_fini(struct impact_state *st)
{
	listen_set_fini(&st->sockets);
	ct_list_fini(&st->flows);
	free(st->local4);
	free(st->local6);
	free(st->seen);
	free(st->tmp);
	impact_state_init(st);
}

void impact_init(struct impact *im)
{
	memset(im, 0, sizeof(*im));
}

void impact_fini(struct impact *im)
{
	free(im->conns);
	free(im->seen);
	impact_init(im);
}

static int add_addr(u128 **v, size_t *n, u128 a)
{
	size_t cap = *n;

	if (util_grow((void **)v, &cap, *n + 1, sizeof(**v)) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = a;
	return 0;
}

static int read_local_addrs(struct impact_state *st)
{
	struct ifaddrs *ifa, *i;
	int rc = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && !rc; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			rc = add_addr(&st->local4, &st->nlocal4,
				      cidr_from_bytes(CIDR_V4, (const uint8_t *)&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr));
		else if (i->ifa_addr->sa_family == AF_INET6)
			rc = add_addr(&st->local6, &st->nlocal6,
				      cidr_from_bytes(CIDR_V6, (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr));
	}
	freeifaddrs(ifa);
	return rc;
}

/* Append the n entries e of service to *v. */
static int add_entries(struct impact_entry **v, size_t *nv, size_t *cap, const char *service,
		       const struct seen_entry *e, size_t n)
{
	if (n && util_grow((void **)v, cap, *nv + n, sizeof(**v)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		(*v)[(*nv)++] = (struct impact_entry){ .service = service, .e = e[i] };
	return 0;
}

/* The seen and temporary sets of service s, both families, appended to st. */
static int read_sets(struct impact_state *st, struct nl_sock *sk, const struct policy *p,
		     const struct policy_service *s, bool want_seen, bool want_tmp, struct diag *q)
{
	static const enum cidr_family fams[] = { CIDR_V4, CIDR_V6 };

	for (size_t k = 0; k < 2 * ARRAY_SIZE(fams); k++) {
		bool tmp = k >= ARRAY_SIZE(fams);
		enum cidr_family f = fams[k % ARRAY_SIZE(fams)];
		struct seen_entry *e = NULL;
		size_t n = 0;
		int rc;

		if (!(tmp ? want_tmp : want_seen))
			continue;
		rc = tmp ? seen_read_tmp(sk, p->table, s->name, f, &e, &n, q)
			 : seen_read(sk, p->table, s->name, f, &e, &n, q);
		if (!rc)
			rc = tmp ? add_entries(&st->tmp, &st->ntmp, &st->ctmp, s->name, e, n)
				 : add_entries(&st->seen, &st->nseen, &st->cseen, s->name, e, n);
		free(e);
		if (rc && rc != -ENOENT)
			return rc;
	}
	return 0;
}

static bool live_enforces(const struct nm_table *live, const char *svc, enum cidr_family f);

/*
 * Which services' sets are worth a read (a set of 65535 seen elements is
 * one dump each): the temporary sets of the services some connection would
 * be cut on without them; the seen sets of the services the new policy
 * enforces and the live table does not (yet) for some family.
 */
static int sets_wanted(const struct policy *p, const struct nm_table *live,
		       const struct impact_state *st, bool *seen, bool *tmp)
{
	struct impact pre;
	int rc;

	impact_init(&pre);
	rc = impact_judge(p, live, st, &pre);
	for (size_t i = 0; !rc && i < pre.nconns; i++)
		tmp[pre.conns[i].svc] = true;
	impact_fini(&pre);
	for (size_t i = 0; i < p->nsvcs; i++)
		seen[i] = p->svcs[i].mode == POLICY_MODE_ENFORCE &&
			  (!live_enforces(live, p->svcs[i].name, CIDR_V4) ||
			   !live_enforces(live, p->svcs[i].name, CIDR_V6));
	return rc;
}

int impact_state_read(struct impact_state *st, const struct policy *p,
		      const struct nm_table *live, struct diag *d)
{
	struct nl_sock *sk = NULL;
	struct diag quiet;
	bool *want = NULL;
	int rc;

	rc = listen_dump(&st->sockets, LISTEN_F_TCP | LISTEN_F_ESTABLISHED, d);
	if (rc < 0)
		return rc;
	st->sockets_ok = true;
	rc = read_local_addrs(st);
	if (rc < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, -rc, "the addresses of this host");
	diag_init(&quiet);
	rc = ct_dump(&st->flows, &quiet);
	if (rc == 0) {
		st->conntrack_ok = true;
	} else {
		snprintf(st->conntrack_why, sizeof(st->conntrack_why), "%s",
			 rc == -ENOENT || rc == -EOPNOTSUPP || rc == -EPROTONOSUPPORT
				 ? "the kernel has no ctnetlink (nf_conntrack_netlink)"
				 : quiet.nrecs ? quiet.recs[0].msg : strerror(-rc));
		ct_list_fini(&st->flows);
	}
	diag_fini(&quiet);
	/* the seen and temporary sets: what the packet path and `portlock allow` put there */
	want = calloc(2 * p->nsvcs + 1, sizeof(*want));
	if (!want || sets_wanted(p, live, st, want, want + p->nsvcs) < 0) {
		free(want);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "impact");
	}
	diag_init(&quiet);
	rc = 0;
	for (size_t i = 0; i < p->nsvcs && !rc; i++) {
		if (!want[i] && !want[p->nsvcs + i])
			continue;
		if (!sk)
			rc = nl_open(&sk, &quiet);
		if (!rc)
			rc = read_sets(st, sk, p, &p->svcs[i], want[i], want[p->nsvcs + i], &quiet);
	}
	nl_close(sk);
	free(want);
	if (rc == -ENOMEM) {
		diag_fini(&quiet);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "seen sets");
	}
	st->seen_ok = rc == 0;
	if (rc)
		snprintf(st->seen_why, sizeof(st->seen_why), "%s",
			 quiet.nrecs ? quiet.recs[0].msg : strerror(-rc));
	diag_fini(&quiet);
	return 0;
}

static bool is_local(const struct impact_state *st, enum cidr_family f, u128 a)
{
	const u128 *v = f == CIDR_V4 ? st->local4 : st->local6;
	size_t n = f == CIDR_V4 ? st->nlocal4 : st->nlocal6;

	for (size_t i = 0; i < n; i++)
		if (v[i] == a)
			return true;
	/* loopback addresses beyond the configured one */
	return f == CIDR_V4 ? (a >> 24) == 127 : a == 1;
}

static bool is_loopback(enum cidr_family f, u128 a)
{
	return f == CIDR_V4 ? (a >> 24) == 127 : a == 1;
}

/* Is a in the temporary set of service svc (portlock allow --for)? */
static bool in_tmp(const struct impact_state *st, const char *svc, enum cidr_family f, u128 a)
{
	for (size_t i = 0; i < st->ntmp; i++)
		if (st->tmp[i].e.family == f && st->tmp[i].e.addr <= a && a <= st->tmp[i].e.last &&
		    !strcmp(st->tmp[i].service, svc))
			return true;
	return false;
}

/*
 * Does the new policy refuse src on service s? Observe mode refuses
 * nothing; the allowlist and the temporary set allow.
 */
static bool refuses(const struct policy *p, const struct policy_service *s,
		    const struct impact_state *st, enum cidr_family f, u128 src)
{
	if (s->mode != POLICY_MODE_ENFORCE)
		return false;
	if (p->loopback && is_loopback(f, src))
		return false;
	if (policy_service_allows(s, f, src))
		return false;
	return !in_tmp(st, s->name, f, src);
}

static size_t svc_index(const struct policy *p, const struct policy_service *s)
{
	return (size_t)(s - p->svcs);
}

static int push_conn(struct impact *im, const struct impact_conn *c)
{
	for (size_t i = 0; i < im->nconns; i++) {
		const struct impact_conn *o = &im->conns[i];

		if (o->proto == c->proto && o->family == c->family && o->src == c->src &&
		    o->sport == c->sport)
			return 0;	/* the same connection, seen by sock_diag and conntrack */
	}
	if (util_grow((void **)&im->conns, &im->cconns, im->nconns + 1, sizeof(*im->conns)) < 0)
		return -ENOMEM;
	im->conns[im->nconns++] = *c;
	return 0;
}

/* A client address in its own family (a v4-mapped peer of a dual-stack socket is IPv4). */
static void unmap(enum cidr_family *f, u128 *a)
{
	if (*f == CIDR_V6 && (*a >> 32) == 0xffff) {
		*f = CIDR_V4;
		*a &= 0xffffffffu;
	}
}

static bool tcp_listener_on(const struct listen_set *s, uint16_t port)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->v[i].established && s->v[i].proto == LISTEN_PROTO_TCP && s->v[i].port == port)
			return true;
	return false;
}

/* Keep connection c when the service of its port would refuse its source. */
static int judge_conn(const struct policy *p, const struct impact_state *st,
		      struct impact_conn *c, struct impact *im)
{
	const struct policy_service *s = policy_find_port(p, c->proto, c->port);

	if (!s || !refuses(p, s, st, c->family, c->src))
		return 0;
	c->svc = svc_index(p, s);
	return push_conn(im, c);
}

static int judge_sockets(const struct policy *p, const struct impact_state *st,
			 struct impact *im)
{
	if (!(p->hooks & POLICY_HOOK_INPUT))
		return 0;	/* local connections never pass the forward hook */
	for (size_t i = 0; i < st->sockets.n; i++) {
		const struct listen_entry *e = &st->sockets.v[i];
		struct impact_conn c = { .proto = POLICY_TCP };

		/* the server side only: a local port something listens on */
		if (!e->established || e->proto != LISTEN_PROTO_TCP ||
		    !tcp_listener_on(&st->sockets, e->port))
			continue;
		c.family = e->family;
		c.src = e->peer;
		unmap(&c.family, &c.src);
		c.sport = e->peer_port;
		c.port = e->port;
		if (judge_conn(p, st, &c, im) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int judge_flows(const struct policy *p, const struct impact_state *st,
		       struct impact *im)
{
	for (size_t i = 0; i < st->flows.n; i++) {
		const struct ct_flow *fl = &st->flows.v[i];
		struct impact_conn c = { 0 };
		bool to_local;

		if (is_local(st, fl->family, fl->src))
			continue;	/* this host's own outgoing flow (or a loopback one) */
		c.proto = fl->proto == IPPROTO_TCP ? POLICY_TCP : POLICY_UDP;
		c.family = fl->family;
		c.src = fl->src;
		c.sport = fl->sport;
		c.dnat = fl->dnat;
		to_local = is_local(st, fl->family, fl->dnat ? fl->reply_src : fl->dst);
		if (to_local) {
			/* input hook, on the port the socket has (after DNAT) */
			if (!(p->hooks & POLICY_HOOK_INPUT))
				continue;
			c.port = fl->dnat ? fl->reply_sport : fl->dport;
		} else {
			/* forward hook: only DNAT'ed flows, on the port asked for */
			if (!(p->hooks & POLICY_HOOK_FORWARD) || !fl->dnat)
				continue;
			c.port = fl->dport;
			c.forwarded = true;
		}
		if (fl->dnat) {
			c.to = fl->reply_src;
			c.to_port = fl->reply_sport;
		}
		if (judge_conn(p, st, &c, im) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Is service name in observe mode in the live table (its sources accepted today)? */
static bool live_enforces(const struct nm_table *live, const char *svc, enum cidr_family f)
{
	bool refuse = false;

	if (!live || !live->exists)
		return false;
	for (size_t i = 0; i < live->nrules; i++) {
		const struct nm_fact *ft = &live->rules[i].fact;

		if (!ft->service || strcmp(ft->service, svc) || (ft->has_family && ft->family != f))
			continue;
		if (ft->role == NM_ROLE_OBSERVE)
			return false;
		if (ft->role == NM_ROLE_REFUSE)
			refuse = true;
	}
	return refuse;
}

static int judge_seen(const struct policy *p, const struct nm_table *live,
		      const struct impact_state *st, struct impact *im)
{
	for (size_t i = 0; i < st->nseen; i++) {
		const struct seen_entry *in = &st->seen[i].e;
		const struct policy_service *s = NULL;
		struct impact_seen out;

		for (size_t k = 0; k < p->nsvcs && !s; k++)
			if (!strcmp(p->svcs[k].name, st->seen[i].service))
				s = &p->svcs[k];
		/* a source refused today stays refused: that is not news */
		if (!s || !refuses(p, s, st, in->family, in->addr) ||
		    live_enforces(live, s->name, in->family))
			continue;
		out.svc = svc_index(p, s);
		out.family = in->family;
		out.src = in->addr;
		out.port = in->port;
		out.packets = in->packets;
		out.bytes = in->bytes;
		out.last_seen = in->last_seen;
		if (util_grow((void **)&im->seen, &im->cseen, im->nseen + 1, sizeof(*im->seen)) < 0)
			return -ENOMEM;
		im->seen[im->nseen++] = out;
	}
	return 0;
}

/* Lexicographic order of two key tuples of n elements. */
static int keys_cmp(const u128 *a, const u128 *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* by service, port, family, source, source port */
static int conn_cmp(const void *pa, const void *pb)
{
	const struct impact_conn *a = pa, *b = pb;
	const u128 ka[] = { a->svc, a->port, a->family, a->src, a->sport };
	const u128 kb[] = { b->svc, b->port, b->family, b->src, b->sport };

	return keys_cmp(ka, kb, ARRAY_SIZE(ka));
}

/* by service, family, source, port */
static int seen_cmp(const void *pa, const void *pb)
{
	const struct impact_seen *a = pa, *b = pb;
	const u128 ka[] = { a->svc, a->family, a->src, a->port };
	const u128 kb[] = { b->svc, b->family, b->src, b->port };

	return keys_cmp(ka, kb, ARRAY_SIZE(ka));
}

int impact_judge(const struct policy *p, const struct nm_table *live,
		 const struct impact_state *st, struct impact *out)
{
	int rc;

	out->judged = true;
	out->sockets_ok = st->sockets_ok;
	out->conntrack_ok = st->conntrack_ok;
	snprintf(out->conntrack_why, sizeof(out->conntrack_why), "%s", st->conntrack_why);
	out->seen_ok = st->seen_ok;
	snprintf(out->seen_why, sizeof(out->seen_why), "%s", st->seen_why);
	rc = judge_sockets(p, st, out);
	if (!rc)
		rc = judge_flows(p, st, out);
	if (!rc)
		rc = judge_seen(p, live, st, out);
	if (rc)
		return rc;
	if (out->nconns)
		qsort(out->conns, out->nconns, sizeof(*out->conns), conn_cmp);
	if (out->nseen)
		qsort(out->seen, out->nseen, sizeof(*out->seen), seen_cmp);
	out->ncritical = 0;
	for (size_t i = 0; i < out->nconns; i++)
		if (p->svcs[out->conns[i].svc].critical)
			out->ncritical++;
	return 0;
}

int impact_run(const struct policy *p, const struct nm_table *live, struct impact *out,
	       struct diag *d)
{
	struct impact_state st;
	int rc;

	impact_state_init(&st);
	rc = impact_state_read(&st, p, live, d);
	if (!rc && impact_judge(p, live, &st, out) < 0)
		rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "impact");
	impact_state_fini(&st);
	return rc;
}

/* Is set name an allowlist set of a service: "S_v4", "S_v6", or a shard "S_v4_<hex>_<len>"? */
static bool allow_set_name(const char *name, size_t *svclen, enum cidr_family *f)
{
	const char *p;

	for (p = strstr(name, "_v"); p; p = strstr(p + 1, "_v")) {
		const char *q = p + 3;

		if (p == name || (p[2] != '4' && p[2] != '6'))
			continue;
		if (*q == '_') {
			/* shard: hex nibbles, '_', decimal length, end */
			q++;
			while ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))
				q++;
			if (*q != '_' || q == p + 4)
				continue;
			q++;
			if (!*q)
				continue;
			while (*q >= '0' && *q <= '9')
				q++;
		}
		if (*q)
			continue;
		*svclen = (size_t)(p - name);
		*f = p[2] == '4' ? CIDR_V4 : CIDR_V6;
		return true;
	}
	return false;
}

static struct policy_service *table_svc(struct policy *out, const char *name, size_t len,
					const struct nm_table *t, const struct policy *cur)
{
	const struct policy_service *c = NULL;
	struct policy_service *s;
	const struct nm_set *ports;
	char pname[160];

	for (size_t i = 0; i < out->nsvcs; i++)
		if (strlen(out->svcs[i].name) == len && !strncmp(out->svcs[i].name, name, len))
			return &out->svcs[i];
	{
		size_t cap = out->nsvcs;

		if (util_grow((void **)&out->svcs, &cap, out->nsvcs + 1, sizeof(*out->svcs)) < 0)
			return NULL;
	}
	s = &out->svcs[out->nsvcs];
	memset(s, 0, sizeof(*s));
	s->name = strndup(name, len);
	if (!s->name)
		return NULL;
	out->nsvcs++;
	for (size_t i = 0; cur && i < cur->nsvcs && !c; i++)
		if (!strcmp(cur->svcs[i].name, s->name))
			c = &cur->svcs[i];
	s->proto = c ? c->proto : POLICY_TCP;
	s->critical = c && c->critical;
	s->line = c ? c->line : 0;
	if (c && c->file && !(s->file = strdup(c->file)))
		return NULL;
	snprintf(pname, sizeof(pname), "%s_ports", s->name);
	ports = nm_table_find_set(t, pname);
	if (ports && ports->kind == NM_SET_PORTS && ports->nports) {
		s->ports = malloc(ports->nports * sizeof(*s->ports));
		if (!s->ports)
			return NULL;
		memcpy(s->ports, ports->ports, ports->nports * sizeof(*s->ports));
		s->nports = ports->nports;
	} else if (c && c->nports) {
		s->ports = malloc(c->nports * sizeof(*s->ports));
		if (!s->ports)
			return NULL;
		memcpy(s->ports, c->ports, c->nports * sizeof(*s->ports));
		s->nports = c->nports;
	}
	return s;
}

/*
 * The dispatch maps (in_tcp, in_udp, fwd_tcp, fwd_udp: port -> jump S_in /
 * S_fwd) say which ports and protocol each service has in t: they replace
 * what S_ports or the current policy said.
 */
static int ports_from_maps(const struct nm_table *t, struct policy *out)
{
	bool *seen = calloc(out->nsvcs + 1, sizeof(*seen));

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *m = &t->sets[i];
		bool udp = strstr(m->name, "_udp") != NULL;

		if (m->kind != NM_SET_PORTMAP)
			continue;
		for (size_t e = 0; e < m->nvmap; e++) {
			const char *chain = m->vmap[e].chain, *us = chain ? strrchr(chain, '_') : NULL;
			struct policy_service *s = NULL;
			size_t cap;

			if (!us)
				continue;
			for (size_t k = 0; k < out->nsvcs && !s; k++)
				if (strlen(out->svcs[k].name) == (size_t)(us - chain) &&
				    !strncmp(out->svcs[k].name, chain, (size_t)(us - chain)))
					s = &out->svcs[k];
			if (!s)
				continue;
			if (!seen[s - out->svcs]) {
				/* the first port the table gives: forget what was guessed */
				seen[s - out->svcs] = true;
				s->nports = 0;
			}
			s->proto = udp ? POLICY_UDP : POLICY_TCP;
			cap = s->nports;
			if (util_grow((void **)&s->ports, &cap, s->nports + 1, sizeof(*s->ports)) < 0) {
				free(seen);
				return -ENOMEM;
			}
			s->ports[s->nports++] = (uint16_t)m->vmap[e].r.lo;
		}
	}
	free(seen);
	return 0;
}

int impact_policy_from_table(struct nm_table *t, const struct policy *cur, struct policy *out)
{
	int rc = policy_init(out);

	if (rc < 0)
		return rc;
	out->hooks = 0;
	out->loopback = false;
	for (size_t i = 0; i < t->nchains; i++) {
		if (!t->chains[i].base)
			continue;
		if (!strcmp(t->chains[i].name, "input"))
			out->hooks |= POLICY_HOOK_INPUT;
		else if (!strcmp(t->chains[i].name, "forward"))
			out->hooks |= POLICY_HOOK_FORWARD;
	}
	for (size_t i = 0; i < t->nsets && !rc; i++) {
		struct nm_set *set = &t->sets[i];
		struct policy_service *s;
		enum cidr_family f;
		size_t len;

		if ((set->kind != NM_SET_V4 && set->kind != NM_SET_V6) ||
		    !allow_set_name(set->name, &len, &f))
			continue;
		s = table_svc(out, set->name, len, t, cur);
		if (!s)
			return -ENOMEM;
		if (set->lazy && (rc = nm_set_load(set)) < 0)
			return rc;
		for (size_t k = 0; k < set->ranges.n && !rc; k++)
			rc = rangeset_add(f == CIDR_V4 ? &s->v4 : &s->v6, set->ranges.r[k].lo,
					  set->ranges.r[k].hi);
	}
	for (size_t i = 0; i < out->nsvcs; i++) {
		rangeset_normalize(&out->svcs[i].v4);
		rangeset_normalize(&out->svcs[i].v6);
	}
	rc = rc ? rc : ports_from_maps(t, out);
	for (size_t i = 0; i < t->nrules; i++) {
		const struct nm_rule *r = &t->rules[i];

		if (r->fact.role == NM_ROLE_LOOPBACK ||
		    (r->text && !strcmp(r->chain, "input") && strstr(r->text, "iif \"lo\"") &&
		     strstr(r->text, "accept")))
			out->loopback = true;
		if (r->fact.role == NM_ROLE_OBSERVE && r->fact.service)
			for (size_t k = 0; k < out->nsvcs; k++)
				if (!strcmp(out->svcs[k].name, r->fact.service))
					out->svcs[k].mode = POLICY_MODE_OBSERVE;
	}
	return rc;
}

size_t impact_critical_msg(const struct policy *p, const struct impact *im, char *msg,
			   size_t len)
{
	size_t pos = 0, shown = 0;
	size_t last = SIZE_MAX;

	if (!len)
		return im->ncritical;
	msg[0] = '\0';
	if (!im->ncritical)
		return 0;
	if (im->ncritical == 1)
		util_appendf(msg, len, &pos, "1 established connection of a critical service would be cut");
	else
		util_appendf(msg, len, &pos, "%zu established connections of critical services would be cut",
		       im->ncritical);
	for (size_t i = 0; i < im->nconns; i++) {
		const struct impact_conn *c = &im->conns[i];
		const struct policy_service *s = &p->svcs[c->svc];
		char a[INET6_ADDRSTRLEN];

		if (!s->critical)
			continue;
		if (shown == IMPACT_SHOWN)
			break;
		if (c->svc != last)
			util_appendf(msg, len, &pos, "%s service '%s' (%s:%d): ", last == SIZE_MAX ? ":" : ";",
			       s->name, s->file ? s->file : "?", s->line);
		else
			util_appendf(msg, len, &pos, ", ");
		last = c->svc;
		cidr_addr_str(c->family, c->src, a, sizeof(a));
		util_appendf(msg, len, &pos, c->family == CIDR_V6 ? "[%s]:%u -> %u" : "%s:%u -> %u", a,
		       c->sport, c->port);
		shown++;
	}
	if (shown < im->ncritical)
		util_appendf(msg, len, &pos, "; and %zu more", im->ncritical - shown);
	return im->ncritical;
}
