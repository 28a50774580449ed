/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small evaluator of nf_tables chains against a symbolic packet, for the
 * audit: "does a new connection from a remote source to port P (tcp/udp,
 * IPv4/IPv6) get through every base chain on the hooks it crosses, and from
 * which sources?". It reads the rules' libnftnl expressions, never their
 * text, and works on the rules of every table (portlock's and anyone
 * else's) the same way.
 *
 * The packet: family (NFPROTO_IPV4/6), l4 protocol, destination port, a new
 * connection (ct state new, no NAT status), arriving on an interface that
 * is not "lo"; its source is symbolic: the set of addresses still possible
 * (a rangeset over the family's address space), narrowed by saddr matches
 * (cmp, range, bitwise prefix masks, lookups into interval sets and
 * verdict maps).
 *
 * Understood: meta nfproto/l4proto/protocol/pkttype/iif/iifname (only "lo":
 * the packet never comes in on it), payload network header saddr and
 * protocol, transport header dport, ct state/status/direction/l3proto/
 * protocol/proto-dst, cmp, range, bitwise masks, lookup (set or verdict map,
 * anonymous or named), immediate verdicts (accept, drop, jump, goto,
 * return, continue), reject, and counter/log/limit/dynset/quota/objref/
 * meta or ct "set" statements (no effect on the verdict). Base chain
 * policies. Anything else that can decide a verdict for some sources makes
 * those sources "not evaluated": never counted as reachable or dropped.
 *
 * Netfilter semantics: a packet crosses every base chain registered on each
 * hook it passes (prerouting, then input, or forward for a packet a DNAT
 * sent to another host: ne_packet.forward), in priority order; a drop in any
 * of them is final, an accept only ends that base chain. So the reachable
 * sources are the intersection of the sources each base chain accepts.
 */
#ifndef PORTLOCK_NFT_EVAL_H
#define PORTLOCK_NFT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct nl_sock;
struct diag;
struct nftnl_rule;

/* One set as the evaluator needs it: intervals of the key (big-endian bytes as a number). */
struct ne_elem {
	u128 lo, hi;
	int verdict;		/* maps with verdict data: NF_ACCEPT, NF_DROP, NFT_JUMP, ... */
	char *chain;		/* jump/goto target */
};

struct ne_set {
	char *name;
	uint32_t flags, key_len, data_type;
	struct ne_elem *el;	/* sorted by lo, disjoint */
	size_t nel;
	bool loaded;		/* elements read */
	bool unparsed;		/* elements it could not take (concatenated intervals, ...) */
};

struct ne_chain {
	char *name;
	bool base;
	char *type;		/* "filter", "nat", "route" */
	uint32_t hooknum;
	int32_t prio;
	uint32_t policy;	/* NF_ACCEPT / NF_DROP */
	struct nftnl_rule **rules;
	size_t nrules, crules;
};

struct ne_table {
	uint32_t family;	/* NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6, ... */
	char *name;
	bool portlock;		/* one of portlock's tables (listed in the state dir or marked) */
	struct ne_chain *chains;
	size_t nchains, cchains;
	struct ne_set *sets;
	size_t nsets, csets;
};

struct ne_world {
	struct ne_table *t;
	size_t n, cap;
};

/*
 * Read every table of the families inet, ip and ip6 that has a base chain
 * on prerouting, input or forward: its chains, rules and the sets its rules
 * look up. Returns 0 or -errno recorded in d.
 */
int ne_world_load(struct nl_sock *s, struct ne_world *w, struct diag *d);
void ne_world_fini(struct ne_world *w);

/* Building by hand (unit tests): tables, chains, sets; rules are taken (freed by fini). */
struct ne_table *ne_world_add_table(struct ne_world *w, uint32_t family, const char *name);
struct ne_chain *ne_table_add_chain(struct ne_table *t, const char *name);
int ne_chain_add_rule(struct ne_chain *c, struct nftnl_rule *r);
struct ne_set *ne_table_add_set(struct ne_table *t, const char *name, uint32_t key_len);
int ne_set_add(struct ne_set *s, u128 lo, u128 hi, int verdict, const char *chain);

struct ne_packet {
	enum cidr_family family;
	bool udp;
	uint16_t dport;
	/*
	 * dnat: the packet as a translation on prerouting (ne_nat()) left it:
	 * the nat chains are not evaluated again; chains after dstnat priority
	 * see the transport port to_port (0: unchanged) and ct status dnat;
	 * ct original proto-dst stays dport.
	 */
	bool dnat;
	uint16_t to_port;
	bool forward;		/* crosses forward instead of input (a DNAT to another host) */
};

enum ne_state {
	NE_OPEN,		/* every source gets through */
	NE_RESTRICTED,		/* only some sources (reach) */
	NE_CLOSED,		/* no source gets through */
	NE_UNKNOWN,		/* a rule it could not evaluate decides for (some of) the rest */
};

struct ne_result {
	enum ne_state state;
	/*
	 * Sources that may get through (accepted, or not evaluated), normalized:
	 * an upper bound. partial: part of it was not evaluated.
	 */
	struct rangeset reach;
	bool partial;
	/* the first rule that dropped some sources, when one did */
	char drop_family[8], drop_table[64], drop_chain[64];
	char drop_set[64];	/* the source set that rule looked up, or "" */
	char drop_rule[256];	/* its text */
	uint64_t drop_handle;	/* its handle (0: the chain's policy, or a rule built by hand) */
	bool drop_portlock;	/* in one of portlock's tables */
	/* the first rule it could not evaluate that decides for some sources */
	char unknown[320];
};

/*
 * Evaluate the packet over every base chain of prerouting and input (or
 * forward). out is released with ne_result_fini().
 */
int ne_eval(const struct ne_world *w, const struct ne_packet *p, struct ne_result *out);

/* What the nat chains on prerouting (type nat, any table the family crosses) do to the packet. */
enum ne_nat_kind {
	NE_NAT_NONE,		/* no translation */
	NE_NAT_DNAT,		/* dnat to another address: the packet goes to forward */
	NE_NAT_LOCAL,		/* redirect, or a dnat of the port only: the packet stays local, to port to_port */
	NE_NAT_UNKNOWN,		/* a rule it cannot evaluate may translate it: not evaluated */
};

struct ne_nat {
	enum ne_nat_kind kind;
	bool some;		/* DNAT/LOCAL: only some sources are translated */
	char to[96];		/* DNAT: the address (or range) it translates to */
	uint16_t to_port;	/* the port it translates to; 0: unchanged */
	char family[8], table[64], chain[64];	/* the rule that translates */
	uint64_t handle;
	char rule[256];		/* its text */
	char why[320];		/* UNKNOWN: the rule it could not evaluate */
};

/*
 * The first translation the nat chains on prerouting make for the packet
 * (nat and redir statements after matches it understands), in priority
 * order. Pure: reads w only. Returns 0 or -ENOMEM.
 */
int ne_nat(const struct ne_world *w, const struct ne_packet *p, struct ne_nat *out);

/*
 * The ports that rules with a dnat or redirect statement in tables with a
 * nat chain on prerouting match: their "dport P", "dport A-B" or
 * "dport @set" (each element), else every port (0-65535), and their
 * "meta l4proto"/"ip protocol" (any_proto when none). Candidates for
 * ne_nat(), which decides; *out is malloc'ed. Returns 0 or -ENOMEM.
 */
struct ne_nat_port {
	bool any_proto, udp;
	uint16_t lo, hi;
	uint64_t handle;
	char rule[320];		/* "table ip nat chain pre: tcp dport 2775 dnat ip to 10.0.0.9" */
};

int ne_nat_ports(const struct ne_world *w, struct ne_nat_port **out, size_t *nout);
void ne_result_fini(struct ne_result *r);
const char *ne_state_str(enum ne_state s);

#endif
