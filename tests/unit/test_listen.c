// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * listen: the sock_diag reply parser fed with captured kernel replies
 * (data/listen_*.bin, made by data/listen-capture.py) and with hand-made
 * malformed messages; the classification helpers; the /proc inode -> pid
 * mapper over a fake proc tree. No root, no network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <libmnl/libmnl.h>

#include "diag.h"
#include "listen.h"

static void *read_data(const char *name, size_t *len)
{
	char path[512];
	void *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", PL_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* parse a whole capture (seq 1 as in listen-capture.py) into s */
static void parse_file(const char *name, enum listen_proto p, struct listen_set *s)
{
	struct diag d;
	size_t len;
	void *buf = read_data(name, &len);

	diag_init(&d);
	assert_int_equal(listen_parse(buf, len, p, 1, 0, s, &d), 0);
	assert_false(diag_failed(&d));
	diag_fini(&d);
	free(buf);
	listen_set_sort(s);
}

static const struct listen_entry *find(const struct listen_set *s, enum listen_proto p,
				       uint16_t port)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].proto == p && s->v[i].port == port)
			return &s->v[i];
	return NULL;
}

static void test_parse_tcp4(void **state)
{
	char buf[LISTEN_ENDPOINTSTRLEN];
	const struct listen_entry *l;
	struct listen_set s;

	listen_set_init(&s);
	parse_file("listen_tcp4.bin", LISTEN_PROTO_TCP, &s);
	assert_int_equal(s.n, 2);
	l = find(&s, LISTEN_PROTO_TCP, 2501);
	assert_non_null(l);
	assert_int_equal(l->family, CIDR_V4);
	assert_true(l->addr == 0x7f000001);
	assert_int_equal(l->ifindex, 0);
	assert_true(l->inode > 0);
	assert_int_equal(listen_scope(l), LISTEN_SCOPE_LOOPBACK);
	assert_false(listen_is_exposed(l));
	assert_string_equal(listen_endpoint_str(l, buf, sizeof(buf)), "127.0.0.1:2501");
	/* 0.0.0.0 bound to lo (SO_BINDTODEVICE): loopback-only all the same */
	l = find(&s, LISTEN_PROTO_TCP, 2510);
	assert_non_null(l);
	assert_true(l->addr == 0);
	assert_int_equal(l->ifindex, 1);
	assert_int_equal(listen_scope(l), LISTEN_SCOPE_LOOPBACK);
	assert_string_equal(listen_endpoint_str(l, buf, sizeof(buf)), "0.0.0.0%1:2510");
	/* sorted by port */
	assert_int_equal(s.v[0].port, 2501);
	assert_int_equal(s.v[1].port, 2510);
	listen_set_fini(&s);
	assert_int_equal(s.n, 0);
	(void)state;
}

static void test_parse_tcp6(void **state)
{
	char buf[LISTEN_ENDPOINTSTRLEN];
	const struct listen_entry *l;
	struct listen_set s;

	listen_set_init(&s);
	parse_file("listen_tcp6.bin", LISTEN_PROTO_TCP, &s);
	assert_int_equal(s.n, 2);
	l = find(&s, LISTEN_PROTO_TCP, 2503);
	assert_non_null(l);
	assert_int_equal(l->family, CIDR_V6);
	assert_true(l->v6only);
	assert_int_equal(listen_scope(l), LISTEN_SCOPE_WILDCARD);
	assert_true(listen_is_exposed(l));
	assert_true(listen_covers_family(l, CIDR_V6));
	assert_false(listen_covers_family(l, CIDR_V4));
	assert_string_equal(listen_endpoint_str(l, buf, sizeof(buf)), "[::]:2503");
	l = find(&s, LISTEN_PROTO_TCP, 2504);
	assert_non_null(l);
	assert_false(l->v6only);
	assert_true(listen_covers_family(l, CIDR_V6));
	assert_true(listen_covers_family(l, CIDR_V4));	/* dual-stack [::] */
	listen_set_fini(&s);
	(void)state;
}

static void test_parse_udp(void **state)
{
	const struct listen_entry *l;
	struct listen_set s;

	listen_set_init(&s);
	parse_file("listen_udp4.bin", LISTEN_PROTO_UDP, &s);
	parse_file("listen_udp6.bin", LISTEN_PROTO_UDP, &s);
	assert_int_equal(s.n, 2);
	l = find(&s, LISTEN_PROTO_UDP, 2505);
	assert_non_null(l);
	assert_int_equal(l->family, CIDR_V4);
	assert_int_equal(listen_scope(l), LISTEN_SCOPE_WILDCARD);
	assert_true(listen_covers_family(l, CIDR_V4));
	assert_false(listen_covers_family(l, CIDR_V6));
	l = find(&s, LISTEN_PROTO_UDP, 2509);
	assert_non_null(l);
	assert_int_equal(l->family, CIDR_V6);
	assert_true(l->addr == 1);
	assert_true(l->v6only);
	assert_int_equal(listen_scope(l), LISTEN_SCOPE_LOOPBACK);
	/* the TCP captures parsed as UDP: wrong state, nothing taken */
	listen_set_fini(&s);
	parse_file("listen_tcp4.bin", LISTEN_PROTO_UDP, &s);
	assert_int_equal(s.n, 0);
	listen_set_fini(&s);
	(void)state;
}

static void test_parse_seq_and_truncation(void **state)
{
	struct listen_set s;
	struct diag d;
	size_t len;
	void *buf = read_data("listen_tcp6.bin", &len);

	/* a reply to someone else's request */
	listen_set_init(&s);
	diag_init(&d);
	assert_true(listen_parse(buf, len, LISTEN_PROTO_TCP, 7, 0, &s, &d) < 0);
	assert_int_equal(diag_exit_code(&d), PL_EXIT_KERNEL);
	assert_non_null(strstr(d.recs[0].msg, "foreign sequence number"));
	diag_fini(&d);
	listen_set_fini(&s);

	/*
	 * every prefix of a capture: done at the end, "more to come" at a
	 * message boundary, a truncated message anywhere else
	 */
	for (size_t cut = 0, next = 0; cut <= len; cut++) {
		void *copy = malloc(cut ? cut : 1);
		bool boundary = cut == next;
		int rc;

		if (boundary && cut < len) {
			struct nlmsghdr h;

			memcpy(&h, (char *)buf + cut, sizeof(h));
			next += MNL_ALIGN(h.nlmsg_len);
		}
		memcpy(copy, buf, cut);
		listen_set_init(&s);
		diag_init(&d);
		rc = listen_parse(copy, cut, LISTEN_PROTO_TCP, 1, 0, &s, &d);
		if (cut == len)
			assert_int_equal(rc, 0);
		else if (boundary)
			assert_int_equal(rc, 1);
		else
			assert_int_equal(rc, -EPROTO);
		assert_int_equal(diag_failed(&d), !boundary);
		diag_fini(&d);
		listen_set_fini(&s);
		free(copy);
	}
	free(buf);
	(void)state;
}

/* build one SOCK_DIAG_BY_FAMILY reply; returns its length */
static size_t make_msg(char *buf, uint16_t type, uint16_t flags, size_t payload_len,
		       uint8_t family, uint8_t state)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_msg *m;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = 1;
	m = mnl_nlmsg_put_extra_header(nlh, payload_len);
	if (payload_len >= sizeof(*m)) {
		m->idiag_family = family;
		m->idiag_state = state;
		m->id.idiag_sport = htons(2775);
		m->idiag_inode = 4242;
	}
	return nlh->nlmsg_len;
}

static int parse_one(const char *buf, size_t len, enum listen_proto p, struct listen_set *s,
		     struct diag *d)
{
	return listen_parse(buf, len, p, 1, 0, s, d);
}

static void test_parse_malformed(void **state)
{
	char buf[512] __attribute__((aligned(8)));
	struct nlmsgerr *err;
	struct nlmsghdr *nlh;
	struct listen_set s;
	struct diag d;
	size_t len;

	listen_set_init(&s);
	diag_init(&d);

	/* good message: taken */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg), AF_INET,
		       10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].port, 2775);
	assert_int_equal(s.v[0].inode, 4242);
	/* IPv6 without INET_DIAG_SKV6ONLY (old kernel): taken as dual-stack */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg),
		       AF_INET6, 10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), 1);
	assert_int_equal(s.n, 2);
	assert_false(s.v[1].v6only);
	assert_true(listen_covers_family(&s.v[1], CIDR_V4));
	/* other states are skipped */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg), AF_INET,
		       1);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), 1);
	assert_int_equal(s.n, 2);
	assert_false(diag_failed(&d));

	/* short payload, unknown family, unknown type, bad v6only attribute */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, 0, 8, AF_INET, 10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), -EPROTO);
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, 0, sizeof(struct inet_diag_msg), AF_UNIX, 10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), -EPROTO);
	len = make_msg(buf, 77, 0, sizeof(struct inet_diag_msg), AF_INET, 10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), -EPROTO);
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, 0, sizeof(struct inet_diag_msg), AF_INET6, 10);
	nlh = (struct nlmsghdr *)buf;
	mnl_attr_put_u32(nlh, INET_DIAG_SKV6ONLY, 1);	/* u8 expected */
	assert_int_equal(parse_one(buf, nlh->nlmsg_len, LISTEN_PROTO_TCP, &s, &d), -EPROTO);
	assert_int_equal(s.n, 2);
	assert_int_equal(d.nerrors, 4);
	assert_non_null(strstr(d.recs[0].msg, "malformed tcp reply: message too short"));
	assert_int_equal(diag_exit_code(&d), PL_EXIT_KERNEL);
	diag_fini(&d);

	/* nlmsg_len >= 2^31 (walked libmnl 1.0.4 off the buffer): malformed */
	diag_init(&d);
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, 0, sizeof(struct inet_diag_msg), AF_INET, 10);
	((struct nlmsghdr *)buf)->nlmsg_len = 0x80000010u;
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), -EPROTO);
	assert_non_null(strstr(d.recs[0].msg, "truncated or malformed tcp reply message at byte 0"));
	diag_fini(&d);

	/* NLM_F_DUMP_INTR: -EINTR, nothing recorded (the caller retries) */
	diag_init(&d);
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI | NLM_F_DUMP_INTR,
		       sizeof(struct inet_diag_msg), AF_INET, 10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), -EINTR);
	assert_false(diag_failed(&d));

	/* the kernel's error reply: its errno, with a hint for a missing udp_diag */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = 1;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = -ENOENT;
	assert_int_equal(parse_one(buf, nlh->nlmsg_len, LISTEN_PROTO_UDP, &s, &d), -ENOENT);
	assert_non_null(strstr(d.recs[0].msg, "udp_diag"));
	/* NLMSG_DONE alone: the end */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_seq = 1;
	mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	assert_int_equal(parse_one(buf, nlh->nlmsg_len, LISTEN_PROTO_UDP, &s, &d), 0);
	diag_fini(&d);
	listen_set_fini(&s);
	(void)state;
}

/* LISTEN_F_ESTABLISHED's parser: established connections with their peer, nothing else */
static void test_parse_established(void **state)
{
	char buf[512] __attribute__((aligned(8)));
	struct inet_diag_msg *m;
	struct listen_set s;
	struct diag d;
	size_t len;

	listen_set_init(&s);
	diag_init(&d);
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg), AF_INET,
		       1);
	m = mnl_nlmsg_get_payload((struct nlmsghdr *)buf);
	m->id.idiag_src[0] = htonl(0xc0000201);		/* 192.0.2.1 */
	m->id.idiag_dst[0] = htonl(0xc0000214);		/* 192.0.2.20 */
	m->id.idiag_dport = htons(40000);
	assert_int_equal(listen_parse_established(buf, len, 1, 0, &s, &d), 1);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].established);
	assert_int_equal(s.v[0].port, 2775);
	assert_true(s.v[0].addr == 0xc0000201);
	assert_true(s.v[0].peer == 0xc0000214);
	assert_int_equal(s.v[0].peer_port, 40000);
	assert_int_equal(s.v[0].inode, 4242);
	/* an IPv6 socket's IPv4 peer stays v4-mapped, in the socket's family */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg),
		       AF_INET6, 1);
	m = mnl_nlmsg_get_payload((struct nlmsghdr *)buf);
	m->id.idiag_dst[2] = htonl(0xffff);
	m->id.idiag_dst[3] = htonl(0xc0000214);
	assert_int_equal(listen_parse_established(buf, len, 1, 0, &s, &d), 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[1].family, CIDR_V6);
	assert_true(s.v[1].peer == (((u128)0xffff << 32) | 0xc0000214));
	/* a listener is not a connection, and a connection is not a listener */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg), AF_INET,
		       10);
	assert_int_equal(listen_parse_established(buf, len, 1, 0, &s, &d), 1);
	assert_int_equal(s.n, 2);
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg), AF_INET,
		       1);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), 1);
	assert_int_equal(s.n, 2);
	/* listeners sort before connections */
	len = make_msg(buf, SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, sizeof(struct inet_diag_msg), AF_INET,
		       10);
	assert_int_equal(parse_one(buf, len, LISTEN_PROTO_TCP, &s, &d), 1);
	assert_int_equal(s.n, 3);
	assert_false(s.v[2].established);
	listen_set_sort(&s);
	assert_false(s.v[0].established);
	assert_true(s.v[1].established && s.v[2].established);
	assert_false(diag_failed(&d));
	diag_fini(&d);
	listen_set_fini(&s);
	(void)state;
}

static struct listen_entry v6entry(const char *a, bool v6only, uint32_t ifindex)
{
	struct listen_entry l = { .proto = LISTEN_PROTO_TCP, .port = 22, .v6only = v6only,
				  .ifindex = ifindex };
	struct cidr c;

	assert_int_not_equal(cidr_parse(a, &c), CIDR_BAD);
	l.family = c.family;
	l.addr = c.addr;
	return l;
}

static void test_classify(void **state)
{
	char buf[LISTEN_ENDPOINTSTRLEN];
	struct listen_entry l;

	l = v6entry("::1", true, 0);
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_LOOPBACK);
	l = v6entry("127.3.4.5", false, 0);
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_LOOPBACK);
	l = v6entry("128.0.0.1", false, 0);
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_ADDRESS);
	l = v6entry("0.0.0.0", false, 0);
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_WILDCARD);
	assert_string_equal(listen_endpoint_str(&l, buf, sizeof(buf)), "0.0.0.0:22");
	/* an IPv6 socket bound to a v4-mapped address only takes IPv4 */
	l = v6entry("::", false, 0);
	l.addr = ((u128)0xffff << 32) | 0x7f000001;	/* ::ffff:127.0.0.1 */
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_LOOPBACK);
	l.addr = ((u128)0xffff << 32) | 0xc0000201;	/* ::ffff:192.0.2.1 */
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_ADDRESS);
	assert_true(listen_covers_family(&l, CIDR_V4));
	assert_false(listen_covers_family(&l, CIDR_V6));
	assert_string_equal(listen_endpoint_str(&l, buf, sizeof(buf)), "[::ffff:192.0.2.1]:22");
	l.addr = (u128)0xffff << 32;			/* ::ffff:0.0.0.0 */
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_WILDCARD);
	/* a specific IPv6 address takes IPv6 only, v6only or not */
	l = v6entry("2001:db8::1", false, 0);
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_ADDRESS);
	assert_false(listen_covers_family(&l, CIDR_V4));
	/* link-local with a scope: exposed on that link */
	l = v6entry("fe80::1", false, 3);
	snprintf(l.ifname, sizeof(l.ifname), "eth0");
	assert_true(listen_is_exposed(&l));
	assert_string_equal(listen_endpoint_str(&l, buf, sizeof(buf)), "[fe80::1%eth0]:22");
	l.ifname[0] = '\0';
	assert_string_equal(listen_endpoint_str(&l, buf, sizeof(buf)), "[fe80::1%3]:22");
	/* wildcard bound to the loopback device */
	l = v6entry("::", false, 1);
	assert_int_equal(listen_scope(&l), LISTEN_SCOPE_LOOPBACK);

	assert_string_equal(listen_proto_str(LISTEN_PROTO_UDP), "udp");
	(void)state;
}

static void test_connect_addr(void **state)
{
	static const struct {
		const char *bound, *connect;
	} cases[] = {
		{ "0.0.0.0", "127.0.0.1" },
		{ "::", "::1" },
		{ "192.0.2.1", "192.0.2.1" },
		{ "2001:db8::1", "2001:db8::1" },
		{ "127.0.0.5", "127.0.0.5" },
		{ "::1", "::1" },
	};
	struct listen_entry l;
	enum cidr_family f;
	char buf[64];
	u128 a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l = v6entry(cases[i].bound, false, 0);
		listen_connect_addr(&l, &f, &a);
		assert_string_equal(cidr_addr_str(f, a, buf, sizeof(buf)), cases[i].connect);
	}
	l = v6entry("::", false, 0);
	l.addr = ((u128)0xffff << 32) | 0xc0000201;	/* ::ffff:192.0.2.1 */
	listen_connect_addr(&l, &f, &a);
	assert_int_equal(f, CIDR_V4);
	assert_string_equal(cidr_addr_str(f, a, buf, sizeof(buf)), "192.0.2.1");
	l.addr = (u128)0xffff << 32;			/* ::ffff:0.0.0.0 */
	listen_connect_addr(&l, &f, &a);
	assert_string_equal(cidr_addr_str(f, a, buf, sizeof(buf)), "127.0.0.1");
	(void)state;
}

static void test_strings(void **state)
{
	assert_string_equal(listen_scope_str(LISTEN_SCOPE_WILDCARD), "wildcard");
	assert_string_equal(listen_scope_str(LISTEN_SCOPE_MAX), "?");
	(void)state;
}

/* ---- fake /proc ---- */

static void put_file(const char *root, const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void put_dir(const char *root, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void put_link(const char *root, const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static bool only_worker(const char *comm)
{
	return strcmp(comm, "worker") == 0;
}

static void test_owners_fake_proc(void **state)
{
	char root[] = "/tmp/pl-test-listen.XXXXXX";
	struct listen_set s;
	struct diag d;

	assert_non_null(mkdtemp(root));
	put_dir(root, "100");
	put_dir(root, "100/fd");
	put_link(root, "100/fd/3", "socket:[4242]");
	put_link(root, "100/fd/4", "socket:[4242]");	/* dup: counted once */
	put_link(root, "100/fd/5", "socket:[999]");	/* not a listener */
	put_file(root, "100/comm", "nginx\n");
	put_dir(root, "200");
	put_dir(root, "200/fd");
	put_link(root, "200/fd/7", "socket:[4242]");
	put_file(root, "200/comm", "worker\n");
	put_dir(root, "50");
	put_dir(root, "50/fd");
	put_link(root, "50/fd/9", "socket:[4243]");	/* no comm file: name unknown */
	put_dir(root, "300");
	put_dir(root, "300/fd");
	put_link(root, "300/fd/0", "/dev/null");
	put_link(root, "300/fd/1", "socket:[4243]x");	/* not exactly socket:[N] */
	put_link(root, "300/fd/2", "socket:[99999999999]");
	put_link(root, "300/fd/3", "socket:[]");
	put_file(root, "300/comm", "odd\n");
	put_dir(root, "400");				/* no fd dir: vanished process */
	put_link(root, "self", "100");			/* not a pid */
	put_dir(root, "sys");

	listen_set_init(&s);
	s.n = 3;
	s.cap = 3;
	s.v = calloc(3, sizeof(*s.v));
	assert_non_null(s.v);
	s.v[0].inode = 4243;
	s.v[1].inode = 77;
	s.v[2].inode = 4242;

	diag_init(&d);
	assert_int_equal(listen_owners_fill(&s, root, &d), 0);
	assert_false(diag_failed(&d));
	assert_true(s.owners_done);
	assert_int_equal(s.owners_denied, 0);
	assert_int_equal(s.v[0].nowners, 1);
	assert_int_equal(s.v[0].owners[0].pid, 50);
	assert_string_equal(s.v[0].owners[0].comm, "");
	assert_int_equal(s.v[1].nowners, 0);
	assert_int_equal(s.v[2].nowners, 2);
	assert_int_equal(s.v[2].owners[0].pid, 100);
	assert_string_equal(s.v[2].owners[0].comm, "nginx");
	assert_int_equal(s.v[2].owners[1].pid, 200);
	assert_string_equal(s.v[2].owners[1].comm, "worker");
	/* a second fill starts afresh */
	assert_int_equal(listen_owners_fill(&s, root, &d), 0);
	assert_int_equal(s.v[2].nowners, 2);
	/* only the processes whose comm is wanted (pid 50 has none: skipped) */
	assert_int_equal(listen_owners_fill_if(&s, root, only_worker, &d), 0);
	assert_int_equal(s.v[0].nowners, 0);
	assert_int_equal(s.v[2].nowners, 1);
	assert_int_equal(s.v[2].owners[0].pid, 200);
	assert_string_equal(s.v[2].owners[0].comm, "worker");
	listen_set_fini(&s);

	/* no proc at all */
	listen_set_init(&s);
	assert_int_equal(listen_owners_fill(&s, "/nonexistent/proc", &d), -ENOENT);
	assert_int_equal(diag_exit_code(&d), PL_EXIT_INTERNAL);
	listen_set_fini(&s);
	diag_fini(&d);

	assert_int_equal(nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_tcp4),
		cmocka_unit_test(test_parse_tcp6),
		cmocka_unit_test(test_parse_udp),
		cmocka_unit_test(test_parse_seq_and_truncation),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_established),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_connect_addr),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_owners_fake_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
