// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sshguard: which sockets are SSH sessions (owned by sshd, or to a port sshd
 * listens on), SSH_CONNECTION adding to them, and which of them a policy cuts,
 * with the message apply prints. Pure: hand-made socket lists, no kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "listen.h"
#include "policy.h"
#include "sshguard.h"

/* an address; "::ffff:a.b.c.d" as the v4-mapped IPv6 address (cidr_parse() refuses it) */
static u128 addr(const char *s)
{
	struct cidr c;

	if (strncmp(s, "::ffff:", 7) == 0 && strchr(s, '.')) {
		assert_int_equal(cidr_parse(s + 7, &c), CIDR_OK);
		return ((u128)0xffff << 32) | c.addr;
	}
	assert_int_equal(cidr_parse(s, &c), CIDR_OK);
	return c.addr;
}

/* append a socket; owner comm NULL: none known */
static struct listen_entry *sock(struct listen_set *s, enum cidr_family f, const char *local,
				 uint16_t port, bool established, const char *peer,
				 uint16_t peer_port, const char *comm)
{
	struct listen_entry *e;

	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	assert_non_null(s->v);
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->proto = LISTEN_PROTO_TCP;
	e->family = f;
	e->addr = addr(local);
	e->port = port;
	e->established = established;
	if (peer)
		e->peer = addr(peer);
	e->peer_port = peer_port;
	if (comm) {
		e->owners = calloc(1, sizeof(*e->owners));
		assert_non_null(e->owners);
		e->owners[0].pid = 100 + (pid_t)s->n;
		snprintf(e->owners[0].comm, sizeof(e->owners[0].comm), "%s", comm);
		e->nowners = 1;
	}
	return e;
}

static const struct sshguard_session *find(const struct sshguard_list *l, enum cidr_family f,
					   const char *client, uint16_t port)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].family == f && l->v[i].client == addr(client) && l->v[i].port == port)
			return &l->v[i];
	return NULL;
}

static void test_is_sshd(void **state)
{
	assert_true(sshguard_is_sshd("sshd"));
	assert_true(sshguard_is_sshd("sshd-session"));
	assert_true(sshguard_is_sshd("sshd-auth"));
	assert_false(sshguard_is_sshd("sshd2"));
	assert_false(sshguard_is_sshd("ssh"));
	assert_false(sshguard_is_sshd(""));
	assert_false(sshguard_is_sshd("nginx"));
	(void)state;
}

static void test_from_sockets(void **state)
{
	struct listen_set s;
	struct sshguard_list l;

	listen_set_init(&s);
	sshguard_list_init(&l);
	/* sshd listens on 2222 (v4 and v6); nginx on 80 */
	sock(&s, CIDR_V4, "0.0.0.0", 2222, false, NULL, 0, "sshd");
	sock(&s, CIDR_V6, "::", 2222, false, NULL, 0, "sshd");
	sock(&s, CIDR_V4, "0.0.0.0", 80, false, NULL, 0, "nginx");
	sock(&s, CIDR_V4, "0.0.0.0", 22, false, NULL, 0, NULL);	/* port 22, owner unknown */
	/* to sshd's port, owner not seen: a session */
	sock(&s, CIDR_V4, "192.0.2.1", 2222, true, "192.0.2.20", 40000, NULL);
	/* owned by sshd-session on a port sshd no longer listens on: a session */
	sock(&s, CIDR_V6, "2001:db8::1", 8022, true, "2001:db8::20", 40001, "sshd-session");
	/* an IPv4 client of the v6 socket: counted as IPv4 */
	sock(&s, CIDR_V6, "::ffff:192.0.2.1", 2222, true, "::ffff:192.0.2.30", 40002, "sshd");
	/* not sessions: nginx's, port 22 without sshd, an outgoing ssh client */
	sock(&s, CIDR_V4, "192.0.2.1", 80, true, "192.0.2.20", 40003, "nginx");
	sock(&s, CIDR_V4, "192.0.2.1", 22, true, "192.0.2.21", 40004, NULL);
	sock(&s, CIDR_V4, "192.0.2.1", 50000, true, "198.51.100.1", 2222, "ssh");

	assert_int_equal(sshguard_from_sockets(&s, &l), 0);
	assert_int_equal(l.n, 3);
	assert_non_null(find(&l, CIDR_V4, "192.0.2.20", 2222));
	assert_int_equal(find(&l, CIDR_V4, "192.0.2.20", 2222)->client_port, 40000);
	assert_non_null(find(&l, CIDR_V6, "2001:db8::20", 8022));
	assert_non_null(find(&l, CIDR_V4, "192.0.2.30", 2222));
	assert_false(find(&l, CIDR_V4, "192.0.2.30", 2222)->from_env);
	sshguard_list_fini(&l);

	/* sshd's fd tables unreadable (not root): port 22 counts as sshd's */
	s.owners_denied = 1;
	assert_int_equal(sshguard_from_sockets(&s, &l), 0);
	assert_int_equal(l.n, 4);
	assert_non_null(find(&l, CIDR_V4, "192.0.2.21", 22));
	sshguard_list_fini(&l);
	listen_set_fini(&s);

	/* nothing at all */
	listen_set_init(&s);
	assert_int_equal(sshguard_from_sockets(&s, &l), 0);
	assert_int_equal(l.n, 0);
	sshguard_list_fini(&l);
	(void)state;
}

static void test_add_env(void **state)
{
	struct sshguard_list l;
	const struct sshguard_session *ss;

	sshguard_list_init(&l);
	assert_int_equal(sshguard_add_env(&l, NULL), 0);
	assert_int_equal(sshguard_add_env(&l, ""), 0);
	assert_int_equal(sshguard_add_env(&l, "garbage"), 0);
	assert_int_equal(sshguard_add_env(&l, "192.0.2.5 50000 192.0.2.1 70000"), 0);
	assert_int_equal(sshguard_add_env(&l, "192.0.2.0/24 50000 192.0.2.1 22"), 0);
	assert_int_equal(l.n, 0);

	assert_int_equal(sshguard_add_env(&l, "192.0.2.5 50000 192.0.2.1 22"), 1);
	/* the kernel's session and SSH_CONNECTION's are one */
	assert_int_equal(sshguard_add_env(&l, "192.0.2.5 50000 192.0.2.1 22"), 0);
	assert_int_equal(sshguard_add_env(&l, "::ffff:192.0.2.6 50001 ::ffff:192.0.2.1 22"), 1);
	assert_int_equal(sshguard_add_env(&l, "fe80::7%eth0 50002 fe80::1%eth0 22"), 1);
	assert_int_equal(l.n, 3);
	ss = find(&l, CIDR_V4, "192.0.2.5", 22);
	assert_non_null(ss);
	assert_true(ss->from_env);
	assert_int_equal(ss->client_port, 50000);
	assert_non_null(find(&l, CIDR_V4, "192.0.2.6", 22));
	assert_non_null(find(&l, CIDR_V6, "fe80::7", 22));
	sshguard_list_fini(&l);
	(void)state;
}

static void load(const char *text, struct policy *p)
{
	struct diag d;

	diag_init(&d);
	assert_int_equal(config_load_string(text, "t.conf", NULL, p, &d), 0);
	diag_fini(&d);
}

static void add(struct sshguard_list *l, enum cidr_family f, const char *client, uint16_t cport,
		uint16_t port)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	assert_non_null(l->v);
	l->v[l->n++] = (struct sshguard_session){ .family = f, .client = addr(client),
						  .client_port = cport, .port = port };
}

static void test_cut(void **state)
{
	struct policy p;
	struct sshguard_list l;
	char msg[512], tiny[40];

	load("services = ( { name = \"ssh\"; ports = [22]; allow = [\"192.0.2.10\", \"2001:db8::/64\"]; },\n"
	     "             { name = \"web\"; ports = [80]; allow = []; } );\n", &p);
	sshguard_list_init(&l);

	/* allowed, unmanaged port, loopback: nothing cut, msg untouched */
	add(&l, CIDR_V4, "192.0.2.10", 1000, 22);
	add(&l, CIDR_V6, "2001:db8::5", 1001, 22);
	add(&l, CIDR_V4, "203.0.113.9", 1002, 2222);
	add(&l, CIDR_V4, "127.0.0.1", 1003, 22);
	add(&l, CIDR_V6, "::1", 1004, 22);
	strcpy(msg, "untouched");
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "untouched");

	/* one */
	add(&l, CIDR_V4, "192.0.2.20", 1005, 22);
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 1);
	assert_string_equal(msg, "your SSH session from 192.0.2.20 to port 22 would be cut: "
				 "service 'ssh' (t.conf:1) does not allow 192.0.2.20");

	/* several: a client's sessions once, the first few, then a count */
	add(&l, CIDR_V4, "192.0.2.20", 1006, 22);
	add(&l, CIDR_V6, "2001:db8:1::20", 1007, 22);
	add(&l, CIDR_V4, "198.51.100.1", 1008, 80);
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 4);
	assert_string_equal(msg, "4 SSH sessions would be cut: "
				 "2 sessions from 192.0.2.20 to port 22: service 'ssh' (t.conf:1) does not allow 192.0.2.20; "
				 "from 2001:db8:1::20 to port 22: service 'ssh' (t.conf:1) does not allow 2001:db8:1::20; "
				 "from 198.51.100.1 to port 80: service 'web' (t.conf:2) does not allow 198.51.100.1");
	add(&l, CIDR_V4, "198.51.100.2", 1009, 22);
	add(&l, CIDR_V4, "198.51.100.1", 1010, 80);
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 6);
	assert_non_null(strstr(msg, "6 SSH sessions would be cut: 2 sessions from 192.0.2.20"));
	assert_non_null(strstr(msg, "2 sessions from 198.51.100.1 to port 80"));
	assert_non_null(strstr(msg, "does not allow 198.51.100.1; and 1 more"));
	assert_null(strstr(msg, "198.51.100.2"));
	/* a small buffer: cut short, still terminated */
	assert_int_equal(sshguard_cut(&p, &l, tiny, sizeof(tiny)), 6);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(strncmp(tiny, "6 SSH sessions would be cut: 2 se", 33), 0);
	policy_fini(&p);

	/* no loopback exemption: a loopback client is cut too */
	load("portlock = { loopback = false; };\n"
	     "services = ( { name = \"ssh\"; ports = [22]; allow = [\"192.0.2.10\"]; } );\n", &p);
	sshguard_list_fini(&l);
	add(&l, CIDR_V4, "127.0.0.1", 1003, 22);
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "from 127.0.0.1 to port 22 would be cut"));
	policy_fini(&p);

	/* forward hook only: local sessions never pass it */
	load("portlock = { hooks = [\"forward\"]; };\n"
	     "services = ( { name = \"ssh\"; ports = [22]; allow = [\"192.0.2.10\"]; } );\n", &p);
	add(&l, CIDR_V4, "192.0.2.20", 1005, 22);
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 0);
	assert_false(sshguard_would_cut(&p, NULL, msg, sizeof(msg), NULL));
	policy_fini(&p);
	sshguard_list_fini(&l);
	(void)state;
}

/* Sessions cut on purpose: the ssh-cut text round trip, and only whole lines match. */
static void test_forget(void **state)
{
	struct policy p;
	struct sshguard_list l;
	char *text, msg[256];

	load("services = ( { name = \"ssh\"; ports = [22]; allow = [\"192.0.2.10\"]; } );\n", &p);
	sshguard_list_init(&l);
	add(&l, CIDR_V4, "192.0.2.10", 1000, 22);	/* allowed: not listed */
	add(&l, CIDR_V4, "192.0.2.20", 1001, 22);
	add(&l, CIDR_V6, "2001:db8::20", 1002, 22);
	add(&l, CIDR_V4, "192.0.2.30", 1003, 22);	/* SSH_CONNECTION only (inode 0): never listed */
	l.v[0].inode = 11;
	l.v[1].inode = 12;
	l.v[2].inode = 13;
	text = sshguard_cut_format(&p, &l);
	assert_non_null(text);
	assert_string_equal(text, "12 4 000000000000000000000000c0000214 1001 22\n"
				  "13 6 20010db8000000000000000000000020 1002 22\n");
	/* a new socket with the same inode but another connection is not the cut one */
	add(&l, CIDR_V4, "192.0.2.20", 1009, 22);
	l.v[4].inode = 12;
	assert_int_equal(sshguard_forget(&l, text), 2);
	assert_int_equal(l.n, 3);
	assert_int_equal(sshguard_cut(&p, &l, msg, sizeof(msg)), 2);	/* .30 (env) and the new .20 */
	/* a line that only ends like one of ours is not ours */
	assert_int_equal(sshguard_forget(&l, "912 4 000000000000000000000000c0000214 1009 22\n"), 0);
	assert_int_equal(sshguard_forget(&l, NULL), 0);
	assert_int_equal(sshguard_forget(&l, ""), 0);
	free(text);
	sshguard_list_fini(&l);
	policy_fini(&p);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_sshd),
		cmocka_unit_test(test_from_sockets),
		cmocka_unit_test(test_add_env),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_forget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
