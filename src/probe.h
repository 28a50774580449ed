/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Protocol probe: what really answers on HOST:PORT (SMTP? SMPP? which
 * software?). Used by `portlock probe` and meant for `portlock audit`.
 *
 * Privilege separation. probe_run() forks a child that does all network
 * work: it drops every capability, sets no_new_privs, becomes nobody when
 * run as root, lowers its rlimits and (in non-sanitizer builds) installs a
 * seccomp allow-list before it reads a single peer byte. The child escapes
 * every peer byte it reports and writes the results back over a pipe in
 * the record format below; the parent decodes that with strict bounds
 * checks, rejects any string that is not printable ASCII, and never parses
 * peer bytes itself.
 *
 *   stream  := record* end
 *   record  := "PLPR" u32 index u32 n  field*   (n = bytes of the fields, <= 16 KiB)
 *   field   := u8 id  u16 len  byte[len]      (strings without NUL; integers u32/u64;
 *                                              the address list: u8 count, then per
 *                                              address u8 n, byte[n], u8 outcome,
 *                                              u8 service, u32 start_ms)
 *   end     := "PLPR" u32 0xffffffff u32 0
 *   (all integers big-endian)
 *
 * Engine (in the child). Non-blocking connects under one epoll, at most
 * opts->concurrency connections at a time, a connect timeout, a per-phase
 * read timeout (a phase must complete in time, so a byte-a-second drip ends
 * as a timeout) and a global deadline. Every read goes into a fixed
 * PROBE_BUF_MAX buffer: a reply that does not fit ends as "oversized".
 *
 * Identification per target:
 *   1. connect (over implicit TLS on 465/3550 or with opts->tls);
 *   2. wait for an SMTP greeting; 220 (multi-line too) or 554 (refusal) then
 *      EHLO (HELO when EHLO is refused): a well-formed 250 makes it SMTP;
 *      capabilities parsed; STARTTLS negotiated with opts->starttls; QUIT;
 *   3. when the port stays silent for PROBE_SMPP_DELAY_MS, a second
 *      connection sends enquire_link with a random sequence number: a
 *      well-formed 16-octet enquire_link_resp or generic_nack echoing it
 *      makes it SMPP (opts->smpp_bind adds a bind_transmitter with dummy
 *      credentials, on a fresh connection when the server closed on the
 *      enquire_link as SMPP v3.4 allows). The first connection keeps waiting for a delayed
 *      greeting (Sendmail greet_pause);
 *   4. with opts->fingerprint, PROBE_SMTP_NTESTS extra connections (three at
 *      a time per target) run the
 *      behavioural tests; signatures from the fingerprint data file give the
 *      software guess.
 *
 * Host names (resolved in the child, before the sandbox closes): every
 * address getaddrinfo() gives (AF_UNSPEC unless opts->source fixes the
 * family; RFC 6724 order), at most PROBE_ADDRS_MAX, each probed as above,
 * Happy Eyeballs style (RFC 8305): the first address starts, the next one
 * PROBE_ATTEMPT_DELAY_MS after the previous started or at once when it
 * failed; the first address identified as SMTP or SMPP wins and the others
 * are cancelled. When none is identified, the most telling result is
 * reported (unknown, then timeout, filtered, closed; the earliest on a tie).
 * A name without an address is the result PROBE_SVC_UNRESOLVED.
 */
#ifndef PORTLOCK_PROBE_H
#define PORTLOCK_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe_smtp.h"

struct diag;
struct fp_db;

#define PROBE_HOST_MAX 256
#define PROBE_BUF_MAX 8192		/* bytes read per connection and phase */
#define PROBE_SMPP_DELAY_MS 300		/* silence before the SMPP connection starts */
#define PROBE_DEFAULT_CONCURRENCY 64
#define PROBE_DEFAULT_CONNECT_MS 3000
#define PROBE_DEFAULT_READ_MS 6000	/* nmap's wait for a delayed greeting */
#define PROBE_DEFAULT_DEADLINE_MS 60000
#define PROBE_ADDRS_MAX 16		/* addresses of one name tried, in getaddrinfo order */
#define PROBE_ATTEMPT_DELAY_MS 250	/* RFC 8305 "Connection Attempt Delay" */

enum probe_service {
	PROBE_SVC_UNKNOWN,	/* answered, but neither SMTP nor SMPP */
	PROBE_SVC_SMTP,
	PROBE_SVC_SMTPS,	/* SMTP inside implicit TLS */
	PROBE_SVC_SMPP,
	PROBE_SVC_SMPP_TLS,	/* SMPP inside implicit TLS */
	PROBE_SVC_CLOSED,	/* connection refused */
	PROBE_SVC_FILTERED,	/* no answer to the SYN, or ICMP unreachable */
	PROBE_SVC_TIMEOUT,	/* connected, nothing identifiable in time */
	PROBE_SVC_UNRESOLVED,	/* the host name has no address: nothing probed */
	PROBE_SVC_MAX,
};

/* What one address of a target did (a name may have several, see below). */
enum probe_outcome {
	PROBE_OUT_NOT_TRIED,	/* never started: another address answered first */
	PROBE_OUT_ANSWERED,	/* identified (smtp, smtps, smpp, smpp-tls) */
	PROBE_OUT_UNIDENTIFIED,	/* connected, answered something else (unknown) */
	PROBE_OUT_SILENT,	/* connected, nothing identifiable in time */
	PROBE_OUT_REFUSED,	/* connection refused */
	PROBE_OUT_TIMEOUT,	/* no answer to the connection attempt */
	PROBE_OUT_UNREACHABLE,	/* ICMP unreachable, no route, local firewall */
	PROBE_OUT_ERROR,	/* another local error (socket, bind) */
	PROBE_OUT_CANCELLED,	/* started, abandoned when another address answered */
	PROBE_OUT_MAX,
};

/* "answered", "not tried", ... (the names used in output). */
const char *probe_outcome_name(enum probe_outcome o);

/* "smtp", "smpp-tls", ... (the names used in output and --expect). */
const char *probe_service_name(enum probe_service s);
/* Parse a name as above; returns the service or -EINVAL. */
int probe_service_parse(const char *name);

struct probe_target {
	char host[PROBE_HOST_MAX];	/* name or address, without brackets */
	uint16_t port;
	char spec[PROBE_HOST_MAX + 16];	/* as the user wrote it */
};

/*
 * Parse "host:port", "[v6addr]:port" or "v4addr:port". Returns 0, -ERANGE
 * for a port that is a number outside 1 to 65535, or -EINVAL (missing or bad
 * port, empty host, unbracketed IPv6, too long).
 */
int probe_target_parse(const char *s, struct probe_target *t);

struct probe_opts {
	unsigned concurrency;		/* connections at a time; 0 = default */
	unsigned connect_ms, read_ms, deadline_ms;	/* 0 = defaults */
	bool tls;			/* implicit TLS on every target (else: 465 and 3550) */
	bool starttls;			/* negotiate STARTTLS when offered */
	bool fingerprint;		/* behavioural SMTP tests (extra connections) */
	bool smpp_bind;			/* bind attempt with dummy credentials */
	const char *source;		/* local address to probe from, or NULL */
	const struct fp_db *fp;		/* signatures, or NULL for no software guess */
	bool no_sandbox;		/* run in-process (unit tests, fuzzing); not for peers */
};

#define PROBE_EVIDENCE_MAX 512
#define PROBE_NOTE_MAX 256

/* One address of a target and what it did. */
struct probe_addr {
	char addr[64];			/* numeric */
	uint32_t outcome;		/* enum probe_outcome */
	uint32_t service;		/* what this address alone showed; meaningful when
					   it was tried and not cancelled */
	uint32_t start_ms;		/* when it was tried, since the target's first try */
};

/* One result. Every string is NUL-terminated printable ASCII (escaped). */
struct probe_result {
	char target[PROBE_HOST_MAX + 16];
	char addr[64];			/* address reported, "" when unresolved */
	uint32_t port;
	uint32_t service;		/* enum probe_service */
	char evidence[PROBE_EVIDENCE_MAX];	/* escaped first bytes/lines */
	char note[PROBE_NOTE_MAX];	/* why (e.g. "oversized reply", "EHLO answered with garbage") */
	/* TLS (implicit or STARTTLS) */
	uint32_t tls;			/* 1 when a TLS session was made */
	char tls_version[32], tls_cipher[80], tls_subject[256], tls_expiry[32];
	/* SMTP */
	uint32_t smtp_code;		/* greeting code (220, 554), 0 when none */
	uint32_t smtp_caps;		/* enum probe_smtp_cap */
	uint64_t smtp_size;
	char smtp_auth[128];
	char smtp_keywords[512];	/* EHLO keywords, in order */
	uint32_t starttls_done;
	char software[64];		/* guess, "" for none */
	uint32_t confidence;		/* 0..100 */
	char software_basis[128];	/* which signatures matched (of software or closest) */
	char closest[64];		/* software "" (unknown): the best match, "" for none */
	uint32_t closest_confidence;	/* 0..100 */
	char fp_codes[128];		/* behavioural fingerprint, "-" for no reply */
	/* SMPP */
	uint32_t smpp_cmd, smpp_status;
	uint32_t smpp_bind_done, smpp_bind_cmd, smpp_bind_status;
	/* timing, milliseconds since the probe of this target began */
	uint32_t connect_ms, first_byte_ms, total_ms;
	uint32_t nconns;		/* over every address */
	/* every address of the target, in the order tried */
	uint32_t naddrs;
	struct probe_addr addrs[PROBE_ADDRS_MAX];
};

/*
 * Probe n targets; out[i] gets the result for t[i] (out must hold n).
 * Unreachable or odd targets are results, not errors, and so is a name
 * without an address (PROBE_SVC_UNRESOLVED; the caller decides). Returns 0, or a
 * negative errno with a DIAG_INTERNAL record in d when the probe itself
 * failed (fork, pipe, a child that died or sent a malformed stream).
 */
int probe_run(const struct probe_target *t, size_t n, const struct probe_opts *o,
	      struct probe_result *out, struct diag *d);

/*
 * Encode one result as a record (the format above) into buf; returns its
 * length or -ENOSPC. Decode a stream of records into out[0..n); returns 0
 * or -EBADMSG with nothing trusted. Exposed for unit tests and fuzzing.
 */
int probe_result_encode(uint32_t index, const struct probe_result *r, uint8_t *buf, size_t max);
int probe_results_decode(const uint8_t *buf, size_t len, struct probe_result *out, size_t n,
			 bool *seen);

#endif
