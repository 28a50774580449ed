// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table model housekeeping, facts and the rule printer. The printer follows
 * what each register holds (loads, masks, concatenations) and renders the
 * common expressions in nft syntax, folding protocol dependencies the way
 * nft does ("meta l4proto tcp th dport" prints as "tcp dport", a 2-byte load
 * of the source address compared to 10.77 as "ip saddr 10.77.0.0/16"); an
 * expression it does not know is shown alone in libnftnl's notation
 * "[ expr ... ]", so a hand-added rule is always shown, never hidden. Besides
 * nft_read.c, nft_build.c and nft_plan.c (a set's counter expression), the
 * only file that touches libnftnl/expr.h.
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

#define IFNAMSIZ_ 16	/* IFNAMSIZ: the name field of iifname/oifname */
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
		nm_fact_fini(&t->rules[i].fact);
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

void nm_fact_fini(struct nm_fact *f)
{
	free(f->service);
	free(f->set);
	free(f->log_prefix);
	f->service = f->set = f->log_prefix = NULL;
}

const char *nm_role_str(enum nm_role r)
{
	static const char *const names[] = {
		[NM_ROLE_FOREIGN] = "foreign", [NM_ROLE_LOOPBACK] = "loopback",
		[NM_ROLE_DISPATCH] = "dispatch", [NM_ROLE_ALLOW] = "allow",
		[NM_ROLE_ALLOW_MAP] = "allow-map", [NM_ROLE_SHARD] = "shard",
		[NM_ROLE_TEMP] = "temp", [NM_ROLE_SEEN] = "seen", [NM_ROLE_LOG] = "log",
		[NM_ROLE_REFUSE] = "refuse", [NM_ROLE_OBSERVE] = "observe",
	};

	return (size_t)r < ARRAY_SIZE(names) && names[r] ? names[r] : "?";
}

char *nm_fact_key(const struct nm_fact *f)
{
	char *k = NULL;
	char esc[300] = "";

	if (f->log_prefix)
		util_escape(f->log_prefix, strlen(f->log_prefix), esc, sizeof(esc));
	/* everything nft_build_rule() reads, nothing else (not the counters) */
	if (asprintf(&k, "portlock %s svc=%s fam=%d hook=%u set=%s verdict=%d reject=%d l4=%u log=\"%s\"/%llu/%llu",
		     nm_role_str(f->role), f->service ? f->service : "-",
		     f->has_family ? (f->family == CIDR_V4 ? 4 : 6) : 0, f->hook,
		     f->set ? f->set : "-", f->verdict, f->reject, f->l4proto, esc,
		     (unsigned long long)f->log_rate, (unsigned long long)f->log_unit) < 0)
		return NULL;
	return k;
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

/* "30d", "12h30m", "45s", "1500ms": nft's duration notation */
static void duration_str(uint64_t ms, char *buf, size_t len)
{
	static const struct { uint64_t ms; const char *u; } units[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" },
	};
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(units) && o < len; i++) {
		if (ms < units[i].ms)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%llu%s", (unsigned long long)(ms / units[i].ms),
				      units[i].u);
		ms %= units[i].ms;
	}
	if (!o)
		snprintf(buf, len, "0s");
}

void nm_set_def_str(const struct nm_set *s, char *buf, size_t len)
{
	const char *kt = type_str(s->key_type);
	char ktbuf[32], flags[64] = "";
	size_t fo = 0;
	int n;

	if (s->key_type == NM_TYPE_SEEN4)
		kt = "ipv4_addr . inet_service";
	else if (s->key_type == NM_TYPE_SEEN6)
		kt = "ipv6_addr . inet_service";
	if (!kt) {
		snprintf(ktbuf, sizeof(ktbuf), "type-%u/%u", s->key_type, s->key_len);
		kt = ktbuf;
	}
	if (s->flags & NFT_SET_MAP)
		n = snprintf(buf, len, "type %s : %s;", kt,
			     type_str(s->data_type) ? type_str(s->data_type) : "?");
	else
		n = snprintf(buf, len, "type %s;", kt);
	if (s->flags & NFT_SET_CONSTANT)
		fo += (size_t)snprintf(flags + fo, sizeof(flags) - fo, "%sconstant", fo ? "," : "");
	if (s->flags & NFT_SET_INTERVAL)
		fo += (size_t)snprintf(flags + fo, sizeof(flags) - fo, "%sinterval", fo ? "," : "");
	if (s->flags & NFT_SET_EVAL)
		fo += (size_t)snprintf(flags + fo, sizeof(flags) - fo, "%sdynamic", fo ? "," : "");
	if (s->flags & NFT_SET_TIMEOUT)
		fo += (size_t)snprintf(flags + fo, sizeof(flags) - fo, "%stimeout", fo ? "," : "");
	if (n > 0 && (size_t)n < len && fo)
		n += snprintf(buf + n, len - (size_t)n, " flags %s;", flags);
	if (n > 0 && (size_t)n < len && s->timeout) {
		char d[64];

		duration_str(s->timeout, d, sizeof(d));
		n += snprintf(buf + n, len - (size_t)n, " timeout %s;", d);
	}
	if (n > 0 && (size_t)n < len && s->size)
		n += snprintf(buf + n, len - (size_t)n, " size %u;", s->size);
	if (n > 0 && (size_t)n < len && s->counter)
		snprintf(buf + n, len - (size_t)n, " counter;");
}

/* One expression in libnftnl's notation, whole (grown until it fits). Caller frees. */
static char *expr_raw(struct nftnl_expr *e)
{
	size_t cap = 1024;

	for (;;) {
		char *buf = malloc(cap);
		int n;

		if (!buf)
			return NULL;
		n = nftnl_expr_snprintf(buf, cap, e, NFTNL_OUTPUT_DEFAULT, 0);
		if (n >= 0 && (size_t)n + 1 < cap)
			return buf;
		free(buf);
		if (cap >= (1u << 24))
			return NULL;
		cap *= 4;
	}
}

struct sbuf {
	char *out;
	size_t len, cap;
	bool err;
};

static void sb_add(struct sbuf *b, bool space, const char *fmt, ...) __printf(3, 4);
static void sb_add(struct sbuf *b, bool space, const char *fmt, ...)
{
	va_list ap;
	char *t = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = true;
		return;
	}
	if (util_grow((void **)&b->out, &b->cap, b->len + (size_t)n + 2, 1) < 0) {
		b->err = true;
		free(t);
		return;
	}
	if (space && b->len)
		b->out[b->len++] = ' ';
	memcpy(b->out + b->len, t, (size_t)n + 1);
	b->len += (size_t)n;
	free(t);
}

char *nm_rule_key(struct nftnl_rule *r)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	struct sbuf b = { 0 };

	if (!it)
		return NULL;
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
		char *inner;

		if (!strcmp(name, "counter")) {
			sb_add(&b, false, "[ counter ]");
			continue;
		}
		inner = expr_raw(e);
		if (!inner) {
			b.err = true;
			break;
		}
		sb_add(&b, false, "[ %s %s ]", name, inner);
		free(inner);
	}
	nftnl_expr_iter_destroy(it);
	if (b.err) {
		free(b.out);
		return NULL;
	}
	if (!b.out)
		b.out = strdup("");
	return b.out;
}

/* ---- printer ---- */

enum ld_kind {
	K_RAW,		/* printed in libnftnl notation; values in hex */
	K_L4,		/* meta l4proto */
	K_PROTO,	/* ip protocol, ip6 nexthdr: named like l4proto, never a dependency */
	K_DEC,		/* one byte shown in decimal: ip ttl, ip6 hoplimit */
	K_ICMP,		/* icmp type, named as nft names it */
	K_ICMP6,	/* icmpv6 type */
	K_NFP,		/* meta nfproto */
	K_IIF,		/* iif/oif: index */
	K_IFNAME,	/* iifname/oifname: string */
	K_PORT,		/* th/tcp/udp port, ct proto-dst */
	K_ADDR4,
	K_ADDR6,
	K_CTDIR,
	K_CTSTATUS,
	K_CTSTATE,
	K_HEX,		/* known source, value shown in hex */
	K_IMM,		/* an immediate value (nat addresses and ports); text: its raw form */
};

/* What a register holds: one load (a register may hold part of a concatenation). */
struct ld {
	bool used;
	unsigned seq;
	enum ld_kind kind;
	uint32_t len;		/* bytes loaded */
	int bits;		/* addresses: prefix length (a short load or a mask) */
	uint32_t mask;		/* ct state/status */
	bool masked;
	char text[160];
	uint8_t imm[16];	/* K_IMM: the value */
	bool pending;		/* K_IMM: not printed yet, not taken by a nat statement */
};

#define PR_REGS 16	/* 32-bit registers */

struct pr {
	struct sbuf b;
	struct ld reg[PR_REGS];
	unsigned seq;
	/* "meta l4proto X" / "meta nfproto X" not printed yet: folded if a match implies them */
	struct { bool nf; uint8_t v; } dep[4];
	size_t ndep;
	int fam;		/* NFPROTO_IPV4/6 of the last "meta nfproto", for reject */
	/* a "cmp gte" waiting for its "cmp lte" (a range) */
	bool gte;
	int gte_reg;
	char gte_val[160];
};

static int reg_index(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)(reg - NFT_REG_1) * 4;
	if (reg >= NFT_REG32_00 && reg < NFT_REG32_00 + PR_REGS)
		return (int)(reg - NFT_REG32_00);
	return -1;
}

static void flush_deps(struct pr *p)
{
	for (size_t i = 0; i < p->ndep; i++) {
		uint8_t v = p->dep[i].v;

		if (p->dep[i].nf)
			sb_add(&p->b, true, "meta nfproto %s", v == NFPROTO_IPV4 ? "ipv4" :
				  v == NFPROTO_IPV6 ? "ipv6" : "?");
		else if (v == IPPROTO_TCP || v == IPPROTO_UDP)
			sb_add(&p->b, true, "meta l4proto %s", v == IPPROTO_TCP ? "tcp" : "udp");
		else
			sb_add(&p->b, true, "meta l4proto %u", v);
	}
	p->ndep = 0;
}

/* Remove a pending dependency the next match implies; returns its value or 0. */
static uint8_t fold_dep(struct pr *p, bool nf, int only)
{
	for (size_t i = 0; i < p->ndep; i++) {
		if (p->dep[i].nf != nf || (only >= 0 && p->dep[i].v != only))
			continue;
		uint8_t v = p->dep[i].v;

		memmove(&p->dep[i], &p->dep[i + 1], (p->ndep - i - 1) * sizeof(p->dep[0]));
		p->ndep--;
		return v;
	}
	return 0;
}

static void flush_gte(struct pr *p);

/* immediates no nat statement took: printed raw, where they were */
static void flush_imm(struct pr *p)
{
	for (size_t i = 0; i < PR_REGS; i++)
		if (p->reg[i].used && p->reg[i].kind == K_IMM && p->reg[i].pending) {
			p->reg[i].pending = false;
			sb_add(&p->b, true, "%s", p->reg[i].text);
		}
}

/* Text into the output: pending dependencies and half ranges go first. */
static void emit(struct pr *p, const char *fmt, ...) __printf(2, 3);
static void emit(struct pr *p, const char *fmt, ...)
{
	va_list ap;
	char *t = NULL;
	int n;

	flush_gte(p);
	flush_deps(p);
	flush_imm(p);
	va_start(ap, fmt);
	n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->b.err = true;
		return;
	}
	sb_add(&p->b, true, "%s", t);
	free(t);
}

static void emit_raw(struct pr *p, struct nftnl_expr *e)
{
	char *inner = expr_raw(e);

	emit(p, "[ %s %s ]", nftnl_expr_get_str(e, NFTNL_EXPR_NAME), inner ? inner : "?");
	free(inner);
}

static struct ld *load(struct pr *p, uint32_t dreg, enum ld_kind kind, uint32_t len,
		       const char *fmt, ...) __printf(5, 6);
static struct ld *load(struct pr *p, uint32_t dreg, enum ld_kind kind, uint32_t len,
		       const char *fmt, ...)
{
	int i = reg_index(dreg);
	struct ld *l;
	va_list ap;

	if (i < 0)
		return NULL;
	l = &p->reg[i];
	memset(l, 0, sizeof(*l));
	l->used = true;
	l->seq = ++p->seq;
	l->kind = kind;
	l->len = len;
	l->bits = -1;
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	return l;
}

static struct ld *reg_of(struct pr *p, uint32_t reg)
{
	int i = reg_index(reg);

	return i >= 0 && p->reg[i].used ? &p->reg[i] : NULL;
}

/* "a . b . c": the loads from reg on, in registers that follow each other, loaded in order. */
static void concat_text(struct pr *p, uint32_t reg, char *buf, size_t len)
{
	int i = reg_index(reg);
	unsigned seq = 0;
	size_t o = 0;

	buf[0] = '\0';
	while (i >= 0 && i < PR_REGS && p->reg[i].used && p->reg[i].seq > seq) {
		int n = snprintf(buf + o, len - o, "%s%s", o ? " . " : "", p->reg[i].text);

		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
		seq = p->reg[i].seq;
		i += (int)((p->reg[i].len + 3) / 4);
	}
	if (!o)
		snprintf(buf, len, "reg %u", reg);
}

static int leading_ones(const uint8_t *m, uint32_t len)
{
	int n = 0;

	for (uint32_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			if (!(m[i] >> b & 1)) {
				/* the rest must be zero for a prefix */
				for (int c = b; c >= 0; c--)
					if (m[i] >> c & 1)
						return -1;
				for (uint32_t j = i + 1; j < len; j++)
					if (m[j])
						return -1;
				return n;
			}
			n++;
		}
	}
	return n;
}

static void ct_state_str(uint32_t mask, char *buf, size_t len)
{
	static const struct { uint32_t bit; const char *n; } st[] = {
		{ 1, "invalid" }, { 2, "established" }, { 4, "related" }, { 8, "new" }, { 64, "untracked" },
	};
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(st); i++) {
		if (!(mask & st[i].bit))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "", st[i].n);
		mask &= ~st[i].bit;
		if (o >= len)
			return;
	}
	if (mask && o < len)
		snprintf(buf + o, len - o, "%s0x%x", o ? "," : "", mask);
}

static void fmt_value(const struct ld *l, const void *data, uint32_t len, char *buf, size_t blen)
{
	const uint8_t *d = data;

	switch (l->kind) {
	case K_ICMP:
	case K_ICMP6:
		if (len == 1) {
			static const struct { bool v6; uint8_t t; const char *n; } ty[] = {
				{ 0, 0, "echo-reply" }, { 0, 3, "destination-unreachable" },
				{ 0, 8, "echo-request" }, { 0, 11, "time-exceeded" },
				{ 1, 1, "destination-unreachable" }, { 1, 2, "packet-too-big" },
				{ 1, 3, "time-exceeded" }, { 1, 128, "echo-request" }, { 1, 129, "echo-reply" },
				{ 1, 133, "nd-router-solicit" }, { 1, 134, "nd-router-advert" },
				{ 1, 135, "nd-neighbor-solicit" }, { 1, 136, "nd-neighbor-advert" },
			};

			for (size_t i = 0; i < ARRAY_SIZE(ty); i++)
				if (ty[i].v6 == (l->kind == K_ICMP6) && ty[i].t == d[0]) {
					snprintf(buf, blen, "%s", ty[i].n);
					return;
				}
		}
		/* fall through */
	case K_DEC:
		if (len == 1) {
			snprintf(buf, blen, "%u", d[0]);
			return;
		}
		break;
	case K_L4:
	case K_PROTO:
		if (len == 1) {
			static const struct { uint8_t v; const char *n; } pr[] = {
				{ IPPROTO_TCP, "tcp" }, { IPPROTO_UDP, "udp" }, { IPPROTO_ICMP, "icmp" },
				{ IPPROTO_ICMPV6, "ipv6-icmp" }, { IPPROTO_SCTP, "sctp" },
			};

			for (size_t i = 0; i < ARRAY_SIZE(pr); i++)
				if (pr[i].v == d[0]) {
					snprintf(buf, blen, "%s", pr[i].n);
					return;
				}
			snprintf(buf, blen, "%u", d[0]);
			return;
		}
		break;
	case K_NFP:
		if (len == 1) {
			snprintf(buf, blen, "%s", d[0] == NFPROTO_IPV4 ? "ipv4" : d[0] == NFPROTO_IPV6 ? "ipv6" : "?");
			return;
		}
		break;
	case K_IIF:
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
	case K_IFNAME: {
		char name[IFNAMSIZ_ + 2], esc[80];
		size_t n = strnlen((const char *)d, len < IFNAMSIZ_ ? len : IFNAMSIZ_);

		memcpy(name, d, n);
		name[n] = '\0';
		util_escape(name, n, esc, sizeof(esc));
		/* a comparison shorter than the name field without its NUL: a wildcard */
		snprintf(buf, blen, "\"%s%s\"", esc, n == len && len < IFNAMSIZ_ ? "*" : "");
		return;
	}
	case K_CTDIR:
		if (len == 1) {
			snprintf(buf, blen, "%s", d[0] == 0 ? "original" : "reply");
			return;
		}
		break;
	case K_PORT:
		if (len == 2) {
			snprintf(buf, blen, "%u", (d[0] << 8) | d[1]);
			return;
		}
		break;
	case K_ADDR4:
	case K_ADDR6: {
		uint32_t full = l->kind == K_ADDR4 ? 4 : 16;
		uint8_t a[16] = { 0 };
		char tmp[INET6_ADDRSTRLEN];
		int bits = l->bits >= 0 ? l->bits : (int)(len * 8);

		if (len > full)
			break;
		memcpy(a, d, len);
		inet_ntop(full == 4 ? AF_INET : AF_INET6, a, tmp, sizeof(tmp));
		if (bits < (int)full * 8)
			snprintf(buf, blen, "%s/%d", tmp, bits);
		else
			snprintf(buf, blen, "%s", tmp);
		return;
	}
	default:
		break;
	}
	{
		size_t o = (size_t)snprintf(buf, blen, "0x");

		for (uint32_t i = 0; i < len && o + 3 < blen; i++)
			o += (size_t)snprintf(buf + o, blen - o, "%02x", d[i]);
	}
}

static void flush_gte(struct pr *p)
{
	if (!p->gte)
		return;
	p->gte = false;
	emit(p, "%s >= %s", p->reg[p->gte_reg].text, p->gte_val);
}

static void pr_payload(struct pr *p, struct nftnl_expr *e)
{
	uint32_t base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
	uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
	uint32_t len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
	uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG);

	if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 2 && (off == 0 || off == 2)) {
		uint8_t l4 = fold_dep(p, false, IPPROTO_TCP);

		if (!l4)
			l4 = fold_dep(p, false, IPPROTO_UDP);
		load(p, dreg, K_PORT, 2, "%s %s", l4 == IPPROTO_TCP ? "tcp" : l4 == IPPROTO_UDP ? "udp" : "th",
		     off ? "dport" : "sport");
		return;
	}
	if (base == NFT_PAYLOAD_NETWORK_HEADER && len >= 1 &&
	    (((off == 12 || off == 16) && len <= 4) || ((off == 8 || off == 24) && len <= 16 && len > 4) ||
	     ((off == 8 || off == 24) && len <= 4 && p->fam == NFPROTO_IPV6))) {
		/* a short load is a prefix on a byte boundary: "ip saddr 10.77.0.0/16" loads 2 bytes */
		bool v6 = (off == 8 || off == 24) && (len > 4 || p->fam == NFPROTO_IPV6);
		struct ld *l;

		fold_dep(p, true, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		l = load(p, dreg, v6 ? K_ADDR6 : K_ADDR4, len, "%s %s", v6 ? "ip6" : "ip",
			 off == 16 || off == 24 ? "daddr" : "saddr");
		if (l && len < (v6 ? 16u : 4u))
			l->bits = (int)len * 8;
		return;
	}
	if (base == NFT_PAYLOAD_NETWORK_HEADER && len == 1 && p->fam == NFPROTO_IPV4 && (off == 8 || off == 9)) {
		fold_dep(p, true, NFPROTO_IPV4);
		load(p, dreg, off == 9 ? K_PROTO : K_DEC, 1, "ip %s", off == 9 ? "protocol" : "ttl");
		return;
	}
	if (base == NFT_PAYLOAD_NETWORK_HEADER && len == 1 && p->fam == NFPROTO_IPV6 && (off == 6 || off == 7)) {
		fold_dep(p, true, NFPROTO_IPV6);
		load(p, dreg, off == 6 ? K_PROTO : K_DEC, 1, "ip6 %s", off == 6 ? "nexthdr" : "hoplimit");
		return;
	}
	if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 1 && off == 0) {
		uint8_t l4 = fold_dep(p, false, IPPROTO_ICMP);

		if (!l4)
			l4 = fold_dep(p, false, IPPROTO_ICMPV6);
		if (l4) {
			fold_dep(p, true, l4 == IPPROTO_ICMP ? NFPROTO_IPV4 : NFPROTO_IPV6);
			load(p, dreg, l4 == IPPROTO_ICMP ? K_ICMP : K_ICMP6, 1, "%s type",
			     l4 == IPPROTO_ICMP ? "icmp" : "icmpv6");
			return;
		}
	}
	{
		char *inner = expr_raw(e);

		load(p, dreg, K_RAW, len, "[ payload %s ]", inner ? inner : "?");
		free(inner);
	}
}

static void pr_meta(struct pr *p, struct nftnl_expr *e)
{
	uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
	uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);

	switch (key) {
	case NFT_META_L4PROTO: load(p, dreg, K_L4, 1, "meta l4proto"); return;
	case NFT_META_NFPROTO: load(p, dreg, K_NFP, 1, "meta nfproto"); return;
	case NFT_META_IIF: load(p, dreg, K_IIF, 4, "iif"); return;
	case NFT_META_OIF: load(p, dreg, K_IIF, 4, "oif"); return;
	case NFT_META_IIFNAME: load(p, dreg, K_IFNAME, IFNAMSIZ_, "iifname"); return;
	case NFT_META_OIFNAME: load(p, dreg, K_IFNAME, IFNAMSIZ_, "oifname"); return;
	case NFT_META_MARK: load(p, dreg, K_HEX, 4, "meta mark"); return;
	}
	{
		char *inner = expr_raw(e);

		load(p, dreg, K_RAW, 4, "[ meta %s ]", inner ? inner : "?");
		free(inner);
	}
}

static void pr_ct(struct pr *p, struct nftnl_expr *e)
{
	uint32_t key = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY);
	uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_DREG);
	bool dir = nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR);
	const char *dn = dir && nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR) == IP_CT_DIR_REPLY ? "reply" : "original";

	if (!dir && key == NFT_CT_DIRECTION) {
		load(p, dreg, K_CTDIR, 1, "ct direction");
		return;
	}
	if (!dir && key == NFT_CT_STATUS) {
		load(p, dreg, K_CTSTATUS, 4, "ct status");
		return;
	}
	if (!dir && key == NFT_CT_STATE) {
		load(p, dreg, K_CTSTATE, 4, "ct state");
		return;
	}
	if (!dir && key == NFT_CT_MARK) {
		load(p, dreg, K_HEX, 4, "ct mark");
		return;
	}
	if (dir && (key == NFT_CT_PROTO_DST || key == NFT_CT_PROTO_SRC)) {
		load(p, dreg, K_PORT, 2, "ct %s proto-%s", dn, key == NFT_CT_PROTO_DST ? "dst" : "src");
		return;
	}
	{
		char *inner = expr_raw(e);

		load(p, dreg, K_RAW, 4, "[ ct %s ]", inner ? inner : "?");
		free(inner);
	}
}

static void pr_bitwise(struct pr *p, struct nftnl_expr *e)
{
	uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG);
	uint32_t dreg = nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG);
	uint32_t mlen = 0, xlen = 0;
	const uint8_t *m = nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_MASK)
				   ? nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &mlen) : NULL;
	const uint8_t *x = nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_XOR)
				   ? nftnl_expr_get(e, NFTNL_EXPR_BITWISE_XOR, &xlen) : NULL;
	struct ld *l = reg_of(p, sreg);
	bool xzero = true;

	for (uint32_t i = 0; x && i < xlen; i++)
		xzero &= !x[i];
	if (l && sreg == dreg && m && xzero && !(nftnl_expr_is_set(e, NFTNL_EXPR_BITWISE_OP) &&
						  nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_OP) != NFT_BITWISE_BOOL)) {
		if ((l->kind == K_ADDR4 || l->kind == K_ADDR6) && mlen == l->len) {
			int bits = leading_ones(m, mlen);

			if (bits >= 0) {
				l->bits = bits;
				return;
			}
		}
		if ((l->kind == K_CTSTATE || l->kind == K_CTSTATUS) && mlen == 4) {
			memcpy(&l->mask, m, 4);
			l->masked = true;
			return;
		}
	}
	{
		char *inner = expr_raw(e);

		load(p, dreg, K_RAW, mlen ? mlen : 4, "[ bitwise %s ]", inner ? inner : "?");
		free(inner);
	}
}

static void pr_cmp(struct pr *p, struct nftnl_expr *e)
{
	uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), len = 0;
	uint32_t sreg = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG);
	const void *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
	struct ld *l = reg_of(p, sreg);
	static const char *const ops[] = {
		[NFT_CMP_EQ] = "", [NFT_CMP_NEQ] = " !=", [NFT_CMP_LT] = " <",
		[NFT_CMP_LTE] = " <=", [NFT_CMP_GT] = " >", [NFT_CMP_GTE] = " >=",
	};
	char val[160];

	if (!l || !data || op > NFT_CMP_GTE) {
		emit_raw(p, e);
		return;
	}
	if (l->masked && op == NFT_CMP_NEQ && len == 4 && !memcmp(data, "\0\0\0\0", 4)) {
		char st[96];

		if (l->kind == K_CTSTATE) {
			ct_state_str(l->mask, st, sizeof(st));
			emit(p, "ct state %s", st);
		} else if (l->mask == IPS_DST_NAT) {
			emit(p, "ct status dnat");
		} else if (l->mask == IPS_SRC_NAT) {
			emit(p, "ct status snat");
		} else {
			emit(p, "ct status & 0x%x != 0", l->mask);
		}
		return;
	}
	if (op == NFT_CMP_EQ && (l->kind == K_L4 || l->kind == K_NFP) && len == 1 &&
	    p->ndep < ARRAY_SIZE(p->dep)) {
		/* printed only if no later match implies it (nft folds them the same way) */
		p->dep[p->ndep].nf = l->kind == K_NFP;
		p->dep[p->ndep].v = ((const uint8_t *)data)[0];
		if (l->kind == K_NFP)
			p->fam = p->dep[p->ndep].v;
		p->ndep++;
		return;
	}
	fmt_value(l, data, len, val, sizeof(val));
	if (op == NFT_CMP_LTE && p->gte && p->gte_reg == reg_index(sreg)) {
		p->gte = false;
		emit(p, "%s %s-%s", l->text, p->gte_val, val);
		return;
	}
	flush_gte(p);
	if (op == NFT_CMP_GTE) {
		p->gte = true;
		p->gte_reg = reg_index(sreg);
		snprintf(p->gte_val, sizeof(p->gte_val), "%s", val);
		return;
	}
	emit(p, "%s%s %s", l->text, ops[op], val);
}

static void pr_verdict(struct pr *p, int32_t v, const char *chain)
{
	switch (v) {
	case NF_ACCEPT: emit(p, "accept"); break;
	case NF_DROP: emit(p, "drop"); break;
	case NFT_CONTINUE: emit(p, "continue"); break;
	case NFT_RETURN: emit(p, "return"); break;
	case NFT_JUMP: emit(p, "jump %s", chain ? chain : "?"); break;
	case NFT_GOTO: emit(p, "goto %s", chain ? chain : "?"); break;
	default: emit(p, "verdict %d", v); break;
	}
}

static void pr_reject(struct pr *p, struct nftnl_expr *e)
{
	static const char *const icmp[] = { [0] = "net-unreachable", [1] = "host-unreachable",
					    [2] = "prot-unreachable", [3] = "port-unreachable",
					    [9] = "net-prohibited", [10] = "host-prohibited",
					    [13] = "admin-prohibited" };
	static const char *const icmp6[] = { [0] = "no-route", [1] = "admin-prohibited",
					     [3] = "addr-unreachable", [4] = "port-unreachable",
					     [5] = "policy-fail", [6] = "reject-route" };
	static const char *const icmpx[] = { [0] = "no-route", [1] = "port-unreachable",
					     [2] = "host-unreachable", [3] = "admin-prohibited" };
	uint32_t type = nftnl_expr_get_u32(e, NFTNL_EXPR_REJECT_TYPE);
	uint8_t code = nftnl_expr_get_u8(e, NFTNL_EXPR_REJECT_CODE);
	const char *n = NULL;

	if (type == NFT_REJECT_TCP_RST) {
		emit(p, "reject with tcp reset");
		return;
	}
	if (type == NFT_REJECT_ICMPX_UNREACH && code == NFT_REJECT_ICMPX_PORT_UNREACH) {
		emit(p, "reject");
		return;
	}
	if (type == NFT_REJECT_ICMPX_UNREACH && code < ARRAY_SIZE(icmpx))
		n = icmpx[code];
	else if (type == NFT_REJECT_ICMP_UNREACH && p->fam == NFPROTO_IPV4 && code < ARRAY_SIZE(icmp))
		n = icmp[code];
	else if (type == NFT_REJECT_ICMP_UNREACH && p->fam == NFPROTO_IPV6 && code < ARRAY_SIZE(icmp6))
		n = icmp6[code];
	if (n)
		emit(p, "reject with %s %s", type == NFT_REJECT_ICMPX_UNREACH ? "icmpx" :
		     p->fam == NFPROTO_IPV4 ? "icmp" : "icmpv6", n);
	else
		emit_raw(p, e);
}

static void pr_limit(struct pr *p, struct nftnl_expr *e)
{
	static const struct { uint64_t s; const char *n; } units[] = {
		{ 1, "second" }, { 60, "minute" }, { 3600, "hour" }, { 86400, "day" }, { 604800, "week" },
	};
	uint64_t unit = nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_UNIT);
	uint32_t flags = nftnl_expr_is_set(e, NFTNL_EXPR_LIMIT_FLAGS)
				 ? nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_FLAGS) : 0;
	uint32_t burst = nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_BURST);
	const char *un = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (units[i].s == unit)
			un = units[i].n;
	if (!un || nftnl_expr_get_u32(e, NFTNL_EXPR_LIMIT_TYPE) != NFT_LIMIT_PKTS ||
	    (flags & ~NFT_LIMIT_F_INV)) {
		emit_raw(p, e);
		return;
	}
	emit(p, "limit rate %s%llu/%s", flags & NFT_LIMIT_F_INV ? "over " : "",
	     (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_LIMIT_RATE), un);
	if (burst != 5)
		emit(p, "burst %u packets", burst);
}

static void pr_log(struct pr *p, struct nftnl_expr *e)
{
	emit(p, "log");
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX)) {
		char esc[300];
		const char *pre = nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX);

		util_escape(pre, strlen(pre), esc, sizeof(esc));
		emit(p, "prefix \"%s\"", esc);
	}
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_LEVEL) && nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_LEVEL) != 4)
		emit(p, "level %u", nftnl_expr_get_u32(e, NFTNL_EXPR_LOG_LEVEL));
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LOG_GROUP))
		emit(p, "group %u", nftnl_expr_get_u16(e, NFTNL_EXPR_LOG_GROUP));
}

static void pr_lookup(struct pr *p, struct nftnl_expr *e)
{
	uint32_t flags = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS)
				 ? nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) : 0;
	const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
	char key[400];

	if (!reg_of(p, nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG)) ||
	    (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) &&
	     nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_DREG) != NFT_REG_VERDICT)) {
		emit_raw(p, e);
		return;
	}
	concat_text(p, nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG), key, sizeof(key));
	if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG))
		emit(p, "%s vmap @%s", key, set);
	else
		emit(p, "%s%s @%s", key, flags & NFT_LOOKUP_F_INV ? " !=" : "", set);
}

static void pr_dynset(struct pr *p, struct nftnl_expr *e)
{
	static const char *const ops[] = { "add", "update", "delete" };
	uint32_t op = nftnl_expr_get_u32(e, NFTNL_EXPR_DYNSET_OP);
	char key[400];

	if (op >= ARRAY_SIZE(ops) || nftnl_expr_is_set(e, NFTNL_EXPR_DYNSET_SREG_DATA) ||
	    nftnl_expr_is_set(e, NFTNL_EXPR_DYNSET_EXPR) ||
	    !reg_of(p, nftnl_expr_get_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY))) {
		emit_raw(p, e);
		return;
	}
	concat_text(p, nftnl_expr_get_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY), key, sizeof(key));
	if (nftnl_expr_is_set(e, NFTNL_EXPR_DYNSET_TIMEOUT) && nftnl_expr_get_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT))
		emit(p, "%s @%s { %s timeout %llums }", ops[op], nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME),
		     key, (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT));
	else
		emit(p, "%s @%s { %s }", ops[op], nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME), key);
}

/* "immediate reg N value": kept for a nat statement, printed raw otherwise */
static void pr_imm(struct pr *p, struct nftnl_expr *e)
{
	uint32_t len = 0;
	const void *d = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len);
	char *raw = expr_raw(e);
	struct ld *l = d && len <= 16 && raw ? load(p, nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG), K_IMM, len,
						    "[ immediate %s ]", raw) : NULL;

	free(raw);
	if (!l) {
		emit_raw(p, e);
		return;
	}
	memcpy(l->imm, d, len);
	l->pending = true;
}

static struct ld *imm_of(struct pr *p, struct nftnl_expr *e, uint16_t attr, uint32_t len)
{
	struct ld *l = nftnl_expr_is_set(e, attr) ? reg_of(p, nftnl_expr_get_u32(e, attr)) : NULL;

	return l && l->kind == K_IMM && l->len == len ? l : NULL;
}

/* dnat/snat ip|ip6 to ADDR[-ADDR][:PORT[-PORT]], redirect [to :PORT[-PORT]] */
static void pr_nat(struct pr *p, struct nftnl_expr *e)
{
	bool redir = !strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "redir");
	uint16_t amin = NFTNL_EXPR_NAT_REG_ADDR_MIN, amax = NFTNL_EXPR_NAT_REG_ADDR_MAX;
	uint16_t pmin = redir ? NFTNL_EXPR_REDIR_REG_PROTO_MIN : NFTNL_EXPR_NAT_REG_PROTO_MIN;
	uint16_t pmax = redir ? NFTNL_EXPR_REDIR_REG_PROTO_MAX : NFTNL_EXPR_NAT_REG_PROTO_MAX;
	uint16_t fl = redir ? NFTNL_EXPR_REDIR_FLAGS : NFTNL_EXPR_NAT_FLAGS;
	uint32_t fam = !redir && nftnl_expr_is_set(e, NFTNL_EXPR_NAT_FAMILY) ? nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_FAMILY) : 0;
	uint32_t al = fam == NFPROTO_IPV6 ? 16 : 4, type = redir ? 0 : nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE);
	struct ld *a1 = NULL, *a2 = NULL, *p1 = NULL, *p2 = NULL;
	char addr[2 * INET6_ADDRSTRLEN + 1] = "", port[16] = "", s2[INET6_ADDRSTRLEN];

	/* flags other than "map addresses" (1) and "port given" (2): persistent, random, ... */
	if ((nftnl_expr_is_set(e, fl) && (nftnl_expr_get_u32(e, fl) & ~3u)) ||
	    (!redir && ((type != NFT_NAT_DNAT && type != NFT_NAT_SNAT) || (fam != NFPROTO_IPV4 && fam != NFPROTO_IPV6))) ||
	    (!redir && nftnl_expr_is_set(e, amin) && !(a1 = imm_of(p, e, amin, al))) ||
	    (!redir && nftnl_expr_is_set(e, amax) && !(a2 = imm_of(p, e, amax, al))) ||
	    (nftnl_expr_is_set(e, pmin) && !(p1 = imm_of(p, e, pmin, 2))) ||
	    (nftnl_expr_is_set(e, pmax) && !(p2 = imm_of(p, e, pmax, 2)))) {
		emit_raw(p, e);
		return;
	}
	if (a1) {
		inet_ntop(fam == NFPROTO_IPV6 ? AF_INET6 : AF_INET, a1->imm, addr, INET6_ADDRSTRLEN);
		if (a2 && memcmp(a1->imm, a2->imm, al)) {
			inet_ntop(fam == NFPROTO_IPV6 ? AF_INET6 : AF_INET, a2->imm, s2, sizeof(s2));
			snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), "-%s", s2);
		}
	}
	if (p1) {
		snprintf(port, sizeof(port), ":%u", (unsigned)(p1->imm[0] << 8 | p1->imm[1]));
		if (p2 && memcmp(p1->imm, p2->imm, 2))
			snprintf(port + strlen(port), sizeof(port) - strlen(port), "-%u",
				 (unsigned)(p2->imm[0] << 8 | p2->imm[1]));
	}
	for (struct ld *x[] = { a1, a2, p1, p2 }, **i = x; i < x + 4; i++)
		if (*i)
			(*i)->pending = false;
	if (redir)
		emit(p, "redirect%s%s", port[0] ? " to " : "", port);
	else
		emit(p, "%s %s to %s%s%s%s", type == NFT_NAT_DNAT ? "dnat" : "snat", fam == NFPROTO_IPV6 ? "ip6" : "ip",
		     fam == NFPROTO_IPV6 && port[0] && addr[0] ? "[" : "", addr,
		     fam == NFPROTO_IPV6 && port[0] && addr[0] ? "]" : "", port);
}

char *nm_rule_text(struct nftnl_rule *r, unsigned flags)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	struct pr p;

	if (!it)
		return NULL;
	memset(&p, 0, sizeof(p));
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (!strcmp(name, "payload") && nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG))
			pr_payload(&p, e);
		else if (!strcmp(name, "meta") && nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG))
			pr_meta(&p, e);
		else if (!strcmp(name, "ct") && nftnl_expr_is_set(e, NFTNL_EXPR_CT_DREG))
			pr_ct(&p, e);
		else if (!strcmp(name, "bitwise"))
			pr_bitwise(&p, e);
		else if (!strcmp(name, "cmp"))
			pr_cmp(&p, e);
		else if (!strcmp(name, "lookup"))
			pr_lookup(&p, e);
		else if (!strcmp(name, "dynset"))
			pr_dynset(&p, e);
		else if (!strcmp(name, "counter") && (flags & NM_TEXT_NO_COUNTERS))
			emit(&p, "counter");
		else if (!strcmp(name, "counter"))
			emit(&p, "counter packets %llu bytes %llu",
			     (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS),
			     (unsigned long long)nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES));
		else if (!strcmp(name, "limit"))
			pr_limit(&p, e);
		else if (!strcmp(name, "log"))
			pr_log(&p, e);
		else if (!strcmp(name, "immediate") &&
			 nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT)
			pr_verdict(&p, (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT),
				   nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)
					   ? nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN) : NULL);
		else if (!strcmp(name, "immediate") && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_DATA))
			pr_imm(&p, e);
		else if (!strcmp(name, "nat") || !strcmp(name, "redir"))
			pr_nat(&p, e);
		else if (!strcmp(name, "reject"))
			pr_reject(&p, e);
		else
			emit_raw(&p, e);
	}
	flush_gte(&p);
	flush_deps(&p);
	flush_imm(&p);
	nftnl_expr_iter_destroy(it);
	if (p.b.err) {
		free(p.b.out);
		return NULL;
	}
	if (!p.b.out)
		p.b.out = strdup("");
	return p.b.out;
}
