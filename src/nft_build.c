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

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, int *err)
{
	struct nftnl_expr *e = ex("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	add(r, e, err);
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

/* "tcp dport @S_ports" (input) or "ct status dnat meta l4proto tcp ct original proto-dst @S_ports" */
static void match_ports(struct nftnl_rule *r, const struct policy_service *s, bool forward,
			int *err)
{
	uint8_t l4 = (uint8_t)s->proto;
	char set[64];

	snprintf(set, sizeof(set), "%s_ports", s->name);
	if (forward) {
		struct nftnl_expr *e = ex("ct");
		uint32_t mask = IPS_DST_NAT, zero = 0;
		uint8_t dir = IP_CT_DIR_ORIGINAL;

		/*
		 * Only the client->server direction: replies of a published
		 * connection carry the same original proto-dst and the
		 * container's source address, and must pass.
		 */
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_DIRECTION);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		add(r, e, err);
		e_cmp(r, NFT_CMP_EQ, &dir, 1, err);
		e = ex("ct");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		add(r, e, err);
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
		e_meta(r, NFT_META_L4PROTO, err);
		e_cmp(r, NFT_CMP_EQ, &l4, 1, err);
		e = ex("ct");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_PROTO_DST);
			nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, IP_CT_DIR_ORIGINAL);
			nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		}
		add(r, e, err);
	} else {
		e_meta(r, NFT_META_L4PROTO, err);
		e_cmp(r, NFT_CMP_EQ, &l4, 1, err);
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, err);
	}
	e_lookup(r, set, false, false, err);
}

static void act_log(struct nftnl_rule *r, const struct policy *p, const struct policy_service *s,
		    int *err)
{
	static const uint64_t unit_s[] = { 1, 60, 3600, 86400 };
	struct nftnl_expr *e = ex("limit");
	char prefix[160];

	if (e) {
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, p->log_rate);
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, unit_s[p->log_unit]);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, 5);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
	}
	add(r, e, err);
	e = ex("log");
	snprintf(prefix, sizeof(prefix), "%s[%s] ", p->log_prefix, s->name);
	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		/* the kernel reports its default level (4, warning) in dumps: say it */
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_LEVEL, 4);
	}
	add(r, e, err);
}

static void act_block(struct nftnl_rule *r, const struct policy *p, const struct policy_service *s,
		      int *err)
{
	e_counter(r, err);
	if (p->action == POLICY_DROP) {
		e_verdict(r, NF_DROP, NULL, err);
	} else {
		struct nftnl_expr *e = ex("reject");

		if (e) {
			if (s->proto == POLICY_TCP) {
				nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
				nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
			} else {
				nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
				nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_PORT_UNREACH);
			}
		}
		add(r, e, err);
	}
}

static struct nftnl_rule *new_rule(struct bctx *b, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r) {
		b->err = -ENOMEM;
		return NULL;
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->t->name);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static char *svc_label(const struct policy_service *s)
{
	char *l = NULL;

	if (asprintf(&l, "service '%s' (%s:%d)", s->name, s->file ? s->file : "?", s->line) < 0)
		return NULL;
	return l;
}

/* Append a finished rule to the model. Takes ownership of r. */
static void push_rule(struct bctx *b, struct nftnl_rule *r, const char *chain,
		      const struct policy_service *s)
{
	struct nm_rule *mr;

	if (!r)
		return;
	mr = nm_table_add_rule(b->t);
	if (!mr) {
		nftnl_rule_free(r);
		b->err = -ENOMEM;
		return;
	}
	mr->nr = r;
	mr->chain = strdup(chain);
	mr->key = nm_rule_key(r);
	mr->text = nm_rule_text(r, NM_TEXT_NO_COUNTERS);
	mr->label = s ? svc_label(s) : strdup("loopback exemption");
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
	case NM_SET_V4:
	case NM_SET_VMAP4:
		ms->key_type = NM_TYPE_IPADDR;
		ms->key_len = 4;
		ms->flags = NFT_SET_INTERVAL;
		break;
	case NM_SET_V6:
	case NM_SET_VMAP6:
		ms->key_type = NM_TYPE_IP6ADDR;
		ms->key_len = 16;
		ms->flags = NFT_SET_INTERVAL;
		break;
	default:
		break;
	}
	if (kind == NM_SET_VMAP4 || kind == NM_SET_VMAP6) {
		ms->flags |= NFT_SET_MAP;
		ms->data_type = NM_TYPE_VERDICT;
		ms->data_len = 0;
	}
	rangeset_init(&ms->ranges);
	ms->label = svc_label(s);
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

static void build_family(struct bctx *b, const struct policy_service *s, enum cidr_family f,
			 const char *const *chains, size_t nchains)
{
	const struct rangeset *rs = f == CIDR_V4 ? &s->v4 : &s->v6;
	const struct policy_compiled *pc = f == CIDR_V4 ? s->c4 : s->c6;
	const char *fam = f == CIDR_V4 ? "v4" : "v6";
	int bits = cidr_bits(f);
	struct leaf_src *leaves = NULL;
	size_t nleaves = 0;
	struct layout l = { 0 };
	bool sharded;
	char set[96];

	snprintf(set, sizeof(set), "%s_%s", s->name, fam);
	if (pc) {
		sharded = pc->sharded;
		nleaves = pc->nleaves;
	} else {
		if (layout_build(rs, f, b->shard_max, &l) < 0) {
			b->err = -ENOMEM;
			return;
		}
		sharded = l.sharded;
		nleaves = l.nleaves;
	}
	leaves = calloc(nleaves + 1, sizeof(*leaves));
	if (!leaves) {
		b->err = -ENOMEM;
		layout_fini(&l);
		return;
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
	if (!sharded) {
		struct nm_set *ms = push_set(b, set, f == CIDR_V4 ? NM_SET_V4 : NM_SET_V6, s);

		if (ms && nleaves)
			leaf_content(b, ms, f, &leaves[0], false);
		free(leaves);
		for (size_t c = 0; c < nchains; c++) {
			bool fwd = !strcmp(chains[c], "forward");
			struct nftnl_rule *r;

			if (b->p->log) {
				r = new_rule(b, chains[c]);
				if (r) {
					match_ports(r, s, fwd, &b->err);
					match_saddr(r, f, &b->err);
					e_lookup(r, set, true, false, &b->err);
					act_log(r, b->p, s, &b->err);
				}
				push_rule(b, r, chains[c], s);
			}
			r = new_rule(b, chains[c]);
			if (r) {
				match_ports(r, s, fwd, &b->err);
				match_saddr(r, f, &b->err);
				e_lookup(r, set, true, false, &b->err);
				act_block(r, b->p, s, &b->err);
			}
			push_rule(b, r, chains[c], s);
		}
		return;
	}

	/* sharded: map S_F_map + one set and one chain per shard */
	struct nm_set *map;
	size_t mapidx;
	char mapname[128];

	snprintf(mapname, sizeof(mapname), "%s_map", set);
	map = push_set(b, mapname, f == CIDR_V4 ? NM_SET_VMAP4 : NM_SET_VMAP6, s);
	/* push_set() below may move the set array: address the map by index */
	mapidx = b->t->nsets - 1;
	if (map) {
		map->vmap = calloc(nleaves + 1, sizeof(*map->vmap));
		if (!map->vmap)
			b->err = -ENOMEM;
	}
	for (size_t i = 0; i < nleaves && !b->err; i++) {
		struct leaf_src *sh = &leaves[i];
		char name[96];
		struct nm_set *ms;
		struct nftnl_rule *r;

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
		r = new_rule(b, name);
		if (r) {
			match_saddr(r, f, &b->err);
			e_lookup(r, name, false, false, &b->err);
			e_verdict(r, NF_ACCEPT, NULL, &b->err);
		}
		push_rule(b, r, name, s);
	}
	free(leaves);
	for (size_t c = 0; c < nchains; c++) {
		bool fwd = !strcmp(chains[c], "forward");
		struct nftnl_rule *r = new_rule(b, chains[c]);

		if (r) {
			match_ports(r, s, fwd, &b->err);
			match_saddr(r, f, &b->err);
			e_lookup(r, mapname, false, true, &b->err);
		}
		push_rule(b, r, chains[c], s);
		if (b->p->log) {
			r = new_rule(b, chains[c]);
			if (r) {
				match_ports(r, s, fwd, &b->err);
				match_nfproto(r, f, &b->err);
				act_log(r, b->p, s, &b->err);
			}
			push_rule(b, r, chains[c], s);
		}
		r = new_rule(b, chains[c]);
		if (r) {
			match_ports(r, s, fwd, &b->err);
			match_nfproto(r, f, &b->err);
			act_block(r, b->p, s, &b->err);
		}
		push_rule(b, r, chains[c], s);
	}
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
		ch->hooknum = !strcmp(chains[c], "input") ? NF_INET_LOCAL_IN : NF_INET_FORWARD;
		ch->prio = NFT_BUILD_PRIORITY;
		ch->policy = NF_ACCEPT;
		if (!ch->type)
			b.err = -ENOMEM;
	}
	if ((p->hooks & POLICY_HOOK_INPUT) && p->loopback) {
		struct nftnl_rule *r = new_rule(&b, "input");
		uint32_t lo = 1;	/* "lo" is ifindex 1 in every network namespace */

		if (r) {
			e_meta(r, NFT_META_IIF, &b.err);
			e_cmp(r, NFT_CMP_EQ, &lo, 4, &b.err);
			e_verdict(r, NF_ACCEPT, NULL, &b.err);
		}
		push_rule(&b, r, "input", NULL);
	}
	for (size_t i = 0; i < p->nsvcs && !b.err; i++) {
		const struct policy_service *s = &p->svcs[i];
		struct nm_set *ports;
		char name[96];

		snprintf(name, sizeof(name), "%s_ports", s->name);
		ports = push_set(&b, name, NM_SET_PORTS, s);
		if (ports) {
			ports->ports = calloc(s->nports + 1, sizeof(*ports->ports));
			if (!ports->ports) {
				b.err = -ENOMEM;
				break;
			}
			memcpy(ports->ports, s->ports, s->nports * sizeof(*s->ports));
			ports->nports = s->nports;
		}
		build_family(&b, s, CIDR_V4, chains, nchains);
		build_family(&b, s, CIDR_V6, chains, nchains);
	}
	if (b.err) {
		nm_table_fini(t);
		return b.err;
	}
	return 0;
}
