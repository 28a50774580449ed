// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Facts of portlock's rules: every rule nft_build() makes (both hooks, TCP
 * and UDP, drop and reject, enforce and observe, sharded allowlists, with and
 * without log and loopback) is recognised by nft_read_rule_facts() as the
 * same facts and key; one expression more or a set renamed makes it foreign;
 * the printer shows every built rule in nft syntax and common hand-written
 * rules too (no libnftnl notation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cmocka.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "nft_build.h"
#include "nft_model.h"
#include "nft_read.h"
#include "policy.h"

static void add_svc(struct policy *p, const char *name, enum policy_proto proto, uint16_t port,
		    enum policy_mode mode, size_t nv4)
{
	struct policy_service *s;

	p->svcs = realloc(p->svcs, (p->nsvcs + 1) * sizeof(*p->svcs));
	assert_non_null(p->svcs);
	s = &p->svcs[p->nsvcs++];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->proto = proto;
	s->ports = calloc(2, sizeof(*s->ports));
	s->ports[0] = port;
	s->ports[1] = (uint16_t)(port + 1000);
	s->nports = 2;
	s->mode = mode;
	s->retention = 86400;
	rangeset_init(&s->v4);
	rangeset_init(&s->v6);
	for (size_t i = 0; i < nv4; i++)
		assert_int_equal(rangeset_add(&s->v4, (u128)0x0a000000 + i * 0x10000,
					      (u128)0x0a000000 + i * 0x10000 + 0xff), 0);
	assert_int_equal(rangeset_add(&s->v6, (u128)0x20010db8 << 96, ((u128)0x20010db8 << 96) + 0xffff), 0);
}

/* Every built rule, read back as a live one, has the same facts and key. */
static void roundtrip(struct policy *p)
{
	struct nm_table t;

	assert_int_equal(nft_build(p, &t), 0);
	assert_true(t.nrules > 0);
	for (size_t i = 0; i < t.nrules; i++) {
		struct nm_rule *w = &t.rules[i];
		struct nm_rule live;

		assert_int_not_equal(w->fact.role, NM_ROLE_FOREIGN);
		assert_null(strstr(w->text, "[ "));
		memset(&live, 0, sizeof(live));
		live.chain = strdup(w->chain);
		live.key = nm_rule_key(w->nr);
		assert_int_equal(nft_read_rule_facts(&t, &live, w->nr), 0);
		if (strcmp(live.key, w->key))
			fail_msg("rule %zu in %s (%s): read as '%s', built as '%s'", i, w->chain, w->text,
				 live.key, w->key);
		assert_int_equal(live.fact.role, w->fact.role);
		assert_int_equal(live.fact.has_counter, w->fact.has_counter);
		free(live.chain);
		free(live.key);
		nm_fact_fini(&live.fact);
	}
	nm_table_fini(&t);
}

static void test_roundtrip(void **state)
{
	struct policy p;

	(void)state;
	for (int v = 0; v < 8; v++) {
		assert_int_equal(policy_init(&p), 0);
		p.action = v & 1 ? POLICY_REJECT : POLICY_DROP;
		p.log = !(v & 2);
		p.loopback = !(v & 4);
		p.hooks = v == 5 ? POLICY_HOOK_FORWARD : v == 6 ? POLICY_HOOK_INPUT
			  : POLICY_HOOK_INPUT | POLICY_HOOK_FORWARD;
		add_svc(&p, "smpp", POLICY_TCP, 2775, POLICY_MODE_ENFORCE, 2);
		add_svc(&p, "dns_in", POLICY_UDP, 53, POLICY_MODE_OBSERVE, 3);
		add_svc(&p, "big", POLICY_TCP, 25, v & 1 ? POLICY_MODE_OBSERVE : POLICY_MODE_ENFORCE, 40);
		/* shards of at most 8 ranges: the big service's v4 allowlist is split */
		setenv("PORTLOCK_SHARD_MAX", "8", 1);
		roundtrip(&p);
		unsetenv("PORTLOCK_SHARD_MAX");
		policy_fini(&p);
	}
}

/* One expression more, or another set, and the rule is no longer portlock's. */
static void test_foreign(void **state)
{
	struct policy p;
	struct nm_table t;
	size_t checked = 0;

	(void)state;
	assert_int_equal(policy_init(&p), 0);
	add_svc(&p, "smpp", POLICY_TCP, 2775, POLICY_MODE_ENFORCE, 1);
	assert_int_equal(nft_build(&p, &t), 0);
	for (size_t i = 0; i < t.nrules; i++) {
		struct nm_rule *w = &t.rules[i];
		struct nftnl_rule *r = nft_build_rule(t.name, w->chain, &w->fact);
		struct nm_rule live;

		assert_non_null(r);
		if (w->fact.role == NM_ROLE_ALLOW) {
			/* the same shape on another set */
			struct nm_fact f = w->fact;

			nftnl_rule_free(r);
			f.set = (char *)"other_v4";
			r = nft_build_rule(t.name, w->chain, &f);
		} else {
			nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
		}
		memset(&live, 0, sizeof(live));
		live.chain = strdup(w->chain);
		live.key = nm_rule_key(r);
		assert_int_equal(nft_read_rule_facts(&t, &live, r), 0);
		assert_int_equal(live.fact.role, NM_ROLE_FOREIGN);
		assert_non_null(strstr(live.key, "[ "));
		checked++;
		free(live.chain);
		free(live.key);
		nm_fact_fini(&live.fact);
		nftnl_rule_free(r);
	}
	assert_true(checked > 5);
	nm_table_fini(&t);
	policy_fini(&p);
}

static struct nftnl_expr *e_meta(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return e;
}

static struct nftnl_expr *e_cmp(uint32_t op, const void *d, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, d, len);
	return e;
}

static struct nftnl_expr *e_payload(uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	return e;
}

static struct nftnl_expr *e_verdict(int v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
	return e;
}

static void expect_text(struct nftnl_rule *r, const char *want)
{
	char *t = nm_rule_text(r, 0);

	assert_non_null(t);
	if (strcmp(t, want))
		fail_msg("printed '%s', want '%s'", t, want);
	free(t);
	nftnl_rule_free(r);
}

/* What nft makes of common hand-written rules (nft --debug=netlink), printed back. */
static void test_printer(void **state)
{
	uint8_t v4 = NFPROTO_IPV4, v6 = NFPROTO_IPV6, tcp = IPPROTO_TCP;
	uint8_t net16[2] = { 10, 77 }, a15[4] = { 10, 76, 0, 0 }, m15[4] = { 0xff, 0xfe, 0, 0 };
	uint8_t p22[2] = { 0, 22 }, lo[2] = { 0x03, 0xe8 }, hi[2] = { 0x07, 0xd0 };
	uint8_t n6[4] = { 0x20, 0x01, 0x0d, 0xb8 }, zero[4] = { 0 };
	struct nftnl_rule *r;
	struct nftnl_expr *e;

	(void)state;
	/* ip saddr 10.77.0.0/16 accept: a 2-byte load */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_meta(NFT_META_NFPROTO));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &v4, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, net16, 2));
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT));
	expect_text(r, "ip saddr 10.77.0.0/16 accept");

	/* ip saddr 10.76.0.0/15 tcp dport 1000-2000 counter drop: a mask, a range */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_meta(NFT_META_NFPROTO));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &v4, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4));
	e = nftnl_expr_alloc("bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, m15, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, 4);
	nftnl_rule_add_expr(r, e);
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, a15, 4));
	nftnl_rule_add_expr(r, e_meta(NFT_META_L4PROTO));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &tcp, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_GTE, lo, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_LTE, hi, 2));
	nftnl_rule_add_expr(r, nftnl_expr_alloc("counter"));
	nftnl_rule_add_expr(r, e_verdict(NF_DROP));
	expect_text(r, "ip saddr 10.76.0.0/15 tcp dport 1000-2000 counter packets 0 bytes 0 drop");

	/* ip6 saddr 2001:db8::/32 tcp dport != 22 accept */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_meta(NFT_META_NFPROTO));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &v6, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 4));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, n6, 4));
	nftnl_rule_add_expr(r, e_meta(NFT_META_L4PROTO));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &tcp, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_NEQ, p22, 2));
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT));
	expect_text(r, "ip6 saddr 2001:db8::/32 tcp dport != 22 accept");

	/* an expression the printer does not know: libnftnl notation for it alone */
	r = nftnl_rule_alloc();
	e = nftnl_expr_alloc("quota");
	nftnl_expr_set_u64(e, NFTNL_EXPR_QUOTA_BYTES, 1000);
	nftnl_rule_add_expr(r, e);
	nftnl_rule_add_expr(r, e_verdict(NF_DROP));
	{
		char *t = nm_rule_text(r, 0);

		assert_non_null(strstr(t, "[ quota "));
		assert_non_null(strstr(t, " drop"));
		free(t);
	}
	nftnl_rule_free(r);
}

static struct nftnl_expr *e_imm(uint32_t reg, const void *d, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, d, len);
	return e;
}

/* a nat statement of type (NFT_NAT_DNAT, ...) and family over registers 1 (address) and 2 (port) */
static struct nftnl_expr *e_nat(uint32_t family, bool addr_max, bool port, uint32_t flags)
{
	struct nftnl_expr *e = nftnl_expr_alloc("nat");

	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	if (addr_max)
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
	if (port)
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, flags);
	return e;
}

/* dnat and redirect as nft prints them; a loaded value no nat takes stays in libnftnl notation */
static void test_printer_nat(void **state)
{
	uint8_t tcp = IPPROTO_TCP, p2775[2] = { 0x0a, 0xd7 }, p2525[2] = { 0x09, 0xdd };
	uint8_t a9[4] = { 10, 0, 0, 9 }, a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };
	struct nftnl_rule *r;
	struct nftnl_expr *e;

	(void)state;
	/* tcp dport 2775 dnat ip to 10.0.0.9 */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_meta(NFT_META_L4PROTO));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, &tcp, 1));
	nftnl_rule_add_expr(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
	nftnl_rule_add_expr(r, e_cmp(NFT_CMP_EQ, p2775, 2));
	nftnl_rule_add_expr(r, e_imm(NFT_REG_1, a9, 4));
	nftnl_rule_add_expr(r, e_nat(NFPROTO_IPV4, true, false, 1));
	expect_text(r, "tcp dport 2775 dnat ip to 10.0.0.9");

	/* dnat ip6 to [2001:db8::9]:2525 */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_imm(NFT_REG_1, a6, 16));
	nftnl_rule_add_expr(r, e_imm(NFT_REG_2, p2525, 2));
	nftnl_rule_add_expr(r, e_nat(NFPROTO_IPV6, false, true, 3));
	expect_text(r, "dnat ip6 to [2001:db8::9]:2525");

	/* redirect to :2525 */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_imm(NFT_REG_1, p2525, 2));
	e = nftnl_expr_alloc("redir");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	expect_text(r, "redirect to :2525");

	/* an immediate value nothing takes, then a verdict: both printed */
	r = nftnl_rule_alloc();
	nftnl_rule_add_expr(r, e_imm(NFT_REG_1, a9, 4));
	nftnl_rule_add_expr(r, e_verdict(NF_ACCEPT));
	{
		char *t = nm_rule_text(r, 0);

		assert_non_null(t);
		assert_non_null(strstr(t, "[ immediate "));
		assert_non_null(strstr(t, " accept"));
		free(t);
	}
	nftnl_rule_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_printer),
		cmocka_unit_test(test_printer_nat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
