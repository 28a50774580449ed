// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Planner: live model vs desired model -> display lines + one batch. Set
 * elements are encoded straight from the range arrays into netlink
 * attributes (no per-element libnftnl objects: a million prefixes must cost
 * megabytes, not gigabytes), split into messages of at most ~48 KiB because a
 * netlink attribute length is 16 bits.
 */
#include "nft_plan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "diag.h"
#include "nft_model.h"
#include "nl.h"
#include "testhook.h"
#include "util.h"

#define ELEM_MSG_BUDGET (48u << 10)

struct pctx {
	struct plan *pl;
	const struct nm_table *want;
	const struct nm_table *have;	/* NULL fields when the table is absent */
	struct diag *d;
	int err;
	unsigned set_ids;
	const char **recreate;	/* sets deleted and re-added: rules using them cannot be kept */
	size_t nrecreate;
	/* rule indices of each side sorted by (chain, position): a chain's rules are one run */
	size_t *wrules, *hrules;
};

static int rule_chain_cmp(const void *a, const void *b, void *arg)
{
	const struct nm_table *t = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = strcmp(t->rules[x].chain, t->rules[y].chain);

	return r ? r : (x < y ? -1 : x > y);
}

static size_t *rules_by_chain(const struct nm_table *t)
{
	size_t *ix = malloc((t->nrules + 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < t->nrules; i++)
		ix[i] = i;
	qsort_r(ix, t->nrules, sizeof(*ix), rule_chain_cmp, (void *)t);
	return ix;
}

/* The run of ix (rules of t sorted by chain) that belongs to chain: [*first, *end). */
static void chain_rules(const struct nm_table *t, const size_t *ix, const char *chain,
			size_t *first, size_t *end)
{
	size_t lo = 0, hi = t->nrules;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->rules[ix[mid]].chain, chain) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo < t->nrules && !strcmp(t->rules[ix[lo]].chain, chain))
		lo++;
	*end = lo;
}

static void line(struct pctx *c, char sign, const char *fmt, ...) __printf(3, 4);
static void line(struct pctx *c, char sign, const char *fmt, ...)
{
	struct plan *pl = c->pl;
	va_list ap;
	char *t = NULL;

	va_start(ap, fmt);
	if (vasprintf(&t, fmt, ap) < 0)
		t = NULL;
	va_end(ap);
	if (!t || util_grow((void **)&pl->lines, &pl->cap, pl->nlines + 1, sizeof(*pl->lines)) < 0) {
		free(t);
		c->err = -ENOMEM;
		return;
	}
	pl->lines[pl->nlines].sign = sign;
	pl->lines[pl->nlines].text = t;
	pl->nlines++;
}

static struct nlmsghdr *msg(struct pctx *c, uint16_t type, uint16_t flags, const char *label)
{
	struct nlmsghdr *nlh = nl_batch_msg(c->pl->batch, type, NFPROTO_INET, flags, label);

	if (!nlh)
		c->err = -ENOMEM;
	return nlh;
}

static void end(struct pctx *c)
{
	if (nl_batch_end_msg(c->pl->batch) < 0)
		c->err = -ENOMEM;
}

/* ---- elements ---- */

struct elem_writer {
	struct pctx *c;
	uint16_t type;
	const char *set;
	const char *label;
	struct nlmsghdr *nlh;
	struct nlattr *list;
};

static void ew_flush(struct elem_writer *w)
{
	if (!w->nlh)
		return;
	mnl_attr_nest_end(w->nlh, w->list);
	end(w->c);
	w->nlh = NULL;
}

static void ew_open(struct elem_writer *w)
{
	char label[300];

	snprintf(label, sizeof(label), "elements of set %s, %s", w->set, w->label ? w->label : "");
	w->nlh = msg(w->c, w->type, w->type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, label);
	if (!w->nlh)
		return;
	mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_TABLE, w->c->want->name);
	mnl_attr_put_strz(w->nlh, NFTA_SET_ELEM_LIST_SET, w->set);
	w->list = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
}

static void ew_put(struct elem_writer *w, const uint8_t *key, uint32_t klen, bool iend,
		   const char *jump)
{
	struct nlattr *e, *k;

	if (w->nlh && w->nlh->nlmsg_len > ELEM_MSG_BUDGET)
		ew_flush(w);
	if (!w->nlh)
		ew_open(w);
	if (!w->nlh)
		return;
	e = mnl_attr_nest_start(w->nlh, NFTA_LIST_ELEM);
	if (iend)
		mnl_attr_put_u32(w->nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	k = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(w->nlh, NFTA_DATA_VALUE, klen, key);
	mnl_attr_nest_end(w->nlh, k);
	if (jump) {
		struct nlattr *dn = mnl_attr_nest_start(w->nlh, NFTA_SET_ELEM_DATA);
		struct nlattr *vn = mnl_attr_nest_start(w->nlh, NFTA_DATA_VERDICT);

		mnl_attr_put_u32(w->nlh, NFTA_VERDICT_CODE, htonl((uint32_t)NFT_JUMP));
		mnl_attr_put_strz(w->nlh, NFTA_VERDICT_CHAIN, jump);
		mnl_attr_nest_end(w->nlh, vn);
		mnl_attr_nest_end(w->nlh, dn);
	}
	mnl_attr_nest_end(w->nlh, e);
}

/* An interval [lo, hi] is a start element and, unless hi is the top, an end element at hi+1. */
static void ew_range(struct elem_writer *w, enum cidr_family f, const struct range *r,
		     const char *jump)
{
	uint8_t b[16];
	uint32_t len = f == CIDR_V4 ? 4 : 16;

	cidr_to_bytes(f, r->lo, b);
	ew_put(w, b, len, false, jump);
	if (r->hi != cidr_max(f)) {
		cidr_to_bytes(f, r->hi + 1, b);
		ew_put(w, b, len, true, NULL);
	}
}

static void ew_port(struct elem_writer *w, uint16_t port, const char *jump)
{
	uint8_t b[2] = { (uint8_t)(port >> 8), (uint8_t)port };

	ew_put(w, b, 2, false, jump);
}

static enum cidr_family set_family(const struct nm_set *s)
{
	return s->key_len == 4 ? CIDR_V4 : CIDR_V6;
}

static void elem_line(struct pctx *c, char sign, const struct nm_set *s, const char *what,
		      size_t *shown)
{
	if (c->pl->max_elem_lines && *shown >= c->pl->max_elem_lines) {
		c->pl->elided++;
		return;
	}
	(*shown)++;
	line(c, sign, "element inet %s %s { %s }", c->want->name, s->name, what);
}

/* A range's line, formatted only when it will be shown (a million are not). */
static void range_line(struct pctx *c, char sign, const struct nm_set *s, enum cidr_family f,
		       const struct range *r, size_t *shown)
{
	char buf[128];

	if (c->pl->max_elem_lines && *shown >= c->pl->max_elem_lines) {
		c->pl->elided++;
		return;
	}
	elem_line(c, sign, s, range_str(f, r, buf, sizeof(buf)), shown);
}

/*
 * One shape of set element, for merge_elems(): how many a set holds, how
 * element i of want compares with element j of have (both present; > 0:
 * have's goes, < 0: want's comes, 0: the same), and writing element k of s
 * as a line and a batch element (sign '-' into a delete, '+' into an add).
 */
struct elem_ops {
	size_t (*count)(const struct nm_set *s);
	int (*cmp)(const struct nm_set *want, size_t i, const struct nm_set *have, size_t j);
	void (*emit)(struct pctx *c, char sign, const struct nm_set *want, const struct nm_set *s,
		     size_t k, struct elem_writer *ew, size_t *shown);
};

/* Walk want's and have's sorted elements together: phase 0 deletes have's extra, phase 1 adds want's. */
static void merge_elems(struct pctx *c, const struct elem_ops *ops, const struct nm_set *want,
			const struct nm_set *have, struct elem_writer *del, struct elem_writer *add,
			int phase)
{
	size_t i = 0, j = 0, shown_add = 0, shown_del = 0;
	size_t nw = ops->count(want), nh = have ? ops->count(have) : 0;

	while (i < nw || j < nh) {
		int cmp = j >= nh ? -1 : i >= nw ? 1 : ops->cmp(want, i, have, j);

		if (cmp > 0) {
			if (phase == 0) {
				ops->emit(c, '-', want, have, j, del, &shown_del);
				c->pl->n.elems_del++;
			}
			j++;
		} else if (cmp < 0) {
			if (phase == 1) {
				ops->emit(c, '+', want, want, i, add, &shown_add);
				c->pl->n.elems_add++;
			}
			i++;
		} else {
			i++;
			j++;
		}
	}
}

/* NM_SET_PORTS: ports */
static size_t ports_count(const struct nm_set *s)
{
	return s->nports;
}

/* NM_SET_PORTS: by port */
static int ports_cmp(const struct nm_set *want, size_t i, const struct nm_set *have, size_t j)
{
	return want->ports[i] < have->ports[j] ? -1 : want->ports[i] > have->ports[j];
}

/* NM_SET_PORTS: "PORT" */
static void ports_emit(struct pctx *c, char sign, const struct nm_set *want, const struct nm_set *s,
		       size_t k, struct elem_writer *ew, size_t *shown)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%u", s->ports[k]);
	elem_line(c, sign, want, buf, shown);
	ew_port(ew, s->ports[k], NULL);
}

static const struct elem_ops ports_ops = { ports_count, ports_cmp, ports_emit };

/* NM_SET_V4/V6: ranges */
static size_t ranges_count(const struct nm_set *s)
{
	return s->ranges.n;
}

/* NM_SET_V4/V6: by range */
static int ranges_cmp(const struct nm_set *want, size_t i, const struct nm_set *have, size_t j)
{
	return range_order(&want->ranges.r[i], &have->ranges.r[j]);
}

/* NM_SET_V4/V6: "LO-HI" (formatted only when shown) */
static void ranges_emit(struct pctx *c, char sign, const struct nm_set *want, const struct nm_set *s,
			size_t k, struct elem_writer *ew, size_t *shown)
{
	enum cidr_family f = set_family(want);

	range_line(c, sign, want, f, &s->ranges.r[k], shown);
	ew_range(ew, f, &s->ranges.r[k], NULL);
}

static const struct elem_ops ranges_ops = { ranges_count, ranges_cmp, ranges_emit };

/* NM_SET_PORTMAP, NM_SET_VMAP4/V6: map entries */
static size_t vmap_count(const struct nm_set *s)
{
	return s->nvmap;
}

/* A map entry whose key matches but whose target differs is replaced (sorts as have's extra one). */
static int vmap_target_cmp(int cmp, const struct nm_vmap_elem *we, const struct nm_vmap_elem *he)
{
	if (cmp == 0 && strcmp(we->chain, he->chain ? he->chain : ""))
		return 1;
	return cmp;
}

/* NM_SET_PORTMAP: by port, then target */
static int portmap_cmp(const struct nm_set *want, size_t i, const struct nm_set *have, size_t j)
{
	const struct nm_vmap_elem *we = &want->vmap[i], *he = &have->vmap[j];

	return vmap_target_cmp(we->r.lo < he->r.lo ? -1 : we->r.lo > he->r.lo, we, he);
}

/* The jump target shown for a map entry: a deleted one may have none ("?"). */
static const char *vmap_chain(char sign, const struct nm_vmap_elem *e)
{
	return sign == '-' && !e->chain ? "?" : e->chain;
}

/* NM_SET_PORTMAP: "PORT : jump CHAIN" */
static void portmap_emit(struct pctx *c, char sign, const struct nm_set *want, const struct nm_set *s,
			 size_t k, struct elem_writer *ew, size_t *shown)
{
	const struct nm_vmap_elem *e = &s->vmap[k];
	char buf[256];

	snprintf(buf, sizeof(buf), "%u : jump %s", (unsigned)e->r.lo, vmap_chain(sign, e));
	elem_line(c, sign, want, buf, shown);
	ew_port(ew, (uint16_t)e->r.lo, sign == '+' ? e->chain : NULL);
}

static const struct elem_ops portmap_ops = { vmap_count, portmap_cmp, portmap_emit };

/* NM_SET_VMAP4/V6: by range, then target */
static int vmap_cmp(const struct nm_set *want, size_t i, const struct nm_set *have, size_t j)
{
	const struct nm_vmap_elem *we = &want->vmap[i], *he = &have->vmap[j];

	return vmap_target_cmp(range_order(&we->r, &he->r), we, he);
}

/* NM_SET_VMAP4/V6: "LO-HI : jump CHAIN" */
static void vmap_emit(struct pctx *c, char sign, const struct nm_set *want, const struct nm_set *s,
		      size_t k, struct elem_writer *ew, size_t *shown)
{
	const struct nm_vmap_elem *e = &s->vmap[k];
	enum cidr_family f = set_family(want);
	char buf[256], rb[128];

	snprintf(buf, sizeof(buf), "%s : jump %s", range_str(f, &e->r, rb, sizeof(rb)), vmap_chain(sign, e));
	elem_line(c, sign, want, buf, shown);
	ew_range(ew, f, &e->r, sign == '+' ? e->chain : NULL);
}

static const struct elem_ops vmap_ops = { vmap_count, vmap_cmp, vmap_emit };

/*
 * Diff the elements of a set present on both sides (have may be NULL for a
 * new set). Deletions are written into del, additions into add.
 */
static void diff_elems(struct pctx *c, const struct nm_set *want, const struct nm_set *have,
		       struct elem_writer *del, struct elem_writer *add, int phase)
{
	/* temporary grants and seen sources: the kernel's and portlock allow's, never drift */
	if (nm_set_kind_volatile(want->kind))
		return;
	if (want->kind == NM_SET_PORTS) {
		merge_elems(c, &ports_ops, want, have, del, add, phase);
		return;
	}
	if (want->kind == NM_SET_V4 || want->kind == NM_SET_V6) {
		/* the same content: nothing to compare (plan_resolve() loaded the others) */
		if (have && want->has_digest && have->has_digest &&
		    !memcmp(want->digest, have->digest, sizeof(want->digest)))
			return;
		if (want->lazy || (have && have->lazy)) {
			c->err = -EINVAL;	/* a caller that skipped plan_resolve() */
			return;
		}
		merge_elems(c, &ranges_ops, want, have, del, add, phase);
		return;
	}
	if (want->kind == NM_SET_PORTMAP)
		merge_elems(c, &portmap_ops, want, have, del, add, phase);
	else if (want->kind == NM_SET_VMAP4 || want->kind == NM_SET_VMAP6)
		merge_elems(c, &vmap_ops, want, have, del, add, phase);
}

/* ---- objects ---- */

static bool set_def_equal(const struct nm_set *a, const struct nm_set *b)
{
	return a->kind == b->kind && a->flags == b->flags && a->key_type == b->key_type &&
	       a->key_len == b->key_len && a->data_type == b->data_type &&
	       a->timeout == b->timeout && a->counter == b->counter &&
	       (a->size == b->size || !nm_set_kind_volatile(a->kind)) &&
	       (!b->unparsed || nm_set_kind_volatile(b->kind));
}

static bool chain_def_equal(const struct nm_chain *a, const struct nm_chain *b)
{
	if (a->base != b->base)
		return false;
	if (!a->base)
		return true;
	return a->hooknum == b->hooknum && a->prio == b->prio && a->policy == b->policy &&
	       a->type && b->type && !strcmp(a->type, b->type);
}

static void put_table(struct pctx *c, bool create)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, c->want->name);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	/*
	 * The owner's marker (statestore.h): set when the table is created; the
	 * kernel keeps an existing table's comment (it cannot be changed).
	 */
	if (create && c->want->comment && *c->want->comment) {
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 16);

		if (!ud || !nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT, c->want->comment) ||
		    nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, nftnl_udata_buf_data(ud),
					 nftnl_udata_buf_len(ud)) < 0)
			c->err = -ENOMEM;
		nftnl_udata_buf_free(ud);
	}
	nlh = msg(c, NFT_MSG_NEWTABLE, NLM_F_CREATE, "table");
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		end(c);
	}
	nftnl_table_free(t);
}

static void put_chain(struct pctx *c, const struct nm_chain *ch, uint16_t type, int flush)
{
	struct nftnl_chain *nc = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	char label[200];

	if (!nc) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_chain_set_str(nc, NFTNL_CHAIN_TABLE, c->want->name);
	nftnl_chain_set_str(nc, NFTNL_CHAIN_NAME, ch->name);
	nftnl_chain_set_u32(nc, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWCHAIN && ch->base) {
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_HOOKNUM, ch->hooknum);
		nftnl_chain_set_s32(nc, NFTNL_CHAIN_PRIO, ch->prio);
		nftnl_chain_set_str(nc, NFTNL_CHAIN_TYPE, ch->type);
		nftnl_chain_set_u32(nc, NFTNL_CHAIN_POLICY, ch->policy);
	}
	snprintf(label, sizeof(label), "chain %s", ch->name);
	if (flush == 1) {
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (!r) {
			c->err = -ENOMEM;
		} else {
			nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->want->name);
			nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ch->name);
			nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
			nlh = msg(c, NFT_MSG_DELRULE, 0, label);
			if (nlh) {
				nftnl_rule_nlmsg_build_payload(nlh, r);
				end(c);
			}
			nftnl_rule_free(r);
		}
	}
	if (flush != 1) {
		nlh = msg(c, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0, label);
		if (nlh) {
			nftnl_chain_nlmsg_build_payload(nlh, nc);
			end(c);
		}
	}
	nftnl_chain_free(nc);
}

static void put_set(struct pctx *c, const struct nm_set *s, uint16_t type)
{
	struct nftnl_set *ns = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	char label[300];

	if (!ns) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, c->want->name);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (type == NFT_MSG_NEWSET) {
		/* the kernel requires a transaction-unique set id on NEWSET */
		nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)++c->set_ids);
		nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, s->flags);
		nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, s->key_type);
		nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, s->key_len);
		/*
		 * Test hook (testhook.h, portlock(8) TEST HOOKS): a set size
		 * limit that makes the kernel refuse a batch with ENFILE, so that
		 * tests can prove a refused batch changes nothing.
		 */
		if (s->size)
			nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE, s->size);
		else if (testhook("PORTLOCK_TEST_SET_SIZE"))
			nftnl_set_set_u32(ns, NFTNL_SET_DESC_SIZE,
					  (uint32_t)atoi(testhook("PORTLOCK_TEST_SET_SIZE")));
		if (s->timeout)
			nftnl_set_set_u64(ns, NFTNL_SET_TIMEOUT, s->timeout);
		if (s->counter) {
			/* per-element counters: the set's expression, cloned into each element */
			struct nftnl_expr *e = nftnl_expr_alloc("counter");

			if (!e)
				c->err = -ENOMEM;
			else
				nftnl_set_add_expr(ns, e);
		}
		if (s->flags & NFT_SET_MAP) {
			nftnl_set_set_u32(ns, NFTNL_SET_DATA_TYPE, s->data_type);
			nftnl_set_set_u32(ns, NFTNL_SET_DATA_LEN, s->data_len);
		}
	}
	snprintf(label, sizeof(label), "set %s%s%s", s->name, s->label ? ", " : "",
		 s->label ? s->label : "");
	nlh = msg(c, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0, label);
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, ns);
		end(c);
	}
	nftnl_set_free(ns);
}

/* Re-create a set portlock does not interpret from its saved messages (revert). */
static void put_set_raw(struct pctx *c, const struct nm_set *s)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)s->raw;
	int left = (int)s->rawlen;
	char label[300];

	snprintf(label, sizeof(label), "set %s (restored)", s->name);
	for (; left > 0 && mnl_nlmsg_ok(nlh, left) && !c->err; nlh = mnl_nlmsg_next(nlh, &left)) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
		struct nftnl_set *ns = nftnl_set_alloc();
		struct nlmsghdr *out;

		if (!ns) {
			c->err = -ENOMEM;
			return;
		}
		if (type == NFT_MSG_NEWSET && nftnl_set_nlmsg_parse(nlh, ns) == 0) {
			nftnl_set_unset(ns, NFTNL_SET_HANDLE);
			nftnl_set_set_u32(ns, NFTNL_SET_ID, (uint32_t)++c->set_ids);
			out = msg(c, NFT_MSG_NEWSET, NLM_F_CREATE, label);
			if (out) {
				nftnl_set_nlmsg_build_payload(out, ns);
				end(c);
			}
		} else if (type == NFT_MSG_NEWSETELEM && nftnl_set_elems_nlmsg_parse(nlh, ns) == 0) {
			out = msg(c, NFT_MSG_NEWSETELEM, NLM_F_CREATE, label);
			if (out) {
				nftnl_set_elems_nlmsg_build_payload(out, ns);
				end(c);
			}
		}
		nftnl_set_free(ns);
	}
}

static void del_rule(struct pctx *c, const struct nm_rule *r)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	char label[200];

	if (!nr) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, c->want->name);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, r->chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_u64(nr, NFTNL_RULE_HANDLE, r->handle);
	snprintf(label, sizeof(label), "rule handle %llu in chain %s", (unsigned long long)r->handle,
		 r->chain);
	nlh = msg(c, NFT_MSG_DELRULE, 0, label);
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, nr);
		end(c);
	}
	nftnl_rule_free(nr);
	c->pl->n.rules_del++;
	line(c, '-', "rule inet %s %s handle %llu: %s", c->want->name, r->chain,
	     (unsigned long long)r->handle, r->text);
}

/* anchor 0: insert at the head of the chain; else append after that handle */
static void add_rule(struct pctx *c, const struct nm_rule *r, uint64_t anchor, bool at_end)
{
	struct nlmsghdr *nlh;
	uint16_t flags = NLM_F_CREATE;

	if (at_end || anchor)
		flags |= NLM_F_APPEND;
	if (anchor)
		nftnl_rule_set_u64(r->nr, NFTNL_RULE_POSITION, anchor);
	else
		nftnl_rule_unset(r->nr, NFTNL_RULE_POSITION);
	nlh = msg(c, NFT_MSG_NEWRULE, flags, r->label);
	if (nlh) {
		nftnl_rule_nlmsg_build_payload(nlh, r->nr);
		end(c);
	}
	c->pl->n.rules_add++;
}

static bool rule_match(const struct pctx *c, const struct nm_rule *w, const struct nm_rule *h)
{
	/* portlock's rules by their facts (nft_fact_key()), foreign ones by all their expressions */
	if (strcmp(w->key, h->key))
		return false;
	for (size_t i = 0; i < c->nrecreate; i++) {
		char pat[300];

		if (h->fact.role != NM_ROLE_FOREIGN) {
			if (h->fact.set && !strcmp(h->fact.set, c->recreate[i]))
				return false;
			continue;
		}
		snprintf(pat, sizeof(pat), " set %s ", c->recreate[i]);
		if (strstr(h->key, pat))
			return false;
	}
	return true;
}

/*
 * Rules of one chain: keep the longest common subsequence of live and desired
 * rules (by key), delete the other live rules, insert the missing desired ones
 * where they belong. Returns through c->err.
 */
static void diff_chain_rules(struct pctx *c, const char *chain, bool chain_new, int pass)
{
	const struct nm_table *w = c->want, *h = c->have;
	size_t nw = 0, nh = 0, wf = 0, we = 0, hf = 0, he = 0;
	const size_t *iw, *ih;
	uint16_t *lcs;

	chain_rules(w, c->wrules, chain, &wf, &we);
	if (!chain_new && h->exists)
		chain_rules(h, c->hrules, chain, &hf, &he);
	iw = c->wrules + wf;
	ih = c->hrules ? c->hrules + hf : NULL;
	nw = we - wf;
	nh = he - hf;
	lcs = calloc((nw + 1) * (nh + 1), sizeof(*lcs));
	if (!lcs) {
		c->err = -ENOMEM;
		goto out;
	}
#define L(a, b) lcs[(a) * (nh + 1) + (b)]
	for (size_t a = nw; a-- > 0;)
		for (size_t b = nh; b-- > 0;)
			L(a, b) = rule_match(c, &w->rules[iw[a]], &h->rules[ih[b]])
					  ? (uint16_t)(L(a + 1, b + 1) + 1)
					  : (L(a + 1, b) > L(a, b + 1) ? L(a + 1, b) : L(a, b + 1));
	{
		size_t a = 0, b = 0, run = 0;
		uint64_t anchor = 0;
		size_t *pending = calloc(nw + 1, sizeof(*pending));

		if (!pending) {
			c->err = -ENOMEM;
			goto out;
		}
		while (a < nw || b < nh) {
			if (a < nw && b < nh && rule_match(c, &w->rules[iw[a]], &h->rules[ih[b]])) {
				/* kept: flush pending inserts before it, anchored at the previous kept rule */
				if (pass == 1)
					for (size_t k = run; k-- > 0;)
						add_rule(c, &w->rules[pending[k]], anchor, false);
				run = 0;
				anchor = h->rules[ih[b]].handle;
				a++;
				b++;
			} else if (b < nh && (a >= nw || L(a, b + 1) >= L(a + 1, b))) {
				if (pass == 0)
					del_rule(c, &h->rules[ih[b]]);
				b++;
			} else {
				if (pass == 1)
					line(c, '+', "rule inet %s %s %s", w->name, chain, w->rules[iw[a]].text);
				pending[run++] = iw[a];
				a++;
			}
		}
		if (pass == 1) {
			if (chain_new || (!anchor && nh == 0))
				for (size_t k = 0; k < run; k++)
					add_rule(c, &w->rules[pending[k]], 0, true);
			else
				for (size_t k = run; k-- > 0;)
					add_rule(c, &w->rules[pending[k]], anchor, false);
		}
		free(pending);
	}
#undef L
out:
	free(lcs);
}

int plan_resolve(struct nm_table *want, struct nm_live *live, struct diag *d)
{
	struct nm_table *have = &live->t;

	for (size_t i = 0; i < want->nsets; i++) {
		struct nm_set *ws = &want->sets[i];
		struct nm_set *hs = have->exists ? nm_table_find_set(have, ws->name) : NULL;
		int ret;

		if (ws->kind != NM_SET_V4 && ws->kind != NM_SET_V6)
			continue;
		if (hs && set_def_equal(ws, hs)) {
			/* a digest on one side: computing the other's is cheaper than a diff */
			if (hs->has_digest && nm_set_compute_digest(ws) < 0)
				return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "plan");
			if (ws->has_digest && nm_set_compute_digest(hs) < 0)
				return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "plan");
			if (ws->has_digest && hs->has_digest && !memcmp(ws->digest, hs->digest, 32))
				continue;
			ret = nm_set_load(hs);
			if (ret == -ENOMEM)
				return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "plan");
			if (ret)
				return -ESTALE;	/* the live side: read it again from the kernel */
		}
		ret = nm_set_load(ws);
		if (ret == -ENOMEM)
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "plan");
		if (ret) {
			/* -EBADMSG: the caller may compile the policy again without the cache */
			diag_err(d, DIAG_CONFLICT, NULL, 0, "set %s: its saved content '%s' is %s",
				 ws->name, ws->objpath ? ws->objpath : "?",
				 ret == -ENOENT ? "missing" : "damaged");
			return -EBADMSG;
		}
	}
	return 0;
}

/* Restoring "there was no table": delete it, with everything in it. */
static void plan_del_table(struct pctx *c)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	line(c, '-', "table inet %s (and everything in it)", c->want->name);
	if (!t) {
		c->err = -ENOMEM;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, c->want->name);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = msg(c, NFT_MSG_DELTABLE, 0, "table");
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		end(c);
	}
	nftnl_table_free(t);
	c->pl->n.tables_del++;
}

/* A saved rule that uses an anonymous set cannot be sent again. Returns 0 or diag_err()'s. */
static int plan_check_anonymous(const struct nm_table *want, struct diag *d)
{
	for (size_t i = 0; i < want->nrules; i++) {
		if (want->rules[i].nr && strstr(want->rules[i].key, " set __set"))
			return diag_err(d, DIAG_CONFLICT, NULL, 0,
					"cannot restore rule '%s' in chain %s: it uses an anonymous set, which portlock does not re-create",
					want->rules[i].text, want->rules[i].chain);
	}
	return 0;
}

/* The table itself: created, or its flags cleared. */
static void plan_table(struct pctx *c, bool table_new)
{
	if (table_new) {
		line(c, '+', "table inet %s", c->want->name);
		put_table(c, true);
		c->pl->n.tables++;
	} else if (c->have->flags != 0) {
		line(c, '~', "table inet %s: flags 0x%x cleared (portlock never uses dormant/owner)",
		     c->want->name, c->have->flags);
		put_table(c, false);
		c->pl->n.tables++;
	}
}

/* c->recreate: kept sets whose definition changed (deleted and re-added, rules using them too). */
static void plan_find_recreate(struct pctx *c)
{
	const struct nm_table *want = c->want;

	for (size_t i = 0; i < want->nsets; i++) {
		const struct nm_set *hs = nm_table_find_set(c->have, want->sets[i].name);

		if (hs && (!set_def_equal(&want->sets[i], hs) || want->sets[i].kind == NM_SET_OTHER))
			c->recreate[c->nrecreate++] = want->sets[i].name;
	}
}

/* 1. rule deletions in kept chains; flush chains that go or change */
static void plan_del_rules(struct pctx *c)
{
	const struct nm_table *want = c->want, *have = c->have;

	for (size_t i = 0; i < have->nchains; i++) {
		const struct nm_chain *hc = &have->chains[i];
		const struct nm_chain *wc = nm_table_find_chain(want, hc->name);

		if (wc && chain_def_equal(wc, hc)) {
			diff_chain_rules(c, hc->name, false, 0);
			continue;
		}
		for (size_t k = 0; k < have->nrules; k++)
			if (!strcmp(have->rules[k].chain, hc->name)) {
				line(c, '-', "rule inet %s %s handle %llu: %s", want->name, hc->name,
				     (unsigned long long)have->rules[k].handle, have->rules[k].text);
				c->pl->n.rules_del++;
			}
		put_chain(c, hc, NFT_MSG_DELCHAIN, 1);
	}
}

/* 2. element deletions in kept sets (releases jumps to shard chains) */
static void plan_del_elems(struct pctx *c)
{
	for (size_t i = 0; i < c->want->nsets && !c->err; i++) {
		const struct nm_set *ws = &c->want->sets[i];
		const struct nm_set *hs = nm_table_find_set(c->have, ws->name);
		struct elem_writer del = { c, NFT_MSG_DELSETELEM, ws->name, ws->label, NULL, NULL };

		if (hs && set_def_equal(ws, hs) && ws->kind != NM_SET_OTHER) {
			diff_elems(c, ws, hs, &del, NULL, 0);
			ew_flush(&del);
		}
	}
}

/* 3. sets that go or whose definition changed (anonymous sets go with their rules) */
static void plan_del_sets(struct pctx *c)
{
	char def[200];

	for (size_t i = 0; i < c->have->nsets; i++) {
		const struct nm_set *hs = &c->have->sets[i];
		const struct nm_set *ws = nm_table_find_set(c->want, hs->name);

		if ((ws && set_def_equal(ws, hs) && ws->kind != NM_SET_OTHER) ||
		    (hs->flags & NFT_SET_ANONYMOUS))
			continue;
		nm_set_def_str(hs, def, sizeof(def));
		line(c, '-', "set inet %s %s { %s } (%zu elements)", c->want->name, hs->name, def,
		     hs->nelems);
		put_set(c, hs, NFT_MSG_DELSET);
		c->pl->n.sets_del++;
	}
}

/* 4. chains that go or change */
static void plan_del_chains(struct pctx *c)
{
	char def[200];

	for (size_t i = 0; i < c->have->nchains; i++) {
		const struct nm_chain *hc = &c->have->chains[i];
		const struct nm_chain *wc = nm_table_find_chain(c->want, hc->name);

		if (wc && chain_def_equal(wc, hc))
			continue;
		nm_chain_def_str(hc, def, sizeof(def));
		line(c, '-', "chain inet %s %s { %s }", c->want->name, hc->name, def);
		put_chain(c, hc, NFT_MSG_DELCHAIN, 2);
		c->pl->n.chains_del++;
	}
}

/* 5. new or changed chains */
static void plan_add_chains(struct pctx *c, bool table_new)
{
	char def[200];

	for (size_t i = 0; i < c->want->nchains; i++) {
		const struct nm_chain *wc = &c->want->chains[i];
		const struct nm_chain *hc = table_new ? NULL : nm_table_find_chain(c->have, wc->name);

		if (hc && chain_def_equal(wc, hc))
			continue;
		nm_chain_def_str(wc, def, sizeof(def));
		line(c, '+', "chain inet %s %s { %s }", c->want->name, wc->name, def);
		put_chain(c, wc, NFT_MSG_NEWCHAIN, 0);
		c->pl->n.chains_add++;
	}
}

/* 6. new or changed sets with their elements; element additions to kept sets */
static void plan_add_sets(struct pctx *c, bool table_new)
{
	char def[200];

	for (size_t i = 0; i < c->want->nsets && !c->err; i++) {
		const struct nm_set *ws = &c->want->sets[i];
		const struct nm_set *hs = table_new ? NULL : nm_table_find_set(c->have, ws->name);
		struct elem_writer add = { c, NFT_MSG_NEWSETELEM, ws->name, ws->label, NULL, NULL };

		if (ws->anonymous)
			continue;	/* goes and comes with its rule */
		if (ws->kind == NM_SET_OTHER) {
			nm_set_def_str(ws, def, sizeof(def));
			line(c, '+', "set inet %s %s { %s } (%zu elements, restored)", c->want->name,
			     ws->name, def, ws->nelems);
			put_set_raw(c, ws);
			c->pl->n.sets_add++;
			continue;
		}
		if (hs && !set_def_equal(ws, hs))
			hs = NULL;
		if (!hs) {
			nm_set_def_str(ws, def, sizeof(def));
			line(c, '+', "set inet %s %s { %s }", c->want->name, ws->name, def);
			put_set(c, ws, NFT_MSG_NEWSET);
			c->pl->n.sets_add++;
		}
		diff_elems(c, ws, hs, NULL, &add, 1);
		ew_flush(&add);
	}
}

/* 7. rule additions */
static void plan_add_rules(struct pctx *c, bool table_new)
{
	for (size_t i = 0; i < c->want->nchains && !c->err; i++) {
		const struct nm_chain *wc = &c->want->chains[i];
		const struct nm_chain *hc = table_new ? NULL : nm_table_find_chain(c->have, wc->name);

		diff_chain_rules(c, wc->name, !hc || !chain_def_equal(wc, hc), 1);
	}
}

int plan_build(const struct nm_table *want, const struct nm_live *live, size_t max_elem_lines,
	       struct plan *pl, struct diag *d)
{
	const struct nm_table *have = &live->t;
	struct pctx c = { .pl = pl, .want = want, .have = have, .d = d };
	bool table_new = !have->exists;
	int rc;

	memset(pl, 0, sizeof(*pl));
	pl->max_elem_lines = max_elem_lines;
	pl->table = strdup(want->name);
	if (!pl->table || nl_batch_new(&pl->batch) < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "plan");

	if (!want->exists) {
		if (have->exists)
			plan_del_table(&c);
		return c.err ? diag_err(d, DIAG_INTERNAL, NULL, -c.err, "plan") : 0;
	}
	rc = plan_check_anonymous(want, d);
	if (rc)
		return rc;
	plan_table(&c, table_new);

	c.recreate = calloc(want->nsets + 1, sizeof(*c.recreate));
	c.wrules = rules_by_chain(want);
	c.hrules = have->exists ? rules_by_chain(have) : NULL;
	if (!c.recreate || !c.wrules || (have->exists && !c.hrules)) {
		free(c.recreate);
		free(c.wrules);
		free(c.hrules);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "plan");
	}
	/* the sets to re-create, then what goes (1-4) before what comes (5-7) */
	if (!table_new) {
		plan_find_recreate(&c);
		plan_del_rules(&c);
		plan_del_elems(&c);
		plan_del_sets(&c);
		plan_del_chains(&c);
	}
	plan_add_chains(&c, table_new);
	plan_add_sets(&c, table_new);
	plan_add_rules(&c, table_new);
	free(c.recreate);
	free(c.wrules);
	free(c.hrules);
	if (c.err)
		return diag_err(d, DIAG_INTERNAL, NULL, -c.err, "plan");
	return 0;
}

void plan_fini(struct plan *pl)
{
	for (size_t i = 0; i < pl->nlines; i++)
		free(pl->lines[i].text);
	free(pl->lines);
	nl_batch_free(pl->batch);
	free(pl->table);
	memset(pl, 0, sizeof(*pl));
}

size_t plan_total(const struct plan *pl)
{
	const struct plan_counts *n = &pl->n;

	return n->tables + n->tables_del + n->chains_add + n->chains_del + n->sets_add + n->sets_del +
	       n->elems_add + n->elems_del + n->rules_add + n->rules_del;
}

bool plan_empty(const struct plan *pl)
{
	return plan_total(pl) == 0;
}

size_t nl_batch_count_of(const struct plan *pl)
{
	return pl->batch ? nl_batch_count(pl->batch) : 0;
}
