/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe's privilege drop (internal to probe*.c). Two profiles share one
 * drop: every capability (bounding set included), nobody (65534) when root,
 * no fork, no core, no_new_privs, then a seccomp allow-list of its own:
 *   PROBE_SB_ENGINE   the prober: sockets it already may create, epoll, no
 *                     open(2) at all;
 *   PROBE_SB_RESOLVER the name resolver (getaddrinfo): the engine's set plus
 *                     openat(2) read-only (hosts, resolv.conf, nsswitch.conf,
 *                     NSS modules), ioctl(FIONREAD) and what glibc's stub
 *                     resolver and RFC 6724 sorting use.
 * Anything else fails with EPERM. The seccomp filter is not installed under
 * sanitizers, whose runtimes need more.
 */
#ifndef PORTLOCK_PROBE_SANDBOX_H
#define PORTLOCK_PROBE_SANDBOX_H

enum probe_sb_profile { PROBE_SB_ENGINE, PROBE_SB_RESOLVER };

/* Drop privileges; nofile is the RLIMIT_NOFILE to set. Returns 0 or -errno. */
int probe_sandbox(unsigned nofile, enum probe_sb_profile profile);

/* Keep stdio and fd as fd 3, close everything else; returns 3 or -errno. */
int probe_keep_only(int fd);

#endif
