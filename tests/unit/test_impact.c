// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * impact: which established connections (sock_diag sockets, conntrack flows)
 * and which observed sources a policy would cut, judged purely from a
 * hand-made kernel state: hooks and paths, DNAT, loopback, temporary access,
 * observe mode, this host's own flows, duplicates; the critical refusal
 * message. No kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "impact.h"
#include "nft_model.h"

static u128 addr(const char *s)
{
	struct cidr c;

	assert_int_equal(cidr_parse(s, &c), CIDR_OK);
	return c.addr;
}

static void load(const char *text, struct policy *p)
{
	struct diag d;

	diag_init(&d);
	assert_int_equal(config_load_string(text, "t.conf", NULL, p, &d), 0);
	diag_fini(&d);
}

/* a TCP socket: a listener (peer NULL) or an established connection */
static void sock(struct impact_state *st, enum cidr_family f, uint16_t port, const char *peer,
		 uint16_t peer_port)
{
	struct listen_set *s = &st->sockets;
	struct listen_entry *e;

	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	assert_non_null(s->v);
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->proto = LISTEN_PROTO_TCP;
	e->family = f;
	e->port = port;
	if (peer) {
		e->established = true;
		e->peer = addr(peer);
		if (f == CIDR_V6 && strchr(peer, '.'))
			e->peer |= (u128)0xffff << 32;	/* v4-mapped */
		e->peer_port = peer_port;
	}
}

static void flow(struct impact_state *st, uint8_t proto, const char *src, uint16_t sport,
		 const char *dst, uint16_t dport, const char *to, uint16_t to_port)
{
	struct ct_flow *f;

	st->flows.v = realloc(st->flows.v, (st->flows.n + 1) * sizeof(*st->flows.v));
	assert_non_null(st->flows.v);
	f = &st->flows.v[st->flows.n++];
	memset(f, 0, sizeof(*f));
	f->family = strchr(src, ':') ? CIDR_V6 : CIDR_V4;
	f->proto = proto;
	f->src = addr(src);
	f->sport = sport;
	f->dst = addr(dst);
	f->dport = dport;
	f->dnat = to != NULL;
	f->reply_src = addr(to ? to : dst);
	f->reply_sport = to ? to_port : dport;
}

static void local(struct impact_state *st, const char *a)
{
	u128 **v = strchr(a, ':') ? &st->local6 : &st->local4;
	size_t *n = strchr(a, ':') ? &st->nlocal6 : &st->nlocal4;

	*v = realloc(*v, (*n + 1) * sizeof(**v));
	assert_non_null(*v);
	(*v)[(*n)++] = addr(a);
}

static const char *const POLICY =
	"services = (\n"
	"  { name = \"smpp\"; ports = [2775]; allow = [\"192.0.2.10/32\", \"2001:db8::10/128\"]; critical = true; },\n"
	"  { name = \"mail\"; ports = [25, 8025]; allow = [\"192.0.2.0/28\"]; },\n"
	"  { name = \"dns\"; proto = \"udp\"; ports = [53]; allow = [\"192.0.2.10/32\"]; },\n"
	"  { name = \"watch\"; ports = [9000]; mode = \"observe\"; allow = [\"192.0.2.10/32\"]; }\n"
	");\n";

static void setup_state(struct impact_state *st)
{
	impact_state_init(st);
	st->sockets_ok = st->conntrack_ok = st->seen_ok = true;
	local(st, "192.0.2.1");
	local(st, "2001:db8::1");
	sock(st, CIDR_V4, 2775, NULL, 0);
	sock(st, CIDR_V6, 2775, NULL, 0);
	sock(st, CIDR_V4, 25, NULL, 0);
	sock(st, CIDR_V4, 9000, NULL, 0);
}

static void test_local_connections(void **state)
{
	struct impact_state st;
	struct impact im;
	struct policy p;
	char msg[512];

	load(POLICY, &p);
	setup_state(&st);
	sock(&st, CIDR_V4, 2775, "192.0.2.20", 40122);	/* cut (critical) */
	sock(&st, CIDR_V4, 2775, "192.0.2.10", 40123);	/* allowed */
	sock(&st, CIDR_V6, 2775, "192.0.2.21", 40124);	/* v4-mapped on a v6 socket: IPv4, cut */
	sock(&st, CIDR_V6, 2775, "2001:db8::10", 40125);	/* allowed */
	sock(&st, CIDR_V4, 25, "192.0.2.5", 50000);	/* inside mail's /28 */
	sock(&st, CIDR_V4, 25, "127.0.0.1", 50001);	/* loopback: exempt */
	sock(&st, CIDR_V4, 9000, "192.0.2.30", 50002);	/* observe mode: not cut */
	sock(&st, CIDR_V4, 33000, "192.0.2.40", 2775);	/* our own client (no listener on 33000) */
	/* the same connection in conntrack too: listed once */
	flow(&st, IPPROTO_TCP, "192.0.2.20", 40122, "192.0.2.1", 2775, NULL, 0);
	impact_init(&im);
	assert_int_equal(impact_judge(&p, NULL, &st, &im), 0);
	assert_true(im.judged);
	assert_int_equal(im.nconns, 2);
	assert_int_equal(im.ncritical, 2);
	assert_int_equal(im.conns[0].family, CIDR_V4);
	assert_true(im.conns[0].src == addr("192.0.2.20") && im.conns[0].sport == 40122);
	assert_true(im.conns[1].src == addr("192.0.2.21") && im.conns[1].family == CIDR_V4);
	assert_int_equal(im.conns[0].port, 2775);
	assert_false(im.conns[0].forwarded);
	assert_string_equal(p.svcs[im.conns[0].svc].name, "smpp");
	assert_int_equal(impact_critical_msg(&p, &im, msg, sizeof(msg)), 2);
	assert_string_equal(msg, "2 established connections of critical services would be cut: "
				 "service 'smpp' (t.conf:2): 192.0.2.20:40122 -> 2775, 192.0.2.21:40124 -> 2775");
	impact_fini(&im);

	/* loopback not exempt: the loopback client is cut as well */
	p.loopback = false;
	impact_init(&im);
	assert_int_equal(impact_judge(&p, NULL, &st, &im), 0);
	assert_int_equal(im.nconns, 3);
	impact_fini(&im);

	/* no input hook: local connections are never cut */
	p.hooks = POLICY_HOOK_FORWARD;
	impact_init(&im);
	assert_int_equal(impact_judge(&p, NULL, &st, &im), 0);
	assert_int_equal(im.nconns, 0);
	assert_int_equal(impact_critical_msg(&p, &im, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	impact_fini(&im);
	impact_state_fini(&st);
	policy_fini(&p);
	(void)state;
}

static void test_flows(void **state)
{
	struct impact_state st;
	struct impact im;
	struct policy p;

	load(POLICY, &p);
	setup_state(&st);
	/* DNAT to a container: forward hook, on the port asked for */
	flow(&st, IPPROTO_TCP, "192.0.2.20", 41000, "192.0.2.1", 8025, "198.51.100.2", 25);
	/* DNAT to a local port (a redirect): input hook, on the translated port */
	flow(&st, IPPROTO_TCP, "192.0.2.21", 41001, "192.0.2.1", 2776, "192.0.2.1", 2775);
	/* routed without DNAT: the forward rules match published (DNAT) ports only */
	flow(&st, IPPROTO_TCP, "192.0.2.22", 41002, "198.51.100.2", 25, NULL, 0);
	/* this host's own connection out */
	flow(&st, IPPROTO_TCP, "192.0.2.1", 41003, "192.0.2.99", 25, NULL, 0);
	/* an assured UDP flow to a local port */
	flow(&st, IPPROTO_UDP, "192.0.2.23", 41004, "192.0.2.1", 53, NULL, 0);
	impact_init(&im);
	assert_int_equal(impact_judge(&p, NULL, &st, &im), 0);
	assert_int_equal(im.nconns, 3);
	/* sorted by service: smpp (redirect), mail (forwarded), dns (udp) */
	assert_string_equal(p.svcs[im.conns[0].svc].name, "smpp");
	assert_true(im.conns[0].dnat && !im.conns[0].forwarded && im.conns[0].port == 2775);
	assert_string_equal(p.svcs[im.conns[1].svc].name, "mail");
	assert_true(im.conns[1].forwarded && im.conns[1].dnat && im.conns[1].port == 8025);
	assert_true(im.conns[1].to == addr("198.51.100.2") && im.conns[1].to_port == 25);
	assert_string_equal(p.svcs[im.conns[2].svc].name, "dns");
	assert_int_equal(im.conns[2].proto, POLICY_UDP);
	impact_fini(&im);

	/* no forward hook: the forwarded one is not cut */
	p.hooks = POLICY_HOOK_INPUT;
	impact_init(&im);
	assert_int_equal(impact_judge(&p, NULL, &st, &im), 0);
	assert_int_equal(im.nconns, 2);
	impact_fini(&im);
	impact_state_fini(&st);
	policy_fini(&p);
	(void)state;
}

static void entry(struct impact_entry **v, size_t *n, const char *svc, const char *a,
		  const char *last, uint16_t port, uint64_t packets)
{
	struct impact_entry *e;

	*v = realloc(*v, (*n + 1) * sizeof(**v));
	assert_non_null(*v);
	e = &(*v)[(*n)++];
	memset(e, 0, sizeof(*e));
	e->service = svc;
	e->e.family = strchr(a, ':') ? CIDR_V6 : CIDR_V4;
	e->e.addr = addr(a);
	e->e.last = addr(last ? last : a);
	e->e.port = port;
	e->e.packets = packets;
	e->e.last_seen = 1000;
}

static void test_temporary_and_seen(void **state)
{
	struct impact_state st;
	struct impact im;
	struct policy p;
	struct nm_table live;

	load(POLICY, &p);
	setup_state(&st);
	sock(&st, CIDR_V4, 2775, "192.0.2.20", 40122);
	/* a grant covering .16-.31 keeps .20's session */
	entry(&st.tmp, &st.ntmp, "smpp", "192.0.2.16", "192.0.2.31", 0, 0);
	/* seen: .20 and .10 (allowed) on smpp, .50 on mail */
	entry(&st.seen, &st.nseen, "smpp", "192.0.2.20", NULL, 2775, 7);
	entry(&st.seen, &st.nseen, "smpp", "192.0.2.10", NULL, 2775, 3);
	entry(&st.seen, &st.nseen, "mail", "192.0.2.50", NULL, 25, 5);
	entry(&st.seen, &st.nseen, "gone", "192.0.2.60", NULL, 25, 5);	/* not in the policy */
	impact_init(&im);
	assert_int_equal(impact_judge(&p, NULL, &st, &im), 0);
	assert_int_equal(im.nconns, 0);
	/* .20 is granted for now: not refused; .10 allowed; .50 newly refused */
	assert_int_equal(im.nseen, 1);
	assert_true(im.seen[0].src == addr("192.0.2.50") && im.seen[0].port == 25);
	assert_int_equal(im.seen[0].packets, 5);
	assert_int_equal(im.seen[0].last_seen, 1000);
	impact_fini(&im);

	/* mail refuses today (its rule facts): its seen sources are not news */
	nm_table_init(&live, "portlock");
	live.exists = true;
	{
		struct nm_rule *r = nm_table_add_rule(&live);

		assert_non_null(r);
		r->fact.role = NM_ROLE_REFUSE;
		r->fact.service = strdup("mail");
		r->chain = strdup("mail_in");
	}
	impact_init(&im);
	assert_int_equal(impact_judge(&p, &live, &st, &im), 0);
	assert_int_equal(im.nseen, 0);
	impact_fini(&im);
	nm_table_fini(&live);
	impact_state_fini(&st);
	policy_fini(&p);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_connections),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_temporary_and_seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
