// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SMTP reply parsing for the probe. Pure functions over untrusted bytes:
 * bounded by the length given, no allocation, no I/O. The probe engine
 * (probe_dialog.c) feeds them what it read; the fuzz target fuzz_smtp.c feeds them
 * anything.
 */
#include "probe_smtp.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * The fingerprint tests (smtpscan's set, Nessus plugin 11421). The domain is
 * in .invalid (RFC 2606) so no test can ever cause mail to be delivered.
 */
#define FP_HELO "HELO probe.portlock.invalid"
const struct probe_smtp_test probe_smtp_tests[PROBE_SMTP_NTESTS] = {
	{ "mail-no-helo", { "MAIL FROM:<probe@portlock.invalid>" } },
	{ "helo-bare", { "HELO" } },
	{ "mail-no-colon", { FP_HELO, "MAIL FROM test" } },
	{ "mail-null", { FP_HELO, "MAIL FROM: <>" } },
	{ "mail-unterminated", { FP_HELO, "MAIL FROM: <probe@portlock.invalid" } },
	{ "mail-bad-domain", { FP_HELO, "MAIL FROM:<probe@[300.1.2.3]>" } },
	{ "rcpt-bare", { FP_HELO, "MAIL FROM:<>", "RCPT TO: test" } },
	{ "help", { FP_HELO, "HELP" } },
	{ "vrfy", { FP_HELO, "VRFY root" } },
	{ "expn", { FP_HELO, "EXPN root" } },
	{ "turn", { FP_HELO, "TURN" } },
	{ "soml", { FP_HELO, "SOML FROM:<probe@portlock.invalid>" } },
	{ "saml", { FP_HELO, "SAML FROM:<probe@portlock.invalid>" } },
	{ "noop", { FP_HELO, "NOOP" } },
	{ "ehlo", { "EHLO probe.portlock.invalid" } },
};

/* Find the end of the line starting at p: returns the index of '\n' or -1. */
static long line_end(const unsigned char *p, size_t len)
{
	const void *nl = memchr(p, '\n', len);

	return nl ? (long)((const unsigned char *)nl - p) : -1;
}

static int code_of(const unsigned char *p)
{
	if (p[0] < '2' || p[0] > '5' || !isdigit(p[1]) || !isdigit(p[2]))
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

int probe_smtp_reply_parse(const void *buf, size_t len, struct probe_smtp_reply *r)
{
	const unsigned char *p = buf;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	while (off < len) {
		size_t avail = len - off, ll;
		long e = line_end(p + off, avail < PROBE_SMTP_LINE_MAX + 1 ? avail
									 : PROBE_SMTP_LINE_MAX + 1);
		int code;

		/* check what we have of the line even before it is complete */
		if (avail >= 1 && (p[off] < '2' || p[off] > '5'))
			return -EBADMSG;
		if (avail >= 2 && !isdigit(p[off + 1]))
			return -EBADMSG;
		if (avail >= 3 && !isdigit(p[off + 2]))
			return -EBADMSG;
		if (avail >= 4 && p[off + 3] != ' ' && p[off + 3] != '-' && p[off + 3] != '\r' &&
		    p[off + 3] != '\n')
			return -EBADMSG;
		if (memchr(p + off, '\0', e < 0 ? (avail < PROBE_SMTP_LINE_MAX ? avail
								  : PROBE_SMTP_LINE_MAX)
						  : (size_t)e))
			return -EBADMSG;
		if (e < 0)
			return avail > PROBE_SMTP_LINE_MAX ? -EBADMSG : 0;
		ll = (size_t)e;
		if (ll < 3 || (ll == 4 && p[off + 3] != '\r'))
			return -EBADMSG;
		code = code_of(p + off);
		if (code < 0 || (r->nlines && code != r->code))
			return -EBADMSG;
		r->code = code;
		if (++r->nlines > PROBE_SMTP_LINES_MAX)
			return -EBADMSG;
		if (ll == 3 || p[off + 3] != '-') {
			r->len = off + ll + 1;
			return 1;
		}
		off += ll + 1;
	}
	return 0;
}

static const char *const cap_names[] = {
	"STARTTLS", "AUTH", "SIZE", "PIPELINING", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES",
	"SMTPUTF8", "CHUNKING", "VRFY", "ETRN", "HELP", "BINARYMIME", "PRDR", "REQUIRETLS",
	"XCLIENT",
};

const char *probe_smtp_cap_name(uint32_t flag)
{
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (flag == 1u << i)
			return cap_names[i];
	return NULL;
}

/* Append s (n bytes, already printable) to dst with a space separator, if it fits whole. */
static void append_word(char *dst, size_t max, const char *s, size_t n, bool dedupe)
{
	size_t l = strlen(dst);

	if (l + (l ? 1 : 0) + n + 1 > max)
		return;
	if (dedupe) {
		for (const char *p = dst; *p;) {
			size_t wl = strcspn(p, " ");

			if (wl == n && !memcmp(p, s, n))
				return;
			p += wl + (p[wl] == ' ');
		}
	}
	if (l)
		dst[l++] = ' ';
	memcpy(dst + l, s, n);
	dst[l + n] = '\0';
}

static bool printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

int probe_smtp_ehlo_parse(const void *buf, size_t len, struct probe_smtp_caps *c)
{
	const unsigned char *p = buf;
	struct probe_smtp_reply r;
	size_t off = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = probe_smtp_reply_parse(buf, len, &r);
	if (rc != 1)
		return -EBADMSG;
	if (r.code != 250)
		return -ENOMSG;
	for (size_t line = 0; line < r.nlines; line++) {
		size_t ll = (size_t)line_end(p + off, r.len - off), tl;
		const unsigned char *t = p + off + 4;
		char kw[64];
		size_t kl = 0;

		tl = ll > 4 ? ll - 4 : 0;
		if (tl && t[tl - 1] == '\r')
			tl--;
		if (ll <= 4) {
			/* "250" alone: no text */
		} else if (line == 0) {
			util_escape(t, tl, c->first_line, sizeof(c->first_line));
		} else {
			while (kl < tl && kl < sizeof(kw) - 1 &&
			       (isalnum(t[kl]) || (kl && t[kl] == '-'))) {
				kw[kl] = (char)toupper(t[kl]);
				kl++;
			}
			kw[kl] = '\0';
			/* a keyword ends at the text end, a space or (old AUTH=) '=' */
			if (kl && (kl == tl || t[kl] == ' ' || t[kl] == '=')) {
				const unsigned char *param = t + kl + (kl < tl);
				size_t pl = kl < tl ? tl - kl - 1 : 0;

				append_word(c->keywords, sizeof(c->keywords), kw, kl, false);
				for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
					if (!strcmp(kw, cap_names[i]))
						c->flags |= 1u << i;
				if (!strcmp(kw, "SIZE") && pl) {
					char num[24];
					size_t nl = 0;

					while (nl < pl && nl < sizeof(num) - 1 && isdigit(param[nl])) {
						num[nl] = (char)param[nl];
						nl++;
					}
					num[nl] = '\0';
					if (nl)
						c->size = strtoull(num, NULL, 10);
				}
				if (!strcmp(kw, "AUTH")) {
					size_t i = 0;

					while (i < pl) {
						size_t s = i;

						while (i < pl && param[i] != ' ')
							i++;
						if (i > s) {
							bool ok = true;

							for (size_t j = s; j < i; j++)
								ok = ok && printable(param[j]) &&
								     param[j] != '\\' && param[j] != '\'' &&
								     param[j] != '"';
							if (ok)
								append_word(c->auth, sizeof(c->auth),
									    (const char *)param + s, i - s, true);
						}
						i++;
					}
				}
			}
		}
		off += ll + 1;
	}
	return 0;
}

void probe_smtp_reply_text(const void *buf, size_t len, char *out, size_t outmax)
{
	const unsigned char *p = buf;
	size_t o = 0, off = 0;

	if (!outmax)
		return;
	while (off < len) {
		long e = line_end(p + off, len - off);
		size_t ll = e < 0 ? len - off : (size_t)e, s = off + (ll >= 4 ? 4 : ll);
		size_t end = off + ll;

		if (end > s && p[end - 1] == '\r')
			end--;
		if (o && o + 1 < outmax)
			out[o++] = '\n';
		for (size_t i = s; i < end && o + 1 < outmax; i++)
			out[o++] = printable(p[i]) ? (char)p[i] : '?';
		off += ll + 1;
	}
	out[o] = '\0';
}

bool probe_smtp_text_looks_ftp(const char *text)
{
	bool ftp = false, smtp = false;

	for (const char *s = text; *s; s++) {
		if (!strncasecmp(s, "smtp", 4))
			smtp = true;
		else if (!strncasecmp(s, "ftp", 3))
			ftp = true;
	}
	return ftp && !smtp;
}
