/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OpenSSL glue for the probe: one client context (created before the
 * sandbox closes, so OpenSSL loads its config while it still can),
 * non-blocking handshakes, reads and writes, and the facts we report. The
 * probe identifies services; it does not trust them, so certificates are
 * not verified (their subject and expiry are reported instead).
 */
#ifndef PORTLOCK_PROBE_TLS_H
#define PORTLOCK_PROBE_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct probe_result;
typedef struct ssl_st SSL;

/* Create the shared client context. Returns 0 or -ENOMEM. */
int probe_tls_init(void);
void probe_tls_fini(void);

/* A TLS client on connected socket fd, SNI host when it is a name. NULL on error. */
SSL *probe_tls_new(int fd, const char *host);
void probe_tls_free(SSL *s);

/*
 * Drive the handshake / a read / a write. Return >0 done (bytes for read and
 * write), 0 for EOF (read), -EAGAIN with *want_write telling which event to
 * wait for, -EPROTO on a TLS error.
 */
int probe_tls_handshake(SSL *s, int *want_write);
ssize_t probe_tls_read(SSL *s, void *buf, size_t n, int *want_write);
ssize_t probe_tls_write(SSL *s, const void *buf, size_t n, int *want_write);

/* Fill the TLS fields of r (version, cipher, escaped subject, expiry). */
void probe_tls_facts(SSL *s, struct probe_result *r);

#endif
