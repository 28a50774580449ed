// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Symbolic evaluation of nf_tables chains (see nft_eval.h). The state that
 * flows through a chain is the set of sources still possible; every rule
 * splits it into the part it matches (which takes the rule's verdict) and
 * the rest (which goes on). Registers hold what an expression loaded:
 * known bytes, a slice of the source address (with a mask), the input
 * interface, or something unknown.
 */
#include "nft_eval.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "diag.h"
#include "nft_model.h"
#include "nl.h"
#include "util.h"

/* ---- rangeset algebra on normalized sets ---- */

static int rs_intersect(const struct rangeset *a, const struct rangeset *b, struct rangeset *out)
{
	size_t i = 0, k = 0;

	rangeset_init(out);
	while (i < a->n && k < b->n) {
		u128 lo = a->r[i].lo > b->r[k].lo ? a->r[i].lo : b->r[k].lo;
		u128 hi = a->r[i].hi < b->r[k].hi ? a->r[i].hi : b->r[k].hi;

		if (lo <= hi && rangeset_add(out, lo, hi) < 0)
			return -ENOMEM;
		if (a->r[i].hi < b->r[k].hi)
			i++;
		else
			k++;
	}
	return 0;
}

static int rs_complement(const struct rangeset *a, u128 max, struct rangeset *out)
{
	u128 next = 0;
	bool done = false;

	rangeset_init(out);
	for (size_t i = 0; i < a->n && !done; i++) {
		if (a->r[i].lo > next && rangeset_add(out, next, a->r[i].lo - 1) < 0)
			return -ENOMEM;
		if (a->r[i].hi >= max)
			done = true;
		else
			next = a->r[i].hi + 1;
	}
	if (!done && rangeset_add(out, next, max) < 0)
		return -ENOMEM;
	return 0;
}

/* a \ b */
static int rs_subtract(const struct rangeset *a, const struct rangeset *b, u128 max, struct rangeset *out)
{
	struct rangeset nb;
	int ret;

	if (rs_complement(b, max, &nb) < 0) {
		rangeset_fini(&nb);
		return -ENOMEM;
	}
	ret = rs_intersect(a, &nb, out);
	rangeset_fini(&nb);
	return ret;
}

/* a |= b */
static int rs_union(struct rangeset *a, const struct rangeset *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (rangeset_add(a, b->r[i].lo, b->r[i].hi) < 0)
			return -ENOMEM;
	rangeset_normalize(a);
	return 0;
}

static void rs_move(struct rangeset *dst, struct rangeset *src)
{
	rangeset_fini(dst);
	*dst = *src;
	rangeset_init(src);
}

/* ---- the world ---- */

struct ne_table *ne_world_add_table(struct ne_world *w, uint32_t family, const char *name)
{
	struct ne_table *t;

	if (util_grow((void **)&w->t, &w->cap, w->n + 1, sizeof(*w->t)) < 0)
		return NULL;
	t = &w->t[w->n];
	memset(t, 0, sizeof(*t));
	t->family = family;
	t->name = strdup(name);
	if (!t->name)
		return NULL;
	w->n++;
	return t;
}

struct ne_chain *ne_table_add_chain(struct ne_table *t, const char *name)
{
	struct ne_chain *c;

	if (util_grow((void **)&t->chains, &t->cchains, t->nchains + 1, sizeof(*t->chains)) < 0)
		return NULL;
	c = &t->chains[t->nchains];
	memset(c, 0, sizeof(*c));
	c->name = strdup(name);
	c->policy = NF_ACCEPT;
	if (!c->name)
		return NULL;
	t->nchains++;
	return c;
}

int ne_chain_add_rule(struct ne_chain *c, struct nftnl_rule *r)
{
	if (util_grow((void **)&c->rules, &c->crules, c->nrules + 1, sizeof(*c->rules)) < 0)
		return -ENOMEM;
	c->rules[c->nrules++] = r;
	return 0;
}

struct ne_set *ne_table_add_set(struct ne_table *t, const char *name, uint32_t key_len)
{
	struct ne_set *s;

	if (util_grow((void **)&t->sets, &t->csets, t->nsets + 1, sizeof(*t->sets)) < 0)
		return NULL;
	s = &t->sets[t->nsets];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->key_len = key_len;
	s->loaded = true;
	if (!s->name)
		return NULL;
	t->nsets++;
	return s;
}

int ne_set_add(struct ne_set *s, u128 lo, u128 hi, int verdict, const char *chain)
{
	size_t cap = s->nel;
	struct ne_elem *e;

	if (util_grow((void **)&s->el, &cap, s->nel + 1, sizeof(*s->el)) < 0)
		return -ENOMEM;
	e = &s->el[s->nel];
	e->lo = lo;
	e->hi = hi;
	e->verdict = verdict;
	e->chain = chain ? strdup(chain) : NULL;
	if (chain && !e->chain)
		return -ENOMEM;
	s->nel++;
	return 0;
}

void ne_world_fini(struct ne_world *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct ne_table *t = &w->t[i];

		for (size_t c = 0; c < t->nchains; c++) {
			for (size_t r = 0; r < t->chains[c].nrules; r++)
				nftnl_rule_free(t->chains[c].rules[r]);
			free(t->chains[c].rules);
			free(t->chains[c].name);
			free(t->chains[c].type);
		}
		for (size_t s = 0; s < t->nsets; s++) {
			for (size_t e = 0; e < t->sets[s].nel; e++)
				free(t->sets[s].el[e].chain);
			free(t->sets[s].el);
			free(t->sets[s].name);
		}
		free(t->chains);
		free(t->sets);
		free(t->name);
	}
	free(w->t);
	memset(w, 0, sizeof(*w));
}

static struct ne_table *find_table(const struct ne_world *w, uint32_t family, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].family == family && !strcmp(w->t[i].name, name))
			return &w->t[i];
	return NULL;
}

static struct ne_chain *find_chain(const struct ne_table *t, const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (!strcmp(t->chains[i].name, name))
			return &t->chains[i];
	return NULL;
}

static struct ne_set *find_set(const struct ne_table *t, const char *name)
{
	for (size_t i = 0; name && i < t->nsets; i++)
		if (!strcmp(t->sets[i].name, name))
			return &t->sets[i];
	return NULL;
}

/* ---- loading from the kernel ---- */

struct ld {
	struct ne_world *w;
	struct ne_set *cur;
	struct raw { u128 key; bool end; int verdict; char *chain; } *els;
	size_t nels, cels;
	int err;
};

static bool our_family(uint32_t f)
{
	return f == NFPROTO_INET || f == NFPROTO_IPV4 || f == NFPROTO_IPV6;
}

static bool our_hook(uint32_t h)
{
	return h == NF_INET_PRE_ROUTING || h == NF_INET_LOCAL_IN || h == NF_INET_FORWARD;
}

static int ld_chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ld *l = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct ne_table *t;
	struct ne_chain *nc;
	uint32_t fam;
	const char *tn;

	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	fam = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	tn = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	if (!our_family(fam) || !tn)
		goto out;
	t = find_table(l->w, fam, tn);
	if (!t)
		t = ne_world_add_table(l->w, fam, tn);
	nc = t ? ne_table_add_chain(t, nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)) : NULL;
	if (!nc) {
		l->err = -ENOMEM;
		goto out;
	}
	if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		nc->base = true;
		nc->hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		nc->prio = (int32_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_PRIO);
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY))
			nc->policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE))
			nc->type = strdup(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
	}
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int ld_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ld *l = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct ne_table *t;
	struct ne_chain *c;

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto drop;
	t = find_table(l->w, nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
		       nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
	c = t ? find_chain(t, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)) : NULL;
	if (!c)
		goto drop;
	if (ne_chain_add_rule(c, r) < 0) {
		l->err = -ENOMEM;
		goto drop;
	}
	return MNL_CB_OK;
drop:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int ld_set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ld *l = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct ne_table *t;
	struct ne_set *ns;

	if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0)
		goto out;
	t = find_table(l->w, nftnl_set_get_u32(s, NFTNL_SET_FAMILY), nftnl_set_get_str(s, NFTNL_SET_TABLE));
	if (!t)
		goto out;
	ns = ne_table_add_set(t, nftnl_set_get_str(s, NFTNL_SET_NAME), nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
	if (!ns) {
		l->err = -ENOMEM;
		goto out;
	}
	ns->loaded = false;
	ns->flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE))
		ns->data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static u128 be_num(const uint8_t *p, size_t n)
{
	u128 v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static int ld_elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ld *l = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		goto out;
	it = nftnl_set_elems_iter_create(s);
	for (e = it ? nftnl_set_elems_iter_next(it) : NULL; e; e = nftnl_set_elems_iter_next(it)) {
		uint32_t klen = 0;
		const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
		struct raw *r;

		if (!key || klen > 16 || nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
			l->cur->unparsed = true;
			continue;
		}
		if (util_grow((void **)&l->els, &l->cels, l->nels + 1, sizeof(*l->els)) < 0) {
			l->err = -ENOMEM;
			break;
		}
		r = &l->els[l->nels++];
		memset(r, 0, sizeof(*r));
		r->key = be_num(key, klen);
		r->verdict = -100;
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
			r->end = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END;
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT))
			r->verdict = (int)nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT);
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
			r->chain = strdup(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
	}
	nftnl_set_elems_iter_destroy(it);
out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return (int)y->end - (int)x->end;	/* an end sorts before a start at the same key */
}

/* the raw elements of l->cur into intervals */
static int finish_set(struct ld *l)
{
	struct ne_set *s = l->cur;
	u128 max = s->key_len >= 16 ? ~(u128)0 : (((u128)1) << (8 * s->key_len)) - 1;
	bool open = false;
	struct raw *st = NULL;
	int ret = 0;

	if (l->nels)
		qsort(l->els, l->nels, sizeof(*l->els), raw_cmp);
	if (!(s->flags & NFT_SET_INTERVAL)) {
		for (size_t i = 0; i < l->nels && !ret; i++)
			ret = ne_set_add(s, l->els[i].key, l->els[i].key, l->els[i].verdict, l->els[i].chain);
		return ret;
	}
	for (size_t i = 0; i < l->nels && !ret; i++) {
		struct raw *e = &l->els[i];

		if (!e->end) {
			if (open)
				s->unparsed = true;
			open = true;
			st = e;
			continue;
		}
		if (!open)
			continue;
		open = false;
		if (e->key)
			ret = ne_set_add(s, st->key, e->key - 1, st->verdict, st->chain);
	}
	if (open && !ret)
		ret = ne_set_add(s, st->key, max, st->verdict, st->chain);
	return ret;
}

/* does any rule of t look up set name? */
static bool set_used(const struct ne_table *t, const char *name)
{
	for (size_t c = 0; c < t->nchains; c++)
		for (size_t r = 0; r < t->chains[c].nrules; r++) {
			struct nftnl_expr_iter *it = nftnl_expr_iter_create(t->chains[c].rules[r]);
			struct nftnl_expr *e;
			bool used = false;

			for (e = it ? nftnl_expr_iter_next(it) : NULL; e && !used; e = nftnl_expr_iter_next(it))
				used = !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "lookup") &&
				       nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_SET) &&
				       !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET), name);
			nftnl_expr_iter_destroy(it);
			if (used)
				return true;
		}
	return false;
}

static int ld_dump(struct nl_sock *s, uint16_t type, uint16_t family, const char *table,
		   const char *set, mnl_cb_t cb, struct ld *l, const char *what, struct diag *d)
{
	char buf[1024] = { 0 };
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, family, NLM_F_DUMP, 0);
	int ret;

	if (table)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	if (set)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	ret = nl_request(s, nlh, cb, l, what, d);
	if (ret == -ENOENT)
		ret = 0;
	if (!ret && l->err)
		ret = diag_err(d, DIAG_INTERNAL, NULL, -l->err, "%s", what);
	return ret;
}

static int load_once(struct nl_sock *s, struct ne_world *w, struct diag *d)
{
	struct ld l = { .w = w };
	int ret;

	memset(w, 0, sizeof(*w));
	ret = ld_dump(s, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NULL, NULL, ld_chain_cb, &l, "read chains", d);
	/* keep only the tables with a base chain on the hooks of interest */
	for (size_t i = 0; !ret && i < w->n;) {
		bool keep = false;

		for (size_t c = 0; c < w->t[i].nchains; c++)
			keep |= w->t[i].chains[c].base && our_hook(w->t[i].chains[c].hooknum);
		if (keep) {
			i++;
			continue;
		}
		{
			struct ne_world one = { .t = &w->t[i], .n = 1 };
			struct ne_table *copy = malloc(sizeof(*copy));

			/* release table i alone: move it into a world of its own */
			if (!copy) {
				ret = -ENOMEM;
				break;
			}
			*copy = w->t[i];
			one.t = copy;
			ne_world_fini(&one);
			memmove(&w->t[i], &w->t[i + 1], (w->n - i - 1) * sizeof(*w->t));
			w->n--;
		}
	}
	if (!ret)
		ret = ld_dump(s, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NULL, NULL, ld_rule_cb, &l, "read rules", d);
	if (!ret)
		ret = ld_dump(s, NFT_MSG_GETSET, NFPROTO_UNSPEC, NULL, NULL, ld_set_cb, &l, "read sets", d);
	for (size_t i = 0; !ret && i < w->n; i++) {
		struct ne_table *t = &w->t[i];

		for (size_t k = 0; !ret && k < t->nsets; k++) {
			l.cur = &t->sets[k];
			if (!set_used(t, l.cur->name))
				continue;
			l.nels = 0;
			{
				/* a set it cannot read stays unloaded: its lookups are not evaluated */
				struct diag quiet;
				int r2;

				diag_init(&quiet);
				r2 = ld_dump(s, NFT_MSG_GETSETELEM, (uint16_t)t->family, t->name, l.cur->name,
					     ld_elem_cb, &l, "read set elements", &quiet);
				diag_fini(&quiet);
				if (r2 == -ENOMEM || l.err == -ENOMEM)
					ret = -ENOMEM;
				else if (!r2 && finish_set(&l) < 0)
					ret = -ENOMEM;
				else if (!r2)
					l.cur->loaded = true;
				l.err = 0;
			}
			for (size_t e = 0; e < l.nels; e++)
				free(l.els[e].chain);
		}
	}
	free(l.els);
	if (ret == -ENOMEM)
		ret = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "read ruleset");
	return ret;
}

/* consistently: the generation before and after, read again when it moved or a dump was interrupted */
int ne_world_load(struct nl_sock *s, struct ne_world *w, struct diag *d)
{
	int ret = -EINTR;

	memset(w, 0, sizeof(*w));
	for (int i = 0; i < 5 && ret == -EINTR; i++) {
		uint32_t g1, g2;

		ne_world_fini(w);
		ret = nl_getgen(s, &g1, d);
		if (!ret)
			ret = load_once(s, w, d);
		if (!ret)
			ret = nl_getgen(s, &g2, d);
		if (!ret && g1 != g2)
			ret = -EINTR;
	}
	if (ret == -EINTR)
		ret = diag_err(d, DIAG_CONFLICT, NULL, EINTR, "the ruleset kept changing while it was read");
	return ret;
}

/* ---- evaluation ---- */

enum rk { RK_UNKNOWN = 0, RK_KNOWN, RK_SADDR, RK_IIF, RK_IIFNAME };

/* what a 32-bit register slot holds: the start of a value of len bytes */
struct rv {
	enum rk kind;
	uint8_t len;
	uint8_t off;		/* RK_SADDR: first byte of the address loaded */
	uint8_t b[16];		/* RK_KNOWN: the bytes; RK_SADDR: xor after the mask (0) */
	uint8_t mask[16];	/* RK_SADDR: mask applied */
};

#define NSLOTS 24

struct ev {
	const struct ne_world *w;
	const struct ne_packet *p;
	const struct ne_table *t;
	u128 max;
	struct ne_result *res;
	bool in_base_prerouting;
	int depth;
	uint16_t dport;		/* the transport header's port in the chain evaluated */
	bool natted;		/* the chain is past the DNAT: ct status dnat */
	struct ne_nat *nat;	/* ne_nat(): nat and redir are understood, the first is noted here */
};

static int slot_of(uint32_t reg)
{
	if (reg <= NFT_REG_4)
		return (int)reg * 4;
	if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
		return (int)(reg - NFT_REG32_00) + 4;
	return -1;
}

static void reg_put(struct rv *regs, uint32_t reg, const struct rv *v)
{
	int s = slot_of(reg);

	if (s < 0 || s >= NSLOTS)
		return;
	regs[s] = *v;
	for (int k = 1; k < (v->len + 3) / 4 && s + k < NSLOTS; k++)
		memset(&regs[s + k], 0, sizeof(regs[0]));
}

/* the known bytes in len bytes of registers from reg (concatenations too); false if not all known */
static bool reg_known(const struct rv *regs, uint32_t reg, uint32_t len, uint8_t *out)
{
	int s = slot_of(reg);
	uint32_t got = 0;

	memset(out, 0, len);
	while (got < len) {
		uint32_t vl, take;

		if (s < 0 || s >= NSLOTS || regs[s].kind != RK_KNOWN || !regs[s].len)
			return false;
		vl = regs[s].len;
		take = vl < len - got ? vl : len - got;
		memcpy(out + got, regs[s].b, take);
		got += (vl + 3) / 4 * 4;
		s += (int)((vl + 3) / 4);
	}
	return true;
}

static const struct rv *reg_at(const struct rv *regs, uint32_t reg)
{
	int s = slot_of(reg);

	return s < 0 || s >= NSLOTS ? NULL : &regs[s];
}

static struct rv known(const void *b, size_t len)
{
	struct rv v = { .kind = RK_KNOWN, .len = (uint8_t)len };

	memcpy(v.b, b, len > 16 ? 16 : len);
	return v;
}

static struct rv known_u8(uint8_t x)
{
	return known(&x, 1);
}

static struct rv known_u32h(uint32_t x)
{
	return known(&x, 4);
}

static size_t addr_len(enum cidr_family f)
{
	return f == CIDR_V4 ? 4 : 16;
}

/*
 * Sources whose address slice [off, off+len) masked equals val: a prefix
 * when off is 0 and the mask is a prefix mask. Returns 0 (done), 1 (not a
 * prefix: unknown) or -ENOMEM.
 */
static int saddr_match(const struct ev *ev, const struct rv *v, const uint8_t *val, size_t len,
		       struct rangeset *out)
{
	size_t al = addr_len(ev->p->family);
	uint8_t lo[16] = { 0 }, hi[16];
	bool zeros = false;

	rangeset_init(out);
	if (v->off != 0 || len != v->len || len > al)
		return 1;
	memset(hi, 0xff, sizeof(hi));
	for (size_t i = 0; i < len; i++) {
		uint8_t m = v->mask[i];

		/* prefix mask: ones then zeros */
		if ((uint8_t)(m | (m - 1)) != 0xff && m != 0)
			return 1;
		if (zeros && m)
			return 1;
		if (m != 0xff)
			zeros = true;
		if (val[i] & ~m)
			return 0;	/* never equal: no source */
		lo[i] = val[i];
		hi[i] = val[i] | (uint8_t)~m;
	}
	return rangeset_add(out, be_num(lo, al), be_num(hi, al)) < 0 ? -ENOMEM : 0;
}

/* the part of the whole space whose loaded slice lies in [from, to] (off 0, full mask) */
static int saddr_range(const struct ev *ev, const struct rv *v, const uint8_t *from, const uint8_t *to,
		       size_t len, struct rangeset *out)
{
	size_t al = addr_len(ev->p->family);
	uint8_t lo[16] = { 0 }, hi[16];

	rangeset_init(out);
	if (v->off != 0 || len != v->len || len > al)
		return 1;
	for (size_t i = 0; i < len; i++)
		if (v->mask[i] != 0xff)
			return 1;
	memset(hi, 0xff, sizeof(hi));
	memcpy(lo, from, len);
	memcpy(hi, to, len);
	if (memcmp(lo, hi, al) > 0)
		return 0;
	return rangeset_add(out, be_num(lo, al), be_num(hi, al)) < 0 ? -ENOMEM : 0;
}

/* one way a rule may end for some sources */
struct branch {
	struct rangeset m;
	int verdict;		/* NF_ACCEPT, NF_DROP, NFT_JUMP, NFT_GOTO, NFT_RETURN, NFT_CONTINUE, or -100: none */
	const char *chain;
};

struct rule_out {
	struct rangeset m;	/* sources the matches so far let through */
	bool never;		/* a known match failed */
	bool unknown;		/* a match or statement it could not evaluate */
	bool act;		/* a statement it could not evaluate (nat, queue, ...): acts even without a verdict */
	char why[160];
	const char *set;	/* the last source set looked up */
	struct branch *br;	/* verdict map on the source: one way per element */
	size_t nbr, cbr;
	int verdict;
	const char *chain;
	/* ne_nat(): a dnat or redirect statement for the sources in m */
	enum ne_nat_kind nat;
	char nat_to[96];
	uint16_t nat_port;
};

__attribute__((format(printf, 2, 3)))
static void unknown(struct rule_out *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->unknown) {
		va_start(ap, fmt);
		vsnprintf(o->why, sizeof(o->why), fmt, ap);
		va_end(ap);
	}
	o->unknown = true;
}

/* narrow o->m by the sources in x (taken) */
static int narrow(const struct ev *ev, struct rule_out *o, struct rangeset *x, bool invert)
{
	struct rangeset n;
	int ret = invert ? rs_subtract(&o->m, x, ev->max, &n) : rs_intersect(&o->m, x, &n);

	rangeset_fini(x);
	if (ret < 0) {
		rangeset_fini(&n);
		return ret;
	}
	rs_move(&o->m, &n);
	if (!o->m.n)
		o->never = true;
	return 0;
}

static int eval_cmp(const struct ev *ev, const struct rv *regs, struct nftnl_expr *e, struct rule_out *o)
{
	uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP);
	uint32_t len = 0;
	const uint8_t *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
	const struct rv *v = reg_at(regs, sreg);
	uint8_t kb[64];

	if (!data || len > sizeof(kb) || !v)
		return unknown(o, "%s", "cmp"), 0;
	if (reg_known(regs, sreg, len, kb)) {
		int c = memcmp(kb, data, len);
		bool ok = op == NFT_CMP_EQ ? c == 0 : op == NFT_CMP_NEQ ? c != 0 : op == NFT_CMP_LT ? c < 0
			  : op == NFT_CMP_LTE ? c <= 0 : op == NFT_CMP_GT ? c > 0 : c >= 0;

		if (!ok)
			o->never = true;
		return 0;
	}
	if (v->kind == RK_IIF || v->kind == RK_IIFNAME) {
		/* the packet never comes in on "lo" (ifindex 1); any other interface may be it */
		bool lo = v->kind == RK_IIF ? (len == 4 && *(const uint32_t *)(const void *)data == 1)
					    : (len >= 3 && !memcmp(data, "lo", 3));

		if (lo && op == NFT_CMP_EQ)
			o->never = true;
		else if (!(lo && op == NFT_CMP_NEQ))
			unknown(o, "%s", v->kind == RK_IIF ? "meta iif" : "meta iifname");
		return 0;
	}
	if (v->kind == RK_SADDR && (op == NFT_CMP_EQ || op == NFT_CMP_NEQ)) {
		struct rangeset x;
		int ret = saddr_match(ev, v, data, len, &x);

		if (ret < 0)
			return ret;
		if (ret > 0) {
			rangeset_fini(&x);
			return unknown(o, "%s", "saddr slice"), 0;
		}
		return narrow(ev, o, &x, op == NFT_CMP_NEQ);
	}
	if (v->kind == RK_SADDR && len == v->len) {
		uint8_t lo[16], hi[16];
		struct rangeset x;
		int ret;

		memset(lo, 0, sizeof(lo));
		memset(hi, 0xff, sizeof(hi));
		/* lt/lte/gt/gte as a range */
		if (op == NFT_CMP_LT || op == NFT_CMP_LTE)
			memcpy(hi, data, len);
		else
			memcpy(lo, data, len);
		ret = saddr_range(ev, v, lo, hi, len, &x);
		if (ret < 0)
			return ret;
		if (ret > 0) {
			rangeset_fini(&x);
			return unknown(o, "%s", "saddr comparison"), 0;
		}
		/* strict comparisons exclude the bound itself */
		if (op == NFT_CMP_LT || op == NFT_CMP_GT) {
			struct rangeset one;
			size_t al = addr_len(ev->p->family);
			uint8_t b[16] = { 0 };

			memcpy(b, data, len);
			rangeset_init(&one);
			if (rangeset_add(&one, be_num(b, al), be_num(b, al)) < 0 || narrow(ev, o, &one, true) < 0) {
				rangeset_fini(&x);
				return -ENOMEM;
			}
		}
		return narrow(ev, o, &x, false);
	}
	unknown(o, "%s", "cmp on a value it does not model");
	return 0;
}

static int eval_range(const struct ev *ev, const struct rv *regs, struct nftnl_expr *e, struct rule_out *o)
{
	uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_SREG), op = nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP);
	uint32_t l1 = 0, l2 = 0;
	const uint8_t *from = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &l1);
	const uint8_t *to = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &l2);
	const struct rv *v = reg_at(regs, sreg);
	uint8_t kb[16];

	if (!from || !to || l1 != l2 || l1 > 16 || !v)
		return unknown(o, "%s", "range"), 0;
	if (reg_known(regs, sreg, l1, kb)) {
		bool in = memcmp(kb, from, l1) >= 0 && memcmp(kb, to, l1) <= 0;

		if (in != (op == NFT_RANGE_EQ))
			o->never = true;
		return 0;
	}
	if (v->kind == RK_SADDR) {
		struct rangeset x;
		int ret = saddr_range(ev, v, from, to, l1, &x);

		if (ret < 0)
			return ret;
		if (ret > 0) {
			rangeset_fini(&x);
			return unknown(o, "%s", "saddr range"), 0;
		}
		return narrow(ev, o, &x, op != NFT_RANGE_EQ);
	}
	unknown(o, "%s", "range on a value it does not model");
	return 0;
}

static int eval_lookup(const struct ev *ev, const struct rv *regs, struct nftnl_expr *e, struct rule_out *o)
{
	const char *name = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_SET) ? nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET) : NULL;
	const struct ne_set *s = find_set(ev->t, name);
	uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG);
	bool invert = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
		      (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV);
	bool has_dreg = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG);
	uint32_t dreg = has_dreg ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) : 0;
	bool vmap = has_dreg && dreg == NFT_REG_VERDICT;
	const struct rv *v = reg_at(regs, sreg);
	uint8_t kb[16];

	if (!s || !s->loaded || s->unparsed || s->key_len > 16 || !v)
		return unknown(o, "lookup in set %s", name ? name : "?"), 0;
	if (has_dreg && !vmap)
		return unknown(o, "map lookup in %s", name), 0;
	if (reg_known(regs, sreg, s->key_len, kb)) {
		u128 k = be_num(kb, s->key_len);
		const struct ne_elem *hit = NULL;

		for (size_t i = 0; i < s->nel && !hit; i++)
			if (s->el[i].lo <= k && k <= s->el[i].hi)
				hit = &s->el[i];
		if (!vmap) {
			if (!hit != invert)
				o->never = true;
			return 0;
		}
		if (!hit) {
			o->never = true;
			return 0;
		}
		o->verdict = hit->verdict;
		o->chain = hit->chain;
		return 0;
	}
	if (v->kind == RK_SADDR && s->key_len == addr_len(ev->p->family)) {
		bool full = v->off == 0 && v->len == s->key_len;

		for (size_t i = 0; full && i < v->len; i++)
			full = v->mask[i] == 0xff;
		if (!full)
			return unknown(o, "lookup of a masked source in %s", name), 0;
		o->set = s->name;
		if (!vmap) {
			struct rangeset x;

			rangeset_init(&x);
			for (size_t i = 0; i < s->nel; i++)
				if (rangeset_add(&x, s->el[i].lo, s->el[i].hi) < 0) {
					rangeset_fini(&x);
					return -ENOMEM;
				}
			rangeset_normalize(&x);
			return narrow(ev, o, &x, invert);
		}
		/* a verdict map on the source: one branch per element */
		for (size_t i = 0; i < s->nel; i++) {
			struct rangeset x, y;
			struct branch *b;

			rangeset_init(&x);
			if (rangeset_add(&x, s->el[i].lo, s->el[i].hi) < 0 || rs_intersect(&o->m, &x, &y) < 0) {
				rangeset_fini(&x);
				return -ENOMEM;
			}
			rangeset_fini(&x);
			if (!y.n) {
				rangeset_fini(&y);
				continue;
			}
			if (util_grow((void **)&o->br, &o->cbr, o->nbr + 1, sizeof(*o->br)) < 0) {
				rangeset_fini(&y);
				return -ENOMEM;
			}
			b = &o->br[o->nbr++];
			b->m = y;
			b->verdict = s->el[i].verdict;
			b->chain = s->el[i].chain;
		}
		o->verdict = -200;	/* branches decide; the rest does not match */
		return 0;
	}
	unknown(o, "lookup in %s of a value it does not model", name);
	return 0;
}

static bool is(const char *n, const char *x)
{
	return !strcmp(n, x);
}

/* meta: the packet's protocol, family, type into the register; interfaces are not known */
static void load_meta(const struct ev *ev, struct rv *regs, struct nftnl_expr *e)
{
	uint8_t nfp = ev->p->family == CIDR_V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint8_t l4 = ev->p->udp ? IPPROTO_UDP : IPPROTO_TCP;
	struct rv v = { 0 };

	if (nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG))
		return;	/* meta ... set: no effect on the verdict */
	switch (nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY)) {
	case NFT_META_NFPROTO: v = known_u8(nfp); break;
	case NFT_META_L4PROTO: v = known_u8(l4); break;
	case NFT_META_PROTOCOL: {
		uint16_t eth = htons(ev->p->family == CIDR_V4 ? 0x0800 : 0x86dd);

		v = known(&eth, 2);
		break;
	}
	case NFT_META_PKTTYPE: v = known_u8(0); break;	/* PACKET_HOST */
	case NFT_META_IIF: v.kind = RK_IIF; v.len = 4; break;
	case NFT_META_IIFNAME: v.kind = RK_IIFNAME; v.len = 16; break;
	default: v.kind = RK_UNKNOWN; v.len = 4; break;
	}
	reg_put(regs, nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG), &v);
}

/* payload: the source address (symbolic), the L4 protocol, the destination port */
static void load_payload(const struct ev *ev, struct rv *regs, struct nftnl_expr *e)
{
	uint8_t l4 = ev->p->udp ? IPPROTO_UDP : IPPROTO_TCP;
	uint16_t dport = htons(ev->dport);	/* after a DNAT: the translated port */
	uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
	uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
	uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
	uint32_t sa = ev->p->family == CIDR_V4 ? 12 : 8, al = (uint32_t)addr_len(ev->p->family);
	struct rv v = { 0 };

	if (nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG))
		return;	/* payload set (mangle): the verdict stays */
	v.len = (uint8_t)(len > 16 ? 16 : len);
	if (base == NFT_PAYLOAD_NETWORK_HEADER && off >= sa && off + len <= sa + al) {
		v.kind = RK_SADDR;
		v.off = (uint8_t)(off - sa);
		memset(v.mask, 0xff, sizeof(v.mask));
	} else if (base == NFT_PAYLOAD_NETWORK_HEADER && len == 1 &&
		   off == (ev->p->family == CIDR_V4 ? 9u : 6u)) {
		v = known_u8(l4);
	} else if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 && len == 2) {
		v = known(&dport, 2);
	}
	reg_put(regs, nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG), &v);
}

/* ct: a new connection of the packet's family, protocol and port */
static void load_ct(const struct ev *ev, struct rv *regs, struct nftnl_expr *e)
{
	uint8_t nfp = ev->p->family == CIDR_V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint8_t l4 = ev->p->udp ? IPPROTO_UDP : IPPROTO_TCP;
	uint16_t odport = htons(ev->p->dport);	/* the original tuple's */
	uint32_t st = NF_CT_STATE_BIT(IP_CT_NEW);
	struct rv v = { 0 };

	if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_SREG))
		return;	/* ct ... set */
	switch (nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY)) {
	case NFT_CT_STATE: v = known_u32h(st); break;
	case NFT_CT_STATUS: v = known_u32h(ev->natted ? IPS_DST_NAT | IPS_DST_NAT_DONE : 0); break;
	case NFT_CT_DIRECTION: v = known_u8(0); break;
	case NFT_CT_L3PROTOCOL: v = known_u8(nfp); break;
	case NFT_CT_PROTOCOL: v = known_u8(l4); break;
	case NFT_CT_PROTO_DST:
		/* the original tuple's port; the reply's is the client's */
		if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR) &&
		    nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR) != IP_CT_DIR_ORIGINAL)
			v.len = 2;
		else
			v = known(&odport, 2);
		break;
	default: v.kind = RK_UNKNOWN; v.len = 4; break;
	}
	reg_put(regs, nftnl_expr_get_u32(e, NFTNL_EXPR_CT_DREG), &v);
}

/* bitwise: a known value masked, or the source address with a prefix mask */
static void load_bitwise(struct rv *regs, struct nftnl_expr *e)
{
	uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG);
	uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_LEN);
	uint32_t ml = 0, xl = 0;
	const uint8_t *mask = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &ml);
	const uint8_t *xr = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &xl);
	const struct rv *src = reg_at(regs, sreg);
	bool plain = (!nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_OP) ||
		      nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_OP) == NFT_BITWISE_BOOL) &&
		     mask && ml >= len && len <= 16;
	uint8_t kb[16];
	bool xzero = true;
	struct rv v = { 0 };

	for (uint32_t i = 0; xr && i < xl; i++)
		xzero &= xr[i] == 0;
	v.len = (uint8_t)(len > 16 ? 16 : len);
	if (plain && reg_known(regs, sreg, len, kb)) {
		v.kind = RK_KNOWN;
		for (uint32_t i = 0; i < len; i++)
			v.b[i] = (uint8_t)((kb[i] & mask[i]) ^ (i < xl ? xr[i] : 0));
	} else if (plain && xzero && src && src->kind == RK_SADDR && src->len == len) {
		v = *src;
		for (uint32_t i = 0; i < len; i++)
			v.mask[i] &= mask[i];
	}
	reg_put(regs, nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG), &v);
}

/* immediate: a verdict (with its chain) into o, or a value into a register */
static void load_immediate(struct rv *regs, struct nftnl_expr *e, struct rule_out *o)
{
	struct rv v = { 0 };

	if (nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
		o->verdict = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		o->chain = nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)
			   ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : NULL;
	} else {
		uint32_t len = 0;
		const void *d = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len);

		v = d && len <= 16 ? known(d, len) : v;
		reg_put(regs, nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG), &v);
	}
}

/*
 * "dnat to ADDR[:PORT]" and "redirect [to :PORT]" in a nat chain (ne_nat()):
 * the first translation ends the nat chains for the packet (NF_ACCEPT).
 */
static void eval_nat(const struct ev *ev, const struct rv *regs, struct nftnl_expr *e, struct rule_out *o)
{
	uint8_t nfp = ev->p->family == CIDR_V4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint32_t preg = 0, amin = 0, amax = 0;
	bool has_preg, has_addr = false;
	uint8_t a1[16], a2[16], pb[2];

	if (is(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "redir")) {
		has_preg = nftnl_expr_is_set(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN);
		if (has_preg)
			preg = nftnl_expr_get_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN);
	} else {
		if (!nftnl_expr_is_set(e, NFTNL_EXPR_NAT_TYPE) ||
		    nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) != NFT_NAT_DNAT) {
			unknown(o, "%s", "snat on prerouting");
			o->act = true;
			return;
		}
		/* "dnat ip to" in an inet table does nothing to an IPv6 packet, and the other way round */
		if (nftnl_expr_is_set(e, NFTNL_EXPR_NAT_FAMILY) && nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_FAMILY) != nfp)
			return;
		has_addr = nftnl_expr_is_set(e, NFTNL_EXPR_NAT_REG_ADDR_MIN);
		amin = has_addr ? nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN) : 0;
		amax = nftnl_expr_is_set(e, NFTNL_EXPR_NAT_REG_ADDR_MAX) ? nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX)
									   : amin;
		has_preg = nftnl_expr_is_set(e, NFTNL_EXPR_NAT_REG_PROTO_MIN);
		if (has_preg)
			preg = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN);
	}
	if (has_preg && !reg_known(regs, preg, 2, pb)) {
		unknown(o, "%s", "translated port it cannot tell");
		o->act = true;
		return;
	}
	o->nat_port = has_preg ? (uint16_t)(pb[0] << 8 | pb[1]) : 0;
	if (has_addr) {
		size_t al = addr_len(ev->p->family);
		char s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];

		if (!reg_known(regs, amin, (uint32_t)al, a1) || !reg_known(regs, amax, (uint32_t)al, a2)) {
			unknown(o, "%s", "translated address it cannot tell");
			o->act = true;
			return;
		}
		inet_ntop(ev->p->family == CIDR_V4 ? AF_INET : AF_INET6, a1, s1, sizeof(s1));
		inet_ntop(ev->p->family == CIDR_V4 ? AF_INET : AF_INET6, a2, s2, sizeof(s2));
		if (memcmp(a1, a2, al))
			snprintf(o->nat_to, sizeof(o->nat_to), "%s-%s", s1, s2);
		else
			snprintf(o->nat_to, sizeof(o->nat_to), "%s", s1);
		o->nat = NE_NAT_DNAT;
	} else {
		o->nat = NE_NAT_LOCAL;	/* redirect, or a dnat that changes the port only */
	}
	o->verdict = NF_ACCEPT;
}

/* evaluate one rule's matches and statements into o (o->m starts as the sources reaching it) */
static int eval_rule(const struct ev *ev, struct nftnl_rule *r, struct rule_out *o)
{
	struct rv regs[NSLOTS];
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	int ret = 0;

	memset(regs, 0, sizeof(regs));
	o->verdict = -100;
	if (!it)
		return -ENOMEM;
	for (e = nftnl_expr_iter_next(it); e && !o->never && !ret && o->verdict == -100; e = nftnl_expr_iter_next(it)) {
		const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (is(n, "meta")) {
			load_meta(ev, regs, e);
		} else if (is(n, "payload")) {
			load_payload(ev, regs, e);
		} else if (is(n, "ct")) {
			load_ct(ev, regs, e);
		} else if (is(n, "bitwise")) {
			load_bitwise(regs, e);
		} else if (is(n, "cmp")) {
			ret = eval_cmp(ev, regs, e, o);
		} else if (is(n, "range")) {
			ret = eval_range(ev, regs, e, o);
		} else if (is(n, "lookup")) {
			ret = eval_lookup(ev, regs, e, o);
		} else if (is(n, "immediate")) {
			load_immediate(regs, e, o);
		} else if (is(n, "fib") || is(n, "socket") || is(n, "osf") || is(n, "exthdr") || is(n, "rt") ||
			   is(n, "numgen") || is(n, "hash") || is(n, "xfrm") || is(n, "tunnel") || is(n, "inner")) {
			/* loads a value it does not model: whatever compares it is not evaluated */
			memset(regs, 0, sizeof(regs));
		} else if (ev->nat && (is(n, "nat") || is(n, "redir"))) {
			eval_nat(ev, regs, e, o);
		} else if (is(n, "reject")) {
			o->verdict = NF_DROP;
		} else if (is(n, "counter") || is(n, "log") || is(n, "limit") || is(n, "dynset") ||
			   is(n, "objref") || is(n, "quota") || is(n, "notrack") || is(n, "connlimit") ||
			   is(n, "last")) {
			/*
			 * no verdict. limit and quota and connlimit match only under their
			 * threshold; a scanner's few packets stay under it
			 */
			continue;
		} else {
			/* nat, queue, tproxy, xtables match/target, ...: it cannot tell */
			unknown(o, "expression '%s'", n);
			o->act = true;
		}
	}
	nftnl_expr_iter_destroy(it);
	return ret;
}

static int eval_chain(struct ev *ev, const struct ne_chain *c, struct rangeset *in, struct rangeset *acc,
		      struct rangeset *drop, struct rangeset *unk, struct rangeset *ret_out);

static void note_drop(struct ev *ev, const struct ne_chain *c, struct nftnl_rule *r, const char *set)
{
	struct ne_result *res = ev->res;
	char *txt;

	if (res->drop_table[0])
		return;
	snprintf(res->drop_family, sizeof(res->drop_family), "%s",
		 ev->t->family == NFPROTO_IPV4 ? "ip" : ev->t->family == NFPROTO_IPV6 ? "ip6" : "inet");
	snprintf(res->drop_table, sizeof(res->drop_table), "%s", ev->t->name);
	snprintf(res->drop_chain, sizeof(res->drop_chain), "%s", c->name);
	snprintf(res->drop_set, sizeof(res->drop_set), "%s", set ? set : "");
	res->drop_portlock = ev->t->portlock;
	res->drop_handle = r && nftnl_rule_is_set(r, NFTNL_RULE_HANDLE) ? nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE) : 0;
	txt = r ? nm_rule_text(r, NM_TEXT_NO_COUNTERS) : NULL;
	snprintf(res->drop_rule, sizeof(res->drop_rule), "%s", txt ? txt : (r ? "?" : "policy drop"));
	free(txt);
}

static void note_unknown(struct ev *ev, const struct ne_chain *c, struct nftnl_rule *r, const char *why)
{
	char *txt;

	if (ev->res->unknown[0])
		return;
	txt = r ? nm_rule_text(r, NM_TEXT_NO_COUNTERS) : NULL;
	snprintf(ev->res->unknown, sizeof(ev->res->unknown), "table %s %s chain %s: %s (%s)",
		 ev->t->family == NFPROTO_IPV4 ? "ip" : ev->t->family == NFPROTO_IPV6 ? "ip6" : "inet",
		 ev->t->name, c->name, txt ? txt : "?", why);
	free(txt);
}

static void note_nat(struct ev *ev, const struct ne_chain *c, struct nftnl_rule *r, const struct rule_out *o)
{
	struct ne_nat *n = ev->nat;
	char *txt = nm_rule_text(r, NM_TEXT_NO_COUNTERS);

	n->kind = o->nat;
	n->some = !(o->m.n == 1 && o->m.r[0].lo == 0 && o->m.r[0].hi == ev->max);
	snprintf(n->to, sizeof(n->to), "%s", o->nat_to);
	n->to_port = o->nat_port;
	snprintf(n->family, sizeof(n->family), "%s",
		 ev->t->family == NFPROTO_IPV4 ? "ip" : ev->t->family == NFPROTO_IPV6 ? "ip6" : "inet");
	snprintf(n->table, sizeof(n->table), "%s", ev->t->name);
	snprintf(n->chain, sizeof(n->chain), "%s", c->name);
	n->handle = nftnl_rule_is_set(r, NFTNL_RULE_HANDLE) ? nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE) : 0;
	snprintf(n->rule, sizeof(n->rule), "%s", txt ? txt : "?");
	free(txt);
}

/* apply verdict v to the sources m (taken) coming out of rule r of chain c */
static int apply(struct ev *ev, const struct ne_chain *c, struct nftnl_rule *r, const char *set, int v,
		 const char *target, struct rangeset *m, struct rangeset *acc, struct rangeset *drop,
		 struct rangeset *unk, struct rangeset *ret_out, struct rangeset *cont)
{
	int ret = 0;

	switch (v) {
	case NF_ACCEPT:
		ret = rs_union(acc, m);
		break;
	case NF_DROP:
		note_drop(ev, c, r, set);
		ret = rs_union(drop, m);
		break;
	case NFT_RETURN:
		ret = rs_union(ret_out, m);
		break;
	case NFT_CONTINUE:
	case -100:	/* no verdict: goes on */
		ret = rs_union(cont, m);
		break;
	case NFT_JUMP:
	case NFT_GOTO: {
		const struct ne_chain *to = target ? find_chain(ev->t, target) : NULL;
		struct rangeset back;

		rangeset_init(&back);
		if (!to || ev->depth >= 16) {
			note_unknown(ev, c, r, to ? "chains nested too deep" : "jump to a chain it did not read");
			ret = rs_union(unk, m);
			break;
		}
		ev->depth++;
		ret = eval_chain(ev, to, m, acc, drop, unk, &back);
		ev->depth--;
		/* what returns from a jump goes on after the rule; from a goto, it returns from c */
		if (!ret)
			ret = rs_union(v == NFT_JUMP ? cont : ret_out, &back);
		rangeset_fini(&back);
		break;
	}
	default:	/* queue, stolen, break ...: not evaluated */
		note_unknown(ev, c, r, "verdict it does not model");
		ret = rs_union(unk, m);
		break;
	}
	rangeset_fini(m);
	return ret;
}

/*
 * Run the sources in (taken) through chain c: those accepted, dropped, not
 * evaluated are added to acc, drop, unk; those that fall off its end or
 * return go to ret_out.
 */
static int eval_chain(struct ev *ev, const struct ne_chain *c, struct rangeset *in, struct rangeset *acc,
		      struct rangeset *drop, struct rangeset *unk, struct rangeset *ret_out)
{
	struct rangeset s = *in;
	int ret = 0;

	rangeset_init(in);
	for (size_t i = 0; i < c->nrules && s.n && !ret; i++) {
		struct nftnl_rule *r = c->rules[i];
		struct rule_out o;
		struct rangeset cont, rest;

		memset(&o, 0, sizeof(o));
		rangeset_init(&cont);
		ret = rangeset_copy(&o.m, &s);
		if (!ret)
			ret = eval_rule(ev, r, &o);
		if (ret || o.never || (o.verdict == -100 && !o.act)) {
			/* no match, or a match with no verdict: nothing changes */
			goto next;
		}
		if (o.nat && !o.unknown && ev->nat && ev->nat->kind == NE_NAT_NONE)
			note_nat(ev, c, r, &o);
		if (o.unknown) {
			/* the sources the known matches let through have a fate it cannot tell */
			note_unknown(ev, c, r, o.why);
			if (o.verdict == -200) {
				for (size_t b = 0; b < o.nbr; b++)
					ret = ret ? ret : rs_union(&o.m, &o.br[b].m);
			}
			if (!ret)
				ret = rs_union(unk, &o.m);
			if (!ret)
				ret = rs_subtract(&s, &o.m, ev->max, &rest);
			if (!ret)
				rs_move(&s, &rest);
			goto next;
		}
		if (o.verdict == -200) {
			/* verdict map branches: each part takes its element's verdict */
			struct rangeset all;

			rangeset_init(&all);
			for (size_t b = 0; b < o.nbr && !ret; b++) {
				ret = rs_union(&all, &o.br[b].m);
				if (!ret)
					ret = apply(ev, c, r, o.set, o.br[b].verdict, o.br[b].chain, &o.br[b].m, acc,
						    drop, unk, ret_out, &cont);
			}
			if (!ret)
				ret = rs_subtract(&s, &all, ev->max, &rest);
			rangeset_fini(&all);
		} else {
			struct rangeset m;

			ret = rangeset_copy(&m, &o.m);
			if (!ret)
				ret = rs_subtract(&s, &o.m, ev->max, &rest);
			if (!ret)
				ret = apply(ev, c, r, o.set, o.verdict, o.chain, &m, acc, drop, unk, ret_out, &cont);
			else
				rangeset_fini(&m);
		}
		if (!ret) {
			rs_move(&s, &rest);
			ret = rs_union(&s, &cont);
		}
next:
		rangeset_fini(&cont);
		rangeset_fini(&o.m);
		for (size_t b = 0; b < o.nbr; b++)
			rangeset_fini(&o.br[b].m);
		free(o.br);
	}
	if (!ret)
		ret = rs_union(ret_out, &s);
	rangeset_fini(&s);
	return ret;
}

/* NF_IP_PRI_NAT_DST: the priority of "dstnat" */
#define PRI_NAT_DST (-100)

static bool table_sees(const struct ne_table *t, enum cidr_family f)
{
	return t->family == NFPROTO_INET || (t->family == NFPROTO_IPV4 && f == CIDR_V4) ||
	       (t->family == NFPROTO_IPV6 && f == CIDR_V6);
}

const char *ne_state_str(enum ne_state s)
{
	switch (s) {
	case NE_OPEN: return "open";
	case NE_RESTRICTED: return "restricted";
	case NE_CLOSED: return "closed";
	case NE_UNKNOWN: return "not evaluated";
	}
	return "?";
}

int ne_eval(const struct ne_world *w, const struct ne_packet *p, struct ne_result *out)
{
	struct ev ev = { .w = w, .p = p, .res = out };
	uint32_t hook = p->forward ? NF_INET_FORWARD : NF_INET_LOCAL_IN;
	struct rangeset ok, maybe;	/* sources every base chain accepts; ... accepts or may */
	int ret = 0;

	memset(out, 0, sizeof(*out));
	rangeset_init(&out->reach);
	ev.max = cidr_max(p->family);
	rangeset_init(&ok);
	rangeset_init(&maybe);
	if (rangeset_add(&ok, 0, ev.max) < 0 || rangeset_add(&maybe, 0, ev.max) < 0)
		ret = -ENOMEM;
	for (size_t ti = 0; ti < w->n && !ret; ti++) {
		const struct ne_table *t = &w->t[ti];

		if (!table_sees(t, p->family))
			continue;
		ev.t = t;
		for (size_t ci = 0; ci < t->nchains && !ret; ci++) {
			const struct ne_chain *c = &t->chains[ci];
			struct rangeset in, acc, drop, unk, rest, x;

			if (!c->base || (c->hooknum != hook && c->hooknum != NF_INET_PRE_ROUTING))
				continue;
			/* after a translation (ne_nat()), the nat chains have decided */
			if (p->dnat && c->hooknum == NF_INET_PRE_ROUTING && c->type && !strcmp(c->type, "nat"))
				continue;
			ev.natted = p->dnat && (c->hooknum != NF_INET_PRE_ROUTING || c->prio > PRI_NAT_DST);
			ev.dport = ev.natted && p->to_port ? p->to_port : p->dport;
			rangeset_init(&in);
			rangeset_init(&acc);
			rangeset_init(&drop);
			rangeset_init(&unk);
			rangeset_init(&rest);
			ev.depth = 0;
			ret = rangeset_add(&in, 0, ev.max);
			if (!ret)
				ret = eval_chain(&ev, c, &in, &acc, &drop, &unk, &rest);
			/* the policy takes what falls off the end */
			if (!ret && c->policy == NF_DROP && rest.n)
				note_drop(&ev, c, NULL, NULL);
			if (!ret)
				ret = rs_union(c->policy == NF_DROP ? &drop : &acc, &rest);
			if (!ret)
				ret = rs_intersect(&ok, &acc, &x);
			if (!ret) {
				rs_move(&ok, &x);
				ret = rs_union(&acc, &unk);
			}
			if (!ret)
				ret = rs_intersect(&maybe, &acc, &x);
			if (!ret)
				rs_move(&maybe, &x);
			rangeset_fini(&in);
			rangeset_fini(&acc);
			rangeset_fini(&drop);
			rangeset_fini(&unk);
			rangeset_fini(&rest);
		}
	}
	if (!ret) {
		bool all = maybe.n == 1 && maybe.r[0].lo == 0 && maybe.r[0].hi == ev.max;

		out->partial = !rangeset_equal(&ok, &maybe);
		out->state = !maybe.n ? NE_CLOSED : all ? (out->partial ? NE_UNKNOWN : NE_OPEN) : NE_RESTRICTED;
		rs_move(&out->reach, &maybe);
		if (!out->partial)
			out->unknown[0] = '\0';
	}
	rangeset_fini(&ok);
	rangeset_fini(&maybe);
	return ret;
}

struct nat_chain {
	const struct ne_table *t;
	const struct ne_chain *c;
};

int ne_nat(const struct ne_world *w, const struct ne_packet *p, struct ne_nat *out)
{
	struct ne_result res;	/* for the unknown rule's text */
	struct ev ev = { .w = w, .p = p, .res = &res, .nat = out, .dport = p->dport };
	struct nat_chain *v = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	memset(&res, 0, sizeof(res));
	rangeset_init(&res.reach);
	ev.max = cidr_max(p->family);
	/* the nat chains on prerouting, in priority order (insertion: stable) */
	for (size_t ti = 0; ti < w->n; ti++) {
		const struct ne_table *t = &w->t[ti];

		if (!table_sees(t, p->family))
			continue;
		for (size_t ci = 0; ci < t->nchains; ci++) {
			const struct ne_chain *c = &t->chains[ci];
			size_t k;

			if (!c->base || c->hooknum != NF_INET_PRE_ROUTING || !c->type || strcmp(c->type, "nat"))
				continue;
			if (util_grow((void **)&v, &cap, n + 1, sizeof(*v)) < 0) {
				free(v);
				return -ENOMEM;
			}
			for (k = n; k > 0 && v[k - 1].c->prio > c->prio; k--)
				v[k] = v[k - 1];
			v[k].t = t;
			v[k].c = c;
			n++;
		}
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct rangeset in, acc, drop, unk, rest;

		rangeset_init(&in);
		rangeset_init(&acc);
		rangeset_init(&drop);
		rangeset_init(&unk);
		rangeset_init(&rest);
		ev.t = v[i].t;
		ev.depth = 0;
		ret = rangeset_add(&in, 0, ev.max);
		if (!ret)
			ret = eval_chain(&ev, v[i].c, &in, &acc, &drop, &unk, &rest);
		if (!ret && out->kind != NE_NAT_DNAT && unk.n) {
			/* a rule it cannot evaluate may translate the packet (or not) */
			out->kind = NE_NAT_UNKNOWN;
			snprintf(out->why, sizeof(out->why), "%s", res.unknown);
		}
		rangeset_fini(&in);
		rangeset_fini(&acc);
		rangeset_fini(&drop);
		rangeset_fini(&unk);
		rangeset_fini(&rest);
		if (out->kind != NE_NAT_NONE)
			break;
	}
	free(v);
	rangeset_fini(&res.reach);
	return ret;
}

static bool table_has_nat(const struct ne_table *t)
{
	for (size_t ci = 0; ci < t->nchains; ci++)
		if (t->chains[ci].base && t->chains[ci].hooknum == NF_INET_PRE_ROUTING && t->chains[ci].type &&
		    !strcmp(t->chains[ci].type, "nat"))
			return true;
	return false;
}

static int port_add(struct ne_nat_port **v, size_t *n, size_t *cap, const struct ne_nat_port *x)
{
	if (util_grow((void **)v, cap, *n + 1, sizeof(**v)) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = *x;
	return 0;
}

/* the ports one rule with a nat or redir statement matches (dport cmp, range or set), appended to v */
static int rule_nat_ports(const struct ne_table *t, const struct ne_chain *c, struct nftnl_rule *r,
			  struct ne_nat_port **v, size_t *n, size_t *cap)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	uint32_t preg = UINT32_MAX, lreg = UINT32_MAX;
	struct ne_nat_port x;
	const struct ne_set *set = NULL;
	bool nat = false, ranged = false;
	uint32_t lo = 0, hi = 65535;
	char *txt;
	int ret = 0;

	if (!it)
		return -ENOMEM;
	memset(&x, 0, sizeof(x));
	x.any_proto = true;
	while ((e = nftnl_expr_iter_next(it))) {
		const char *nm = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
		uint32_t len = 0;
		const uint8_t *d;

		if (is(nm, "payload") && !nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG)) {
			uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
			uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
			uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG);

			if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 2 &&
			    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2)
				preg = dreg;
			else if (base == NFT_PAYLOAD_NETWORK_HEADER && (off == 9 || off == 6) &&
				 nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 1)
				lreg = dreg;
		} else if (is(nm, "meta") && !nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG) &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == NFT_META_L4PROTO) {
			lreg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);
		} else if (is(nm, "cmp") && (d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len))) {
			uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG);
			uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), val = len == 2 ? (uint32_t)(d[0] << 8 | d[1]) : 0;

			if (sreg == preg && len == 2 && op == NFT_CMP_EQ && !set) {
				lo = hi = val;
				ranged = true;
			} else if (sreg == preg && len == 2 && !set && (op == NFT_CMP_GTE || op == NFT_CMP_GT)) {
				/* "dport A-B" is "cmp gte A, cmp lte B" */
				lo = op == NFT_CMP_GT ? val + 1 : val;
				ranged = true;
			} else if (sreg == preg && len == 2 && !set && (op == NFT_CMP_LTE || op == NFT_CMP_LT)) {
				hi = op == NFT_CMP_LT ? (val ? val - 1 : 0) : val;
				ranged = true;
			} else if (op == NFT_CMP_EQ && sreg == lreg && len == 1 && (d[0] == IPPROTO_TCP || d[0] == IPPROTO_UDP)) {
				x.any_proto = false;
				x.udp = d[0] == IPPROTO_UDP;
			}
		} else if (is(nm, "range") && nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_SREG) == preg && !ranged &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) == NFT_RANGE_EQ) {
			uint32_t l2 = 0;
			const uint8_t *f = nftnl_expr_get(e, NFTNL_EXPR_RANGE_FROM_DATA, &len);
			const uint8_t *to = nftnl_expr_get(e, NFTNL_EXPR_RANGE_TO_DATA, &l2);

			if (f && to && len == 2 && l2 == 2) {
				lo = (uint32_t)(f[0] << 8 | f[1]);
				hi = (uint32_t)(to[0] << 8 | to[1]);
				ranged = true;
			}
		} else if (is(nm, "lookup") && nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG) == preg && !ranged &&
			   !nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) &&
			   !(nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
			     (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV))) {
			const struct ne_set *st = find_set(t, nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET));

			if (st && st->loaded && !st->unparsed && st->key_len == 2) {
				set = st;
				ranged = true;
			}
		} else if ((is(nm, "nat") && nftnl_expr_is_set(e, NFTNL_EXPR_NAT_TYPE) &&
			    nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT) || is(nm, "redir")) {
			nat = true;
		}
	}
	nftnl_expr_iter_destroy(it);
	if (!nat)
		return 0;
	txt = nm_rule_text(r, NM_TEXT_NO_COUNTERS);
	snprintf(x.rule, sizeof(x.rule), "table %s %s chain %s: %s",
		 t->family == NFPROTO_IPV4 ? "ip" : t->family == NFPROTO_IPV6 ? "ip6" : "inet", t->name, c->name,
		 txt ? txt : "?");
	free(txt);
	x.handle = nftnl_rule_is_set(r, NFTNL_RULE_HANDLE) ? nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE) : 0;
	if (set) {
		for (size_t i = 0; i < set->nel && !ret; i++) {
			if (set->el[i].lo > 65535)
				continue;
			x.lo = (uint16_t)set->el[i].lo;
			x.hi = (uint16_t)(set->el[i].hi > 65535 ? 65535 : set->el[i].hi);
			ret = port_add(v, n, cap, &x);
		}
		return ret;
	}
	if (lo > hi)
		return 0;
	x.lo = (uint16_t)lo;
	x.hi = (uint16_t)hi;
	return port_add(v, n, cap, &x);
}

int ne_nat_ports(const struct ne_world *w, struct ne_nat_port **out, size_t *nout)
{
	size_t n = 0, cap = 0;
	int ret = 0;

	*out = NULL;
	*nout = 0;
	for (size_t ti = 0; ti < w->n && !ret; ti++) {
		const struct ne_table *t = &w->t[ti];

		if (!table_has_nat(t))
			continue;
		/* every chain: the base chain's jumps lead to them (Docker's DOCKER chain) */
		for (size_t ci = 0; ci < t->nchains && !ret; ci++)
			for (size_t ri = 0; ri < t->chains[ci].nrules && !ret; ri++)
				ret = rule_nat_ports(t, &t->chains[ci], t->chains[ci].rules[ri], out, &n, &cap);
	}
	if (ret) {
		free(*out);
		*out = NULL;
		return ret;
	}
	*nout = n;
	return 0;
}

void ne_result_fini(struct ne_result *r)
{
	rangeset_fini(&r->reach);
}
