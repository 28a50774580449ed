// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Desired-state builder: policy -> nm_table with libnftnl rule objects that
 * mirror, expression for expression, what nft generates for the same text
 * (so `nft -f` of the export and `portlock apply` load identical rules).
 */
#include "nft_build.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "layout.h"
#include "nft_model.h"
#include "policy.h"
#include "statestore.h"
#include "util.h"

static uint32_t hook_of(const char *chain);

struct bctx {
	const struct policy *p;
	struct nm_table *t;
	size_t shard_max;
	int err;
};

static struct nftnl_expr *ex(const char *name)
{
	return nftnl_expr_alloc(name);
}

static void add(struct nftnl_rule *r, struct nftnl_expr *e, int *err)
{
	if (!e) {
		*err = -ENOMEM;
		return;
	}
	nftnl_rule_add_expr(r, e);
}

static void e_meta(struct nftnl_rule *r, uint32_t key, int *err)
{
	struct nftnl_expr *e = ex("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	add(r, e, err);
}

static void e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len, int *err)
{
	struct nftnl_expr *e = ex("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	add(r, e, err);
}

static void e_payload_to(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
			 uint32_t dreg, int *err);

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, int *err)
{
	e_payload_to(r, base, off, len, NFT_REG_1, err);
}

static void e_lookup(struct nftnl_rule *r, const char *set, bool inv, bool vmap, int *err)
{
	struct nftnl_expr *e = ex("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		if (vmap)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, inv ? NFT_LOOKUP_F_INV : 0);
	}
	add(r, e, err);
}

static void e_verdict(struct nftnl_rule *r, int verdict, const char *chain, int *err)
{
	struct nftnl_expr *e = ex("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	add(r, e, err);
}

static void e_counter(struct nftnl_rule *r, int *err)
{
	add(r, ex("counter"), err);
}

/* "meta nfproto ipv4|ipv6" + "ip saddr"/"ip6 saddr" load into reg 1 */
static void match_saddr(struct nftnl_rule *r, enum cidr_family f, int *err)
{
	uint8_t nfp = f == CIDR_V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;

	e_meta(r, NFT_META_NFPROTO, err);
	e_cmp(r, NFT_CMP_EQ, &nfp, 1, err);
	if (f == CIDR_V4)
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, err);
	else
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, err);
}

static void match_nfproto(struct nftnl_rule *r, enum cidr_family f, int *err)
{
	uint8_t nfp = f == CIDR_V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;

	e_meta(r, NFT_META_NFPROTO, err);
	e_cmp(r, NFT_CMP_EQ, &nfp, 1, err);
}

static void e_payload_to(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
			 uint32_t dreg, int *err)
{
	struct nftnl_expr *e = ex("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	add(r, e, err);
}

static void e_ct(struct nftnl_rule *r, uint32_t key, int dir, uint32_t dreg, int *err)
{
	struct nftnl_expr *e = ex("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		if (dir >= 0)
			nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t)dir);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	}
	add(r, e, err);
}

static void match_l4proto(struct nftnl_rule *r, uint8_t l4, int *err)
{
	e_meta(r, NFT_META_L4PROTO, err);
	e_cmp(r, NFT_CMP_EQ, &l4, 1, err);
}

/* "ct direction original ct status dnat meta l4proto P": a DNAT-published connection, client side */
static void match_dnat(struct nftnl_rule *r, uint8_t l4, int *err)
{
	struct nftnl_expr *e;
	uint32_t mask = IPS_DST_NAT, zero = 0;
	uint8_t dir = IP_CT_DIR_ORIGINAL;

	/*
	 * Only the client->server direction: replies of a published
	 * connection carry the same original proto-dst and the container's
	 * source address, and must pass.
	 */
	e_ct(r, NFT_CT_DIRECTION, -1, NFT_REG_1, err);
	e_cmp(r, NFT_CMP_EQ, &dir, 1, err);
	e_ct(r, NFT_CT_STATUS, -1, NFT_REG_1, err);
	e = ex("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	add(r, e, err);
	e_cmp(r, NFT_CMP_NEQ, &zero, 4, err);
	match_l4proto(r, l4, err);
}

static void e_dynset_update(struct nftnl_rule *r, const char *set, int *err)
{
	struct nftnl_expr *e = ex("dynset");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
		nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
		/* 0: the set's timeout; the kernel reports it, say it so that dumps compare */
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, 0);
	}
	add(r, e, err);
}

static void act_log(struct nftnl_rule *r, const struct nm_fact *f, int *err)
{
	struct nftnl_expr *e = ex("limit");

	if (e) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, f->log_rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, f->log_unit);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, 5);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
	}
	add(r, e, err);
	e = ex("log");
	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, f->log_prefix);
		/* the kernel reports its default level (4, warning) in dumps: say it */
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_LEVEL, 4);
	}
	add(r, e, err);
}

/* "[meta l4proto tcp] meta nfproto F counter drop|reject ...", as nft makes it */
static void act_refuse(struct nftnl_rule *r, const struct nm_fact *f, int *err)
{
	struct nftnl_expr *e;

	if (!f->reject) {
		match_nfproto(r, f->family, err);
		e_counter(r, err);
		e_verdict(r, NF_DROP, NULL, err);
		return;
	}
	/* a TCP reset needs the protocol (nft adds it); ICMP needs the family */
	if (f->l4proto == IPPROTO_TCP)
		match_l4proto(r, IPPROTO_TCP, err);
	match_nfproto(r, f->family, err);
	e_counter(r, err);
	e = ex("reject");
	if (e) {
		if (f->l4proto == IPPROTO_TCP) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
			nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
		} else {
			/* port unreachable: ICMP code 3, ICMPv6 code 4 */
			nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
			nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, f->family == CIDR_V4 ? 3 : 4);
		}
	}
	add(r, e, err);
}

void nft_svc_chain(char *buf, size_t len, const char *svc, uint32_t hook)
{
	snprintf(buf, len, "%s_%s", svc, hook == NF_INET_FORWARD ? "fwd" : "in");
}

const char *nft_dispatch_map(uint32_t hook, uint8_t l4proto)
{
	if (hook == NF_INET_FORWARD)
		return l4proto == IPPROTO_UDP ? "fwd_udp" : "fwd_tcp";
	return l4proto == IPPROTO_UDP ? "in_udp" : "in_tcp";
}

/* Whether f holds what its role needs to be built (a foreign rule never is). */
static bool fact_buildable(const struct nm_fact *f)
{
	bool fwd = f->hook == NF_INET_FORWARD;

	switch (f->role) {
	case NM_ROLE_FOREIGN:
		return false;
	case NM_ROLE_LOOPBACK:
		return true;
	case NM_ROLE_LOG:
		return f->log_prefix && f->log_rate && f->log_unit;
	case NM_ROLE_REFUSE:
		return f->has_family && !(f->reject && f->l4proto != IPPROTO_TCP && f->l4proto != IPPROTO_UDP);
	case NM_ROLE_OBSERVE:
		return f->has_family;
	case NM_ROLE_DISPATCH:
		return f->set && (f->l4proto == IPPROTO_TCP || f->l4proto == IPPROTO_UDP);
	default:
		if (!f->set || !f->has_family)
			return false;
		return !(f->role == NM_ROLE_SEEN && fwd && f->l4proto != IPPROTO_TCP &&
			 f->l4proto != IPPROTO_UDP);
	}
}

/* The expressions of f's role into r; *err set on failure. */
static void put_role(struct nftnl_rule *r, const struct nm_fact *f, int *err)
{
	bool fwd = f->hook == NF_INET_FORWARD;
	uint32_t portreg = f->family == CIDR_V4 ? NFT_REG32_01 : NFT_REG_2;

	switch (f->role) {
	case NM_ROLE_FOREIGN:
		break;
	case NM_ROLE_LOOPBACK: {
		uint32_t lo = 1;	/* "lo" is ifindex 1 in every network namespace */

		e_meta(r, NFT_META_IIF, err);
		e_cmp(r, NFT_CMP_EQ, &lo, 4, err);
		e_verdict(r, NF_ACCEPT, NULL, err);
		break;
	}
	case NM_ROLE_DISPATCH:
		if (fwd) {
			match_dnat(r, f->l4proto, err);
			e_ct(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, NFT_REG_1, err);
		} else {
			match_l4proto(r, f->l4proto, err);
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, err);
		}
		e_lookup(r, f->set, false, true, err);
		break;
	case NM_ROLE_ALLOW:
	case NM_ROLE_SHARD:
	case NM_ROLE_TEMP:
		match_saddr(r, f->family, err);
		e_lookup(r, f->set, false, false, err);
		e_counter(r, err);
		e_verdict(r, NF_ACCEPT, NULL, err);
		break;
	case NM_ROLE_ALLOW_MAP:
		match_saddr(r, f->family, err);
		e_lookup(r, f->set, false, true, err);
		break;
	case NM_ROLE_SEEN:
		if (fwd)
			match_l4proto(r, f->l4proto, err);
		match_saddr(r, f->family, err);
		if (fwd)
			e_ct(r, NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL, portreg, err);
		else
			e_payload_to(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, portreg, err);
		e_dynset_update(r, f->set, err);
		break;
	case NM_ROLE_LOG:
		act_log(r, f, err);
		break;
	case NM_ROLE_REFUSE:
		act_refuse(r, f, err);
		break;
	case NM_ROLE_OBSERVE:
		match_nfproto(r, f->family, err);
		e_counter(r, err);
		e_verdict(r, NF_ACCEPT, NULL, err);
		break;
	}
}

struct nftnl_rule *nft_build_rule(const char *table, const char *chain, const struct nm_fact *f)
{
	struct nftnl_rule *r;
	int err = 0;

	if (!fact_buildable(f))
		return NULL;
	r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	put_role(r, f, &err);
	if (err) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

static char *svc_label(const struct policy_service *s)
{
	char *l = NULL;

	if (asprintf(&l, "service '%s' (%s:%d)", s->name, s->file ? s->file : "?", s->line) < 0)
		return NULL;
	return l;
}

static int fact_copy(struct nm_fact *dst, const struct nm_fact *src)
{
	*dst = *src;
	dst->service = src->service ? strdup(src->service) : NULL;
	dst->set = src->set ? strdup(src->set) : NULL;
	dst->log_prefix = src->log_prefix ? strdup(src->log_prefix) : NULL;
	if ((src->service && !dst->service) || (src->set && !dst->set) ||
	    (src->log_prefix && !dst->log_prefix))
		return -ENOMEM;
	return 0;
}

/* Append the rule of fact f to chain (s: the service, for messages; NULL: the table's own). */
static void push_rule(struct bctx *b, const char *chain, const struct nm_fact *f,
		      const struct policy_service *s)
{
	struct nftnl_rule *r;
	struct nm_rule *mr;

	if (b->err)
		return;
	r = nft_build_rule(b->t->name, chain, f);
	mr = r ? nm_table_add_rule(b->t) : NULL;
	if (!mr) {
		if (r)
			nftnl_rule_free(r);
		b->err = -ENOMEM;
		return;
	}
	mr->nr = r;
	mr->chain = strdup(chain);
	if (fact_copy(&mr->fact, f) < 0)
		b->err = -ENOMEM;
	mr->key = nm_fact_key(&mr->fact);
	mr->text = nm_rule_text(r, NM_TEXT_NO_COUNTERS);
	mr->label = s ? svc_label(s)
		      : strdup(f->role == NM_ROLE_LOOPBACK ? "loopback exemption" : "port dispatch");
	if (!mr->chain || !mr->key || !mr->text || !mr->label)
		b->err = -ENOMEM;
}

static struct nm_set *push_set(struct bctx *b, const char *name, enum nm_set_kind kind,
			       const struct policy_service *s)
{
	struct nm_set *ms = nm_table_add_set(b->t);

	if (!ms) {
		b->err = -ENOMEM;
		return NULL;
	}
	ms->name = strdup(name);
	ms->kind = kind;
	switch (kind) {
	case NM_SET_PORTS:
		ms->key_type = NM_TYPE_INET_SERVICE;
		ms->key_len = 2;
		break;
	case NM_SET_PORTMAP:
		ms->key_type = NM_TYPE_INET_SERVICE;
		ms->key_len = 2;
		ms->flags = NFT_SET_MAP;
		ms->data_type = NM_TYPE_VERDICT;
		break;
	case NM_SET_V4:
	case NM_SET_VMAP4:
	case NM_SET_TMP4:
		ms->key_type = NM_TYPE_IPADDR;
		ms->key_len = 4;
		ms->flags = NFT_SET_INTERVAL;
		break;
	case NM_SET_V6:
	case NM_SET_VMAP6:
	case NM_SET_TMP6:
		ms->key_type = NM_TYPE_IP6ADDR;
		ms->key_len = 16;
		ms->flags = NFT_SET_INTERVAL;
		break;
	case NM_SET_SEEN4:
	case NM_SET_SEEN6:
		/* "ipv4_addr . inet_service": the port takes a whole 32-bit register */
		ms->key_type = kind == NM_SET_SEEN4 ? NM_TYPE_SEEN4 : NM_TYPE_SEEN6;
		ms->key_len = kind == NM_SET_SEEN4 ? 8 : 20;
		ms->flags = NFT_SET_EVAL | NFT_SET_TIMEOUT;
		ms->timeout = (uint64_t)s->retention * 1000;
		ms->size = NFT_BUILD_SEEN_SIZE;
		ms->counter = true;
		break;
	default:
		break;
	}
	if (kind == NM_SET_TMP4 || kind == NM_SET_TMP6)
		ms->flags |= NFT_SET_TIMEOUT;
	if (kind == NM_SET_VMAP4 || kind == NM_SET_VMAP6) {
		ms->flags |= NFT_SET_MAP;
		ms->data_type = NM_TYPE_VERDICT;
		ms->data_len = 0;
	}
	rangeset_init(&ms->ranges);
	ms->label = s ? svc_label(s) : strdup("port dispatch");
	if (!ms->name || !ms->label)
		b->err = -ENOMEM;
	return ms;
}

static struct nm_chain *push_chain(struct bctx *b, const char *name)
{
	struct nm_chain *c = nm_table_add_chain(b->t);

	if (!c) {
		b->err = -ENOMEM;
		return NULL;
	}
	c->name = strdup(name);
	if (!c->name)
		b->err = -ENOMEM;
	return c;
}

/* One shard (or the unsharded set) to emit: its block and content. */
struct leaf_src {
	u128 prefix;
	int len;
	const struct policy_leaf *pl;	/* compiled: ranges or a lazy reference */
	const struct range *r;		/* layout: D[first, first + n), clipped to the block */
	size_t n;
};

/* Fill the set of one leaf. */
static void leaf_content(struct bctx *b, struct nm_set *ms, enum cidr_family f,
			 const struct leaf_src *ls, bool clip)
{
	u128 lo = ls->prefix, hi = layout_block_hi(f, ls->prefix, ls->len);

	if (!ls->pl) {
		if (clip ? layout_clip(ls->r, ls->n, lo, hi, &ms->ranges) < 0
			 : layout_clip(ls->r, ls->n, 0, cidr_max(f), &ms->ranges) < 0)
			b->err = -ENOMEM;
		return;
	}
	ms->has_digest = true;
	memcpy(ms->digest, ls->pl->digest, sizeof(ms->digest));
	if (ls->pl->lazy) {
		ms->lazy = true;
		ms->objpath = strdup(ls->pl->objpath);
		if (!ms->objpath)
			b->err = -ENOMEM;
	} else {
		/* a million ranges are not copied: the policy outlives every table built from it */
		ms->ranges = ls->pl->r;
		ms->borrowed = true;
	}
}

/*
 * The leaves of s's family f into *leavesp (*np of them; malloc'ed) and
 * whether it is sharded: from the compiled cache, else laid out now.
 * Returns 0 or -ENOMEM.
 */
static int family_leaves(struct bctx *b, const struct policy_service *s, enum cidr_family f,
			 struct leaf_src **leavesp, size_t *np, bool *sharded)
{
	const struct rangeset *rs = f == CIDR_V4 ? &s->v4 : &s->v6;
	const struct policy_compiled *pc = f == CIDR_V4 ? s->c4 : s->c6;
	struct leaf_src *leaves;
	struct layout l = { 0 };
	size_t nleaves;

	if (pc) {
		*sharded = pc->sharded;
		nleaves = pc->nleaves;
	} else {
		if (layout_build(rs, f, b->shard_max, &l) < 0)
			return -ENOMEM;
		*sharded = l.sharded;
		nleaves = l.nleaves;
	}
	leaves = calloc(nleaves + 1, sizeof(*leaves));
	if (!leaves) {
		layout_fini(&l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nleaves; i++) {
		if (pc) {
			leaves[i].prefix = pc->leaves[i].prefix;
			leaves[i].len = pc->leaves[i].len;
			leaves[i].pl = &pc->leaves[i];
		} else {
			leaves[i].prefix = l.leaves[i].prefix;
			leaves[i].len = l.leaves[i].len;
			leaves[i].r = rs->r + l.leaves[i].first;
			leaves[i].n = l.leaves[i].count;
		}
	}
	layout_fini(&l);
	*leavesp = leaves;
	*np = nleaves;
	return 0;
}

/* Sharded: the map mapname (prefix -> shard chain), and one set and one chain per shard. */
static void build_shards(struct bctx *b, const struct policy_service *s, enum cidr_family f,
			 const struct nm_fact *allow, const struct leaf_src *leaves, size_t nleaves,
			 const char *mapname)
{
	const char *fam = f == CIDR_V4 ? "v4" : "v6";
	int bits = cidr_bits(f);
	struct nm_set *map;
	size_t mapidx;

	map = push_set(b, mapname, f == CIDR_V4 ? NM_SET_VMAP4 : NM_SET_VMAP6, s);
	/* push_set() below may move the set array: address the map by index */
	mapidx = b->t->nsets - 1;
	if (map) {
		map->vmap = calloc(nleaves + 1, sizeof(*map->vmap));
		if (!map->vmap)
			b->err = -ENOMEM;
	}
	for (size_t i = 0; i < nleaves && !b->err; i++) {
		const struct leaf_src *sh = &leaves[i];
		char name[96];
		struct nm_set *ms;
		struct nm_fact shard = *allow;

		layout_shard_name(name, sizeof(name), s->name, fam, sh->prefix, sh->len, bits);
		map = &b->t->sets[mapidx];
		map->vmap[map->nvmap].r.lo = sh->prefix;
		map->vmap[map->nvmap].r.hi = layout_block_hi(f, sh->prefix, sh->len);
		map->vmap[map->nvmap].chain = strdup(name);
		map->nvmap++;
		ms = push_set(b, name, f == CIDR_V4 ? NM_SET_V4 : NM_SET_V6, s);
		if (ms)
			leaf_content(b, ms, f, sh, true);
		push_chain(b, name);
		shard.role = NM_ROLE_SHARD;
		shard.set = name;
		shard.hook = NM_HOOK_ANY;
		push_rule(b, name, &shard, s);
	}
}

static void build_family(struct bctx *b, const struct policy_service *s, enum cidr_family f,
			 const char *const *chains, size_t nchains)
{
	const char *fam = f == CIDR_V4 ? "v4" : "v6";
	struct leaf_src *leaves = NULL;
	size_t nleaves = 0;
	bool sharded;
	char set[96], mapname[128];
	struct nm_fact allow = { .role = NM_ROLE_ALLOW, .service = s->name, .has_family = true,
				 .family = f, .verdict = NF_ACCEPT, .has_counter = true };

	snprintf(set, sizeof(set), "%s_%s", s->name, fam);
	if (family_leaves(b, s, f, &leaves, &nleaves, &sharded) < 0) {
		b->err = -ENOMEM;
		return;
	}
	if (!sharded) {
		struct nm_set *ms = push_set(b, set, f == CIDR_V4 ? NM_SET_V4 : NM_SET_V6, s);

		if (ms && nleaves)
			leaf_content(b, ms, f, &leaves[0], false);
		free(leaves);
		allow.set = set;
		for (size_t c = 0; c < nchains; c++) {
			allow.hook = hook_of(chains[c]);
			push_rule(b, chains[c], &allow, s);
		}
		return;
	}

	/* sharded: map S_F_map + one set and one chain per shard */
	snprintf(mapname, sizeof(mapname), "%s_map", set);
	build_shards(b, s, f, &allow, leaves, nleaves, mapname);
	free(leaves);
	allow.role = NM_ROLE_ALLOW_MAP;
	allow.set = mapname;
	allow.verdict = NFT_JUMP;
	allow.has_counter = false;
	for (size_t c = 0; c < nchains; c++) {
		allow.hook = hook_of(chains[c]);
		push_rule(b, chains[c], &allow, s);
	}
}

/* The rules of the service chains after the allowlist: temporary, seen, log, refuse. */
static void build_tail(struct bctx *b, const struct policy_service *s, const char *const *chains,
		       size_t nchains, enum nm_role stage)
{
	static const enum cidr_family fams[] = { CIDR_V4, CIDR_V6 };
	static const uint64_t unit_s[] = { 1, 60, 3600, 86400 };
	char set[96], prefix[160];

	snprintf(prefix, sizeof(prefix), "%s[%s] ", b->p->log_prefix, s->name);
	for (size_t c = 0; c < nchains; c++) {
		uint32_t hook = hook_of(chains[c]);
		/* l4proto only where the expressions depend on it (the fact is the key) */
		struct nm_fact f = { .role = stage, .service = s->name, .hook = hook, .verdict = -1 };

		if (stage == NM_ROLE_LOG) {
			if (!b->p->log)
				continue;
			f.log_prefix = prefix;
			f.log_rate = b->p->log_rate;
			f.log_unit = unit_s[b->p->log_unit];
			push_rule(b, chains[c], &f, s);
			continue;
		}
		for (size_t k = 0; k < ARRAY_SIZE(fams); k++) {
			const char *fam = fams[k] == CIDR_V4 ? "4" : "6";

			f.has_family = true;
			f.family = fams[k];
			switch (stage) {
			case NM_ROLE_TEMP:
				snprintf(set, sizeof(set), "%s_tmp%s", s->name, fam);
				f.set = set;
				f.verdict = NF_ACCEPT;
				f.has_counter = true;
				break;
			case NM_ROLE_SEEN:
				snprintf(set, sizeof(set), "%s_seen%s", s->name, fam);
				f.set = set;
				f.l4proto = hook == NF_INET_FORWARD ? (uint8_t)s->proto : 0;
				break;
			default:
				f.has_counter = true;
				if (s->mode == POLICY_MODE_OBSERVE) {
					f.role = NM_ROLE_OBSERVE;
					f.verdict = NF_ACCEPT;
				} else {
					f.role = NM_ROLE_REFUSE;
					f.verdict = NF_DROP;
					f.reject = b->p->action != POLICY_DROP;
					f.l4proto = f.reject ? (uint8_t)s->proto : 0;
				}
				break;
			}
			push_rule(b, chains[c], &f, s);
		}
	}
}

/* The hook of a base chain ("input", "forward") or of a service chain ("S_in", "S_fwd"). */
static uint32_t hook_of(const char *chain)
{
	size_t n = strlen(chain);

	return !strcmp(chain, "forward") || (n > 4 && !strcmp(chain + n - 4, "_fwd"))
		       ? NF_INET_FORWARD : NF_INET_LOCAL_IN;
}

static int port_cmp(const void *a, const void *b)
{
	const struct nm_vmap_elem *x = a, *y = b;

	return x->r.lo < y->r.lo ? -1 : x->r.lo > y->r.lo;
}

/* The dispatch map of hook/proto and the base chain's rule that looks it up. */
static void build_dispatch(struct bctx *b, const char *base, uint8_t proto)
{
	uint32_t hook = hook_of(base);
	const char *name = nft_dispatch_map(hook, proto);
	struct nm_fact f = { .role = NM_ROLE_DISPATCH, .hook = hook, .set = (char *)name,
			     .verdict = -1, .l4proto = proto };
	struct nm_set *map;
	size_t n = 0;

	for (size_t i = 0; i < b->p->nsvcs; i++)
		if ((uint8_t)b->p->svcs[i].proto == proto)
			n += b->p->svcs[i].nports;
	if (!n)
		return;
	map = push_set(b, name, NM_SET_PORTMAP, NULL);
	if (!map)
		return;
	map->vmap = calloc(n, sizeof(*map->vmap));
	if (!map->vmap) {
		b->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < b->p->nsvcs; i++) {
		const struct policy_service *s = &b->p->svcs[i];
		char chain[96];

		if ((uint8_t)s->proto != proto)
			continue;
		nft_svc_chain(chain, sizeof(chain), s->name, hook);
		for (size_t k = 0; k < s->nports; k++) {
			struct nm_vmap_elem *e = &map->vmap[map->nvmap++];

			e->r.lo = e->r.hi = s->ports[k];
			e->chain = strdup(chain);
			if (!e->chain)
				b->err = -ENOMEM;
		}
	}
	qsort(map->vmap, map->nvmap, sizeof(*map->vmap), port_cmp);
	push_rule(b, base, &f, NULL);
}

int nft_build(const struct policy *p, struct nm_table *t)
{
	struct bctx b = { .p = p, .t = t, .shard_max = policy_shard_max() };
	const char *chains[2];
	size_t nchains = 0;

	nm_table_init(t, p->table);
	/* the marker of the state dir in use (or the bare one): see statestore.h */
	t->comment = util_strdup(statestore_owner());
	if (!t->name || !t->comment)
		return -ENOMEM;
	t->exists = true;
	if (p->hooks & POLICY_HOOK_INPUT)
		chains[nchains++] = "input";
	if (p->hooks & POLICY_HOOK_FORWARD)
		chains[nchains++] = "forward";
	/* base chains first so that their rules come first in the model */
	for (size_t c = 0; c < nchains; c++) {
		struct nm_chain *ch = push_chain(&b, chains[c]);

		if (!ch)
			break;
		ch->base = true;
		ch->type = strdup("filter");
		ch->hooknum = hook_of(chains[c]);
		ch->prio = NFT_BUILD_PRIORITY;
		ch->policy = NF_ACCEPT;
		if (!ch->type)
			b.err = -ENOMEM;
	}
	if ((p->hooks & POLICY_HOOK_INPUT) && p->loopback) {
		struct nm_fact lo = { .role = NM_ROLE_LOOPBACK, .hook = NF_INET_LOCAL_IN,
				      .verdict = NF_ACCEPT };

		push_rule(&b, "input", &lo, NULL);
	}
	for (size_t i = 0; i < p->nsvcs && !b.err; i++) {
		const struct policy_service *s = &p->svcs[i];
		const char *svc_chains[2];
		char names[2][96];
		char name[96];

		for (size_t c = 0; c < nchains; c++) {
			nft_svc_chain(names[c], sizeof(names[c]), s->name, hook_of(chains[c]));
			svc_chains[c] = names[c];
			push_chain(&b, names[c]);
		}
		build_family(&b, s, CIDR_V4, svc_chains, nchains);
		build_family(&b, s, CIDR_V6, svc_chains, nchains);
		snprintf(name, sizeof(name), "%s_tmp4", s->name);
		push_set(&b, name, NM_SET_TMP4, s);
		snprintf(name, sizeof(name), "%s_tmp6", s->name);
		push_set(&b, name, NM_SET_TMP6, s);
		snprintf(name, sizeof(name), "%s_seen4", s->name);
		push_set(&b, name, NM_SET_SEEN4, s);
		snprintf(name, sizeof(name), "%s_seen6", s->name);
		push_set(&b, name, NM_SET_SEEN6, s);
		build_tail(&b, s, svc_chains, nchains, NM_ROLE_TEMP);
		build_tail(&b, s, svc_chains, nchains, NM_ROLE_SEEN);
		build_tail(&b, s, svc_chains, nchains, NM_ROLE_LOG);
		build_tail(&b, s, svc_chains, nchains, NM_ROLE_REFUSE);
	}
	/* dispatch after the services: its maps jump to their chains */
	for (size_t c = 0; c < nchains && !b.err; c++) {
		build_dispatch(&b, chains[c], IPPROTO_TCP);
		build_dispatch(&b, chains[c], IPPROTO_UDP);
	}
	if (b.err) {
		nm_table_fini(t);
		return b.err;
	}
	return 0;
}
