/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SSH lockout guard: would a policy cut an established SSH session of
 * this host (most likely the operator's own)?
 *
 * The sessions come from the kernel, not from the environment (SSH_CONNECTION
 * is dropped by `su -`, `runuser -l`, sudo's env_reset, cron, Ansible's
 * become...): one sock_diag dump of the TCP listeners and established TCP
 * connections of the caller's network namespace (listen.h), and a /proc walk
 * that looks only at processes named sshd (sshguard_is_sshd()). A session
 * is an established connection
 *   - owned by an sshd process (socket inode -> /proc/<pid>/fd), or
 *   - whose local port is one an sshd process listens on
 * (the second catches sessions whose owner could not be seen, e.g. an sshd
 * renamed by a wrapper that still forks from the listener). When the fd table
 * of an sshd process cannot be read (not root), port 22 counts as an sshd
 * port too. SSH_CONNECTION, when set, adds its session to the list (it may
 * live in another namespace, e.g. `ip netns exec`); it never replaces the
 * kernel's view.
 *
 * A session is cut when the policy manages its local port (TCP) and the
 * service's allowlist does not hold its client address. Not cut: loopback
 * clients when the policy exempts loopback, and everything when the policy
 * has no input hook (local sessions never pass the forward hook).
 */
#ifndef PORTLOCK_SSHGUARD_H
#define PORTLOCK_SSHGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

struct diag;
struct listen_set;
struct policy;

struct sshguard_session {
	enum cidr_family family;	/* the client's; a v4-mapped peer counts as IPv4 */
	u128 client;			/* client address, host order */
	uint16_t client_port;
	uint16_t port;			/* local (server) port */
	bool from_env;			/* from SSH_CONNECTION only, not seen in the kernel */
	uint32_t inode;			/* socket inode (0: from SSH_CONNECTION only) */
};

struct sshguard_list {
	struct sshguard_session *v;
	size_t n, cap;
};

void sshguard_list_init(struct sshguard_list *l);
void sshguard_list_fini(struct sshguard_list *l);

/* True for the process names of OpenSSH's server: "sshd", "sshd-session", "sshd-auth", ... */
bool sshguard_is_sshd(const char *comm);

/*
 * The SSH sessions among the sockets of s (TCP listeners and established
 * connections, owners filled at least for sshd processes), appended to
 * *out. Pure. Returns 0 or -ENOMEM.
 */
int sshguard_from_sockets(const struct listen_set *s, struct sshguard_list *out);

/*
 * Add the session of an SSH_CONNECTION value ("client cport server sport")
 * unless *l already holds it. A malformed value is ignored. Pure.
 * Returns 1 when added, 0 when not, -ENOMEM.
 */
int sshguard_add_env(struct sshguard_list *l, const char *ssh_connection);

/*
 * The sessions of this network namespace (sock_diag and /proc, see above)
 * plus SSH_CONNECTION's. Returns 0, or -errno recorded in d (the kernel
 * could not list the sockets); *out then holds SSH_CONNECTION's session at
 * most.
 */
int sshguard_sessions(struct sshguard_list *out, struct diag *d);

/*
 * How many sessions of l the policy p would cut; when any, msg says which:
 * "your SSH session from X to port N would be cut: service 'S' (file:line)
 * does not allow X", or for several "N SSH sessions would be cut: from X to
 * port N: service 'S' (file:line) does not allow X; ..." with the first few
 * and how many more. Pure.
 */
size_t sshguard_cut(const struct policy *p, const struct sshguard_list *l, char *msg,
		    size_t len);

/*
 * The guard as apply and revert use it: true when p would cut an SSH session
 * of this host (msg says which), or when the sessions cannot be listed (msg
 * says why: the guard fails closed; --force overrides).
 */
bool sshguard_would_cut(const struct policy *p, const char *cut_text, char *msg, size_t len,
			char **cut_now);

/*
 * Sessions cut on purpose. The server side of a TCP connection whose
 * packets are dropped stays ESTABLISHED until its keepalive gives up
 * (hours): once an apply over the guard (--force, --boot) has cut a session,
 * later runs must not keep counting it as one "the change would cut". So the
 * sessions the applied policy cuts are kept in STATE_DIR/ssh-cut, a line
 * each: "INODE FAMILY CLIENT CLIENT_PORT PORT" (FAMILY 4 or 6, CLIENT in
 * hex); sshguard_would_cut() leaves out the sessions listed there (same
 * socket inode and the same connection), and its cut_now is the new text
 * of the file (every live session p cuts, malloc'ed, "" for none), which
 * the caller writes after a successful apply. A session the policy lets
 * through again drops out of the file, so a later policy that cuts it is
 * refused again. Sessions from SSH_CONNECTION alone are never listed.
 */
char *sshguard_cut_format(const struct policy *p, const struct sshguard_list *l);
/* Drop from l the sessions listed in cut_text (NULL: none); returns how many. Pure. */
size_t sshguard_forget(struct sshguard_list *l, const char *cut_text);

#endif
