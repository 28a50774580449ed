/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Listening sockets of the caller's network namespace, read from the kernel
 * over NETLINK_SOCK_DIAG (the interface ss(8) uses), with the processes that
 * own them (found the way `ss -p` does: /proc/<pid>/fd). Used by `portlock
 * listeners`, `audit` and `probe --listening`; with LISTEN_F_ESTABLISHED also
 * the established TCP connections (the SSH guard, sshguard.h).
 *
 * What counts as a listener:
 *   - TCP sockets in state LISTEN;
 *   - UDP sockets in state CLOSE, i.e. bound and not connected ("UNCONN" in
 *     ss): they take datagrams from any source. Connected UDP sockets only
 *     take datagrams from their one peer and are not listed.
 *
 * Exposure judgement (listen_scope()):
 *   - LISTEN_SCOPE_LOOPBACK: bound to 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104,
 *     or bound to the loopback device (SO_BINDTODEVICE "lo", ifindex 1 in
 *     every namespace): not reachable from the network.
 *   - LISTEN_SCOPE_WILDCARD: 0.0.0.0 or ::. An IPv6 wildcard socket without
 *     IPV6_V6ONLY also takes IPv4 (listen_covers_family()).
 *   - LISTEN_SCOPE_ADDRESS: one specific non-loopback address.
 * Wildcard and address listeners are "exposed": the network can reach them
 * unless a firewall says otherwise (that is the audit's business).
 *
 * Privileges: the socket list itself needs no privilege (sock_diag answers
 * any user for TCP/UDP). Finding the owning processes reads
 * /proc/<pid>/fd, which the kernel only allows for one's own processes
 * unless root (CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH): run unprivileged, the
 * owners of other users' sockets stay unknown and listen_set.owners_denied
 * counts the processes that could not be inspected.
 *
 * Everything is netns-local: sock_diag answers for the namespace of the
 * netlink socket, i.e. the caller's. The /proc walk sees every process of
 * the pid namespace, but socket inodes are unique system-wide, so only
 * processes holding the listed sockets match. Processes hidden by a /proc
 * mounted with hidepid=, or living in another pid namespace, cannot be
 * found (nor counted in owners_denied); ss -p has the same limit.
 */
#ifndef PORTLOCK_LISTEN_H
#define PORTLOCK_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cidr.h"

struct diag;

enum listen_proto {
	LISTEN_PROTO_TCP,
	LISTEN_PROTO_UDP,
	LISTEN_PROTO_MAX,
};

enum listen_scope {
	LISTEN_SCOPE_LOOPBACK,	/* not exposed */
	LISTEN_SCOPE_WILDCARD,	/* exposed on every address of the family (families) */
	LISTEN_SCOPE_ADDRESS,	/* exposed on one address */
	LISTEN_SCOPE_MAX,
};

/* A process holding the socket (several after fork(), SCM_RIGHTS, ...). */
struct listen_owner {
	pid_t pid;
	char comm[16];		/* /proc/<pid>/comm, raw bytes: escape before display */
};

struct listen_entry {
	enum listen_proto proto;
	enum cidr_family family;	/* family of the socket (AF_INET6 -> CIDR_V6) */
	u128 addr;			/* local address, host order (see cidr.h) */
	uint16_t port;			/* local port, host order */
	bool v6only;			/* IPV6_V6ONLY; always false for IPv4 sockets */
	uint32_t ifindex;		/* SO_BINDTODEVICE / scope id; 0 = any interface */
	char ifname[16];		/* name of ifindex, resolved by listen_dump(); may be "" */
	uint32_t inode;			/* socket inode, as in /proc/<pid>/fd "socket:[N]" */
	uint32_t uid;			/* socket owner uid */
	/*
	 * LISTEN_F_ESTABLISHED: a TCP connection in state ESTABLISHED, not a
	 * listener. peer is the remote address, in the socket's family (an
	 * IPv6 socket talking to an IPv4 peer has a v4-mapped peer).
	 */
	bool established;
	u128 peer;
	uint16_t peer_port;
	struct listen_owner *owners;	/* owned by the entry; sorted by pid */
	size_t nowners;
};

/*
 * A snapshot of listeners. Owns its entries and their owner arrays; free
 * with listen_set_fini(). Entries are sorted by proto, port, family, address
 * after listen_dump() (listen_set_sort()).
 */
struct listen_set {
	struct listen_entry *v;
	size_t n, cap;
	bool owners_done;		/* owners were looked up (LISTEN_F_OWNERS) */
	size_t owners_denied;		/* processes whose fd table we could not read */
};

/* listen_dump() flags */
#define LISTEN_F_TCP	0x1u
#define LISTEN_F_UDP	0x2u
#define LISTEN_F_OWNERS	0x4u	/* walk /proc to fill owners */
#define LISTEN_F_ALL	(LISTEN_F_TCP | LISTEN_F_UDP | LISTEN_F_OWNERS)
/* also the TCP connections in state ESTABLISHED (entry.established), IPv4 and IPv6 */
#define LISTEN_F_ESTABLISHED 0x8u

void listen_set_init(struct listen_set *s);
/* Free every entry and its owners; the set is empty and reusable after. */
void listen_set_fini(struct listen_set *s);

/*
 * Read the listeners of the caller's network namespace into *out, which must
 * be initialized (listen_set_init()); entries are appended, then the whole
 * set is sorted. flags: LISTEN_F_TCP and/or LISTEN_F_UDP (neither means
 * both), LISTEN_F_OWNERS to find owning processes under /proc,
 * LISTEN_F_ESTABLISHED to add the established TCP connections.
 * Four dumps are made (TCP/UDP x IPv4/IPv6), two more for
 * LISTEN_F_ESTABLISHED; a dump interrupted by a
 * concurrent change (NLM_F_DUMP_INTR) is retried up to three times.
 * Returns 0, or -errno with the reason recorded in d: DIAG_NETLINK for the
 * kernel (socket, send, receive, an error reply, a malformed reply),
 * DIAG_INTERNAL for -ENOMEM. On error *out holds what was read so far; the
 * caller still owns it and must listen_set_fini() it.
 */
int listen_dump(struct listen_set *out, unsigned int flags, struct diag *d);

/*
 * Parse a buffer of sock_diag reply messages (what one recv() returned) for
 * protocol proto and append the listeners to *out. seq and portid are
 * checked against each message unless 0 (libmnl mnl_cb_run() semantics).
 * Pure: no I/O; this is the part unit tests and the fuzzer feed with bytes.
 * Returns 1 when more messages are expected, 0 at NLMSG_DONE, -EINTR when
 * the kernel flagged the dump inconsistent (NLM_F_DUMP_INTR; retry), or
 * another -errno recorded in d (an NLMSG_ERROR reply carries the kernel's
 * errno; -EPROTO for a malformed message; -ENOMEM).
 */
int listen_parse(const void *buf, size_t len, enum listen_proto proto, uint32_t seq,
		 uint32_t portid, struct listen_set *out, struct diag *d);

/*
 * The same for a dump of TCP sockets in state ESTABLISHED: appends entries
 * with established set and the peer address and port; other states are
 * skipped.
 */
int listen_parse_established(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			     struct listen_set *out, struct diag *d);

/*
 * Fill the owners of every entry of *s by walking procroot (normally
 * "/proc"; tests pass a fake tree of <pid>/fd/<n> symlinks and <pid>/comm):
 * each <pid>/fd/<n> whose link reads "socket:[inode]" for a listed inode
 * adds (pid, comm) to that entry. Processes that vanish meanwhile are
 * skipped; processes whose fd table is not readable (EACCES/EPERM: another
 * user's, when not root) are counted in s->owners_denied.
 * Returns 0, -ENOENT/-EACCES when procroot itself cannot be opened, or
 * -ENOMEM; recorded in d.
 */
int listen_owners_fill(struct listen_set *s, const char *procroot, struct diag *d);

/*
 * The same, looking only at the processes whose comm (/proc/<pid>/comm,
 * without the newline) want() accepts: one small read per process instead
 * of its whole fd table. want NULL: every process (listen_owners_fill()).
 * owners_denied counts only wanted processes.
 */
int listen_owners_fill_if(struct listen_set *s, const char *procroot,
			  bool (*want)(const char *comm), struct diag *d);

/*
 * Sort by proto, listeners before connections, port, family, address, peer,
 * inode (a stable, readable order).
 */
void listen_set_sort(struct listen_set *s);

/* Classification of one listener (see the top of this file). */
enum listen_scope listen_scope(const struct listen_entry *l);

/* True unless the listener is loopback-only. */
bool listen_is_exposed(const struct listen_entry *l);

/*
 * True when the listener takes connections/datagrams addressed with family
 * f: an IPv4 socket takes IPv4 only; an IPv6 socket takes IPv6, and IPv4 too
 * when it is not v6only and bound to :: or to a v4-mapped address (a
 * v4-mapped address takes IPv4 only).
 */
bool listen_covers_family(const struct listen_entry *l, enum cidr_family f);

/*
 * The address a local client (e.g. probe --listening) connects to in order to
 * reach l: the listener's own address, or for a wildcard the loopback
 * address of the family it takes (127.0.0.1 for 0.0.0.0 and ::ffff:0.0.0.0,
 * ::1 for ::). A v4-mapped address comes back as plain IPv4. A link-local
 * address needs l->ifindex as its scope. A wildcard socket bound to a device
 * other than lo (l->ifindex > 1) is not reachable over loopback: the caller
 * has to pick an address of that device.
 */
void listen_connect_addr(const struct listen_entry *l, enum cidr_family *family, u128 *addr);

/* "tcp" / "udp" */
const char *listen_proto_str(enum listen_proto p);
/* "loopback" / "wildcard" / "address" */
const char *listen_scope_str(enum listen_scope s);

/*
 * Format the local address without port: "0.0.0.0", "::", "192.0.2.1";
 * with a bound interface, "%<ifname>" (or "%<ifindex>" when the name is
 * unknown) is appended the way ss prints it. buf needs LISTEN_ADDRSTRLEN bytes. Returns buf.
 */
#define LISTEN_ADDRSTRLEN 64
char *listen_addr_str(const struct listen_entry *l, char *buf, size_t len);

/*
 * Format "addr:port": "0.0.0.0:22", "[::]:22", "[fe80::1%eth0]:22".
 * buf needs LISTEN_ENDPOINTSTRLEN bytes. Returns buf.
 */
#define LISTEN_ENDPOINTSTRLEN 72
char *listen_endpoint_str(const struct listen_entry *l, char *buf, size_t len);

#endif
