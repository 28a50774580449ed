/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The connection tracking table of the caller's network namespace, read over
 * ctnetlink (NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET dump) through nl.c:
 * the flows a firewall change could cut. Only live flows are kept:
 *   - TCP in state ESTABLISHED (CTA_PROTOINFO_TCP_STATE);
 *   - UDP marked ASSURED (traffic seen both ways: a "session").
 * Each flow keeps its original tuple (the client's view: orig.dport is the
 * port the client asked for, the one portlock's forward hook matches as
 * `ct original proto-dst`) and whether its destination was translated
 * (IPS_DST_NAT: DNAT, a published port).
 *
 * The table only holds what conntrack tracks: in a namespace where nothing
 * loaded conntrack (no ct expression, no NAT) it is empty, which is not an
 * error. Local connections are better found with sock_diag (listen.h).
 */
#ifndef PORTLOCK_NL_CT_H
#define PORTLOCK_NL_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct diag;

struct ct_flow {
	enum cidr_family family;
	uint8_t proto;			/* IPPROTO_TCP / IPPROTO_UDP */
	u128 src, dst;			/* original direction, host order */
	uint16_t sport, dport;		/* original direction, host order */
	u128 reply_src;			/* where the reply comes from: the DNAT target */
	uint16_t reply_sport;
	bool dnat;			/* IPS_DST_NAT */
	bool assured;			/* IPS_ASSURED */
	uint8_t tcp_state;		/* TCP_CONNTRACK_*; 0 for UDP */
};

struct ct_list {
	struct ct_flow *v;
	size_t n, cap;
};

void ct_list_init(struct ct_list *l);
void ct_list_fini(struct ct_list *l);

/*
 * Dump the namespace's conntrack table: established TCP and assured UDP
 * flows, IPv4 and IPv6, appended to *out. A dump interrupted by a change
 * is retried. Returns 0; -ENOENT/-EOPNOTSUPP when the kernel has no
 * ctnetlink (nothing recorded: the caller says conntrack is unavailable);
 * another -errno recorded in d.
 */
int ct_dump(struct ct_list *out, struct diag *d);

#endif
