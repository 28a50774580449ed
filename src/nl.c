// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Netlink transport: socket setup with extended ACK, generation id, dumps
 * with interruption detection, and nf_tables batches sent in one sendmsg()
 * with every error mapped back to the label of the message that caused it.
 * Every netlink family portlock speaks goes through here (nfnetlink:
 * nf_tables and ctnetlink; NETLINK_SOCK_DIAG for listen.c): this is the only
 * file that calls mnl_socket_*. It never prints.
 */
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>

#include "diag.h"
#include "testhook.h"
#include "util.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* libnftnl batch pages: 2 MiB each, overrun by at most one 64 KiB message. */
#define NL_BATCH_PAGE (2u << 20)
#define NL_MSG_MAX (UINT16_MAX + 4096u)
/* Dump chunks are at most 32 KiB (netlink_recvmsg caps max_recvmsg_len). */
#define NL_RECV_BUF (64u << 10)

struct nl_sock {
	struct mnl_socket *mnl;
	int bus;		/* NETLINK_NETFILTER, NETLINK_SOCK_DIAG */
	uint32_t portid;
	uint32_t seq;
	int sndbuf;
	char *rbuf;
};

struct nl_batch {
	struct nftnl_batch *nb;
	char **labels;		/* label per message, index = message number */
	size_t n, cap;
	struct nlmsghdr *cur;
};

static const char *errno_hint(int err)
{
	switch (err) {
	case EPERM:
		return " (needs CAP_NET_ADMIN: run as root or grant the capability)";
	case EPROTONOSUPPORT:
	case ENOENT:
		return "";
	case EMSGSIZE:
		return " (batch larger than the socket allows: raise net.core.wmem_max)";
	case ENOBUFS:
		return " (netlink buffer full: some errors were lost)";
	case ENFILE:
		return " (set is full: its size limit is smaller than its elements)";
	case EEXIST:
		return " (object or overlapping interval already exists)";
	case EOPNOTSUPP:
		return " (kernel lacks a needed nf_tables feature or module)";
	}
	return "";
}

static const char *bus_name(int bus)
{
	return bus == NETLINK_SOCK_DIAG ? "sock_diag" : "nfnetlink";
}

int nl_open_bus(struct nl_sock **out, int bus, struct diag *d)
{
	struct nl_sock *s;
	int one = 1;

	s = calloc(1, sizeof(*s));
	if (!s)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "netlink socket");
	s->bus = bus;
	s->rbuf = malloc(NL_RECV_BUF);
	if (!s->rbuf)
		goto err_nomem;
	s->mnl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!s->mnl) {
		int err = errno;
		const char *why = "";

		if (err == EPROTONOSUPPORT)
			why = bus == NETLINK_SOCK_DIAG ? " (kernel without CONFIG_INET_DIAG?)"
						       : " (nf_tables/nfnetlink is not available in this kernel)";
		free(s->rbuf);
		free(s);
		return diag_err(d, DIAG_NETLINK, NULL, err, "cannot open %s socket%s", bus_name(bus), why);
	}
	if (mnl_socket_bind(s->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;

		nl_close(s);
		return diag_err(d, DIAG_NETLINK, NULL, err, "cannot bind %s socket", bus_name(bus));
	}
	/* best effort: old kernels lack them, messages are then just shorter */
	mnl_socket_setsockopt(s->mnl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->mnl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->mnl);
	s->seq = (uint32_t)time(NULL);
	*out = s;
	return 0;

err_nomem:
	free(s);
	return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "netlink socket");
}

int nl_open(struct nl_sock **out, struct diag *d)
{
	return nl_open_bus(out, NETLINK_NETFILTER, d);
}

/*
 * Closing an nfnetlink socket right after a commit waits for the kernel's
 * deferred cleanup of that transaction (nft_rcv_nl_event() flushes the
 * destroy work, which waits for an RCU grace period: 10-25 ms on this
 * machine kind, longer than the rest of a one-prefix apply). So sockets are
 * closed when the process exits, after the journal and everything else; by
 * then the cleanup has mostly run (the close at exit measured 0.0-0.1 ms).
 * What the exit-time child below still earns is the last close of a file
 * compile.c replaced (nl_exit_close()): renaming over a 15 MB allow_file copy
 * frees its pages, 9-27 ms, more than a third of a one-prefix apply at
 * 1,000,000 prefixes (bench/README.md).
 */
#define NL_DEFERRED_MAX 32
static struct mnl_socket *deferred[NL_DEFERRED_MAX];
static size_t ndeferred;
static bool committed_here;	/* this process committed a transaction */
static int lingering[NL_DEFERRED_MAX];	/* other descriptors closed at exit (nl_exit_close()) */
static size_t nlingering;

void nl_close_deferred(void)
{
	while (ndeferred)
		mnl_socket_close(deferred[--ndeferred]);
	while (nlingering)
		close(lingering[--nlingering]);
}

static void nl_atexit(void);

void nl_exit_close(int fd)
{
	static bool registered;

	if (fd < 0)
		return;
	if (nlingering < NL_DEFERRED_MAX && (registered || atexit(nl_atexit) == 0)) {
		registered = true;
		lingering[nlingering++] = fd;
		return;
	}
	close(fd);
}

/*
 * At exit, after a commit: the last close of the sockets would still wait
 * for the remainder of the kernel's cleanup. A child that holds copies of
 * them until this process is gone makes that close its own: the caller
 * gets its prompt (and its pipes' EOF: the child's stdio is /dev/null) when
 * the work is done, and the kernel's cleanup runs out in the child. Without
 * a commit, or when fork fails, the sockets are closed here.
 */
static void nl_atexit(void)
{
	int p[2];
	pid_t pid;

	if (!ndeferred && !nlingering)
		return;
	if (!committed_here || pipe2(p, O_CLOEXEC) < 0) {
		nl_close_deferred();
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		nl_close_deferred();
		return;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		char c;

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		close(p[1]);
		/* EOF: the parent is gone; closing the sockets (at _exit) is now the last close */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	nl_close_deferred();	/* not the last holder: no wait */
}

void nl_close(struct nl_sock *s)
{
	static bool registered;

	if (!s)
		return;
	if (s->mnl && ndeferred < NL_DEFERRED_MAX && (registered || atexit(nl_atexit) == 0)) {
		registered = true;	/* (atexit() twice with nl_exit_close(): the second run finds nothing) */
		deferred[ndeferred++] = s->mnl;
		s->mnl = NULL;
	}
	if (s->mnl)
		mnl_socket_close(s->mnl);
	free(s->rbuf);
	free(s);
}

/* Extended-ACK text of an error message, or NULL. */
static const char *extack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return NULL;
	mnl_attr_for_each_payload((const void *)((const char *)e + off), mnl_nlmsg_get_payload_len(nlh) - off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(attr);
	}
	return NULL;
}

struct req_ctx {
	mnl_cb_t cb;
	void *data;
	int intr;
};

static int req_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *rc = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		rc->intr = 1;
	return rc->cb ? rc->cb(nlh, rc->data) : MNL_CB_OK;
}

/*
 * Test hook PORTLOCK_TEST_DUMP_OVERRUN=rules|sets|chains: the first dump of
 * that kind in this process reports an overrun (ENOBUFS), as a busy socket
 * would, so that the retry of a read at an unchanged generation is tested.
 */
static bool test_overrun(const struct nlmsghdr *req)
{
	static bool fired;
	const char *v;
	uint16_t type;

	if (fired || !(v = testhook("PORTLOCK_TEST_DUMP_OVERRUN")))
		return false;
	type = !strcmp(v, "rules") ? NFT_MSG_GETRULE : !strcmp(v, "sets") ? NFT_MSG_GETSET
		: !strcmp(v, "chains") ? NFT_MSG_GETCHAIN : 0;
	if (!type || NFNL_MSG_TYPE(req->nlmsg_type) != type || !(req->nlmsg_flags & NLM_F_DUMP))
		return false;
	fired = true;
	return true;
}

int nl_request(struct nl_sock *s, struct nlmsghdr *req, mnl_cb_t cb, void *data,
	       const char *what, struct diag *d)
{
	struct req_ctx rc = { cb, data, 0 };
	uint32_t seq = ++s->seq;
	int ret;

	req->nlmsg_seq = seq;
	if (mnl_socket_sendto(s->mnl, req, req->nlmsg_len) < 0) {
		int err = errno;

		return diag_err(d, DIAG_NETLINK, NULL, err, "%s: cannot send request", what);
	}
	do {
		ret = (int)mnl_socket_recvfrom(s->mnl, s->rbuf, NL_RECV_BUF);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)
				return -EINTR;	/* dump overran the socket: retry */
			return diag_err(d, DIAG_NETLINK, NULL, errno, "%s", what);
		}
		ret = mnl_cb_run(s->rbuf, (size_t)ret, seq, s->portid, req_cb, &rc);
	} while (ret > 0);
	if (ret < 0) {
		int err = errno;

		if (err == ENOENT)
			return -ENOENT;
		if (err == EINTR)
			return -EINTR;
		return diag_err(d, DIAG_NETLINK, NULL, err, "%s%s", what, errno_hint(err));
	}
	if (test_overrun(req))
		return -EINTR;	/* as if the dump had overrun the socket (ENOBUFS) */
	return rc.intr ? -EINTR : 0;
}

int nl_dump_chunks(struct nl_sock *s, struct nlmsghdr *req, nl_chunk_cb cb, void *data,
		   const char *what, struct diag *d)
{
	uint32_t seq = ++s->seq;
	int ret;

	req->nlmsg_seq = seq;
	if (mnl_socket_sendto(s->mnl, req, req->nlmsg_len) < 0)
		return diag_err(d, DIAG_NETLINK, NULL, errno, "%s: cannot send the dump request", what);
	do {
		ssize_t n = mnl_socket_recvfrom(s->mnl, s->rbuf, NL_RECV_BUF);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)
				return -EINTR;	/* the dump overran the socket: retry */
			return diag_err(d, DIAG_NETLINK, NULL, errno, "%s: receiving the dump", what);
		}
		ret = cb(s->rbuf, (size_t)n, seq, s->portid, data);
	} while (ret > 0);
	return ret;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *gen = nftnl_gen_alloc();
	uint32_t *out = data;

	if (!gen)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, gen) == 0)
		*out = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

int nl_getgen(struct nl_sock *s, uint32_t *gen, struct diag *d)
{
	char buf[MNL_NLMSG_HDRLEN + 64] = { 0 };
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, 0);
	*gen = 0;
	return nl_request(s, nlh, gen_cb, gen, "read ruleset generation", d);
}

int nl_batch_new(struct nl_batch **out)
{
	struct nl_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->nb = nftnl_batch_alloc(NL_BATCH_PAGE, NL_MSG_MAX);
	if (!b->nb) {
		free(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

void nl_batch_free(struct nl_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->labels[i]);
	free(b->labels);
	nftnl_batch_free(b->nb);
	free(b);
}

struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type, uint16_t family,
			      uint16_t flags, const char *label)
{
	char *l;

	if (util_grow((void **)&b->labels, &b->cap, b->n + 1, sizeof(*b->labels)) < 0)
		return NULL;
	l = strdup(label ? label : "?");
	if (!l)
		return NULL;
	b->labels[b->n] = l;
	/*
	 * libmnl (1.0.4) leaves attribute padding as it finds it: zero the room
	 * of one message (the page's overrun area guarantees it is there) so
	 * that no stale byte goes to the kernel. The real sequence number is
	 * assigned in nl_batch_send().
	 */
	memset(nftnl_batch_buffer(b->nb), 0, NL_MSG_MAX);
	b->cur = nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->nb), type, family, flags, 0);
	return b->cur;
}

int nl_batch_end_msg(struct nl_batch *b)
{
	b->n++;
	b->cur = NULL;
	if (nftnl_batch_update(b->nb) < 0)
		return -ENOMEM;
	return 0;
}

size_t nl_batch_count(const struct nl_batch *b)
{
	return b->n;
}

static struct nlmsghdr *batch_marker(char *buf, uint16_t type, uint32_t seq, uint32_t genid,
				     uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	return nlh;
}

/* Renumber every message of the batch: BEGIN is seq0, message i is seq0+1+i. */
static void batch_number(struct nl_batch *b, struct iovec *iov, int niov, uint32_t seq0)
{
	uint32_t seq = seq0 + 1;

	for (int i = 0; i < niov; i++) {
		char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		while (len >= sizeof(struct nlmsghdr)) {
			struct nlmsghdr *nlh = (struct nlmsghdr *)p;
			size_t ml = NLMSG_ALIGN(nlh->nlmsg_len);

			if (nlh->nlmsg_len < sizeof(*nlh) || ml > len)
				break;
			nlh->nlmsg_seq = seq++;
			p += ml;
			len -= ml;
		}
	}
	(void)b;
}

static int set_sndbuf(struct nl_sock *s, size_t need)
{
	int fd = mnl_socket_get_fd(s->mnl), v;

	if (need > INT32_MAX / 2)
		return -EMSGSIZE;
	v = (int)need;
	if (s->sndbuf >= v)
		return 0;
	/* FORCE ignores wmem_max (needs CAP_NET_ADMIN, which we need anyway) */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) < 0)
		return -errno;
	s->sndbuf = v;
	v = (int)(need / 8 > (1u << 20) ? need / 8 : (1u << 20));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	return 0;
}

static const char *label_of(const struct nl_batch *b, uint32_t seq0, uint32_t seq)
{
	if (seq == seq0 || seq == seq0 + b->n + 1)
		return "transaction";
	if (seq > seq0 && seq - seq0 - 1 < b->n)
		return b->labels[seq - seq0 - 1];
	return "unknown message";
}

/*
 * The batch as iovecs into *iovp (malloc'ed): BEGIN (carrying genid) in
 * begin, b's pages numbered from *seq0, END in end unless check_only.
 * Returns how many, or -ENOMEM.
 */
static int batch_iov(struct nl_sock *s, struct nl_batch *b, uint32_t genid, bool check_only,
		     char *begin, char *end, struct iovec **iovp, uint32_t *seq0)
{
	struct iovec *iov;
	int npages, niov;

	npages = nftnl_batch_iovec_len(b->nb);
	iov = calloc((size_t)npages + 2, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	*seq0 = s->seq + 1;
	s->seq += (uint32_t)b->n + 2;
	batch_marker(begin, NFNL_MSG_BATCH_BEGIN, *seq0, genid, 0);
	batch_marker(end, NFNL_MSG_BATCH_END, *seq0 + (uint32_t)b->n + 1, 0, NLM_F_ACK);
	iov[0].iov_base = begin;
	iov[0].iov_len = ((struct nlmsghdr *)begin)->nlmsg_len;
	nftnl_batch_iovec(b->nb, iov + 1, (uint32_t)npages);
	/* the last page may be empty: nftnl counts it only when it holds data */
	niov = 1 + npages;
	batch_number(b, iov + 1, npages, *seq0);
	if (!check_only) {
		iov[niov].iov_base = end;
		iov[niov].iov_len = ((struct nlmsghdr *)end)->nlmsg_len;
		niov++;
	}
	*iovp = iov;
	return niov;
}

/* One answer to the batch: END's ack, a restart (the generation moved), or a refusal into d and *err. */
static void batch_answer(const struct nl_batch *b, uint32_t seq0, const struct nlmsghdr *nlh,
			 struct nl_batch_result *res, int *err, struct diag *d)
{
	const struct nlmsgerr *e;
	const char *ext;
	int code;

	if (nlh->nlmsg_type != NLMSG_ERROR)
		return;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return;
	e = mnl_nlmsg_get_payload(nlh);
	code = -e->error;
	if (code == 0) {
		if (nlh->nlmsg_seq == seq0 + b->n + 1)
			res->end_acked = true;
		return;
	}
	if (code == ERESTART && nlh->nlmsg_seq == seq0) {
		res->restart = true;
		*err = ERESTART;
		return;
	}
	if (!*err)
		*err = code;
	if (!res->first_errno)
		res->first_errno = code;
	ext = extack_msg(nlh);
	diag_err(d, DIAG_NETLINK, NULL, code, "kernel refused %s%s%s%s",
		 label_of(b, seq0, nlh->nlmsg_seq), ext ? " (" : "", ext ? ext : "",
		 ext ? ")" : "");
	if (code == EPERM || code == EOPNOTSUPP || code == EMSGSIZE || code == ENFILE) {
		const char *hint = errno_hint(code);

		if (strlen(hint) > 3)	/* " (text)" -> "text" */
			diag_note(d, NULL, "%.*s", (int)strlen(hint) - 3, hint + 2);
	}
}

/* The kernel processed the batch inside sendmsg(): drain what it queued. Returns the first error. */
static int batch_drain(struct nl_sock *s, const struct nl_batch *b, uint32_t seq0,
		       struct nl_batch_result *res, int err, struct diag *d)
{
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(s->mnl), s->rbuf, NL_RECV_BUF, MSG_DONTWAIT);
		const struct nlmsghdr *nlh;
		size_t len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				diag_err(d, DIAG_NETLINK, NULL, ENOBUFS, "batch%s", errno_hint(ENOBUFS));
				err = err ? err : ENOBUFS;
				continue;
			}
			err = errno;
			diag_err(d, DIAG_NETLINK, NULL, err, "reading batch result");
			break;
		}
		len = (size_t)n;
		for (nlh = (const struct nlmsghdr *)s->rbuf; mnl_nlmsg_ok(nlh, (int)len);
		     nlh = mnl_nlmsg_next(nlh, (int *)&len))
			batch_answer(b, seq0, nlh, res, &err, d);
	}
	return err;
}

int nl_batch_send(struct nl_sock *s, struct nl_batch *b, uint32_t genid, bool check_only,
		  struct nl_batch_result *res, struct diag *d)
{
	char begin[MNL_NLMSG_HDRLEN + 64] = { 0 }, end[MNL_NLMSG_HDRLEN + 64] = { 0 };
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr msg = { 0 };
	struct iovec *iov = NULL;
	struct timespec t0, t1;
	uint32_t seq0;
	int niov, err = 0, ret;
	size_t total;

	memset(res, 0, sizeof(*res));
	niov = batch_iov(s, b, genid, check_only, begin, end, &iov, &seq0);
	if (niov < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "batch");
	total = 0;
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	res->nmsgs = b->n;
	res->bytes = total;
	ret = set_sndbuf(s, total + 4096);
	if (ret < 0) {
		free(iov);
		return diag_err(d, DIAG_NETLINK, NULL, -ret, "cannot size the netlink socket for a %zu-byte batch",
				total);
	}
	msg.msg_name = &snl;
	msg.msg_namelen = sizeof(snl);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)niov;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ret = (int)sendmsg(mnl_socket_get_fd(s->mnl), &msg, 0);
	} while (ret < 0 && errno == EINTR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->kernel_us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	free(iov);
	if (ret < 0) {
		err = errno;
		return diag_err(d, DIAG_NETLINK, NULL, err, "cannot send batch of %zu bytes%s", total,
				errno_hint(err));
	}
	err = batch_drain(s, b, seq0, res, err, d);
	if (err == ERESTART && res->restart)
		return -ERESTART;
	if (!err && !check_only)
		committed_here = true;
	return err ? -err : 0;
}
