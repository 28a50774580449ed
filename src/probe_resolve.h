/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host names of probe targets (internal to probe*.c). In the sandboxed probe
 * the names are resolved by a process of their own, forked by the probe
 * child before it drops its privileges and sandboxed itself (see
 * probe_sandbox.h, PROBE_SB_RESOLVER) before it reads a byte of a DNS
 * answer. It resolves the names one after the other and writes one
 * fixed-size struct probe_resolved per name on a pipe (atomic: smaller than
 * PIPE_BUF); the engine reads that pipe under its epoll, so a stalled
 * resolver delays only the names, and the engine checks every record.
 */
#ifndef PORTLOCK_PROBE_RESOLVE_H
#define PORTLOCK_PROBE_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "probe.h"

struct probe_raddr {
	uint16_t family;		/* AF_INET or AF_INET6 */
	uint16_t port;			/* host order */
	uint32_t scope;			/* IPv6 scope id */
	uint8_t addr[16];
};

struct probe_resolved {
	uint32_t index;			/* of the target */
	int32_t gai;			/* getaddrinfo()'s result */
	int32_t err;			/* errno for EAI_SYSTEM */
	uint32_t n, more;		/* addresses, and how many more were dropped */
	struct probe_raddr a[PROBE_ADDRS_MAX];
};
_Static_assert(sizeof(struct probe_resolved) <= 512, "one atomic pipe write");

/* Is host a numeric address (nothing to resolve)? */
bool probe_host_numeric(const char *host);

/*
 * Every address of host (family AF_UNSPEC, AF_INET or AF_INET6), in
 * getaddrinfo() order, duplicates dropped, at most PROBE_ADDRS_MAX.
 */
void probe_resolve_one(const char *host, uint16_t port, int family, uint32_t index,
		       struct probe_resolved *out);

/* The address of one entry as a sockaddr; returns its length, 0 when invalid. */
socklen_t probe_raddr_sockaddr(const struct probe_raddr *a, struct sockaddr_storage *ss);

/*
 * Fork the resolver for the targets t[i] with names[i] set; returns the
 * read end of its pipe (non-blocking, close-on-exec) and its pid, or
 * -errno. Call before the caller's own sandbox (it forks).
 */
int probe_resolver_start(const struct probe_target *t, size_t n, const bool *names, int family,
			 pid_t *pid);

#endif
