/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * In-memory model of one nftables table: what portlock wants (built from the
 * policy by nft_build.c) and what the kernel has (read by nft_read.c). Both
 * sides use the same types so that nft_plan.c can compare them field by
 * field. Each rule carries its facts (struct nm_fact: what it means).
 */
#ifndef PORTLOCK_NFT_MODEL_H
#define PORTLOCK_NFT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct nftnl_rule;
struct diag;

/* nft's datatype numbers, as nft stores them in NFTA_SET_KEY_TYPE. */
/* verdict maps carry NFT_DATA_VERDICT as data type, as nft sends it */
#define NM_TYPE_VERDICT 0xffffff00u
#define NM_TYPE_IPADDR 7
#define NM_TYPE_IP6ADDR 8
#define NM_TYPE_INET_SERVICE 13
/* concatenations as nft numbers them: (a << 6) | b */
#define NM_TYPE_CONCAT(a, b) (((a) << 6) | (b))
#define NM_TYPE_SEEN4 NM_TYPE_CONCAT(NM_TYPE_IPADDR, NM_TYPE_INET_SERVICE)
#define NM_TYPE_SEEN6 NM_TYPE_CONCAT(NM_TYPE_IP6ADDR, NM_TYPE_INET_SERVICE)
/* fact.hook of a shard rule: reached from the service chains of both hooks */
#define NM_HOOK_ANY 0xffffffffu

enum nm_set_kind {
	NM_SET_OTHER,	/* anything portlock did not create: compared by definition only */
	NM_SET_PORTS,	/* inet_service, exact elements */
	NM_SET_V4,	/* ipv4_addr interval */
	NM_SET_V6,	/* ipv6_addr interval */
	NM_SET_VMAP4,	/* ipv4_addr interval -> verdict (shard map) */
	NM_SET_VMAP6,	/* ipv6_addr interval -> verdict (shard map) */
	NM_SET_PORTMAP,	/* inet_service -> verdict (dispatch map in_tcp...): vmap, r.lo = r.hi = port */
	NM_SET_TMP4,	/* ipv4_addr interval,timeout (S_tmp4): elements are portlock allow's, never drift */
	NM_SET_TMP6,	/* ipv6_addr interval,timeout (S_tmp6) */
	NM_SET_SEEN4,	/* ipv4_addr . inet_service dynamic,timeout, counter (S_seen4): filled by the packet path */
	NM_SET_SEEN6,	/* ipv6_addr . inet_service dynamic,timeout, counter (S_seen6) */
};

/* Sets whose elements are not portlock's to compare: never flushed, never re-added. */
static inline bool nm_set_kind_volatile(enum nm_set_kind k)
{
	return k == NM_SET_TMP4 || k == NM_SET_TMP6 || k == NM_SET_SEEN4 || k == NM_SET_SEEN6;
}

/* One element of a shard map: range -> jump <chain>. */
struct nm_vmap_elem {
	struct range r;
	char *chain;
};

struct nm_set {
	char *name;
	enum nm_set_kind kind;
	uint32_t flags;		/* NFT_SET_* */
	uint32_t key_type, key_len;
	uint32_t data_type, data_len;
	struct rangeset ranges;		/* V4/V6: normalized ranges as read */
	uint16_t *ports;		/* PORTS: sorted */
	size_t nports;
	struct nm_vmap_elem *vmap;	/* VMAP4/6: sorted by range */
	size_t nvmap;
	uint64_t timeout;		/* NFTNL_SET_TIMEOUT in ms (SEEN: the retention), 0 none */
	uint32_t size;			/* NFTNL_SET_DESC_SIZE, 0 none */
	bool counter;			/* one set expression: counter (per-element counters) */
	size_t nelems;			/* elements as the kernel counts them */
	bool unparsed;			/* had elements portlock could not interpret */
	bool anonymous;			/* NFT_SET_ANONYMOUS (bound to one rule) */
	char *raw;			/* NM_SET_OTHER from a saved table: NEWSET + NEWSETELEM messages */
	size_t rawlen, rawcap;
	char *label;			/* desired only: what to blame for errors */
	/*
	 * V4/V6 only: the content's identity, setobj_digest() of ranges (valid
	 * when has_digest). A lazy set has not loaded its ranges: they are in
	 * the object file objpath (a journal object whose SHA-256 is digest),
	 * read by nm_set_load() when needed. nelems is known either way.
	 */
	bool has_digest;
	bool lazy;
	uint8_t digest[32];
	char *objpath;
	/* ranges belong to someone else (a compiled policy that outlives the table): not freed */
	bool borrowed;
};

struct nm_chain {
	char *name;
	bool base;
	char *type;		/* "filter" */
	uint32_t hooknum;	/* NF_INET_* */
	int32_t prio;
	uint32_t policy;	/* NF_ACCEPT / NF_DROP */
	uint64_t handle;
};

/*
 * What a rule means. nft_build() sets it on every rule it makes; nft_read()
 * recognises portlock's own rule shapes from the expressions into the same
 * fields. Anything else is NM_ROLE_FOREIGN: kept as-is, shown in nft syntax.
 * The planner, the audit and the statistics read these facts, never rule
 * text.
 */
enum nm_role {
	NM_ROLE_FOREIGN = 0,	/* not one of portlock's shapes */
	NM_ROLE_LOOPBACK,	/* iif "lo" accept */
	NM_ROLE_DISPATCH,	/* destination port -> the service's chain (verdict map) */
	NM_ROLE_ALLOW,		/* source in the allowlist set -> accept */
	NM_ROLE_ALLOW_MAP,	/* source -> shard chain (shard verdict map) */
	NM_ROLE_SHARD,		/* in a shard chain: source in the shard's set -> accept */
	NM_ROLE_TEMP,		/* source in the temporary set (allow --for) -> accept */
	NM_ROLE_SEEN,		/* update @<svc>_seen<4|6> { source . port } */
	NM_ROLE_LOG,		/* limit + log of a source outside the allowlist */
	NM_ROLE_REFUSE,		/* drop or reject (enforce mode) */
	NM_ROLE_OBSERVE,	/* accept what enforce would refuse (observe mode) */
};

struct nm_fact {
	enum nm_role role;
	char *service;		/* the service, NULL for LOOPBACK, DISPATCH and FOREIGN */
	bool has_family;	/* the rule is for one family only */
	enum cidr_family family;
	uint32_t hook;		/* NF_INET_LOCAL_IN or NF_INET_FORWARD: where the rule is reached from */
	char *set;		/* the set or map looked up (SEEN: updated), NULL if none */
	int verdict;		/* NF_ACCEPT, NF_DROP, NFT_JUMP, NFT_GOTO, or -1 (none) */
	bool reject;		/* NF_DROP by a reject expression */
	bool has_counter;	/* the rule has a counter; live rules: its values */
	uint64_t packets, bytes;
	/*
	 * The parameters that make the rule's expressions (nft_build_rule()):
	 * l4proto (IPPROTO_TCP/UDP) for DISPATCH, SEEN on the forward hook and
	 * a REFUSE by reject; the LOG rule's prefix and rate (limit rate
	 * log_rate per log_unit seconds).
	 */
	uint8_t l4proto;
	char *log_prefix;
	uint64_t log_rate, log_unit;
};

/* Release the strings of f (not f itself). */
void nm_fact_fini(struct nm_fact *f);
/* Canonical text of what the fact builds (the planner's key). Caller frees. */
char *nm_fact_key(const struct nm_fact *f);
const char *nm_role_str(enum nm_role r);

struct nm_rule {
	char *chain;
	struct nm_fact fact;
	uint64_t handle;	/* live only */
	char *key;		/* canonical comparison key */
	char *text;		/* nft syntax (or libnftnl notation for foreign parts) */
	struct nftnl_rule *nr;	/* desired only: the object to send */
	char *label;		/* desired only */
};

struct nm_table {
	char *name;
	/*
	 * The table's comment (userdata NFTNL_UDATA_TABLE_COMMENT), NULL when it
	 * has none: portlock's marker "portlock:<state dir id>" (statestore.h)
	 * on the tables it creates, whatever it is on a table read.
	 */
	char *comment;
	bool exists;
	uint32_t flags;
	uint64_t handle;
	struct nm_chain *chains;
	size_t nchains, cchains;
	struct nm_set *sets;
	size_t nsets, csets;
	struct nm_rule *rules;	/* grouped by chain, in chain order */
	size_t nrules, crules;
	/* name lookups: indices sorted by name, built on demand (a table has hundreds of shards) */
	size_t *set_ix, nset_ix, *chain_ix, nchain_ix;
};

/* A base chain of another table on a hook portlock also uses (or prerouting). */
struct nm_foreign_hook {
	char *family;
	char *table;
	char *chain;
	char *type;		/* "filter", "nat", "route" */
	uint32_t hooknum;
	int32_t prio;
	uint32_t policy;
	uint32_t table_flags;
};

struct nm_live {
	uint32_t genid;
	struct nm_table t;
	struct nm_foreign_hook *foreign;
	size_t nforeign, cforeign;
	/*
	 * raw NEW* messages of our table as dumped (for the journal), if asked;
	 * without the elements of range sets (NM_SET_V4/V6 not unparsed), which
	 * the journal keeps as ranges (nft_ranges_blob())
	 */
	char *raw;
	size_t rawlen, rawcap;
	/* sets whose ranges came from a cache (nft_read_cache), and its id */
	size_t ncached;
	uint64_t cache_id;
};

void nm_table_init(struct nm_table *t, const char *name);
void nm_table_fini(struct nm_table *t);
void nm_live_fini(struct nm_live *l);

struct nm_chain *nm_table_add_chain(struct nm_table *t);
struct nm_set *nm_table_add_set(struct nm_table *t);
struct nm_rule *nm_table_add_rule(struct nm_table *t);
struct nm_set *nm_table_find_set(const struct nm_table *t, const char *name);
struct nm_chain *nm_table_find_chain(const struct nm_table *t, const char *name);

/*
 * Load a lazy set's ranges (no-op for a set that is not lazy). Returns 0,
 * or -errno (-ENOENT: the object is gone; -EBADMSG: damaged).
 */
int nm_set_load(struct nm_set *s);
/* Move src's ranges (or its lazy reference) and digest into dst; src keeps none. */
void nm_set_take(struct nm_set *dst, struct nm_set *src);
/* Load every lazy set of t; the first failure is returned, naming nothing. */
int nm_table_load(struct nm_table *t);
/* Compute s->digest from its ranges when it has none (V4/V6, loaded). 0 or -ENOMEM. */
int nm_set_compute_digest(struct nm_set *s);
/* Family of a V4/V6 (or VMAP) set. */
static inline enum cidr_family nm_set_family(const struct nm_set *s)
{
	if (s->kind == NM_SET_V4 || s->kind == NM_SET_VMAP4)
		return CIDR_V4;
	if (s->kind == NM_SET_V6 || s->kind == NM_SET_VMAP6)
		return CIDR_V6;
	return s->key_len == 4 ? CIDR_V4 : CIDR_V6;
}

/* Hook names for display. */
const char *nm_hook_str(uint32_t hooknum);

/* Text of a rule's expressions, libnftnl notation, whole; counters zeroed. Caller frees. */
char *nm_rule_key(struct nftnl_rule *r);

/* nft-like text of a rule. NM_TEXT_NO_COUNTERS prints a bare "counter". Caller frees. */
#define NM_TEXT_NO_COUNTERS 1u
char *nm_rule_text(struct nftnl_rule *r, unsigned flags);

/* Chain definition as nft prints it: "type filter hook input priority filter - 10; policy accept;" */
void nm_chain_def_str(const struct nm_chain *c, char *buf, size_t len);
/* Set definition: "type ipv4_addr; flags interval;" */
void nm_set_def_str(const struct nm_set *s, char *buf, size_t len);

#endif
