/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a change to the ruleset would cut, judged before it is made (portlock(8),
 * IMPACT): per service of the desired policy,
 *   - the established connections whose source the new allowlist does not
 *     hold (service in enforce mode): local ones from sock_diag (listen.h),
 *     forwarded/DNAT ones from conntrack (nl_ct.h);
 *   - the observed sources (the seen sets) it would start refusing.
 * A source in the service's temporary set (S_tmp4/S_tmp6 of the live table,
 * `portlock allow --for`) stays allowed: it is not cut. Loopback clients are
 * not cut when the policy exempts loopback.
 *
 * Which path a connection takes decides which hook can cut it:
 *   - to a local socket (sock_diag; or a conntrack flow to a local address,
 *     after DNAT included): the input hook, matched on the port the socket
 *     has (tcp/udp dport after DNAT);
 *   - DNAT'ed to another host (conntrack, IPS_DST_NAT, destination not
 *     local): the forward hook, matched on the port the client asked for
 *     (ct original proto-dst).
 * Flows this host opened itself (source local) pass neither and are left out.
 *
 * The engine returns data (struct impact); the commands render it
 * (impact_render_text(), impact_render_json()). It never prints.
 */
#ifndef PORTLOCK_IMPACT_H
#define PORTLOCK_IMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cidr.h"
#include "listen.h"
#include "nl_ct.h"
#include "policy.h"
#include "seen.h"

struct diag;
struct nm_table;

/* An established connection the change would cut. */
struct impact_conn {
	size_t svc;			/* index into the policy's services */
	enum policy_proto proto;
	enum cidr_family family;	/* the client's (a v4-mapped peer counts as IPv4) */
	u128 src;			/* the client */
	uint16_t sport;
	uint16_t port;			/* the service port the rule matches */
	bool forwarded;			/* forward hook (DNAT to another host), from conntrack */
	bool dnat;			/* the destination was translated */
	u128 to;			/* DNAT: where the connection really goes */
	uint16_t to_port;
};

/* An observed source (seen set element) the new policy would start refusing. */
struct impact_seen {
	size_t svc;
	enum cidr_family family;
	u128 src;
	uint16_t port;
	uint64_t packets, bytes;
	int64_t last_seen;		/* unix time; 0: unknown */
};

/* An element of a service's seen set (S_seen4/6) or temporary set (S_tmp4/6). */
struct impact_entry {
	const char *service;
	struct seen_entry e;		/* seen.h: tmp ranges are e.addr .. e.last */
};

/* The kernel's view the judgement is made against. */
struct impact_state {
	struct listen_set sockets;	/* TCP listeners and established connections */
	struct ct_list flows;		/* conntrack: established TCP, assured UDP */
	u128 *local4, *local6;		/* this namespace's own addresses */
	size_t nlocal4, nlocal6;
	bool sockets_ok;		/* sock_diag could be read */
	bool conntrack_ok;		/* ctnetlink could be read */
	char conntrack_why[160];	/* !conntrack_ok: why */
	struct impact_entry *seen;	/* the seen sets (service names: the policy's) */
	size_t nseen, cseen;
	struct impact_entry *tmp;	/* the temporary sets */
	size_t ntmp, ctmp;
	bool seen_ok;			/* every seen and temporary set could be read */
	char seen_why[160];		/* !seen_ok: why */
};

struct impact {
	bool judged;			/* impact_judge() ran (plan not empty) */
	struct impact_conn *conns;	/* sorted by service, port, source */
	size_t nconns, cconns;
	struct impact_seen *seen;	/* sorted by service, source */
	size_t nseen, cseen;
	size_t ncritical;		/* connections of conns on critical services */
	bool sockets_ok, conntrack_ok, seen_ok;
	char conntrack_why[160], seen_why[160];
};

void impact_state_init(struct impact_state *st);
void impact_state_fini(struct impact_state *st);
/*
 * Read the sockets, the conntrack table and the local addresses of the
 * caller's network namespace, and the seen and temporary sets of p's
 * services in table inet <p->table> (seen.h; service names point into p).
 * Conntrack or sets that cannot be read are not an error (conntrack_ok /
 * seen_ok false, *_why says why; a set that does not exist is simply
 * empty); sockets that cannot be read are (-errno recorded in d).
 * Only the sets that can matter are read (see impact.c, sets_wanted()):
 * live (may be NULL) is the table in force.
 */
int impact_state_read(struct impact_state *st, const struct policy *p,
		      const struct nm_table *live, struct diag *d);

void impact_init(struct impact *im);
void impact_fini(struct impact *im);

/*
 * Judge the state against policy p (its services, modes, allowlists,
 * hooks, loopback exemption); live (may be NULL): the table in force, for
 * the services' current modes (its rule facts: a seen source of a service
 * that refuses today is not newly refused).
 * Pure. Returns 0 or -ENOMEM.
 */
int impact_judge(const struct policy *p, const struct nm_table *live,
		 const struct impact_state *st, struct impact *out);

/*
 * The policy a table enforces, as far as the impact needs it (revert
 * --dry-run judges the table it would restore): a service per allowlist
 * (sets S_v4/S_v6 and their shards S_v4_<block>_<len>), with its ports and
 * protocol from the dispatch maps (in_tcp, in_udp, fwd_tcp, fwd_udp: port
 * -> S_in / S_fwd), else from a set S_ports, else from the same service of
 * cur; its criticality and declaration from cur (may be NULL: not critical);
 * observe mode where the table's rule facts say so; the hooks its base
 * chains use; the loopback exemption when the input chain has one. Lazy
 * sets of t are loaded. *out is initialized here; policy_fini() it.
 * Returns 0 or -errno (-ENOMEM, or a saved set that cannot be loaded).
 */
int impact_policy_from_table(struct nm_table *t, const struct policy *cur, struct policy *out);

/* impact_state_read() + impact_judge(). */
int impact_run(const struct policy *p, const struct nm_table *live, struct impact *out,
	       struct diag *d);

/*
 * The connections of im on critical services, for a refusal:
 * "N established connections of critical services would be cut: service
 * 'smpp' (file:line): 10.50.0.10:40122 -> 2775, ...". Returns im->ncritical.
 */
size_t impact_critical_msg(const struct policy *p, const struct impact *im, char *msg,
			   size_t len);

#endif
