// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Listening TCP and bound UDP sockets over NETLINK_SOCK_DIAG (and, when
 * asked, established TCP connections), plus the processes owning them
 * (/proc/<pid>/fd). Owns the sock_diag socket (a
 * different netlink protocol from nf_tables, so it does not go through the
 * nftables socket code) and the reply parser. Never prints, never shells out.
 *
 * One dump per (protocol, family):
 *
 *   request  nlmsghdr { SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST|NLM_F_DUMP }
 *            inet_diag_req_v2 { family, protocol, idiag_states }
 *   replies  nlmsghdr { SOCK_DIAG_BY_FAMILY } inet_diag_msg [nlattr...]
 *            ... NLMSG_DONE (or NLMSG_ERROR)
 *
 * INET_DIAG_SKV6ONLY cannot be asked for through idiag_ext (an 8-bit mask
 * that stops at INET_DIAG_TCLASS); the kernel adds it by itself to every
 * AF_INET6 socket in LISTEN or CLOSE state (inet_diag_msg_attrs_fill(); the
 * attribute dates from Linux 4.x). When it is missing (older kernels) the
 * socket is taken as dual-stack: the judgement errs towards "exposed".
 */
#include "listen.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <libmnl/libmnl.h>

#include "diag.h"
#include "nl.h"
#include "util.h"

/* A dump reply fits in 32 KiB per recv(); ss and libmnl (MNL_SOCKET_DUMP_SIZE) use the same. */
#define LISTEN_RECV_SIZE 32768
#define LISTEN_DUMP_TRIES 3
/* The loopback device has this ifindex in every network namespace (LOOPBACK_IFINDEX). */
#define LISTEN_LOOPBACK_IFINDEX 1
/* Kernel TCP states (include/net/tcp_states.h); netinet/tcp.h names them TCP_LISTEN/TCP_CLOSE. */
#define LISTEN_STATE_ESTABLISHED 1
#define LISTEN_STATE_CLOSE 7
#define LISTEN_STATE_LISTEN 10

static const char *const proto_names[] = {
	[LISTEN_PROTO_TCP] = "tcp",
	[LISTEN_PROTO_UDP] = "udp",
};
static_assert(ARRAY_SIZE(proto_names) == LISTEN_PROTO_MAX, "proto_names out of sync");

static const char *const scope_names[] = {
	[LISTEN_SCOPE_LOOPBACK] = "loopback",
	[LISTEN_SCOPE_WILDCARD] = "wildcard",
	[LISTEN_SCOPE_ADDRESS] = "address",
};
static_assert(ARRAY_SIZE(scope_names) == LISTEN_SCOPE_MAX, "scope_names out of sync");

const char *listen_proto_str(enum listen_proto p)
{
	return (unsigned int)p < LISTEN_PROTO_MAX ? proto_names[p] : "?";
}

const char *listen_scope_str(enum listen_scope s)
{
	return (unsigned int)s < LISTEN_SCOPE_MAX ? scope_names[s] : "?";
}

void listen_set_init(struct listen_set *s)
{
	memset(s, 0, sizeof(*s));
}

void listen_set_fini(struct listen_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].owners);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------------- */
/* classification */

static bool addr_is_v4mapped(const struct listen_entry *l)
{
	return l->family == CIDR_V6 && (l->addr >> 32) == 0xffff;
}

static bool addr_is_loopback(const struct listen_entry *l)
{
	if (l->family == CIDR_V4)
		return (l->addr >> 24) == 127;
	if (addr_is_v4mapped(l))
		return ((l->addr >> 24) & 0xff) == 127;
	return l->addr == 1;
}

static bool addr_is_any(const struct listen_entry *l)
{
	if (addr_is_v4mapped(l))
		return (l->addr & 0xffffffffu) == 0;
	return l->addr == 0;
}

enum listen_scope listen_scope(const struct listen_entry *l)
{
	if (l->ifindex == LISTEN_LOOPBACK_IFINDEX || addr_is_loopback(l))
		return LISTEN_SCOPE_LOOPBACK;
	if (addr_is_any(l))
		return LISTEN_SCOPE_WILDCARD;
	return LISTEN_SCOPE_ADDRESS;
}

bool listen_is_exposed(const struct listen_entry *l)
{
	return listen_scope(l) != LISTEN_SCOPE_LOOPBACK;
}

bool listen_covers_family(const struct listen_entry *l, enum cidr_family f)
{
	if (l->family == CIDR_V4)
		return f == CIDR_V4;
	if (addr_is_v4mapped(l))
		return f == CIDR_V4;	/* only IPv4 peers reach a v4-mapped address */
	if (f == CIDR_V6)
		return true;
	return l->addr == 0 && !l->v6only;
}

void listen_connect_addr(const struct listen_entry *l, enum cidr_family *family, u128 *addr)
{
	if (l->family == CIDR_V4 || addr_is_v4mapped(l)) {
		*family = CIDR_V4;
		*addr = addr_is_any(l) ? 0x7f000001 : (l->addr & 0xffffffffu);
	} else {
		*family = CIDR_V6;
		*addr = addr_is_any(l) ? 1 : l->addr;
	}
}

char *listen_addr_str(const struct listen_entry *l, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	cidr_addr_str(l->family, l->addr, a, sizeof(a));
	if (!l->ifindex)
		snprintf(buf, len, "%s", a);
	else if (l->ifname[0])
		snprintf(buf, len, "%s%%%.16s", a, l->ifname);
	else
		snprintf(buf, len, "%s%%%u", a, l->ifindex);
	return buf;
}

char *listen_endpoint_str(const struct listen_entry *l, char *buf, size_t len)
{
	char a[LISTEN_ADDRSTRLEN];

	listen_addr_str(l, a, sizeof(a));
	if (l->family == CIDR_V6)
		snprintf(buf, len, "[%s]:%u", a, l->port);
	else
		snprintf(buf, len, "%s:%u", a, l->port);
	return buf;
}

/* ------------------------------------------------------------------------- */
/* ordering */

static int cmp_u128(u128 a, u128 b)
{
	return a < b ? -1 : a > b;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct listen_entry *a = pa, *b = pb;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->established != b->established)
		return a->established ? 1 : -1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->addr != b->addr)
		return cmp_u128(a->addr, b->addr);
	if (a->peer != b->peer)
		return cmp_u128(a->peer, b->peer);
	if (a->peer_port != b->peer_port)
		return a->peer_port < b->peer_port ? -1 : 1;
	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

void listen_set_sort(struct listen_set *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), entry_cmp);
}

/* ------------------------------------------------------------------------- */
/* reply parser (pure) */

struct parse_ctx {
	struct listen_set *out;
	enum listen_proto proto;
	uint8_t state;		/* the one socket state taken */
	uint32_t seq, portid;	/* 0: not checked */
	struct diag *d;
	int err;	/* -errno already recorded in d, 0 when none */
};

static int parse_malformed(struct parse_ctx *c, const char *what)
{
	c->err = diag_err(c->d, DIAG_NETLINK, NULL, EPROTO, "sock_diag: malformed %s reply: %s",
			  listen_proto_str(c->proto), what);
	return MNL_CB_ERROR;
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type > INET_DIAG_MAX)
		return MNL_CB_OK;	/* newer kernel: ignore what we do not know */
	if (type == INET_DIAG_SKV6ONLY && mnl_attr_validate(a, MNL_TYPE_U8) < 0)
		return MNL_CB_ERROR;
	tb[type] = a;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[INET_DIAG_MAX + 1] = { NULL };
	struct parse_ctx *c = data;
	struct listen_entry *e;
	struct inet_diag_msg m;
	int rc;

	if ((c->seq && nlh->nlmsg_seq != c->seq) || (c->portid && nlh->nlmsg_pid != c->portid)) {
		c->err = diag_err(c->d, DIAG_NETLINK, NULL, 0,
				  "sock_diag: %s reply with a foreign sequence number or port id",
				  listen_proto_str(c->proto));
		return MNL_CB_ERROR;
	}
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return parse_malformed(c, "unexpected message type");
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(m))
		return parse_malformed(c, "message too short");
	/* copied: fuzzer and test buffers need not be aligned */
	memcpy(&m, mnl_nlmsg_get_payload(nlh), sizeof(m));
	if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
		return parse_malformed(c, "unknown address family");
	if (m.idiag_state != c->state)
		return MNL_CB_OK;	/* the kernel filters by state; be safe anyway */
	if (mnl_attr_parse(nlh, sizeof(m), attr_cb, tb) < 0)
		return parse_malformed(c, "bad attribute");

	rc = util_grow((void **)&c->out->v, &c->out->cap, c->out->n + 1, sizeof(*c->out->v));
	if (rc < 0) {
		c->err = diag_err(c->d, DIAG_INTERNAL, NULL, -rc, "sock_diag: listener list");
		return MNL_CB_ERROR;
	}
	e = &c->out->v[c->out->n++];
	memset(e, 0, sizeof(*e));
	e->proto = c->proto;
	e->family = m.idiag_family == AF_INET ? CIDR_V4 : CIDR_V6;
	e->addr = cidr_from_bytes(e->family, (const uint8_t *)m.id.idiag_src);
	e->port = ntohs(m.id.idiag_sport);
	e->ifindex = m.id.idiag_if;
	e->inode = m.idiag_inode;
	e->uid = m.idiag_uid;
	if (c->state == LISTEN_STATE_ESTABLISHED) {
		e->established = true;
		e->peer = cidr_from_bytes(e->family, (const uint8_t *)m.id.idiag_dst);
		e->peer_port = ntohs(m.id.idiag_dport);
	}
	if (e->family == CIDR_V6 && tb[INET_DIAG_SKV6ONLY])
		e->v6only = mnl_attr_get_u8(tb[INET_DIAG_SKV6ONLY]) != 0;
	return MNL_CB_OK;
}

/*
 * Length of the run of well-formed messages at the start of buf. libmnl
 * 1.0.4's mnl_nlmsg_ok() compares (int)nlmsg_len, so a length >= 2^31 passes
 * its check and mnl_cb_run() walks off the buffer: check with size_t first.
 * A datagram from the kernel holds whole messages; anything left over means
 * a truncated or malformed reply.
 */
static size_t whole_messages(const void *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		size_t step;

		memcpy(&h, (const char *)buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			break;
		step = MNL_ALIGN((size_t)h.nlmsg_len);
		off = step > len - off ? len : off + step;
	}
	return off;
}

/* The state a listener of proto is in: LISTEN for TCP, CLOSE (unconnected) for UDP. */
static uint8_t listener_state(enum listen_proto proto)
{
	return proto == LISTEN_PROTO_TCP ? LISTEN_STATE_LISTEN : LISTEN_STATE_CLOSE;
}

static int parse_state(const void *buf, size_t len, enum listen_proto proto, uint8_t state,
		       uint32_t seq, uint32_t portid, struct listen_set *out, struct diag *d)
{
	struct parse_ctx c = { .out = out, .proto = proto, .state = state, .seq = seq,
			       .portid = portid, .d = d };
	size_t whole;
	int rc;

	/*
	 * seq and portid are checked in msg_cb rather than by libmnl, which
	 * reports a sequence mismatch as EPROTO, indistinguishable from a
	 * kernel error reply carrying EPROTO.
	 */
	if (len > LISTEN_RECV_SIZE * 64)
		return diag_err(d, DIAG_NETLINK, NULL, EMSGSIZE, "sock_diag: %s reply too large",
				listen_proto_str(proto));
	whole = whole_messages(buf, len);
	errno = 0;
	rc = mnl_cb_run(buf, whole, 0, 0, msg_cb, &c);
	if (rc == MNL_CB_STOP)
		return 0;	/* NLMSG_DONE (or an ACK): whatever follows is not ours */
	if (rc >= MNL_CB_OK && whole < len)
		return diag_err(d, DIAG_NETLINK, NULL, EPROTO,
				"sock_diag: truncated or malformed %s reply message at byte %zu",
				listen_proto_str(proto), whole);
	if (rc >= MNL_CB_OK)
		return 1;
	if (c.err)
		return c.err;
	switch (errno) {
	case EINTR:
		return -EINTR;	/* NLM_F_DUMP_INTR: the caller retries and reports */
	case EBADMSG:	/* an NLMSG_ERROR too short to hold its errno */
	case 0:
		return diag_err(d, DIAG_NETLINK, NULL, EPROTO, "sock_diag: malformed %s reply",
				listen_proto_str(proto));
	case ENOENT:
		return diag_err(d, DIAG_NETLINK, NULL, ENOENT,
				"sock_diag: the kernel cannot list %s sockets (module %s_diag "
				"missing? CONFIG_INET_%s_DIAG)",
				listen_proto_str(proto), listen_proto_str(proto),
				proto == LISTEN_PROTO_TCP ? "TCP" : "UDP");
	default:
		return diag_err(d, DIAG_NETLINK, NULL, errno,
				"sock_diag: kernel refused the %s socket dump",
				listen_proto_str(proto));
	}
}

int listen_parse(const void *buf, size_t len, enum listen_proto proto, uint32_t seq,
		 uint32_t portid, struct listen_set *out, struct diag *d)
{
	return parse_state(buf, len, proto, listener_state(proto), seq, portid, out, d);
}

int listen_parse_established(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			     struct listen_set *out, struct diag *d)
{
	return parse_state(buf, len, LISTEN_PROTO_TCP, LISTEN_STATE_ESTABLISHED, seq, portid, out,
			   d);
}

/* ------------------------------------------------------------------------- */
/* kernel dump */

struct dump_arg {
	enum listen_proto proto;
	uint8_t state;
	struct listen_set *out;
	struct diag *d;
};

static int dump_chunk(const void *buf, size_t len, uint32_t seq, uint32_t portid, void *data)
{
	struct dump_arg *a = data;

	return parse_state(buf, len, a->proto, a->state, seq, portid, a->out, a->d);
}

/*
 * One dump over nl.c. An interrupted dump leaves its remaining parts queued
 * on the socket: the socket is then replaced by a fresh one (*sp) for the
 * retry, so that they die with it.
 */
static int dump_once(struct nl_sock **sp, enum listen_proto proto, uint8_t state, int af,
		     struct listen_set *out, struct diag *d)
{
	char buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct inet_diag_req_v2))] = { 0 };
	struct dump_arg a = { proto, state, out, d };
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	char what[64];
	int rc;

	if (!*sp && (rc = nl_open_bus(sp, NETLINK_SOCK_DIAG, d)) < 0)
		return rc;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)af;
	req->sdiag_protocol = proto == LISTEN_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	req->idiag_states = 1u << state;
	snprintf(what, sizeof(what), "sock_diag: the %s dump", listen_proto_str(proto));
	rc = nl_dump_chunks(*sp, nlh, dump_chunk, &a, what, d);
	if (rc == -EINTR) {
		nl_close(*sp);
		*sp = NULL;
	}
	return rc;
}

static int dump_one(struct nl_sock **sp, enum listen_proto proto, uint8_t state, int af,
		    struct listen_set *out, struct diag *d)
{
	for (int i = 0; i < LISTEN_DUMP_TRIES; i++) {
		size_t mark = out->n;
		int rc = dump_once(sp, proto, state, af, out, d);

		if (rc != -EINTR)
			return rc;
		out->n = mark;	/* drop the inconsistent part; no owners yet */
	}
	return diag_err(d, DIAG_NETLINK, NULL, EINTR,
			"sock_diag: the %s %s%s socket table kept changing during %d dumps",
			af == AF_INET ? "IPv4" : "IPv6", listen_proto_str(proto),
			state == LISTEN_STATE_ESTABLISHED ? " connection" : "", LISTEN_DUMP_TRIES);
}

int listen_dump(struct listen_set *out, unsigned int flags, struct diag *d)
{
	static const int afs[] = { AF_INET, AF_INET6 };
	struct nl_sock *sk = NULL;
	int rc = 0;

	if (!(flags & (LISTEN_F_TCP | LISTEN_F_UDP)))
		flags |= LISTEN_F_TCP | LISTEN_F_UDP;
	for (int p = 0; p < LISTEN_PROTO_MAX && !rc; p++) {
		if (!(flags & (p == LISTEN_PROTO_TCP ? LISTEN_F_TCP : LISTEN_F_UDP)))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(afs) && !rc; i++)
			rc = dump_one(&sk, (enum listen_proto)p, listener_state((enum listen_proto)p),
				      afs[i], out, d);
	}
	for (size_t i = 0; i < ARRAY_SIZE(afs) && !rc && (flags & LISTEN_F_ESTABLISHED); i++)
		rc = dump_one(&sk, LISTEN_PROTO_TCP, LISTEN_STATE_ESTABLISHED, afs[i], out, d);
	nl_close(sk);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].ifindex && !if_indextoname(out->v[i].ifindex, out->v[i].ifname))
			out->v[i].ifname[0] = '\0';
	if (flags & LISTEN_F_OWNERS) {
		rc = listen_owners_fill(out, "/proc", d);
		if (rc < 0)
			return rc;
	}
	listen_set_sort(out);
	return 0;
}

/* ------------------------------------------------------------------------- */
/* owners: /proc/<pid>/fd/<n> -> "socket:[inode]" */

struct ino_ref {
	uint32_t inode;
	size_t idx;
};

static int ino_ref_cmp(const void *pa, const void *pb)
{
	const struct ino_ref *a = pa, *b = pb;

	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

/* Parse exactly "socket:[N]" with N a decimal u32. */
static bool parse_socket_link(const char *s, uint32_t *inode)
{
	unsigned long v = 0;

	if (strncmp(s, "socket:[", 8))
		return false;
	s += 8;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	if (s[0] != ']' || s[1])
		return false;
	*inode = (uint32_t)v;
	return true;
}

static bool parse_pid(const char *s, pid_t *pid)
{
	long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > 0x7fffffff)
			return false;
	}
	if (!v)
		return false;
	*pid = (pid_t)v;
	return true;
}

static void read_comm(int procfd, pid_t pid, char *comm, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "%d/comm", (int)pid);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, len - 1);
	close(fd);
	if (n <= 0)
		n = 0;
	comm[n] = '\0';
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = '\0';
}

static int owner_add(struct listen_entry *e, pid_t pid, const char *comm)
{
	struct listen_owner *o;

	/* one process holding the socket on several fds counts once */
	if (e->nowners && e->owners[e->nowners - 1].pid == pid)
		return 0;
	o = realloc(e->owners, (e->nowners + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	e->owners = o;
	o = &e->owners[e->nowners++];
	o->pid = pid;
	snprintf(o->comm, sizeof(o->comm), "%s", comm);
	return 0;
}

static int owner_cmp(const void *pa, const void *pb)
{
	const struct listen_owner *a = pa, *b = pb;

	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

/*
 * Scan one process's fd table; returns 0, -ENOMEM, or 1 when access was
 * denied. known_comm: the process's comm when already read, else NULL.
 */
static int scan_pid(struct listen_set *s, const struct ino_ref *idx, int procfd, pid_t pid,
		    const char *known_comm)
{
	char path[64], link[64], comm[16] = "";
	bool have_comm = false;
	struct dirent *de;
	int fd, rc = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%d/fd", (int)pid);
	fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == EACCES || errno == EPERM ? 1 : 0;	/* else: gone */
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	if (known_comm) {
		snprintf(comm, sizeof(comm), "%s", known_comm);
		have_comm = true;
	}
	while (!rc && (de = readdir(dir))) {
		const struct ino_ref *hit;
		struct ino_ref key;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(fd, de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!parse_socket_link(link, &key.inode))
			continue;
		hit = bsearch(&key, idx, s->n, sizeof(*idx), ino_ref_cmp);
		if (!hit)
			continue;
		while (hit > idx && hit[-1].inode == key.inode)
			hit--;
		if (!have_comm) {
			read_comm(procfd, pid, comm, sizeof(comm));
			have_comm = true;
		}
		for (; !rc && hit < idx + s->n && hit->inode == key.inode; hit++)
			rc = owner_add(&s->v[hit->idx], pid, comm);
	}
	closedir(dir);
	return rc;
}

int listen_owners_fill(struct listen_set *s, const char *procroot, struct diag *d)
{
	return listen_owners_fill_if(s, procroot, NULL, d);
}

int listen_owners_fill_if(struct listen_set *s, const char *procroot,
			  bool (*want)(const char *comm), struct diag *d)
{
	struct ino_ref *idx = NULL;
	struct dirent *de;
	DIR *proc;
	int rc = 0;

	proc = opendir(procroot);
	if (!proc)
		return diag_err(d, DIAG_INTERNAL, NULL, errno,
				"cannot read '%s' to find the processes owning sockets", procroot);
	s->owners_denied = 0;
	if (s->n) {
		idx = calloc(s->n, sizeof(*idx));
		if (!idx) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "socket owners");
			goto out;
		}
		for (size_t i = 0; i < s->n; i++) {
			idx[i].inode = s->v[i].inode;
			idx[i].idx = i;
			free(s->v[i].owners);
			s->v[i].owners = NULL;
			s->v[i].nowners = 0;
		}
		qsort(idx, s->n, sizeof(*idx), ino_ref_cmp);
	}
	while (s->n && (de = readdir(proc))) {
		char comm[16];
		pid_t pid;
		int r;

		if (!parse_pid(de->d_name, &pid))
			continue;
		if (want) {
			read_comm(dirfd(proc), pid, comm, sizeof(comm));
			if (!comm[0] || !want(comm))
				continue;	/* gone, or not one we look for */
		}
		r = scan_pid(s, idx, dirfd(proc), pid, want ? comm : NULL);
		if (r < 0) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, -r, "socket owners");
			goto out;
		}
		s->owners_denied += (size_t)r;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].nowners > 1)
			qsort(s->v[i].owners, s->v[i].nowners, sizeof(*s->v[i].owners), owner_cmp);
	s->owners_done = true;
out:
	free(idx);
	closedir(proc);
	return rc;
}
