// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TLS for the probe through OpenSSL. The only file that includes OpenSSL
 * headers. Runs in the probe child.
 */
#include "probe_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "probe.h"
#include "util.h"

static SSL_CTX *ctx;

int probe_tls_init(void)
{
	if (ctx)
		return 0;
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CONFIG, NULL);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	/* identify, don't judge: old servers must still be probed */
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_security_level(ctx, 0);
	return 0;
}

void probe_tls_fini(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

SSL *probe_tls_new(int fd, const char *host)
{
	unsigned char tmp[16];
	SSL *s;

	if (!ctx)
		return NULL;
	s = SSL_new(ctx);
	if (!s)
		return NULL;
	if (!SSL_set_fd(s, fd)) {
		SSL_free(s);
		return NULL;
	}
	/* SNI only for names, never for address literals (RFC 6066) */
	if (host && inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1)
		SSL_set_tlsext_host_name(s, host);
	SSL_set_connect_state(s);
	return s;
}

void probe_tls_free(SSL *s)
{
	SSL_free(s);
}

static int map_err(SSL *s, int ret, int *want_write)
{
	switch (SSL_get_error(s, ret)) {
	case SSL_ERROR_WANT_READ:
		*want_write = 0;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want_write = 1;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return ret == 0 ? 0 : -EPROTO;
	default:
		ERR_clear_error();
		return -EPROTO;
	}
}

int probe_tls_handshake(SSL *s, int *want_write)
{
	int r = SSL_do_handshake(s);

	if (r == 1)
		return 1;
	r = map_err(s, r, want_write);
	return r == 0 ? -EPROTO : r;
}

ssize_t probe_tls_read(SSL *s, void *buf, size_t n, int *want_write)
{
	int r = SSL_read(s, buf, n > INT32_MAX ? INT32_MAX : (int)n);

	return r > 0 ? r : map_err(s, r, want_write);
}

ssize_t probe_tls_write(SSL *s, const void *buf, size_t n, int *want_write)
{
	int r = SSL_write(s, buf, n > INT32_MAX ? INT32_MAX : (int)n);

	if (r > 0)
		return r;
	r = map_err(s, r, want_write);
	return r == 0 ? -EPIPE : r;
}

void probe_tls_facts(SSL *s, struct probe_result *r)
{
	X509 *cert = SSL_get1_peer_certificate(s);
	const char *v = SSL_get_version(s), *c = SSL_get_cipher_name(s);

	r->tls = 1;
	util_escape(v, strlen(v), r->tls_version, sizeof(r->tls_version));
	if (c)
		util_escape(c, strlen(c), r->tls_cipher, sizeof(r->tls_cipher));
	if (cert) {
		char subj[512];
		const ASN1_TIME *na = X509_get0_notAfter(cert);
		struct tm tm;

		/* the subject comes from the peer: escape it like any peer byte */
		X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
		util_escape(subj, strlen(subj), r->tls_subject, sizeof(r->tls_subject));
		if (na && ASN1_TIME_to_tm(na, &tm) == 1)
			strftime(r->tls_expiry, sizeof(r->tls_expiry), "%Y-%m-%dT%H:%M:%SZ", &tm);
		X509_free(cert);
	}
}
