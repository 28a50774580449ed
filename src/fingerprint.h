/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SMTP software fingerprints: a loader for the signature data file
 * (data/fingerprints.conf, installed to ${datadir}/portlock) and a matcher.
 * No signature is compiled in. The file has one signature per line:
 *
 *   SOFTWARE | KIND | CONFIDENCE | PATTERN
 *
 * KIND is one of
 *   banner     POSIX extended regex (case-insensitive) over the greeting text
 *   ehlo-text  regex over the text of the EHLO reply (lines joined by '\n')
 *   ehlo       the EHLO keywords in the order the server sends them; a
 *              keyword ending in '?' is optional (STARTTLS? AUTH?)
 *   codes      the 15 final reply codes of the behavioural tests, '-' for
 *              no reply, '*' for "any"
 *   reply N    regex over the reply text of behavioural test N (0..14)
 * CONFIDENCE is 1..100. '#' starts a comment line. Matching runs on text
 * already reduced to printable ASCII, never on raw network bytes.
 */
#ifndef PORTLOCK_FINGERPRINT_H
#define PORTLOCK_FINGERPRINT_H

#include <stdbool.h>

#include <stddef.h>

#include "probe_smtp.h"

struct diag;

enum fp_kind { FP_BANNER, FP_EHLO_TEXT, FP_EHLO, FP_CODES, FP_REPLY, FP_KIND_MAX };

struct fp_sig;

struct fp_db {
	struct fp_sig *sigs;
	size_t n, cap;
	char *path;
};

/*
 * Load path into db (initialized here). Every bad line is reported to d as
 * a DIAG_CONFIG error with file:line; returns 0, -ENOENT when the file does
 * not exist (nothing recorded), or another negative errno.
 */
int fingerprint_db_load(struct fp_db *db, const char *path, struct diag *d);
void fingerprint_db_fini(struct fp_db *db);

/*
 * The signature file to use: opt (a --fingerprints argument) or
 * $PORTLOCK_FINGERPRINTS when given (*explicit_path = true), else the
 * installed data file, else <build dir>/../data (running from a build tree).
 * Returns a malloc'ed path, or NULL when none is readable.
 */
char *fingerprint_path(const char *opt, bool *explicit_path);

struct fp_input {
	const char *banner;		/* greeting text, or NULL */
	const char *ehlo_text;		/* EHLO reply text, or NULL */
	const char *keywords;		/* EHLO keywords, space separated, or NULL */
	const int *codes;		/* PROBE_SMTP_NTESTS codes (-1 = not run), or NULL */
	const char *const *replies;	/* PROBE_SMTP_NTESTS reply texts, or NULL */
};

/*
 * When a software is named. Reply codes and EHLO keyword sets are shared by
 * many MTAs (aiosmtpd and Python's smtpd answer the 15 tests alike; Exim and
 * chasquid differ in 3 codes), so they add to a score but never name a
 * software alone. A software is named only when
 *   - a text signature (banner, ehlo-text or reply N) of confidence
 *     >= FP_IDENTITY_MIN matched: the evidence that bears its identity;
 *   - its score is >= FP_NAME_MIN;
 *   - every other software with identity-bearing matches scores at least
 *     FP_MARGIN less, and no software with only generic matches scores more.
 * Otherwise the software is unknown, and the best score is only the closest
 * match. Text signatures that several products share (Sendmail's and
 * OpenSMTPD's "pleased to meet you") carry a confidence below
 * FP_IDENTITY_MIN in the data file.
 */
#define FP_IDENTITY_MIN 60
#define FP_NAME_MIN 70
#define FP_MARGIN 20

struct fp_guess {
	char software[64];		/* the named software, "" when unknown */
	int confidence;			/* its score; 0 when unknown */
	char basis[128];		/* e.g. "banner+ehlo+codes" (also for closest) */
	char closest[64];		/* when unknown: the best match, "" for none */
	int closest_confidence;		/* its score, 0 when nothing matched */
	char why[128];			/* when unknown and something matched: why not named */
};

/*
 * Best guess for in. Each matching signature contributes its confidence c
 * (scaled for partial behavioural matches); one software's score is
 * 1 - prod(1 - c). So behaviour can outvote an altered banner. Then the rules
 * above decide between a name and "unknown (closest ...)".
 */
void fingerprint_match(const struct fp_db *db, const struct fp_input *in, struct fp_guess *g);

#endif
