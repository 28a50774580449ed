/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The only libmnl socket code, for every netlink family portlock uses
 * (nf_tables and ctnetlink over nfnetlink, sock_diag): open, generation id,
 * dumps, nf_tables batches. Never prints; errors go to the diag sink with the label of the
 * object each failing message was built for.
 *
 * Batches. A batch is BATCH_BEGIN (carrying NFNL_BATCH_GENID when a
 * generation is given), the messages, and BATCH_END; the kernel applies all
 * of it or nothing. Messages are built into libnftnl batch pages (each page
 * may overrun by one maximum-size message, so a batch can be far larger than
 * a page) and sent with one sendmsg() over all pages. The kernel processes
 * the batch synchronously inside sendmsg(), so every error is queued when it
 * returns; we drain them without blocking (as nft does). Only BATCH_END asks
 * for an ACK: on Linux >= 6.10 that ACK is sent only after a successful
 * commit, which proves the commit; on older kernels success is "no error".
 * Each message records a label (e.g. "set smpp_v4 (rulesets/x.conf:12)") by
 * sequence number, so an error names the object that caused it.
 *
 *   +--------------+-----------+-----------+-----+-----------+------------+
 *   | BATCH_BEGIN  | msg seq 2 | msg seq 3 | ... | msg seq n | BATCH_END  |
 *   | (+GENID)     | label[2]  | label[3]  |     | label[n]  | (NLM_F_ACK)|
 *   +--------------+-----------+-----------+-----+-----------+------------+
 *
 * Check mode (plan --check) leaves BATCH_END out: the kernel validates every
 * message, reports every error, then aborts; nothing changes.
 */
#ifndef PORTLOCK_NL_H
#define PORTLOCK_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

struct diag;
struct nl_sock;
struct nl_batch;

/*
 * Open a NETLINK_NETFILTER socket with extended ACK and capped ACKs.
 * Returns 0 or -errno (recorded as DIAG_NETLINK with a hint when nf_tables
 * is unavailable).
 */
int nl_open(struct nl_sock **out, struct diag *d);
/*
 * The same for another netlink bus: NETLINK_SOCK_DIAG (listen.c), or
 * NETLINK_NETFILTER (nl_open()). Closed with nl_close().
 */
int nl_open_bus(struct nl_sock **out, int bus, struct diag *d);
void nl_close(struct nl_sock *s);
/*
 * nl_close() keeps the descriptor until exit (see nl.c); a forked child that
 * lives on (the --confirm watcher) closes its copies with this.
 */
void nl_close_deferred(void);
/*
 * Close fd when the process exits, after the exit-time child of a commit
 * took a copy (see nl.c): what the last close costs (freeing a replaced
 * 15 MB file) is then paid in that child, not by the caller.
 */
void nl_exit_close(int fd);

/* Read the ruleset generation id (NFT_MSG_GETGEN, the full 32 bits). */
int nl_getgen(struct nl_sock *s, uint32_t *gen, struct diag *d);

/*
 * Run a dump or a get request built in req (nlmsg_seq and portid are filled
 * here) and call cb for every reply message. Returns 0, -ENOENT when the
 * object does not exist (nothing recorded), -EINTR when the kernel flagged
 * the dump as interrupted (NLM_F_DUMP_INTR: retry), or another -errno,
 * recorded in d with the label `what`.
 */
int nl_request(struct nl_sock *s, struct nlmsghdr *req, mnl_cb_t cb, void *data,
	       const char *what, struct diag *d);

/*
 * A dump read by a parser of whole datagrams (listen.c's sock_diag parser,
 * which the unit tests and the fuzzer feed with bytes): send req (nlmsg_seq
 * filled here) and call cb with every datagram received, the request's
 * sequence number and the socket's port id, until cb returns <= 0 (0: the
 * dump is done; < 0: an error cb recorded, or -EINTR for an interrupted
 * dump). Returns what cb returned last; -EINTR when the dump overran the
 * socket (ENOBUFS: retry on a fresh socket, the rest of the dump is still
 * queued on this one); another -errno for send/receive errors, recorded in
 * d with the label `what`.
 */
typedef int (*nl_chunk_cb)(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			   void *data);
int nl_dump_chunks(struct nl_sock *s, struct nlmsghdr *req, nl_chunk_cb cb, void *data,
		   const char *what, struct diag *d);

/* A batch under construction. */
int nl_batch_new(struct nl_batch **out);
void nl_batch_free(struct nl_batch *b);

/*
 * Start a message of type (NFT_MSG_*, without the subsystem) and family;
 * returns the header in the current page for the caller to fill with
 * libnftnl's *_nlmsg_build_payload() or mnl_attr_put_*(). label is copied
 * and reported when the kernel refuses this message. Call nl_batch_end_msg()
 * when done filling. Returns NULL on ENOMEM.
 */
struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type, uint16_t family,
			      uint16_t flags, const char *label);
int nl_batch_end_msg(struct nl_batch *b);

/* Number of messages in the batch (without BEGIN/END). */
size_t nl_batch_count(const struct nl_batch *b);

struct nl_batch_result {
	size_t nmsgs;		/* messages sent, without BEGIN/END */
	size_t bytes;		/* bytes sent */
	bool end_acked;		/* kernel confirmed the commit (Linux >= 6.10) */
	bool restart;		/* ERESTART: the generation moved, nothing applied */
	int first_errno;	/* first error reported, 0 if none */
	uint64_t kernel_us;	/* time inside sendmsg(): the kernel validating/committing */
};

/*
 * Send the batch. genid != 0 makes the kernel refuse it with ERESTART when
 * the ruleset generation is no longer genid (res->restart is set and no
 * error is recorded: the caller re-plans). check_only omits BATCH_END.
 * Returns 0 when the kernel reported no error (committed, or validated in
 * check mode), else -errno with every error recorded in d.
 */
int nl_batch_send(struct nl_sock *s, struct nl_batch *b, uint32_t genid, bool check_only,
		  struct nl_batch_result *res, struct diag *d);

#endif
