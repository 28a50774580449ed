// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table model housekeeping and the rule printer. The printer renders the
 * expression patterns portlock generates in nft syntax (folding protocol
 * dependencies the way nft does: "meta l4proto tcp th dport" prints as
 * "tcp dport") and anything else in libnftnl's notation "[ expr ... ]", so a
 * hand-added rule is always shown, never hidden. This is the only file
 * besides nft_read.c/nft_build.c that touches libnftnl/expr.h.
 */
#include "nft_model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include "setobj.h"
#include "util.h"

void nm_table_init(struct nm_table *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->name = util_strdup(name);
}

static void set_fini(struct nm_set *s)
{
	free(s->name);
	free(s->label);
	free(s->raw);
	if (!s->borrowed)
		rangeset_fini(&s->ranges);
	free(s->ports);
	for (size_t i = 0; i < s->nvmap; i++)
		free(s->vmap[i].chain);
	free(s->vmap);
	free(s->objpath);
}

int nm_set_load(struct nm_set *s)
{
	struct rangeset rs;
	int ret;

	if (!s->lazy)
		return 0;
	if (!s->objpath || !s->has_digest)
		return -EBADMSG;
	ret = setobj_load(s->objpath, s->digest, nm_set_family(s), &rs);
	if (ret)
		return ret;
	if (!s->borrowed)
		rangeset_fini(&s->ranges);
	s->borrowed = false;
	s->ranges = rs;
	s->lazy = false;
	return 0;
}

void nm_set_take(struct nm_set *dst, struct nm_set *src)
{
	if (!dst->borrowed)
		rangeset_fini(&dst->ranges);
	dst->ranges = src->ranges;
	dst->borrowed = src->borrowed;
	src->borrowed = false;
	rangeset_init(&src->ranges);
	free(dst->objpath);
	dst->objpath = src->objpath;
	src->objpath = NULL;
	dst->lazy = src->lazy;
	dst->has_digest = src->has_digest;
	memcpy(dst->digest, src->digest, sizeof(dst->digest));
	src->lazy = false;
	src->has_digest = false;
}

int nm_set_compute_digest(struct nm_set *s)
{
	if (s->has_digest || s->lazy || (s->kind != NM_SET_V4 && s->kind != NM_SET_V6))
		return 0;
	if (setobj_digest(nm_set_family(s), &s->ranges, s->digest) < 0)
		return -ENOMEM;
	s->has_digest = true;
	return 0;
}

void nm_table_fini(struct nm_table *t)
{
	for (size_t i = 0; i < t->nchains; i++) {
		free(t->chains[i].name);
		free(t->chains[i].type);
	}
	free(t->chains);
	for (size_t i = 0; i < t->nsets; i++)
		set_fini(&t->sets[i]);
	free(t->sets);
	for (size_t i = 0; i < t->nrules; i++) {
		free(t->rules[i].chain);
		free(t->rules[i].key);
		free(t->rules[i].text);
		free(t->rules[i].label);
		if (t->rules[i].nr)
			nftnl_rule_free(t->rules[i].nr);
	}
	free(t->rules);
	free(t->name);
	free(t->comment);
	free(t->set_ix);
	free(t->chain_ix);
	memset(t, 0, sizeof(*t));
}

void nm_live_fini(struct nm_live *l)
{
	nm_table_fini(&l->t);
	for (size_t i = 0; i < l->nforeign; i++) {
		free(l->foreign[i].family);
		free(l->foreign[i].table);
		free(l->foreign[i].chain);
		free(l->foreign[i].type);
	}
	free(l->foreign);
	free(l->raw);
	memset(l, 0, sizeof(*l));
}

#define NM_ADD(arr, n, cap)                                                        \
	do {                                                                       \
		if (util_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))) < 0) \
			return NULL;                                               \
		memset(&(arr)[n], 0, sizeof(*(arr)));                              \
		return &(arr)[(n)++];                                              \
	} while (0)

struct nm_chain *nm_table_add_chain(struct nm_table *t)
{
	NM_ADD(t->chains, t->nchains, t->cchains);
}

struct nm_set *nm_table_add_set(struct nm_table *t)
{
	NM_ADD(t->sets, t->nsets, t->csets);
}

struct nm_rule *nm_table_add_rule(struct nm_table *t)
{
	NM_ADD(t->rules, t->nrules, t->crules);
}

/* qsort_r() comparator context: the names of the objects being indexed */
struct name_ctx {
	const void *base;
	size_t size;	/* of one object; its first member is its name */
};

static const char *obj_name(const struct name_ctx *c, size_t i)
{
	return *(char *const *)((const char *)c->base + i * c->size);
}

static int name_cmp(const void *a, const void *b, void *arg)
{
	const struct name_ctx *c = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int r = strcmp(obj_name(c, x), obj_name(c, y));

	return r ? r : (x < y ? -1 : x > y);
}

/*
 * Find name among n objects (each starting with its char *name) through the
 * sorted index *ix (rebuilt when the count changed); linear when the index
 * cannot be had. The index is a cache: the table is logically unchanged.
 */
static const void *find_named(const void *base, size_t n, size_t size, size_t **ix, size_t *nix,
			      const char *name)
{
	struct name_ctx c = { base, size };
	size_t lo = 0, hi;

	if (*nix != n) {
		size_t *nx = realloc(*ix, (n + 1) * sizeof(*nx));
		bool ok = nx != NULL;

		for (size_t i = 0; ok && i < n; i++)
			ok = obj_name(&c, i) != NULL;
		if (!ok) {
			if (nx)
				*ix = nx;
			*nix = (size_t)-1;
			for (size_t i = 0; i < n; i++)
				if (obj_name(&c, i) && !strcmp(obj_name(&c, i), name))
					return (const char *)base + i * size;
			return NULL;
		}
		*ix = nx;
		for (size_t i = 0; i < n; i++)
			nx[i] = i;
		qsort_r(nx, n, sizeof(*nx), name_cmp, &c);
		*nix = n;
	}
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(obj_name(&c, (*ix)[mid]), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && !strcmp(obj_name(&c, (*ix)[lo]), name))
		return (const char *)base + (*ix)[lo] * size;
	return NULL;
}

struct nm_set *nm_table_find_set(const struct nm_table *t, const char *name)
{
	struct nm_table *m = (struct nm_table *)t;

	return (struct nm_set *)find_named(t->sets, t->nsets, sizeof(*t->sets), &m->set_ix,
					   &m->nset_ix, name);
}

struct nm_chain *nm_table_find_chain(const struct nm_table *t, const char *name)
{
	struct nm_table *m = (struct nm_table *)t;

	return (struct nm_chain *)find_named(t->chains, t->nchains, sizeof(*t->chains),
					     &m->chain_ix, &m->nchain_ix, name);
}

const char *nm_hook_str(uint32_t hooknum)
{
	switch (hooknum) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	case NF_INET_POST_ROUTING: return "postrouting";
	case NF_INET_INGRESS: return "ingress";
	}
	return "?";
}

static void prio_str(int32_t prio, char *buf, size_t len)
{
	/* nft names the standard filter priority (0) */
	if (prio == 0)
		snprintf(buf, len, "filter");
	else if (prio < 0 && prio > -100)
		snprintf(buf, len, "filter - %d", -prio);
	else if (prio > 0 && prio < 100)
		snprintf(buf, len, "filter + %d", prio);
	else
		snprintf(buf, len, "%d", prio);
}

void nm_chain_def_str(const struct nm_chain *c, char *buf, size_t len)
{
	char prio[32];

	if (!c->base) {
		snprintf(buf, len, "regular chain");
		return;
	}
	prio_str(c->prio, prio, sizeof(prio));
	snprintf(buf, len, "type %s hook %s priority %s; policy %s;", c->type ? c->type : "?",
		 nm_hook_str(c->hooknum), prio, c->policy == NF_DROP ? "drop" : "accept");
}

static const char *type_str(uint32_t t)
{
	switch (t) {
	case NM_TYPE_VERDICT: return "verdict";
	case NM_TYPE_IPADDR: return "ipv4_addr";
	case NM_TYPE_IP6ADDR: return "ipv6_addr";
	case NM_TYPE_INET_SERVICE: return "inet_service";
	}
	return NULL;
}

void nm_set_def_str(const struct nm_set *s, char *buf, size_t len)
{
	const char *kt = type_str(s->key_type);
	char ktbuf[32];
	int n;

	if (!kt) {
		snprintf(ktbuf, sizeof(ktbuf), "type-%u/%u", s->key_type, s->key_len);
		kt = ktbuf;
	}
	if (s->flags & NFT_SET_MAP)
		n = snprintf(buf, len, "type %s : %s;", kt,
			     type_str(s->data_type) ? type_str(s->data_type) : "?");
	else
		n = snprintf(buf, len, "type %s;", kt);
	if (n > 0 && (size_t)n < len && (s->flags & (NFT_SET_INTERVAL | NFT_SET_CONSTANT)))
		snprintf(buf + n, len - (size_t)n, " flags%s%s;",
			 s->flags & NFT_SET_CONSTANT ? " constant" : "",
			 s->flags & NFT_SET_INTERVAL ? " interval" : "");
}

char *nm_rule_key(struct nftnl_rule *r)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	char *out = NULL;
	size_t len = 0, cap = 0;

	if (!it)
		return NULL;
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
		char buf[1024];
		int n;

		if (!strcmp(name, "counter"))
			n = snprintf(buf, sizeof(buf), "[ counter ]");
		else {
			char inner[1000];

			nftnl_expr_snprintf(inner, sizeof(inner), e, NFTNL_OUTPUT_DEFAULT, 0);
			n = snprintf(buf, sizeof(buf), "[ %s %s ]", name, inner);
		}
		if (n < 0)
			continue;
		if (util_grow((void **)&out, &cap, len + (size_t)n + 1, 1) < 0) {
			free(out);
			out = NULL;
			break;
		}
		memcpy(out + len, buf, (size_t)n + 1);
		len += (size_t)n;
	}
	nftnl_expr_iter_destroy(it);
	if (!out)
		out = strdup("");
	return out;
}

/* ---- printer ---- */

struct pr {
	char *out;
	size_t len, cap;
	char src[96];		/* what register 1 holds, in nft words */
	int src_kind;		/* 0 none, 1 meta l4proto, 2 meta nfproto, 3 meta iif, 4 port, 5 addr4, 6 addr6, 7 ct status */
	int l4dep;		/* pending "meta l4proto X" not printed yet (IPPROTO_*) */
	int nfdep;		/* pending "meta nfproto X" not printed yet */
	uint32_t mask;		/* bitwise mask applied to src */
	bool masked;
};

static void pr_add(struct pr *p, const char *fmt, ...) __printf(2, 3);
static void pr_add(struct pr *p, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (util_grow((void **)&p->out, &p->cap, p->len + (size_t)n + 2, 1) < 0)
		return;
	if (p->len)
		p->out[p->len++] = ' ';
	memcpy(p->out + p->len, buf, (size_t)n + 1);
	p->len += (size_t)n;
}

static void flush_deps(struct pr *p)
{
	if (p->l4dep) {
		if (p->l4dep == IPPROTO_TCP)
			pr_add(p, "meta l4proto tcp");
		else if (p->l4dep == IPPROTO_UDP)
			pr_add(p, "meta l4proto udp");
		else
			pr_add(p, "meta l4proto %d", p->l4dep);
		p->l4dep = 0;
	}
	if (p->nfdep) {
		pr_add(p, "meta nfproto %s", p->nfdep == NFPROTO_IPV4 ? "ipv4" : "ipv6");
		p->nfdep = 0;
	}
}

static void fmt_value(const struct pr *p, const void *data, uint32_t len, char *buf, size_t blen)
{
	const uint8_t *d = data;

	switch (p->src_kind) {
	case 1:
		if (len >= 1 && d[0] == IPPROTO_TCP) { snprintf(buf, blen, "tcp"); return; }
		if (len >= 1 && d[0] == IPPROTO_UDP) { snprintf(buf, blen, "udp"); return; }
		if (len >= 1) { snprintf(buf, blen, "%u", d[0]); return; }
		break;
	case 2:
		if (len >= 1) { snprintf(buf, blen, "%s", d[0] == NFPROTO_IPV4 ? "ipv4" : d[0] == NFPROTO_IPV6 ? "ipv6" : "?"); return; }
		break;
	case 3:
		if (len == 4) {
			uint32_t idx;

			memcpy(&idx, d, 4);
			if (idx == 1)
				snprintf(buf, blen, "\"lo\"");
			else
				snprintf(buf, blen, "%u", idx);
			return;
		}
		break;
	case 8:
		if (len == 1) { snprintf(buf, blen, "%s", d[0] == 0 ? "original" : "reply"); return; }
		break;
	case 4:
		if (len == 2) { snprintf(buf, blen, "%u", (d[0] << 8) | d[1]); return; }
		break;
	case 5:
		if (len == 4) { inet_ntop(AF_INET, d, buf, (socklen_t)blen); return; }
		break;
	case 6:
		if (len == 16) { inet_ntop(AF_INET6, d, buf, (socklen_t)blen); return; }
		break;
	}
	{
		size_t o = (size_t)snprintf(buf, blen, "0x");

		for (uint32_t i = 0; i < len && o + 3 < blen; i++)
			o += (size_t)snprintf(buf + o, blen - o, "%02x", d[i]);
	}
}

static void pr_raw(struct pr *p, struct nftnl_expr *e)
{
	char inner[1000];

	flush_deps(p);
	nftnl_expr_snprintf(inner, sizeof(inner), e, NFTNL_OUTPUT_DEFAULT, 0);
	pr_add(p, "[ %s %s ]", nftnl_expr_get_str(e, NFTNL_EXPR_NAME), inner);
	p->src_kind = 0;
	p->src[0] = '\0';
}

static void pr_payload(struct pr *p, struct nftnl_expr *e)
{
	uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
	uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
	uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);

	if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 2 && (off == 0 || off == 2)) {
		const char *l4 = p->l4dep == IPPROTO_TCP ? "tcp" : p->l4dep == IPPROTO_UDP ? "udp" : "th";

		if (p->l4dep == IPPROTO_TCP || p->l4dep == IPPROTO_UDP)
			p->l4dep = 0;
		flush_deps(p);
		snprintf(p->src, sizeof(p->src), "%s %s", l4, off ? "dport" : "sport");
		p->src_kind = 4;
		return;
	}
	if (base == NFT_PAYLOAD_NETWORK_HEADER && ((len == 4 && (off == 12 || off == 16)) ||
						   (len == 16 && (off == 8 || off == 24)))) {
		int v6 = len == 16;
		int dst = v6 ? off == 24 : off == 16;

		if (p->nfdep == (v6 ? NFPROTO_IPV6 : NFPROTO_IPV4))
			p->nfdep = 0;
		flush_deps(p);
		snprintf(p->src, sizeof(p->src), "%s %s", v6 ? "ip6" : "ip", dst ? "daddr" : "saddr");
		p->src_kind = v6 ? 6 : 5;
		return;
	}
	pr_raw(p, e);
}

static void pr_meta(struct pr *p, struct nftnl_expr *e)
{
	uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);

	if (nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG)) {
		pr_raw(p, e);
		return;
	}
	switch (key) {
	case NFT_META_L4PROTO:
		snprintf(p->src, sizeof(p->src), "meta l4proto");
		p->src_kind = 1;
		return;
	case NFT_META_NFPROTO:
		snprintf(p->src, sizeof(p->src), "meta nfproto");
		p->src_kind = 2;
		return;
	case NFT_META_IIF:
		flush_deps(p);
		snprintf(p->src, sizeof(p->src), "iif");
		p->src_kind = 3;
		return;
	}
	pr_raw(p, e);
}

static void pr_ct(struct pr *p, struct nftnl_expr *e)
{
	uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);

	flush_deps(p);
	if (key == NFT_CT_DIRECTION && !nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) {
		snprintf(p->src, sizeof(p->src), "ct direction");
		p->src_kind = 8;
		return;
	}
	if (key == NFT_CT_STATUS && !nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) {
		snprintf(p->src, sizeof(p->src), "ct status");
		p->src_kind = 7;
		return;
	}
	if (key == NFT_CT_PROTO_DST && nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) {
		snprintf(p->src, sizeof(p->src), "ct %s proto-dst",
			 nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR) == IP_CT_DIR_ORIGINAL ? "original" : "reply");
		p->src_kind = 4;
		return;
	}
	pr_raw(p, e);
}

static void pr_cmp(struct pr *p, struct nftnl_expr *e)
{
	uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), len;
	const void *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
	char val[128];

	if (!p->src_kind || !data) {
		pr_raw(p, e);
		return;
	}
	if (p->src_kind == 7 && p->masked && op == NFT_CMP_NEQ && len == 4 &&
	    !memcmp(data, "\0\0\0\0", 4)) {
		if (p->mask == IPS_DST_NAT)
			pr_add(p, "ct status dnat");
		else if (p->mask == IPS_SRC_NAT)
			pr_add(p, "ct status snat");
		else
			pr_add(p, "ct status & 0x%x != 0", p->mask);
		p->masked = false;
		p->src_kind = 0;
		return;
	}
	if (op == NFT_CMP_EQ && p->src_kind == 1 && len == 1) {
		p->l4dep = ((const uint8_t *)data)[0];	/* printed only if nothing folds it */
		p->src_kind = 0;
		return;
	}
	if (op == NFT_CMP_EQ && p->src_kind == 2 && len == 1) {
		p->nfdep = ((const uint8_t *)data)[0];
		p->src_kind = 0;
		return;
	}
	flush_deps(p);
	fmt_value(p, data, len, val, sizeof(val));
	pr_add(p, "%s%s %s", p->src, op == NFT_CMP_EQ ? "" : op == NFT_CMP_NEQ ? " !=" :
		op == NFT_CMP_LT ? " <" : op == NFT_CMP_LTE ? " <=" : op == NFT_CMP_GT ? " >" : " >=", val);
	p->src_kind = 0;
}

static void pr_verdict(struct pr *p, int32_t v, const char *chain)
{
	flush_deps(p);
	switch (v) {
	case NF_ACCEPT: pr_add(p, "accept"); break;
	case NF_DROP: pr_add(p, "drop"); break;
	case NFT_CONTINUE: pr_add(p, "continue"); break;
	case NFT_RETURN: pr_add(p, "return"); break;
	case NFT_JUMP: pr_add(p, "jump %s", chain ? chain : "?"); break;
	case NFT_GOTO: pr_add(p, "goto %s", chain ? chain : "?"); break;
	default: pr_add(p, "verdict %d", v); break;
	}
}

char *nm_rule_text(struct nftnl_rule *r, unsigned flags)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	struct pr p = { 0 };

	if (!it)
		return NULL;
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (!strcmp(name, "payload") && nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG)) {
			pr_payload(&p, e);
		} else if (!strcmp(name, "meta")) {
			pr_meta(&p, e);
		} else if (!strcmp(name, "ct") && nftnl_expr_is_set(e, NFTNL_EXPR_CT_DREG)) {
			pr_ct(&p, e);
		} else if (!strcmp(name, "cmp")) {
			pr_cmp(&p, e);
		} else if (!strcmp(name, "bitwise") && p.src_kind == 7 &&
			   nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_MASK)) {
			uint32_t len;
			const void *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);

			if (len == 4) {
				memcpy(&p.mask, m, 4);
				p.masked = true;
			} else {
				pr_raw(&p, e);
			}
		} else if (!strcmp(name, "lookup") && p.src_kind) {
			uint32_t lflags = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS)
						  ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) : 0;
			const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);

			flush_deps(&p);
			if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG))
				pr_add(&p, "%s vmap @%s", p.src, set);
			else
				pr_add(&p, "%s%s @%s", p.src, lflags & NFT_LOOKUP_F_INV ? " !=" : "", set);
			p.src_kind = 0;
		} else if (!strcmp(name, "counter")) {
			flush_deps(&p);
			if (flags & NM_TEXT_NO_COUNTERS)
				pr_add(&p, "counter");
			else
				pr_add(&p, "counter packets %llu bytes %llu",
			       (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS),
			       (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES));
		} else if (!strcmp(name, "limit") &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_TYPE) == NFT_LIMIT_PKTS) {
			static const struct { uint64_t s; const char *n; } units[] = {
				{ 1, "second" }, { 60, "minute" }, { 3600, "hour" }, { 86400, "day" },
			};
			uint64_t unit = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT);
			const char *un = NULL;

			for (size_t i = 0; i < ARRAY_SIZE(units); i++)
				if (units[i].s == unit)
					un = units[i].n;
			flush_deps(&p);
			if (un)
				pr_add(&p, "limit rate %llu/%s",
				       (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE), un);
			else
				pr_raw(&p, e);
			if (un && nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST) != 5)
				pr_add(&p, "burst %u packets", nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST));
		} else if (!strcmp(name, "log")) {
			flush_deps(&p);
			pr_add(&p, "log");
			if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)) {
				char esc[300];
				const char *pre = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);

				util_escape(pre, strlen(pre), esc, sizeof(esc));
				pr_add(&p, "prefix \"%s\"", esc);
			}
			if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_LEVEL) &&
			    nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_LEVEL) != 4)
				pr_add(&p, "level %u", nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_LEVEL));
		} else if (!strcmp(name, "immediate") &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
			pr_verdict(&p, (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT),
				   nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)
					   ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : NULL);
		} else if (!strcmp(name, "reject")) {
			uint32_t type = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE);
			uint8_t code = nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE);

			flush_deps(&p);
			if (type == NFT_REJECT_TCP_RST)
				pr_add(&p, "reject with tcp reset");
			else if (type == NFT_REJECT_ICMPX_UNREACH && code == NFT_REJECT_ICMPX_PORT_UNREACH)
				pr_add(&p, "reject");
			else
				pr_raw(&p, e);
		} else {
			pr_raw(&p, e);
		}
	}
	flush_deps(&p);
	nftnl_expr_iter_destroy(it);
	if (!p.out)
		p.out = strdup("");
	return p.out;
}
