// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * audit_derive() on built facts, and nft_eval on built rules: open / restricted /
 * closed / not evaluated, findings that close, snippets that parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "audit.h"
#include "config.h"
#include "diag.h"
#include "nft_eval.h"
#include "policy.h"
#include "probe.h"

/* ---- derive ---- */

static struct audit_port_fact port(uint16_t p, uint32_t svc, enum audit_reach r4, enum audit_reach r6)
{
	struct audit_port_fact x;

	memset(&x, 0, sizeof(x));
	x.st.key.port = p;
	x.st.listening[0] = x.st.listening[1] = true;
	x.st.reach[0].state = r4;
	x.st.reach[1].state = r6;
	x.probed = true;
	x.service = svc;
	snprintf(x.address, sizeof(x.address), "0.0.0.0");
	snprintf(x.where, sizeof(x.where), "0.0.0.0:%u", p);
	return x;
}

static const struct audit_finding *find(const struct audit_report *r, const char *id, uint16_t p)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].id, id) && r->f[i].port == p)
			return &r->f[i];
	return NULL;
}

static void derive(const struct audit_port_fact *v, size_t n, bool pol, struct audit_report *r)
{
	struct audit_facts in = { .v = v, .n = n, .have_policy = pol, .config_path = "/etc/portlock/portlock.conf" };

	memset(r, 0, sizeof(*r));
	audit_derive(&in, r);
}

static void test_derive_open(void **state)
{
	struct audit_port_fact v[3];
	struct audit_report r;
	const struct audit_finding *f;

	(void)state;
	v[0] = port(2525, PROBE_SVC_SMTP, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	v[1] = port(25, PROBE_SVC_SMTP, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	v[2] = port(2775, PROBE_SVC_SMPP, AUDIT_REACH_OPEN, AUDIT_REACH_OPEN);
	derive(v, 3, false, &r);
	f = find(&r, "smtp-nonstandard-port", 2525);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_HIGH);
	assert_int_equal(f->checks, AUDIT_CHK_SMTP_NS);
	assert_non_null(strstr(f->remediation, "write services = ( { name = \"stray_smtp_2525\"; ports = [2525]; allow = []; } ); to /etc/portlock/portlock.conf"));
	f = find(&r, "smtp-standard-port", 25);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_MEDIUM);
	f = find(&r, "smpp-exposed", 2775);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_HIGH);
	assert_int_equal(f->checks, AUDIT_CHK_SMPP);
	assert_null(find(&r, "remediated", 2775));
	audit_report_fini(&r);
}

static void test_derive_closes(void **state)
{
	struct audit_port_fact v[3];
	struct audit_report r;
	const struct audit_finding *f;

	(void)state;
	v[0] = port(2525, PROBE_SVC_SMTP, AUDIT_REACH_CLOSED, AUDIT_REACH_CLOSED);
	v[1] = port(25, PROBE_SVC_SMTP, AUDIT_REACH_RESTRICTED, AUDIT_REACH_RESTRICTED);
	v[1].st.reach[0].nranges = 2;
	v[2] = port(2775, PROBE_SVC_SMPP, AUDIT_REACH_RESTRICTED, AUDIT_REACH_CLOSED);
	snprintf(v[2].st.reach[1].by, sizeof(v[2].st.reach[1].by), "table inet fw chain in: tcp dport 2775 drop");
	derive(v, 3, true, &r);
	assert_null(find(&r, "smtp-nonstandard-port", 2525));
	assert_null(find(&r, "smtp-standard-port", 25));
	assert_null(find(&r, "smpp-exposed", 2775));
	assert_null(find(&r, "unrestricted-v6", 2775));
	f = find(&r, "remediated", 2525);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_INFO);
	assert_string_equal(f->closes, "smtp-nonstandard-port");
	assert_int_equal(f->checks, AUDIT_CHK_SMTP_NS);
	assert_non_null(strstr(f->summary, "closed to every remote source"));
	f = find(&r, "remediated", 25);
	assert_non_null(f);
	assert_string_equal(f->closes, "smtp-standard-port");
	assert_non_null(strstr(f->summary, "restricted to its allowlist"));
	assert_non_null(strstr(f->summary, "IPv4 restricted to 2 ranges of sources"));
	f = find(&r, "remediated", 2775);
	assert_non_null(f);
	assert_non_null(strstr(f->summary, "IPv6 closed to every remote source (table inet fw chain in: tcp dport 2775 drop)"));
	for (size_t i = 0; i < r.n; i++)
		assert_true(r.f[i].sev == AUDIT_INFO);
	audit_report_fini(&r);
}

static void test_derive_unknown(void **state)
{
	struct audit_port_fact v[2];
	struct audit_report r;
	const struct audit_finding *f;

	(void)state;
	/* not evaluated: reported one step lower, never remediated, never "open" */
	v[0] = port(2775, PROBE_SVC_SMPP, AUDIT_REACH_UNKNOWN, AUDIT_REACH_CLOSED);
	snprintf(v[0].st.reach[0].unknown, sizeof(v[0].st.reach[0].unknown), "table inet fw chain in: iifname \"eth0\" accept");
	/* one family open, the other restricted */
	v[1] = port(25, PROBE_SVC_SMTP, AUDIT_REACH_RESTRICTED, AUDIT_REACH_OPEN);
	v[1].in_policy = true;
	snprintf(v[1].psvc, sizeof(v[1].psvc), "smtp");
	derive(v, 2, true, &r);
	f = find(&r, "smpp-exposed", 2775);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_MEDIUM);
	assert_non_null(strstr(f->summary, "IPv4 not evaluated: table inet fw chain in: iifname"));
	assert_null(strstr(f->summary, "open"));
	assert_null(find(&r, "remediated", 2775));
	assert_null(find(&r, "unrestricted-v6", 2775));
	f = find(&r, "unrestricted-v6", 25);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_HIGH);
	assert_non_null(strstr(f->remediation, "the policy already restricts it (service 'smtp'"));
	assert_non_null(find(&r, "smtp-standard-port", 25));
	audit_report_fini(&r);
}

/* every snippet, inserted as its text says into a policy, parses */
static void test_snippets(void **state)
{
	static const char *const base = "services = (\n  { name = \"smtp\"; ports = [25]; allow = [\"192.0.2.10\"]; }\n);\n";
	struct {
		const char *name, *expect;
		bool udp;
		uint16_t port;
	} cases[] = {
		{ "stray_smtp_2525", NULL, false, 2525 }, { "smpp_2775", "smpp", false, 2775 },
		{ "smtp_465", "smtps", false, 465 }, { "port_161", NULL, true, 161 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char fix[1024], text[2048], entry[512];
		const char *a, *b, *at;
		struct policy p;
		struct diag d;

		/* with a policy: "insert ENTRY, right after "services = (" in FILE" */
		audit_snippet(fix, sizeof(fix), true, "p.conf", cases[i].name, cases[i].expect, cases[i].udp, cases[i].port);
		a = strstr(fix, "insert ");
		b = strstr(fix, ", right after \"services = (\" in p.conf");
		assert_non_null(a);
		assert_non_null(b);
		snprintf(entry, sizeof(entry), "%.*s", (int)(b - a - 7), a + 7);
		at = strstr(base, "services = (") + strlen("services = (");
		snprintf(text, sizeof(text), "%.*s %s,%s", (int)(at - base), base, entry, at);
		diag_init(&d);
		if (config_load_string(text, "p.conf", NULL, &p, &d) != 0) {
			diag_print(&d, stderr);
			fail_msg("snippet does not parse: %s", text);
		}
		assert_non_null(policy_find_port(&p, cases[i].udp ? POLICY_UDP : POLICY_TCP, cases[i].port));
		policy_fini(&p);
		diag_fini(&d);
		/* without: "write services = ( ... ); to FILE" */
		audit_snippet(fix, sizeof(fix), false, "n.conf", cases[i].name, cases[i].expect, cases[i].udp, cases[i].port);
		a = strstr(fix, "write ");
		b = strstr(fix, " to n.conf ");
		assert_non_null(a);
		assert_non_null(b);
		snprintf(text, sizeof(text), "%.*s\n", (int)(b - a - 6), a + 6);
		diag_init(&d);
		if (config_load_string(text, "n.conf", NULL, &p, &d) != 0) {
			diag_print(&d, stderr);
			fail_msg("snippet does not parse: %s", text);
		}
		policy_fini(&p);
		diag_fini(&d);
	}
}

/* ---- the evaluator on built rules ---- */

static struct nftnl_expr *e_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	return e;
}

static struct nftnl_expr *e_payload(uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *e_cmp(uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	return e;
}

static struct nftnl_expr *e_lookup(const char *set, bool inv)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (inv)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	return e;
}

static struct nftnl_expr *e_verdict(int v, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	return e;
}

/* "tcp dport P" */
static void add_dport(struct nftnl_rule *r, uint16_t p)
{
	uint8_t tcp = IPPROTO_TCP;
	uint16_t be = htons(p);

	nftnl_rule_add_expr(r, e_meta(NFT_META_L4PROTO, NFT_REG_1));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &tcp, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &be, 2));
}

static struct nftnl_rule *rule(void)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "c");
	return r;
}

static struct ne_chain *base(struct ne_table *t, const char *name, uint32_t policy)
{
	struct ne_chain *c = ne_table_add_chain(t, name);

	c->base = true;
	c->hooknum = NF_INET_LOCAL_IN;
	c->policy = policy;
	return c;
}

static enum ne_state eval(const struct ne_world *w, uint16_t p, enum cidr_family f, uint64_t *nranges)
{
	struct ne_packet pk = { .family = f, .dport = p };
	struct ne_result res;

	assert_int_equal(ne_eval(w, &pk, &res), 0);
	if (nranges)
		*nranges = res.reach.n;
	ne_result_fini(&res);
	return res.state;
}

static void test_eval(void **state)
{
	struct ne_world w = { 0 };
	struct ne_table *pl, *fw;
	struct ne_chain *c, *svc;
	struct ne_set *allow;
	struct nftnl_rule *r;
	uint8_t nfp4 = NFPROTO_IPV4;
	uint64_t n;

	(void)state;
	/* portlock-like: tcp dport 25 jump smtp; chain smtp: ip saddr @allow accept; drop */
	pl = ne_world_add_table(&w, NFPROTO_INET, "portlock");
	pl->portlock = true;
	c = base(pl, "input", NF_ACCEPT);
	svc = ne_table_add_chain(pl, "smtp");
	allow = ne_table_add_set(pl, "smtp_v4", 4);
	assert_int_equal(ne_set_add(allow, 0xc000020aU, 0xc000020bU, 0, NULL), 0);	/* 192.0.2.10-11 */
	r = rule();
	add_dport(r, 25);
	nftnl_rule_add_expr(r, e_verdict(NFT_JUMP, "smtp"));
	ne_chain_add_rule(c, r);
	r = rule();
	nftnl_rule_add_expr(r, e_meta(NFT_META_NFPROTO, NFT_REG_1));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &nfp4, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4));
	nftnl_rule_add_expr(r, e_lookup("smtp_v4", false));
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT, NULL));
	ne_chain_add_rule(svc, r);
	r = rule();
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
	nftnl_rule_add_expr(r, e_verdict(NF_DROP, NULL));
	ne_chain_add_rule(svc, r);
	/* a closed port: tcp dport 2525 ip saddr != @empty drop */
	ne_table_add_set(pl, "stray_v4", 4);
	r = rule();
	add_dport(r, 2525);
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4));
	nftnl_rule_add_expr(r, e_lookup("stray_v4", true));
	nftnl_rule_add_expr(r, nftnl_expr_alloc("reject"));
	ne_chain_add_rule(c, r);

	assert_int_equal(eval(&w, 25, CIDR_V4, &n), NE_RESTRICTED);
	assert_int_equal(n, 1);
	assert_int_equal(eval(&w, 25, CIDR_V6, NULL), NE_CLOSED);	/* no IPv6 allowlist rule: dropped */
	assert_int_equal(eval(&w, 2525, CIDR_V4, NULL), NE_CLOSED);
	assert_int_equal(eval(&w, 2775, CIDR_V4, NULL), NE_OPEN);

	/* a foreign base chain on the same hook: its drop counts, its accept does not undo ours */
	fw = ne_world_add_table(&w, NFPROTO_IPV4, "fw");
	c = base(fw, "in", NF_ACCEPT);
	r = rule();
	add_dport(r, 2775);
	nftnl_rule_add_expr(r, e_verdict(NF_DROP, NULL));
	ne_chain_add_rule(c, r);
	r = rule();
	add_dport(r, 2525);
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT, NULL));
	ne_chain_add_rule(c, r);
	assert_int_equal(eval(&w, 2775, CIDR_V4, NULL), NE_CLOSED);
	assert_int_equal(eval(&w, 2775, CIDR_V6, NULL), NE_OPEN);	/* table ip: IPv4 only */
	assert_int_equal(eval(&w, 2525, CIDR_V4, NULL), NE_CLOSED);

	/* something it cannot judge (iifname "eth0"): not evaluated, never open */
	r = rule();
	{
		struct nftnl_expr *e = e_meta(NFT_META_IIFNAME, NFT_REG_1);
		char name[16] = "eth0";

		nftnl_rule_add_expr(r, e);
		nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, name, sizeof(name)));
	}
	add_dport(r, 8080);
	nftnl_rule_add_expr(r, e_verdict(NF_DROP, NULL));
	ne_chain_add_rule(c, r);
	assert_int_equal(eval(&w, 8080, CIDR_V4, NULL), NE_UNKNOWN);
	assert_int_equal(eval(&w, 2775, CIDR_V4, NULL), NE_CLOSED);	/* decided before it */
	assert_int_equal(eval(&w, 9000, CIDR_V4, NULL), NE_OPEN);	/* its dport does not match */
	assert_int_equal(eval(&w, 25, CIDR_V4, &n), NE_RESTRICTED);
	/* "iif lo accept" never matches a remote source; a policy drop closes the rest */
	r = rule();
	{
		char lo[16] = "lo";

		nftnl_rule_add_expr(r, e_meta(NFT_META_IIFNAME, NFT_REG_1));
		nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, lo, sizeof(lo)));
	}
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT, NULL));
	c->policy = NF_DROP;
	assert_int_equal(ne_chain_add_rule(c, r), 0);
	memmove(&c->rules[1], &c->rules[0], (c->nrules - 1) * sizeof(*c->rules));
	c->rules[0] = r;
	assert_int_equal(eval(&w, 9000, CIDR_V4, NULL), NE_CLOSED);
	ne_world_fini(&w);
}

static struct nftnl_expr *e_vmap(const char *set)
{
	struct nftnl_expr *e = e_lookup(set, false);

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	return e;
}

/* the ruleset's shape: port dispatch map -> service chain -> source shard map -> shard chains */
static void test_eval_maps(void **state)
{
	struct ne_world w = { 0 };
	struct ne_table *t = ne_world_add_table(&w, NFPROTO_INET, "portlock");
	struct ne_chain *in = base(t, "input", NF_ACCEPT), *svc = ne_table_add_chain(t, "smpp_in");
	struct ne_chain *s0 = ne_table_add_chain(t, "smpp_s0"), *s1 = ne_table_add_chain(t, "smpp_s1");
	struct ne_set *disp = ne_table_add_set(t, "in_tcp", 2), *map = ne_table_add_set(t, "smpp_v4_map", 4);
	struct ne_set *a0 = ne_table_add_set(t, "smpp_v4_0", 4);
	struct nftnl_rule *r;
	uint8_t tcp = IPPROTO_TCP, nfp4 = NFPROTO_IPV4;
	struct ne_packet pk = { .family = CIDR_V4, .dport = 2775 };
	struct ne_result res;

	(void)state;
	assert_int_equal(ne_set_add(disp, 2775, 2775, NFT_JUMP, "smpp_in"), 0);
	assert_int_equal(ne_set_add(map, 0x0a000000U, 0x0affffffU, NFT_JUMP, "smpp_s0"), 0);	/* 10/8 */
	assert_int_equal(ne_set_add(map, 0xc0000200U, 0xc00002ffU, NFT_JUMP, "smpp_s1"), 0);	/* 192.0.2/24 */
	assert_int_equal(ne_set_add(a0, 0x0a000001U, 0x0a000001U, 0, NULL), 0);
	/* input: meta l4proto tcp th dport vmap @in_tcp */
	r = rule();
	nftnl_rule_add_expr(r, e_meta(NFT_META_L4PROTO, NFT_REG_1));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &tcp, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_vmap("in_tcp"));
	ne_chain_add_rule(in, r);
	/* smpp_in: meta nfproto ipv4 ip saddr vmap @smpp_v4_map; drop */
	r = rule();
	nftnl_rule_add_expr(r, e_meta(NFT_META_NFPROTO, NFT_REG_1));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &nfp4, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4));
	nftnl_rule_add_expr(r, e_vmap("smpp_v4_map"));
	ne_chain_add_rule(svc, r);
	r = rule();
	nftnl_rule_add_expr(r, e_verdict(NF_DROP, NULL));
	ne_chain_add_rule(svc, r);
	/* shard 0: ip saddr @smpp_v4_0 accept (falls back otherwise); shard 1: accept */
	r = rule();
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4));
	nftnl_rule_add_expr(r, e_lookup("smpp_v4_0", false));
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT, NULL));
	ne_chain_add_rule(s0, r);
	r = rule();
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT, NULL));
	ne_chain_add_rule(s1, r);

	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_RESTRICTED);
	assert_int_equal(res.reach.n, 2);
	assert_true(res.reach.r[0].lo == 0x0a000001U && res.reach.r[0].hi == 0x0a000001U);
	assert_true(res.reach.r[1].lo == 0xc0000200U && res.reach.r[1].hi == 0xc00002ffU);
	assert_string_equal(res.drop_chain, "smpp_in");
	ne_result_fini(&res);
	pk.dport = 2776;	/* not in the dispatch map */
	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_OPEN);
	ne_result_fini(&res);
	ne_world_fini(&w);
}

/* ---- NAT on prerouting ---- */

static struct nftnl_expr *e_imm(const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	return e;
}

/* "dnat ip to reg 1" (addr) and, with a port, "...:reg 2" */
static struct nftnl_expr *e_dnat(bool port)
{
	struct nftnl_expr *e = nftnl_expr_alloc("nat");

	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
	if (port)
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	return e;
}

static struct ne_chain *nat_chain(struct ne_table *t, const char *name, int32_t prio)
{
	struct ne_chain *c = base(t, name, NF_ACCEPT);

	c->hooknum = NF_INET_PRE_ROUTING;
	c->prio = prio;
	c->type = strdup("nat");
	return c;
}

static enum ne_nat_kind nat_of(const struct ne_world *w, uint16_t p, enum cidr_family f, struct ne_nat *n)
{
	struct ne_packet pk = { .family = f, .dport = p };

	assert_int_equal(ne_nat(w, &pk, n), 0);
	return n->kind;
}

static void test_nat(void **state)
{
	struct ne_world w = { 0 };
	struct ne_table *t = ne_world_add_table(&w, NFPROTO_IPV4, "nat");
	struct ne_chain *pre = nat_chain(t, "pre", -100), *docker = ne_table_add_chain(t, "DOCKER");
	struct ne_set *ports = ne_table_add_set(t, "pub", 2);
	struct nftnl_rule *r;
	struct ne_nat n;
	struct ne_nat_port *np;
	size_t nnp;
	uint8_t backend[4] = { 10, 0, 0, 9 }, eth0[16] = "eth0";
	uint16_t p8080 = htons(8080), p2525 = htons(2525), p2000 = htons(2000), p2100 = htons(2100);

	(void)state;
	assert_int_equal(ne_set_add(ports, 3000, 3001, 0, NULL), 0);
	/* tcp dport 2775 dnat ip to 10.0.0.9 */
	r = rule();
	add_dport(r, 2775);
	nftnl_rule_add_expr(r, e_imm(backend, 4));
	nftnl_rule_add_expr(r, e_dnat(false));
	ne_chain_add_rule(pre, r);
	/* tcp dport 2526 redirect to :2525 */
	r = rule();
	add_dport(r, 2526);
	nftnl_rule_add_expr(r, e_imm(&p2525, 2));
	{
		struct nftnl_expr *e = nftnl_expr_alloc("redir");

		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
		nftnl_rule_add_expr(r, e);
	}
	ne_chain_add_rule(pre, r);
	/* iifname "eth0" tcp dport 2777 dnat ...: the interface is not evaluated */
	r = rule();
	nftnl_rule_add_expr(r, e_meta(NFT_META_IIFNAME, NFT_REG_1));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, eth0, 16));
	add_dport(r, 2777);
	nftnl_rule_add_expr(r, e_imm(backend, 4));
	nftnl_rule_add_expr(r, e_dnat(false));
	ne_chain_add_rule(pre, r);
	/* tcp dport 2000-2100 jump DOCKER; DOCKER: tcp dport @pub ... and every port: dnat to 10.0.0.9:8080 */
	r = rule();
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_GTE, &p2000, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_LTE, &p2100, 2));
	nftnl_rule_add_expr(r, e_verdict(NFT_JUMP, "DOCKER"));
	ne_chain_add_rule(pre, r);
	r = rule();
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_GTE, &p2000, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_LTE, &p2100, 2));
	nftnl_rule_add_expr(r, e_imm(backend, 4));
	{
		struct nftnl_expr *e = e_imm(&p8080, 2);

		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_2);
		nftnl_rule_add_expr(r, e);
	}
	nftnl_rule_add_expr(r, e_dnat(true));
	ne_chain_add_rule(docker, r);

	assert_int_equal(nat_of(&w, 2775, CIDR_V4, &n), NE_NAT_DNAT);
	assert_string_equal(n.to, "10.0.0.9");
	assert_int_equal(n.to_port, 0);
	assert_false(n.some);
	assert_string_equal(n.table, "nat");
	assert_string_equal(n.chain, "pre");
	assert_string_equal(n.family, "ip");
	/* table ip never sees IPv6 */
	assert_int_equal(nat_of(&w, 2775, CIDR_V6, &n), NE_NAT_NONE);
	assert_int_equal(nat_of(&w, 25, CIDR_V4, &n), NE_NAT_NONE);
	assert_int_equal(nat_of(&w, 2526, CIDR_V4, &n), NE_NAT_LOCAL);
	assert_int_equal(n.to_port, 2525);
	assert_int_equal(nat_of(&w, 2777, CIDR_V4, &n), NE_NAT_UNKNOWN);
	assert_non_null(strstr(n.why, "meta iifname"));
	/* through the jump */
	assert_int_equal(nat_of(&w, 2050, CIDR_V4, &n), NE_NAT_DNAT);
	assert_string_equal(n.chain, "DOCKER");
	assert_int_equal(n.to_port, 8080);
	assert_int_equal(nat_of(&w, 2101, CIDR_V4, &n), NE_NAT_NONE);

	/* the candidates: 2775, 2526, 2777, 2000-2100 (twice: the jump has no nat) */
	assert_int_equal(ne_nat_ports(&w, &np, &nnp), 0);
	assert_int_equal(nnp, 4);
	assert_int_equal(np[0].lo, 2775);
	assert_int_equal(np[0].hi, 2775);
	assert_false(np[0].any_proto);
	assert_false(np[0].udp);
	assert_int_equal(np[1].lo, 2526);
	assert_int_equal(np[2].lo, 2777);
	assert_int_equal(np[3].lo, 2000);
	assert_int_equal(np[3].hi, 2100);
	assert_true(np[3].any_proto);
	assert_non_null(strstr(np[0].rule, "table ip nat chain pre: "));
	free(np);

	/* a rule over a port set, and one with no port match: every port */
	r = rule();
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_lookup("pub", false));
	nftnl_rule_add_expr(r, e_imm(backend, 4));
	nftnl_rule_add_expr(r, e_dnat(false));
	ne_chain_add_rule(docker, r);
	r = rule();
	nftnl_rule_add_expr(r, e_imm(backend, 4));
	nftnl_rule_add_expr(r, e_dnat(false));
	ne_chain_add_rule(pre, r);
	assert_int_equal(ne_nat_ports(&w, &np, &nnp), 0);
	assert_int_equal(nnp, 6);
	/* chain by chain: pre's catch-all comes before DOCKER's rules */
	assert_int_equal(np[3].lo, 0);
	assert_int_equal(np[3].hi, 65535);
	assert_int_equal(np[4].lo, 2000);
	assert_int_equal(np[5].lo, 3000);
	assert_int_equal(np[5].hi, 3001);
	free(np);
	/* the catch-all publishes every other port */
	assert_int_equal(nat_of(&w, 25, CIDR_V4, &n), NE_NAT_DNAT);
	assert_int_equal(nat_of(&w, 2526, CIDR_V4, &n), NE_NAT_LOCAL);
	ne_world_fini(&w);
}

static struct nftnl_expr *e_ct(uint32_t key, int dir)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	if (dir >= 0)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t)dir);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	return e;
}

/* "ip saddr @set accept", then "drop": a service chain */
static void allow_then_drop(struct ne_chain *c, const char *set)
{
	struct nftnl_rule *r = rule();

	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4));
	nftnl_rule_add_expr(r, e_lookup(set, false));
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT, NULL));
	ne_chain_add_rule(c, r);
	r = rule();
	nftnl_rule_add_expr(r, e_verdict(NF_DROP, NULL));
	ne_chain_add_rule(c, r);
}

/* portlock's forward chain: "ct direction original ct status dnat ct original proto-dst vmap @fwd_tcp" */
static void test_eval_forward(void **state)
{
	struct ne_world w = { 0 };
	struct ne_table *t = ne_world_add_table(&w, NFPROTO_INET, "portlock");
	struct ne_chain *fwd = base(t, "forward", NF_ACCEPT), *svc = ne_table_add_chain(t, "smpp_fwd");
	struct ne_set *disp = ne_table_add_set(t, "fwd_tcp", 2), *allow = ne_table_add_set(t, "smpp_v4", 4);
	struct ne_packet pk = { .family = CIDR_V4, .dport = 2775, .dnat = true, .to_port = 2775, .forward = true };
	struct ne_result res;
	struct nftnl_rule *r;
	struct nftnl_expr *e;
	uint32_t mask = IPS_DST_NAT, zero = 0;
	uint8_t dir = 0;

	(void)state;
	fwd->hooknum = NF_INET_FORWARD;
	assert_int_equal(ne_set_add(disp, 2775, 2775, NFT_JUMP, "smpp_fwd"), 0);
	assert_int_equal(ne_set_add(allow, 0xc000020aU, 0xc000020aU, 0, NULL), 0);	/* 192.0.2.10 */
	r = rule();
	nftnl_rule_add_expr(r, e_ct(NFT_CT_DIRECTION, -1));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &dir, 1));
	nftnl_rule_add_expr(r, e_ct(NFT_CT_STATUS, -1));
	e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	nftnl_rule_add_expr(r, e);
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_NEQ, &zero, 4));
	nftnl_rule_add_expr(r, e_ct(NFT_CT_PROTO_DST, 0));
	nftnl_rule_add_expr(r, e_vmap("fwd_tcp"));
	ne_chain_add_rule(fwd, r);
	allow_then_drop(svc, "smpp_v4");

	/* published 2775, translated to 2775 on the backend: the allowlist */
	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_RESTRICTED);
	assert_int_equal(res.reach.n, 1);
	assert_string_equal(res.drop_chain, "smpp_fwd");
	ne_result_fini(&res);
	/* the dispatch is on the original port, not the translated one */
	pk.to_port = 8080;
	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_RESTRICTED);
	ne_result_fini(&res);
	pk.dport = 2776;
	pk.to_port = 2775;
	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_OPEN);
	ne_result_fini(&res);
	/* not translated: the forward dispatch does not match (ct status), and input has no chain */
	pk.dport = 2775;
	pk.dnat = false;
	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_OPEN);
	ne_result_fini(&res);
	/* input: the forward chain is not crossed */
	pk.dnat = true;
	pk.forward = false;
	assert_int_equal(ne_eval(&w, &pk, &res), 0);
	assert_int_equal(res.state, NE_OPEN);
	ne_result_fini(&res);
	ne_world_fini(&w);
}

/* a published port: never closed because nothing listens; not evaluated, one step lower */
static void test_derive_published(void **state)
{
	struct audit_port_fact v[1];
	struct audit_report r;
	const struct audit_finding *f;
	static const bool both[2] = { true, true };

	(void)state;
	v[0] = port(2775, 0, AUDIT_REACH_UNKNOWN, AUDIT_REACH_OPEN);
	v[0].probed = false;
	v[0].st.listening[0] = v[0].st.listening[1] = false;
	v[0].st.reach[0].published = true;
	snprintf(v[0].st.reach[0].unknown, sizeof(v[0].st.reach[0].unknown),
		 "published by DNAT to 10.0.0.9 in table ip nat chain pre; the forward path is not evaluated");
	assert_int_equal(audit_port_reach(&v[0].st, both), AUDIT_REACH_UNKNOWN);
	derive(v, 1, false, &r);
	f = find(&r, "dnat-published", 2775);
	assert_non_null(f);
	assert_int_equal(f->sev, AUDIT_MEDIUM);
	assert_non_null(strstr(f->summary, "IPv4 not evaluated: published by DNAT to 10.0.0.9"));
	assert_null(strstr(f->summary, "IPv6"));	/* nothing listens on IPv6, nothing published there */
	assert_null(find(&r, "remediated", 2775));
	audit_report_fini(&r);
	/* without the DNAT, the same port is closed: nothing listens */
	v[0].st.reach[0].published = false;
	assert_int_equal(audit_port_reach(&v[0].st, both), AUDIT_REACH_CLOSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derive_open),
		cmocka_unit_test(test_derive_closes),
		cmocka_unit_test(test_derive_unknown),
		cmocka_unit_test(test_snippets),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_eval_maps),
		cmocka_unit_test(test_nat),
		cmocka_unit_test(test_eval_forward),
		cmocka_unit_test(test_derive_published),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
