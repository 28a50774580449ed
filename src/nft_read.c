// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live state reader. Table, chains, sets and rules are parsed with libnftnl
 * objects (few of them); set elements, which may number millions, are parsed
 * directly from the netlink attributes into range arrays so that reading a
 * large policy costs bytes, not objects. Consistency follows nft's cache:
 * generation before and after, retry when it moved or the dump was
 * interrupted.
 */
#include "nft_read.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "bytebuf.h"
#include "diag.h"
#include "nft_build.h"
#include "nft_model.h"
#include "nl.h"
#include "setobj.h"
#include "util.h"

#define READ_RETRIES 5

struct rd {
	struct nm_live *l;
	bool capture;
	bool keep;		/* parsing a saved table: keep rule objects and raw sets */
	int err;
	struct nm_set *cur;	/* set whose elements are being dumped */
	/* its NEWSETELEM messages, kept in the capture only if not stored as ranges */
	char *setraw;
	size_t setrawlen, setrawcap;
	/* element scratch: keys with the interval-end flag */
	struct rawel {
		u128 key;
		bool end;
		char *chain;	/* vmap: jump target */
	} *els;
	size_t nels, cels;
};

static int capture(struct rd *r, const struct nlmsghdr *nlh)
{
	struct nm_live *l = r->l;

	if (!r->capture)
		return 0;
	if (util_grow((void **)&l->raw, &l->rawcap, l->rawlen + nlh->nlmsg_len, 1) < 0)
		return -ENOMEM;
	memcpy(l->raw + l->rawlen, nlh, nlh->nlmsg_len);
	l->rawlen += nlh->nlmsg_len;
	return 0;
}

static int table_udata_cb(const struct nftnl_udata *attr, void *data)
{
	const char **comment = data;
	const char *v = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT) {
		if (!len || v[len - 1] != '\0' || strlen(v) != (size_t)len - 1u)
			return -1;	/* not a string: no comment */
		*comment = v;
	}
	return 0;
}

/* The table's comment (a copy), NULL when it has none or it is malformed. */
static char *table_comment(const struct nftnl_table *t, int *err)
{
	const char *comment = NULL;
	const void *ud;
	uint32_t len = 0;
	char *c;

	if (!nftnl_table_is_set(t, NFTNL_TABLE_USERDATA))
		return NULL;
	ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
	if (!ud || nftnl_udata_parse(ud, len, table_udata_cb, &comment) < 0 || !comment)
		return NULL;
	c = strdup(comment);
	if (!c)
		*err = -ENOMEM;
	return c;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *r = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		r->l->t.exists = true;
		r->l->t.flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
		r->l->t.handle = nftnl_table_get_u64(t, NFTNL_TABLE_HANDLE);
		free(r->l->t.comment);
		r->l->t.comment = table_comment(t, &r->err);
		if (capture(r, nlh) < 0)
			r->err = -ENOMEM;
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

/* A name the object must have (a saved table may lack it: malformed). */
static char *xstrdup(const char *s, int *err)
{
	char *p = strdup(s ? s : "");

	if (!p)
		*err = -ENOMEM;
	else if (!s && !*err)
		*err = -EINVAL;
	return p;
}

static bool same_name(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *r = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *table;
	uint32_t family;

	if (!c)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
	family = nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY);
	if (family == NFPROTO_INET && same_name(table, r->l->t.name)) {
		struct nm_chain *mc = nm_table_add_chain(&r->l->t);

		if (!mc) {
			r->err = -ENOMEM;
			goto out;
		}
		mc->name = xstrdup(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), &r->err);
		mc->handle = nftnl_chain_get_u64(c, NFTNL_CHAIN_HANDLE);
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
			mc->base = true;
			mc->hooknum = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
			mc->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
			mc->policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)
					     ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
			mc->type = xstrdup(nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE)
						   ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "filter", &r->err);
		}
		if (capture(r, nlh) < 0)
			r->err = -ENOMEM;
	} else if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		uint32_t hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		struct nm_live *l = r->l;
		static const char *const fams[] = {
			[NFPROTO_INET] = "inet", [NFPROTO_IPV4] = "ip", [NFPROTO_IPV6] = "ip6",
			[NFPROTO_ARP] = "arp", [NFPROTO_BRIDGE] = "bridge", [NFPROTO_NETDEV] = "netdev",
		};
		struct nm_foreign_hook *f;

		/* the hooks a packet to a local or DNAT-published port crosses */
		if ((family != NFPROTO_INET && family != NFPROTO_IPV4 && family != NFPROTO_IPV6) ||
		    (hook != NF_INET_PRE_ROUTING && hook != NF_INET_LOCAL_IN && hook != NF_INET_FORWARD))
			goto out;
		if (util_grow((void **)&l->foreign, &l->cforeign, l->nforeign + 1, sizeof(*f)) < 0) {
			r->err = -ENOMEM;
			goto out;
		}
		f = &l->foreign[l->nforeign++];
		memset(f, 0, sizeof(*f));
		f->family = xstrdup(family < ARRAY_SIZE(fams) && fams[family] ? fams[family] : "?",
				    &r->err);
		f->table = xstrdup(table, &r->err);
		f->chain = xstrdup(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), &r->err);
		f->type = xstrdup(nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE)
					  ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "filter", &r->err);
		f->hooknum = hook;
		f->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
		f->policy = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)
				    ? nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) : NF_ACCEPT;
	}
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static enum nm_set_kind classify(uint32_t flags, uint32_t kt, uint32_t kl, uint32_t dt)
{
	bool interval = flags & NFT_SET_INTERVAL, map = flags & NFT_SET_MAP;

	/* the temporary and seen sets, by definition (the planner compares the rest) */
	if (flags == (NFT_SET_INTERVAL | NFT_SET_TIMEOUT) && kt == NM_TYPE_IPADDR && kl == 4)
		return NM_SET_TMP4;
	if (flags == (NFT_SET_INTERVAL | NFT_SET_TIMEOUT) && kt == NM_TYPE_IP6ADDR && kl == 16)
		return NM_SET_TMP6;
	if (flags == (NFT_SET_EVAL | NFT_SET_TIMEOUT) && kt == NM_TYPE_SEEN4 && kl == 8)
		return NM_SET_SEEN4;
	if (flags == (NFT_SET_EVAL | NFT_SET_TIMEOUT) && kt == NM_TYPE_SEEN6 && kl == 20)
		return NM_SET_SEEN6;
	if (flags & (NFT_SET_ANONYMOUS | NFT_SET_TIMEOUT | NFT_SET_EVAL | NFT_SET_OBJECT |
		     NFT_SET_CONCAT))
		return NM_SET_OTHER;
	if (map && !interval && kt == NM_TYPE_INET_SERVICE && kl == 2 && dt == NM_TYPE_VERDICT)
		return NM_SET_PORTMAP;
	if (!map && !interval && kt == NM_TYPE_INET_SERVICE && kl == 2)
		return NM_SET_PORTS;
	if (interval && kt == NM_TYPE_IPADDR && kl == 4)
		return map ? (dt == NM_TYPE_VERDICT ? NM_SET_VMAP4 : NM_SET_OTHER) : NM_SET_V4;
	if (interval && kt == NM_TYPE_IP6ADDR && kl == 16)
		return map ? (dt == NM_TYPE_VERDICT ? NM_SET_VMAP6 : NM_SET_OTHER) : NM_SET_V6;
	return NM_SET_OTHER;
}

static int count_expr(struct nftnl_expr *e, void *data)
{
	int *n = data;

	*n = !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") && *n == 0 ? 1 : -1;
	return 0;
}

/* The set's expressions are exactly one counter (per-element counters). */
static bool set_has_counter(struct nftnl_set *s)
{
	int n = 0;

	if (nftnl_set_expr_foreach(s, count_expr, &n) < 0)
		return false;
	return n == 1;
}

static int keep_raw(struct nm_set *ms, const struct nlmsghdr *nlh)
{
	if (util_grow((void **)&ms->raw, &ms->rawcap, ms->rawlen + nlh->nlmsg_len, 1) < 0)
		return -ENOMEM;
	memcpy(ms->raw + ms->rawlen, nlh, nlh->nlmsg_len);
	ms->rawlen += nlh->nlmsg_len;
	return 0;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *r = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nm_set *ms;

	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_nlmsg_parse(nlh, s) < 0 ||
	    !same_name(nftnl_set_get_str(s, NFTNL_SET_TABLE), r->l->t.name) ||
	    nftnl_set_get_u32(s, NFTNL_SET_FAMILY) != NFPROTO_INET)
		goto out;
	ms = nm_table_add_set(&r->l->t);
	if (!ms) {
		r->err = -ENOMEM;
		goto out;
	}
	ms->name = xstrdup(nftnl_set_get_str(s, NFTNL_SET_NAME), &r->err);
	ms->flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	ms->key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
	ms->key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE)) {
		ms->data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
		ms->data_len = nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN);
	}
	ms->kind = classify(ms->flags, ms->key_type, ms->key_len, ms->data_type);
	if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT))
		ms->timeout = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
	if (nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE))
		ms->size = nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE);
	ms->counter = set_has_counter(s);
	ms->anonymous = ms->flags & NFT_SET_ANONYMOUS;
	rangeset_init(&ms->ranges);
	if (capture(r, nlh) < 0)
		r->err = -ENOMEM;
	if (r->keep && ms->kind == NM_SET_OTHER && keep_raw(ms, nlh) < 0)
		r->err = -ENOMEM;
out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

/* Parse one NFTA_LIST_ELEM nest into the scratch array. */
static void parse_elem(struct rd *r, const struct nlattr *el)
{
	struct nm_set *ms = r->cur;
	const struct nlattr *a, *key = NULL, *dat = NULL, *val;
	const uint8_t *p;
	uint32_t flags = 0;
	struct rawel *re;

	ms->nelems++;
	mnl_attr_for_each_nested(a, el) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_SET_ELEM_KEY: key = a; break;
		case NFTA_SET_ELEM_DATA: dat = a; break;
		case NFTA_SET_ELEM_FLAGS:
			if (mnl_attr_get_payload_len(a) == 4)
				flags = ntohl(mnl_attr_get_u32(a));
			break;
		default:
			/* comment, counter, timeout...: not kept by a range, keep the messages */
			ms->unparsed = true;
			break;
		}
	}
	if (ms->kind == NM_SET_OTHER)
		return;
	if (!key) {
		ms->unparsed = true;
		return;
	}
	if (util_grow((void **)&r->els, &r->cels, r->nels + 1, sizeof(*r->els)) < 0) {
		r->err = -ENOMEM;
		return;
	}
	re = &r->els[r->nels];
	memset(re, 0, sizeof(*re));
	/* exactly one value of the set's key length; anything else is not ours */
	val = NULL;
	mnl_attr_for_each_nested(a, key) {
		if (mnl_attr_get_type(a) != NFTA_DATA_VALUE)
			continue;
		if (val || mnl_attr_get_payload_len(a) != ms->key_len) {
			ms->unparsed = true;
			return;
		}
		val = a;
	}
	if (!val) {
		ms->unparsed = true;
		return;
	}
	p = mnl_attr_get_payload(val);
	re->key = ms->kind == NM_SET_PORTS || ms->kind == NM_SET_PORTMAP ? (u128)((p[0] << 8) | p[1])
		  : cidr_from_bytes(ms->key_len == 4 ? CIDR_V4 : CIDR_V6, p);
	re->end = flags & NFT_SET_ELEM_INTERVAL_END;
	r->nels++;
	if (dat && (ms->kind == NM_SET_VMAP4 || ms->kind == NM_SET_VMAP6 || ms->kind == NM_SET_PORTMAP) &&
	    !re->end) {
		const struct nlattr *v, *w;

		mnl_attr_for_each_nested(v, dat) {
			if (mnl_attr_get_type(v) != NFTA_DATA_VERDICT)
				continue;
			mnl_attr_for_each_nested(w, v) {
				if (mnl_attr_get_type(w) == NFTA_VERDICT_CHAIN && !re->chain &&
				    mnl_attr_validate(w, MNL_TYPE_NUL_STRING) == 0)
					re->chain = strdup(mnl_attr_get_str(w));
			}
		}
	}
}

void nft_read_each_elem(const struct nlmsghdr *nlh, void (*fn)(void *arg, const struct nlattr *el),
			void *arg)
{
	const struct nlattr *a, *el;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, a) {
			if (mnl_attr_get_type(el) == NFTA_LIST_ELEM)
				fn(arg, el);
		}
	}
}

/* parse_elem() for nft_read_each_elem() */
static void elem_one(void *arg, const struct nlattr *el)
{
	parse_elem(arg, el);
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *r = data;

	if (r->capture && util_grow((void **)&r->setraw, &r->setrawcap, r->setrawlen + nlh->nlmsg_len, 1) == 0) {
		memcpy(r->setraw + r->setrawlen, nlh, nlh->nlmsg_len);
		r->setrawlen += nlh->nlmsg_len;
	} else if (r->capture) {
		r->err = -ENOMEM;
	}
	if (r->keep && r->cur->kind == NM_SET_OTHER && keep_raw(r->cur, nlh) < 0)
		r->err = -ENOMEM;
	nft_read_each_elem(nlh, elem_one, r);
	return MNL_CB_OK;
}

static int rawel_cmp(const void *a, const void *b)
{
	const struct rawel *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	/* at the same key an interval end sorts before the next start */
	return (int)y->end - (int)x->end;
}

/* Record [lo, hi] in a V4/V6 set, or as a map entry jumping to *chain (taken). */
static int emit_range(struct nm_set *ms, u128 lo, u128 hi, char **chain)
{
	struct nm_vmap_elem *v;
	size_t cap = ms->nvmap;

	if (ms->kind == NM_SET_V4 || ms->kind == NM_SET_V6)
		return rangeset_add(&ms->ranges, lo, hi);
	if (util_grow((void **)&ms->vmap, &cap, ms->nvmap + 1, sizeof(*v)) < 0)
		return -ENOMEM;
	v = &ms->vmap[ms->nvmap++];
	v->r.lo = lo;
	v->r.hi = hi;
	v->chain = *chain;
	*chain = NULL;
	return 0;
}

/* Turn the scratch elements of r->cur into ranges, ports or map entries. */
static int finish_set(struct rd *r)
{
	struct nm_set *ms = r->cur;
	enum cidr_family fam = ms->key_len == 4 ? CIDR_V4 : CIDR_V6;
	bool open = false;
	u128 start = 0;
	char *chain = NULL;
	int ret = 0;

	if (r->nels)
		qsort(r->els, r->nels, sizeof(*r->els), rawel_cmp);
	if (ms->kind == NM_SET_PORTS) {
		ms->ports = calloc(r->nels + 1, sizeof(*ms->ports));
		if (!ms->ports)
			return -ENOMEM;
		for (size_t i = 0; i < r->nels; i++)
			ms->ports[ms->nports++] = (uint16_t)r->els[i].key;
		return 0;
	}
	if (ms->kind == NM_SET_PORTMAP) {
		for (size_t i = 0; i < r->nels && !ret; i++)
			ret = emit_range(ms, r->els[i].key, r->els[i].key, &r->els[i].chain);
		return ret;
	}
	for (size_t i = 0; i < r->nels && !ret; i++) {
		struct rawel *e = &r->els[i];

		if (!e->end) {
			if (open)	/* two starts in a row: the first range runs to the second */
				ms->unparsed = true;
			open = true;
			start = e->key;
			free(chain);
			chain = e->chain;
			e->chain = NULL;
			continue;
		}
		if (!open)	/* nft's leading "end" marker at the bottom of the space */
			continue;
		open = false;
		if (e->key != 0)
			ret = emit_range(ms, start, e->key - 1, &chain);
	}
	if (open && !ret)	/* no end element: the interval runs to the top of the space */
		ret = emit_range(ms, start, cidr_max(fam), &chain);
	free(chain);
	return ret;
}

/* What a rule's expressions say, as far as portlock's shapes need it. */
struct seen_exprs {
	int nfproto, l4proto;	/* "meta nfproto/l4proto X" compared, or -1 */
	const char *lookup;	/* set looked up */
	bool vmap, inv;
	const char *dynset;	/* set updated */
	bool iif, ct_dst, counter, log, limit, reject, other;
	uint64_t packets, bytes, rate, unit;
	const char *prefix;
	int verdict;
	int meta_key;		/* the last meta loaded, for the cmp after it */
};

static void scan_exprs(struct nftnl_rule *nr, struct seen_exprs *x)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(nr);
	struct nftnl_expr *e;

	memset(x, 0, sizeof(*x));
	x->nfproto = x->l4proto = x->verdict = -1;
	x->meta_key = -1;
	if (!it) {
		x->other = true;
		return;
	}
	while ((e = nftnl_expr_iter_next(it))) {
		const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (!strcmp(n, "meta") && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG)) {
			x->meta_key = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
			x->iif |= x->meta_key == NFT_META_IIF;
			continue;
		}
		if (!strcmp(n, "cmp")) {
			uint32_t len = 0;
			const uint8_t *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);

			if (d && len == 1 && x->meta_key == NFT_META_NFPROTO)
				x->nfproto = d[0];
			else if (d && len == 1 && x->meta_key == NFT_META_L4PROTO)
				x->l4proto = d[0];
			x->meta_key = -1;
			continue;
		}
		x->meta_key = -1;
		if (!strcmp(n, "ct")) {
			x->ct_dst |= nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) == NFT_CT_PROTO_DST;
		} else if (!strcmp(n, "lookup")) {
			x->lookup = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
			x->vmap = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG);
			x->inv = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
				 (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV);
		} else if (!strcmp(n, "dynset")) {
			x->dynset = nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME);
		} else if (!strcmp(n, "counter")) {
			x->counter = true;
			x->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
			x->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		} else if (!strcmp(n, "limit")) {
			x->limit = true;
			x->rate = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE);
			x->unit = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT);
		} else if (!strcmp(n, "log")) {
			x->log = true;
			x->prefix = nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)
					    ? nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX) : NULL;
		} else if (!strcmp(n, "reject")) {
			x->reject = true;
		} else if (!strcmp(n, "immediate") &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
			x->verdict = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		}
	}
	nftnl_expr_iter_destroy(it);
}

/* "S_in" / "S_fwd": the service and hook of a service chain. */
static bool svc_chain(const char *chain, char *svc, size_t len, uint32_t *hook)
{
	size_t n = strlen(chain);

	if (n > 3 && !strcmp(chain + n - 3, "_in"))
		*hook = NF_INET_LOCAL_IN, n -= 3;
	else if (n > 4 && !strcmp(chain + n - 4, "_fwd"))
		*hook = NF_INET_FORWARD, n -= 4;
	else
		return false;
	if (n >= len)
		return false;
	memcpy(svc, chain, n);
	svc[n] = '\0';
	return true;
}

/* "S_v4_<hex>_<len>": the service and family of a shard chain. */
static bool shard_chain(const char *chain, char *svc, size_t len, enum cidr_family *f)
{
	const char *m = NULL;

	for (const char *p = strstr(chain, "_v"); p; p = strstr(p + 1, "_v"))
		if ((p[2] == '4' || p[2] == '6') && p[3] == '_')
			m = p;
	if (!m || m == chain || (size_t)(m - chain) >= len)
		return false;
	memcpy(svc, chain, (size_t)(m - chain));
	svc[m - chain] = '\0';
	*f = m[2] == '4' ? CIDR_V4 : CIDR_V6;
	return true;
}

/*
 * The facts of one of portlock's rule shapes, guessed from the expressions
 * and proven by building the rule again from them (nft_build_rule()): the
 * same expressions, or the rule is foreign. Returns true when recognised.
 */
static bool guess_fact(const struct nm_table *t, const char *chain, const struct seen_exprs *x,
		       struct nm_fact *f, char *svc, size_t svclen)
{
	const struct nm_chain *c = nm_table_find_chain(t, chain);
	uint32_t hook = 0;

	memset(f, 0, sizeof(*f));
	f->verdict = -1;
	if (x->nfproto == NFPROTO_IPV4 || x->nfproto == NFPROTO_IPV6) {
		f->has_family = true;
		f->family = x->nfproto == NFPROTO_IPV4 ? CIDR_V4 : CIDR_V6;
	}
	if (c && c->base) {
		f->hook = c->hooknum;
		if (x->iif && x->verdict == NF_ACCEPT) {
			f->role = NM_ROLE_LOOPBACK;
			f->verdict = NF_ACCEPT;
			return true;
		}
		if (x->lookup && x->vmap && x->l4proto >= 0) {
			f->role = NM_ROLE_DISPATCH;
			f->set = (char *)x->lookup;
			f->l4proto = (uint8_t)x->l4proto;
			return true;
		}
		return false;
	}
	if (svc_chain(chain, svc, svclen, &hook)) {
		f->service = svc;
		f->hook = hook;
		if (x->lookup && x->vmap) {
			f->role = NM_ROLE_ALLOW_MAP;
			f->set = (char *)x->lookup;
			f->verdict = NFT_JUMP;
		} else if (x->lookup && x->verdict == NF_ACCEPT) {
			size_t n = strlen(x->lookup);

			f->role = n > 5 && !strncmp(x->lookup + n - 5, "_tmp", 4) ? NM_ROLE_TEMP : NM_ROLE_ALLOW;
			f->set = (char *)x->lookup;
			f->verdict = NF_ACCEPT;
		} else if (x->dynset) {
			f->role = NM_ROLE_SEEN;
			f->set = (char *)x->dynset;
			f->l4proto = x->l4proto >= 0 ? (uint8_t)x->l4proto : 0;
		} else if (x->log && x->limit) {
			f->role = NM_ROLE_LOG;
			f->log_prefix = (char *)x->prefix;
			f->log_rate = x->rate;
			f->log_unit = x->unit;
		} else if (x->verdict == NF_DROP || x->reject) {
			f->role = NM_ROLE_REFUSE;
			f->verdict = NF_DROP;
			f->reject = x->reject;
			f->l4proto = x->reject && x->l4proto >= 0 ? (uint8_t)x->l4proto
				     : x->reject ? IPPROTO_UDP : 0;
		} else if (x->verdict == NF_ACCEPT) {
			f->role = NM_ROLE_OBSERVE;
			f->verdict = NF_ACCEPT;
		} else {
			return false;
		}
		return true;
	}
	if (x->lookup && !x->vmap && x->verdict == NF_ACCEPT && !strcmp(x->lookup, chain) &&
	    shard_chain(chain, svc, svclen, &f->family)) {
		f->role = NM_ROLE_SHARD;
		f->service = svc;
		f->set = (char *)x->lookup;
		f->hook = NM_HOOK_ANY;
		f->verdict = NF_ACCEPT;
		return true;
	}
	return false;
}

/* The set a fact looks up has the name portlock gives it (nft_build.h). */
static bool fact_names_ok(const struct nm_fact *f)
{
	const char *fam = f->family == CIDR_V4 ? "4" : "6";
	char want[300];

	switch (f->role) {
	case NM_ROLE_DISPATCH:
		return !strcmp(f->set, nft_dispatch_map(f->hook, f->l4proto));
	case NM_ROLE_ALLOW:
		snprintf(want, sizeof(want), "%s_v%s", f->service, fam);
		break;
	case NM_ROLE_ALLOW_MAP:
		snprintf(want, sizeof(want), "%s_v%s_map", f->service, fam);
		break;
	case NM_ROLE_TEMP:
		snprintf(want, sizeof(want), "%s_tmp%s", f->service, fam);
		break;
	case NM_ROLE_SEEN:
		snprintf(want, sizeof(want), "%s_seen%s", f->service, fam);
		break;
	default:
		return true;	/* no set, or (SHARD) the chain's own */
	}
	return !strcmp(f->set, want);
}

int nft_read_rule_facts(const struct nm_table *t, struct nm_rule *mr, struct nftnl_rule *nr)
{
	struct seen_exprs x;
	struct nm_fact f;
	struct nftnl_rule *again;
	char svc[256];
	char *key;
	bool same;

	memset(&mr->fact, 0, sizeof(mr->fact));
	mr->fact.verdict = -1;
	scan_exprs(nr, &x);
	if (!mr->chain || !guess_fact(t, mr->chain, &x, &f, svc, sizeof(svc)) || !fact_names_ok(&f))
		return 0;
	f.has_counter = x.counter;
	again = nft_build_rule(t->name, mr->chain, &f);
	if (!again)
		return 0;	/* a fact the builder refuses: not portlock's */
	key = nm_rule_key(again);
	nftnl_rule_free(again);
	if (!key)
		return -ENOMEM;
	same = !strcmp(key, mr->key);
	free(key);
	if (!same)
		return 0;
	mr->fact = f;
	mr->fact.service = f.service ? strdup(f.service) : NULL;
	mr->fact.set = f.set ? strdup(f.set) : NULL;
	mr->fact.log_prefix = f.log_prefix ? strdup(f.log_prefix) : NULL;
	mr->fact.packets = x.packets;
	mr->fact.bytes = x.bytes;
	key = nm_fact_key(&mr->fact);
	if ((f.service && !mr->fact.service) || (f.set && !mr->fact.set) ||
	    (f.log_prefix && !mr->fact.log_prefix) || !key) {
		free(key);
		return -ENOMEM;
	}
	free(mr->key);
	mr->key = key;
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rd *r = data;
	struct nftnl_rule *nr = nftnl_rule_alloc();
	struct nm_rule *mr;

	if (!nr)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, nr) < 0 ||
	    !same_name(nftnl_rule_get_str(nr, NFTNL_RULE_TABLE), r->l->t.name) ||
	    nftnl_rule_get_u32(nr, NFTNL_RULE_FAMILY) != NFPROTO_INET)
		goto out;
	mr = nm_table_add_rule(&r->l->t);
	if (!mr) {
		r->err = -ENOMEM;
		goto out;
	}
	mr->chain = xstrdup(nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN), &r->err);
	mr->handle = nftnl_rule_get_u64(nr, NFTNL_RULE_HANDLE);
	mr->key = nm_rule_key(nr);
	mr->text = nm_rule_text(nr, 0);
	if (!mr->key || !mr->text || nft_read_rule_facts(&r->l->t, mr, nr) < 0)
		r->err = -ENOMEM;
	if (capture(r, nlh) < 0)
		r->err = -ENOMEM;
	if (r->keep) {
		/* sent again by a revert: no handle, appended in dump order */
		nftnl_rule_unset(nr, NFTNL_RULE_HANDLE);
		nftnl_rule_unset(nr, NFTNL_RULE_POSITION);
		mr->nr = nr;
		return MNL_CB_OK;
	}
out:
	nftnl_rule_free(nr);
	return MNL_CB_OK;
}

static int dump(struct nl_sock *s, uint16_t type, uint16_t family, uint16_t flags,
		const char *table, const char *set, mnl_cb_t cb, struct rd *r, const char *what,
		struct diag *d)
{
	char buf[1024] = { 0 };	/* zeroed: padding goes to the kernel too */
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, family, flags, 0);
	int ret;

	if (type == NFT_MSG_GETSETELEM) {
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	} else if (table) {
		/* NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_SET_TABLE, NFTA_RULE_TABLE are all 1 */
		mnl_attr_put_strz(nlh, 1, table);
	}
	ret = nl_request(s, nlh, cb, r, what, d);
	if (!ret && r->err)
		ret = diag_err(d, DIAG_INTERNAL, NULL, -r->err, "%s", what);
	return ret;
}

static void reset(struct nm_live *l, const char *table)
{
	nm_live_fini(l);
	nm_table_init(&l->t, table);
}

static uint64_t kernel_elems(const struct nm_set *ms);

/* Elements of a range set stored as ranges (the journal's "ranges" content). */
bool nft_stored_as_ranges(const struct nm_set *ms)
{
	return (ms->kind == NM_SET_V4 || ms->kind == NM_SET_V6) && !ms->unparsed;
}
#define stored_as_ranges nft_stored_as_ranges

/* The cache holds set ms at this generation: take its ranges instead of dumping. */
static bool take_cached(struct nft_read_cache *c, struct nm_set *ms)
{
	struct nm_set *cs;

	if (ms->kind != NM_SET_V4 && ms->kind != NM_SET_V6)
		return false;
	cs = nm_table_find_set(c->t, ms->name);
	if (!cs || cs->kind != ms->kind || cs->unparsed)
		return false;
	/* a reader that needs the ranges gets them now, or dumps them */
	if (!c->lazy_ok && nm_set_load(cs) < 0)
		return false;
	nm_set_take(ms, cs);	/* taken: a cache serves one read */
	ms->nelems = cs->nelems ? cs->nelems : kernel_elems(ms);
	return true;
}

static int read_once(struct nl_sock *s, const char *table, bool cap, struct nft_read_cache *c,
		     struct nm_live *l, struct diag *d)
{
	struct rd r = { .l = l, .capture = cap };
	bool use_cache;
	uint32_t gen2;
	int ret;

	ret = nl_getgen(s, &l->genid, d);
	if (ret)
		return ret;
	/*
	 * A cache serves one read: its ranges are moved out, so a retry (a dump
	 * interrupted by ENOBUFS at the same generation) must dump instead.
	 */
	use_cache = c && c->t && !c->used && c->genid == l->genid;
	ret = dump(s, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, table, NULL, table_cb, &r,
		   "read table", d);
	if (ret == -ENOENT)
		ret = 0;
	if (ret)
		return ret;
	/* the same table, not one deleted and created again (its handle is new) */
	if (use_cache && c->table_handle && c->table_handle != l->t.handle)
		use_cache = false;
	if (use_cache)
		c->used = true;
	ret = dump(s, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, NULL, NULL, chain_cb, &r,
		   "read chains", d);
	if (ret)
		return ret;
	if (l->t.exists) {
		ret = dump(s, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP, table, NULL, set_cb, &r,
			   "read sets", d);
		if (ret)
			return ret;
		for (size_t i = 0; i < l->t.nsets; i++) {
			r.cur = &l->t.sets[i];
			r.nels = 0;
			r.setrawlen = 0;
			if (use_cache && take_cached(c, r.cur)) {
				l->ncached++;
				continue;
			}
			/* grants and seen sources: not portlock's to compare or restore */
			if (nm_set_kind_volatile(r.cur->kind))
				continue;
			ret = dump(s, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, table,
				   r.cur->name, elem_cb, &r, "read set elements", d);
			if (!ret && r.cur->kind != NM_SET_OTHER)
				ret = finish_set(&r);
			for (size_t k = 0; k < r.nels; k++)
				free(r.els[k].chain);
			/* elements kept as messages unless the journal stores them as ranges */
			if (!ret && cap && r.setrawlen && !stored_as_ranges(r.cur)) {
				if (util_grow((void **)&l->raw, &l->rawcap, l->rawlen + r.setrawlen, 1) < 0) {
					ret = -ENOMEM;
				} else {
					memcpy(l->raw + l->rawlen, r.setraw, r.setrawlen);
					l->rawlen += r.setrawlen;
				}
			}
			if (ret)
				break;
		}
		free(r.els);
		r.els = NULL;
		free(r.setraw);
		r.setraw = NULL;
		if (ret)
			return ret == -ENOMEM ? diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "read set") : ret;
		ret = dump(s, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, table, NULL, rule_cb, &r,
			   "read rules", d);
		if (ret)
			return ret;
	}
	ret = nl_getgen(s, &gen2, d);
	if (ret)
		return ret;
	if (gen2 != l->genid)
		return -EINTR;
	if (use_cache)
		l->cache_id = c->id;	/* the table is exactly what the cache describes */
	return 0;
}

int nft_read_table_comment(struct nl_sock *s, const char *table, bool *exists, char **comment,
			   struct diag *d)
{
	struct nm_live l = { 0 };
	struct rd r = { .l = &l };
	int ret;

	*exists = false;
	*comment = NULL;
	nm_table_init(&l.t, table);
	ret = dump(s, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, table, NULL, table_cb, &r,
		   "read table", d);
	if (ret == -ENOENT)
		ret = 0;
	if (!ret) {
		*exists = l.t.exists;
		*comment = l.t.comment;
		l.t.comment = NULL;
	}
	nm_live_fini(&l);
	return ret;
}

int nft_read(struct nl_sock *s, const char *table, bool capture_raw, struct nft_read_cache *cache,
	     struct nm_live *out, struct diag *d)
{
	int ret = -EINTR;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < READ_RETRIES && ret == -EINTR; i++) {
		reset(out, table);
		ret = read_once(s, table, capture_raw, cache, out, d);
	}

	if (ret == -EINTR)
		return diag_err(d, DIAG_CONFLICT, NULL, 0,
				"the ruleset kept changing while it was read (%d tries)", READ_RETRIES);
	return ret;
}

/* NFTA_SET_ELEM_LIST_SET of a NEWSETELEM message, or NULL. */
static const char *elem_msg_set(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(a);
	}
	return NULL;
}

static int finish_cur(struct rd *r)
{
	int ret = 0;

	if (r->cur && r->cur->kind != NM_SET_OTHER)
		ret = finish_set(r);
	for (size_t k = 0; k < r->nels; k++)
		free(r->els[k].chain);
	r->nels = 0;
	r->cur = NULL;
	return ret;
}

/* ---- range sets in compact form ---- */

#define RANGES_MAGIC "PLRANGE1"
#define MANIFEST_MAGIC "PLRANGE2"

/* interval sets as stored: 2 elements per range, 1 for a range up to the top */
static uint64_t kernel_elems(const struct nm_set *ms)
{
	enum cidr_family f = ms->kind == NM_SET_V4 ? CIDR_V4 : CIDR_V6;
	uint64_t n = 0;

	if (ms->nelems)
		return ms->nelems;
	for (size_t i = 0; i < ms->ranges.n; i++)
		n += ms->ranges.r[i].hi == cidr_max(f) ? 1 : 2;
	return n;
}

int nft_ranges_blob(const struct nm_table *t, char **buf, size_t *len)
{
	struct bytebuf w = { 0 };
	uint32_t n = 0;

	for (size_t i = 0; i < t->nsets; i++)
		n += stored_as_ranges(&t->sets[i]);
	bytebuf_put(&w, RANGES_MAGIC, 8);
	bytebuf_uint(&w, n, 4);
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *ms = &t->sets[i];
		size_t kl = ms->kind == NM_SET_V4 ? 4 : 16, nl = strlen(ms->name);

		if (!stored_as_ranges(ms))
			continue;
		/* reserve the whole entry at once: a million ranges, one realloc */
		if (!w.err && util_grow((void **)&w.p, &w.cap, w.len + 20 + nl + ms->ranges.n * 2 * kl, 1) < 0)
			w.err = -ENOMEM;
		bytebuf_uint(&w, nl, 2);
		bytebuf_put(&w, ms->name, nl);
		bytebuf_uint(&w, ms->kind == NM_SET_V4 ? 2 : 3, 1);
		bytebuf_uint(&w, 0, 1);
		bytebuf_uint(&w, kernel_elems(ms), 8);
		bytebuf_uint(&w, ms->ranges.n, 8);
		for (size_t k = 0; k < ms->ranges.n && !w.err; k++) {
			bytebuf_u128(&w, ms->ranges.r[k].lo, kl);
			bytebuf_u128(&w, ms->ranges.r[k].hi, kl);
		}
	}
	if (w.err) {
		free(w.p);
		return w.err;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

int nft_ranges_manifest(const struct nm_table *t, char **buf, size_t *len)
{
	struct bytebuf w = { 0 };
	uint32_t n = 0;

	for (size_t i = 0; i < t->nsets; i++)
		n += stored_as_ranges(&t->sets[i]);
	bytebuf_put(&w, MANIFEST_MAGIC, 8);
	bytebuf_uint(&w, n, 4);
	for (size_t i = 0; i < t->nsets; i++) {
		const struct nm_set *ms = &t->sets[i];
		size_t nl = strlen(ms->name);

		if (!stored_as_ranges(ms))
			continue;
		if (!ms->has_digest) {
			free(w.p);
			return -EINVAL;
		}
		bytebuf_uint(&w, nl, 2);
		bytebuf_put(&w, ms->name, nl);
		bytebuf_uint(&w, ms->kind == NM_SET_V4 ? 2 : 3, 1);
		bytebuf_uint(&w, 0, 1);
		bytebuf_uint(&w, kernel_elems(ms), 8);
		bytebuf_put(&w, ms->digest, 32);
	}
	if (w.err) {
		free(w.p);
		return w.err;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

struct rbuf {
	const uint8_t *p;
	size_t left;
};

static bool get_uint(struct rbuf *b, size_t n, uint64_t *v)
{
	*v = 0;
	if (b->left < n)
		return false;
	for (size_t i = 0; i < n; i++)
		*v |= (uint64_t)b->p[i] << (8 * i);
	b->p += n;
	b->left -= n;
	return true;
}

static bool get_u128(struct rbuf *b, size_t n, u128 *v)
{
	uint64_t lo, hi = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (b->left >= n) {
		*v = 0;
		memcpy(v, b->p, n);
		b->p += n;
		b->left -= n;
		return true;
	}
#endif
	if (!get_uint(b, n < 8 ? n : 8, &lo) || (n > 8 && !get_uint(b, n - 8, &hi)))
		return false;
	*v = (u128)hi << 64 | lo;
	return true;
}

int nft_ranges_parse(const void *buf, size_t len, const char *objdir, struct nm_table *t)
{
	struct rbuf b = { buf, len };
	uint64_t nsets, v;
	bool manifest;

	if (len < 12 || (memcmp(buf, RANGES_MAGIC, 8) && memcmp(buf, MANIFEST_MAGIC, 8)))
		return -EINVAL;
	manifest = !memcmp(buf, MANIFEST_MAGIC, 8);
	if (manifest && !objdir)
		return -EINVAL;
	b.p += 8;
	b.left -= 8;
	if (!get_uint(&b, 4, &nsets))
		return -EINVAL;
	for (uint64_t i = 0; i < nsets; i++) {
		uint64_t nl, kind, nelems, n;
		struct nm_set *ms;
		size_t kl;

		if (!get_uint(&b, 2, &nl) || nl == 0 || nl > b.left || memchr(b.p, 0, nl))
			return -EINVAL;
		if (!(ms = nm_table_add_set(t)))
			return -ENOMEM;
		rangeset_init(&ms->ranges);
		if (!(ms->name = strndup((const char *)b.p, nl)))
			return -ENOMEM;
		b.p += nl;
		b.left -= nl;
		if (!get_uint(&b, 1, &kind) || (kind != 2 && kind != 3) || !get_uint(&b, 1, &v) ||
		    !get_uint(&b, 8, &nelems))
			return -EINVAL;
		ms->kind = kind == 2 ? NM_SET_V4 : NM_SET_V6;
		if (manifest) {
			char hexd[65];

			/* by reference: the ranges are in objects/<digest>, loaded when needed */
			if (b.left < 32)
				return -EINVAL;
			memcpy(ms->digest, b.p, 32);
			b.p += 32;
			b.left -= 32;
			setobj_hex(ms->digest, 32, hexd);
			if (asprintf(&ms->objpath, "%s/%s", objdir, hexd) < 0) {
				ms->objpath = NULL;
				return -ENOMEM;
			}
			ms->has_digest = true;
			ms->lazy = true;
			ms->nelems = nelems;
			continue;
		}
		if (!get_uint(&b, 8, &n))
			return -EINVAL;
		kl = kind == 2 ? 4 : 16;
		if (n > b.left / (2 * kl))
			return -EINVAL;
		ms->nelems = nelems;
		ms->ranges.r = malloc((n ? n : 1) * sizeof(*ms->ranges.r));
		if (!ms->ranges.r)
			return -ENOMEM;
		ms->ranges.cap = n ? n : 1;
		if (kl == 4) {
			/* the million-range case: one pass, lengths checked above (n <= left / 8) */
			const uint8_t *p = b.p;

			for (uint64_t k = 0; k < n; k++, p += 8) {
				struct range *r = &ms->ranges.r[k];

				r->lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
					(uint32_t)p[3] << 24;
				r->hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
					(uint32_t)p[7] << 24;
				if (r->lo > r->hi || (k && r->lo <= r[-1].hi))
					return -EINVAL;
				ms->ranges.n++;
			}
			b.p = p;
			b.left -= n * 8;
			continue;
		}
		for (uint64_t k = 0; k < n; k++) {
			struct range *r = &ms->ranges.r[k];

			if (!get_u128(&b, kl, &r->lo) || !get_u128(&b, kl, &r->hi) || r->lo > r->hi ||
			    (k && r->lo <= ms->ranges.r[k - 1].hi))
				return -EINVAL;
			ms->ranges.n++;
		}
	}
	return b.left ? -EINVAL : 0;
}

/* Move the ranges of a parsed blob into the sets of t read from the raw messages. */
static int merge_ranges(struct nm_table *t, const void *ranges, size_t rlen, const char *objdir)
{
	struct nm_table rt;
	int ret;

	memset(&rt, 0, sizeof(rt));
	ret = nft_ranges_parse(ranges, rlen, objdir, &rt);
	for (size_t i = 0; !ret && i < rt.nsets; i++) {
		struct nm_set *ms = nm_table_find_set(t, rt.sets[i].name);

		if (!ms || ms->kind != rt.sets[i].kind || ms->ranges.n || ms->lazy) {
			ret = -EINVAL;
			break;
		}
		nm_set_take(ms, &rt.sets[i]);
		ms->nelems = rt.sets[i].nelems;
	}
	nm_table_fini(&rt);
	return ret;
}

int nft_parse_raw(const void *raw, size_t len, const void *ranges, size_t rlen, const char *objdir,
		  const char *table, struct nm_table *t, const char *what, struct diag *d)
{
	struct nm_live l = { 0 };
	struct rd r = { .l = &l, .keep = true };
	const struct nlmsghdr *nlh = raw;
	int left = len > INT32_MAX ? INT32_MAX : (int)len;
	int ret = 0;

	nm_table_init(&l.t, table);
	if (!l.t.name)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "%s", what);
	for (; left > 0 && !ret && !r.err; nlh = mnl_nlmsg_next(nlh, &left)) {
		/* mnl_nlmsg_ok() takes a length of 2^31 or more for a negative one: check first */
		if ((size_t)left < sizeof(*nlh) || nlh->nlmsg_len > (uint32_t)left || !mnl_nlmsg_ok(nlh, left)) {
			ret = -EINVAL;
			break;
		}
		switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
		case NFT_MSG_NEWTABLE:
			table_cb(nlh, &r);
			break;
		case NFT_MSG_NEWCHAIN:
			chain_cb(nlh, &r);
			break;
		case NFT_MSG_NEWSET:
			set_cb(nlh, &r);
			break;
		case NFT_MSG_NEWSETELEM: {
			const char *set = elem_msg_set(nlh);

			if (!set) {
				ret = -EINVAL;
				break;
			}
			if (!r.cur || strcmp(r.cur->name, set)) {
				ret = finish_cur(&r);
				r.cur = nm_table_find_set(&l.t, set);
				if (!r.cur) {
					ret = -EINVAL;
					break;
				}
			}
			elem_cb(nlh, &r);
			break;
		}
		case NFT_MSG_NEWRULE:
			ret = finish_cur(&r);
			rule_cb(nlh, &r);
			break;
		default:
			ret = -EINVAL;
		}
	}
	if (!ret)
		ret = finish_cur(&r);
	else
		finish_cur(&r);
	free(r.els);
	if (!ret && r.err)
		ret = r.err;
	if (!ret && ranges && rlen)
		ret = merge_ranges(&l.t, ranges, rlen, objdir);
	/* the model is the table; the foreign hooks and raw capture do not apply */
	*t = l.t;
	memset(&l.t, 0, sizeof(l.t));
	nm_live_fini(&l);
	if (ret == -ENOMEM)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "%s", what);
	if (ret)
		return diag_err(d, DIAG_CONFLICT, NULL, 0, "%s: the saved table content is malformed", what);
	return 0;
}
