/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure SMTP reply parsers for the probe: the greeting, the EHLO reply and
 * the reply codes of the behavioural fingerprint tests. No I/O, no
 * allocation; every function reads at most len bytes of untrusted input and
 * writes only into the caller's fixed-size structures.
 *
 * A reply (RFC 5321 4.2) is one or more lines "DDD-text" ending with a line
 * "DDD text" or "DDD", every line with the same code, ended by CRLF (a bare
 * LF is accepted: real servers send it).
 */
#ifndef PORTLOCK_PROBE_SMTP_H
#define PORTLOCK_PROBE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_SMTP_LINE_MAX 2048	/* longer than RFC 5321's 512: tolerant, still bounded */
#define PROBE_SMTP_LINES_MAX 128	/* lines in one reply */

struct probe_smtp_reply {
	int code;		/* the reply code, 200..599 */
	size_t nlines;
	size_t len;		/* bytes of input the reply used, final line ending included */
};

/*
 * Parse one reply at the start of buf. Returns 1 when a complete reply was
 * found (r filled), 0 when more bytes are needed, -EBADMSG when the bytes
 * cannot be an SMTP reply (bad code, mixed codes, NUL, too long line or too
 * many lines). r may be touched even when the return is not 1.
 */
int probe_smtp_reply_parse(const void *buf, size_t len, struct probe_smtp_reply *r);

/* Flags for the EHLO capabilities the probe reports. */
enum probe_smtp_cap {
	PROBE_SMTP_CAP_STARTTLS = 1u << 0,
	PROBE_SMTP_CAP_AUTH = 1u << 1,
	PROBE_SMTP_CAP_SIZE = 1u << 2,
	PROBE_SMTP_CAP_PIPELINING = 1u << 3,
	PROBE_SMTP_CAP_8BITMIME = 1u << 4,
	PROBE_SMTP_CAP_DSN = 1u << 5,
	PROBE_SMTP_CAP_ENHANCEDSTATUSCODES = 1u << 6,
	PROBE_SMTP_CAP_SMTPUTF8 = 1u << 7,
	PROBE_SMTP_CAP_CHUNKING = 1u << 8,
	PROBE_SMTP_CAP_VRFY = 1u << 9,
	PROBE_SMTP_CAP_ETRN = 1u << 10,
	PROBE_SMTP_CAP_HELP = 1u << 11,
	PROBE_SMTP_CAP_BINARYMIME = 1u << 12,
	PROBE_SMTP_CAP_PRDR = 1u << 13,
	PROBE_SMTP_CAP_REQUIRETLS = 1u << 14,
	PROBE_SMTP_CAP_XCLIENT = 1u << 15,
};

/* Name of a single capability flag ("STARTTLS"), NULL for unknown bits. */
const char *probe_smtp_cap_name(uint32_t flag);

struct probe_smtp_caps {
	uint32_t flags;			/* enum probe_smtp_cap */
	uint64_t size;			/* SIZE parameter, 0 when absent or none given */
	char auth[128];			/* AUTH mechanisms, space separated, printable ASCII */
	char keywords[512];		/* every keyword in the order sent, upper case, space separated */
	char first_line[256];		/* text of the first line (domain and greeting), escaped */
};

/*
 * Parse a complete EHLO reply (as found by probe_smtp_reply_parse). Returns
 * 0 when it is a 250 reply (caps filled), -ENOMSG for any other code,
 * -EBADMSG when it is not a well-formed reply. Keywords that are not
 * RFC 5321 ehlo-keywords are skipped; output strings are always
 * NUL-terminated and contain only printable ASCII.
 */
int probe_smtp_ehlo_parse(const void *buf, size_t len, struct probe_smtp_caps *c);

/*
 * Copy the text of a reply (codes and separators removed, lines joined with
 * '\n') into out as printable ASCII: other bytes become '?'. For the
 * fingerprint regexes, which must never see raw network bytes.
 */
void probe_smtp_reply_text(const void *buf, size_t len, char *out, size_t outmax);

/* True when a greeting text names FTP and not SMTP (e.g. "220 (vsFTPd 3.0.3)"). */
bool probe_smtp_text_looks_ftp(const char *text);

/*
 * The behavioural fingerprint: PROBE_SMTP_NTESTS tests in the spirit of
 * smtpscan, each run on a fresh connection after the greeting. A test is up
 * to 3 command lines (without CRLF); the fingerprint is the final reply
 * code of each test (0 when the server closed or did not answer).
 */
#define PROBE_SMTP_NTESTS 15
#define PROBE_SMTP_TEST_CMDS 3
struct probe_smtp_test {
	const char *name;
	const char *cmds[PROBE_SMTP_TEST_CMDS];	/* NULL-terminated when shorter */
};
extern const struct probe_smtp_test probe_smtp_tests[PROBE_SMTP_NTESTS];

#endif
