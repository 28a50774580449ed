// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fingerprint data file loader and matcher (format in fingerprint.h). The
 * file is local, trusted-but-checked input: every bad line is an error with
 * file:line. Matching is pure and bounded.
 */
#include "fingerprint.h"

#include <unistd.h>

#include <limits.h>

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "util.h"

#define FP_KW_MAX 32

struct fp_sig {
	char software[64];
	enum fp_kind kind;
	int confidence;
	int test;			/* FP_REPLY: which test */
	bool has_re;
	regex_t re;
	char kw[FP_KW_MAX][24];
	bool kw_opt[FP_KW_MAX];
	size_t nkw;
	int codes[PROBE_SMTP_NTESTS];	/* -1 '-', -2 '*' */
	int line;
};

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_kind(const char *s, struct fp_sig *g)
{
	static const char *const names[] = { "banner", "ehlo-text", "ehlo", "codes" };
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			g->kind = (enum fp_kind)i;
			return 0;
		}
	if (!strncmp(s, "reply ", 6)) {
		long t = strtol(s + 6, &end, 10);

		if (end != s + 6 && !*end && t >= 0 && t < PROBE_SMTP_NTESTS) {
			g->kind = FP_REPLY;
			g->test = (int)t;
			return 0;
		}
	}
	return -EINVAL;
}

/* An FP_EHLO pattern: keywords (KW? optional), upper-cased into g. Returns 0 or -EINVAL. */
static int parse_keywords(struct fp_sig *g, char *pat, char *err, size_t errmax)
{
	for (char *save = NULL, *w = strtok_r(pat, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		size_t l = strlen(w);
		bool opt = l > 1 && w[l - 1] == '?';

		if (opt)
			w[--l] = '\0';
		if (g->nkw == FP_KW_MAX || l >= sizeof(g->kw[0])) {
			snprintf(err, errmax, "too many or too long keywords");
			return -EINVAL;
		}
		for (size_t i = 0; i < l; i++)
			w[i] = (char)toupper((unsigned char)w[i]);
		strcpy(g->kw[g->nkw], w);
		g->kw_opt[g->nkw++] = opt;
	}
	return 0;
}

/* An FP_CODES pattern: one reply code per test ("-": none, "*": any) into g. Returns 0 or -EINVAL. */
static int parse_codes(struct fp_sig *g, char *pat, char *err, size_t errmax)
{
	size_t n = 0;
	char *end;

	for (char *save = NULL, *w = strtok_r(pat, " \t:,", &save); w;
	     w = strtok_r(NULL, " \t:,", &save)) {
		long c;

		if (n == PROBE_SMTP_NTESTS) {
			snprintf(err, errmax, "more than %d codes", PROBE_SMTP_NTESTS);
			return -EINVAL;
		}
		if (!strcmp(w, "-")) {
			g->codes[n++] = -1;
			continue;
		}
		if (!strcmp(w, "*")) {
			g->codes[n++] = -2;
			continue;
		}
		c = strtol(w, &end, 10);
		if (*end || c < 200 || c > 599) {
			snprintf(err, errmax, "bad reply code '%.10s'", w);
			return -EINVAL;
		}
		g->codes[n++] = (int)c;
	}
	if (n != PROBE_SMTP_NTESTS) {
		snprintf(err, errmax, "%zu codes, expected %d", n, PROBE_SMTP_NTESTS);
		return -EINVAL;
	}
	return 0;
}

/* g's pattern by its kind: a regex, EHLO keywords or reply codes. Returns 0 or -EINVAL. */
static int parse_pattern(struct fp_sig *g, char *pat, char *err, size_t errmax)
{
	switch (g->kind) {
	case FP_BANNER:
	case FP_EHLO_TEXT:
	case FP_REPLY: {
		int rc = regcomp(&g->re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB | REG_NEWLINE);

		if (rc) {
			char m[128];

			regerror(rc, NULL, m, sizeof(m));
			snprintf(err, errmax, "bad regex '%.60s': %.100s", pat, m);
			return -EINVAL;
		}
		g->has_re = true;
		return 0;
	}
	case FP_EHLO:
		return parse_keywords(g, pat, err, errmax);
	case FP_CODES:
		return parse_codes(g, pat, err, errmax);
	default:
		return -EINVAL;
	}
}

static int parse_line(struct fp_sig *g, char *line, char *err, size_t errmax)
{
	char *f[4], *p = line, *end;
	long conf;

	for (int i = 0; i < 3; i++) {
		char *bar = strchr(p, '|');

		if (!bar) {
			snprintf(err, errmax, "expected 'SOFTWARE | KIND | CONFIDENCE | PATTERN'");
			return -EINVAL;
		}
		*bar = '\0';
		f[i] = trim(p);
		p = bar + 1;
	}
	f[3] = trim(p);
	if (!*f[0] || strlen(f[0]) >= sizeof(g->software)) {
		snprintf(err, errmax, "software name empty or longer than %zu", sizeof(g->software) - 1);
		return -EINVAL;
	}
	for (const char *c = f[0]; *c; c++)
		if (*c < 0x20 || *c >= 0x7f) {
			snprintf(err, errmax, "software name is not printable ASCII");
			return -EINVAL;
		}
	strcpy(g->software, f[0]);
	if (parse_kind(f[1], g) < 0) {
		snprintf(err, errmax, "unknown kind '%.40s'", f[1]);
		return -EINVAL;
	}
	conf = strtol(f[2], &end, 10);
	if (end == f[2] || *end || conf < 1 || conf > 100) {
		snprintf(err, errmax, "confidence '%.20s' is not 1..100", f[2]);
		return -EINVAL;
	}
	g->confidence = (int)conf;
	if (!*f[3]) {
		snprintf(err, errmax, "empty pattern");
		return -EINVAL;
	}
	return parse_pattern(g, f[3], err, errmax);
}

int fingerprint_db_load(struct fp_db *db, const char *path, struct diag *d)
{
	struct srcloc loc = { path, 0 };
	char *line = NULL;
	size_t lcap = 0;
	int rc = 0, bad = 0;
	FILE *f;

	memset(db, 0, sizeof(*db));
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		if (rc != -ENOENT)
			diag_err(d, DIAG_CONFIG, NULL, errno, "cannot read fingerprints '%s'", path);
		return rc;
	}
	db->path = strdup(path);
	while (getline(&line, &lcap, f) > 0) {
		char *s = trim(line), err[256];
		struct fp_sig *g;

		loc.line++;
		if (!*s || *s == '#')
			continue;
		if (util_grow((void **)&db->sigs, &db->cap, db->n + 1, sizeof(*db->sigs)) < 0) {
			rc = -ENOMEM;
			break;
		}
		g = &db->sigs[db->n];
		memset(g, 0, sizeof(*g));
		g->line = loc.line;
		if (parse_line(g, s, err, sizeof(err)) < 0) {
			if (g->has_re)
				regfree(&g->re);
			diag_err(d, DIAG_CONFIG, &loc, 0, "%s", err);
			bad++;
			continue;
		}
		db->n++;
	}
	if (ferror(f) && !rc)
		rc = diag_err(d, DIAG_CONFIG, NULL, EIO, "cannot read fingerprints '%s'", path);
	free(line);
	fclose(f);
	if (!rc && bad)
		rc = -EINVAL;
	if (rc)
		fingerprint_db_fini(db);
	return rc;
}

void fingerprint_db_fini(struct fp_db *db)
{
	for (size_t i = 0; i < db->n; i++)
		if (db->sigs[i].has_re)
			regfree(&db->sigs[i].re);
	free(db->sigs);
	free(db->path);
	memset(db, 0, sizeof(*db));
}

/* Score (0..100) of an ehlo keyword signature against the observed keywords. */
static int match_ehlo(const struct fp_sig *g, const char *keywords)
{
	char obs[FP_KW_MAX][24], buf[512];
	size_t nobs = 0, si = 0, common = 0, required = 0;
	bool ordered = true;

	snprintf(buf, sizeof(buf), "%s", keywords);
	for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && nobs < FP_KW_MAX;
	     w = strtok_r(NULL, " ", &save))
		snprintf(obs[nobs++], sizeof(obs[0]), "%s", w);
	if (!nobs)
		return 0;
	for (size_t i = 0; i < g->nkw; i++)
		required += !g->kw_opt[i];
	/* walk the observed list through the signature in order */
	for (size_t o = 0; o < nobs; o++) {
		size_t k;

		for (k = si; k < g->nkw; k++)
			if (!strcmp(g->kw[k], obs[o]))
				break;
		if (k < g->nkw) {
			common++;
			si = k + 1;
			continue;
		}
		for (k = 0; k < si; k++)
			if (!strcmp(g->kw[k], obs[o])) {
				ordered = false;
				common++;
				break;
			}
	}
	{
		size_t req_seen = 0;

		for (size_t i = 0; i < g->nkw; i++) {
			if (g->kw_opt[i])
				continue;
			for (size_t o = 0; o < nobs; o++)
				if (!strcmp(g->kw[i], obs[o])) {
					req_seen++;
					break;
				}
		}
		if (ordered && common == nobs && req_seen == required)
			return g->confidence;
	}
	/* partial: the share of observed keywords in the signature, halved */
	if (nobs < 3 || common * 10 < nobs * 8)
		return 0;
	return (int)((size_t)g->confidence * common / nobs / (ordered ? 2 : 4));
}

static int match_codes(const struct fp_sig *g, const int *codes, int *differ)
{
	int tested = 0, diff = 0;

	for (int i = 0; i < PROBE_SMTP_NTESTS; i++) {
		int want = g->codes[i], got = codes[i];

		if (got == -1 || want == -2)	/* test not run / any */
			continue;
		tested++;
		if ((want == -1 && got != 0) || (want >= 0 && want != got))
			diff++;
	}
	*differ = diff;
	if (tested < PROBE_SMTP_NTESTS / 2 || diff > 3)
		return 0;
	return g->confidence * (tested - diff) / tested;
}

static bool fp_re_match(const struct fp_sig *g, const char *s)
{
	return s && *s && regexec(&g->re, s, 0, NULL, 0) == 0;
}

static bool has_kind(const struct fp_db *db, const char *sw, enum fp_kind k)
{
	for (size_t i = 0; i < db->n; i++)
		if (db->sigs[i].kind == k && !strcmp(db->sigs[i].software, sw))
			return true;
	return false;
}

static void add_basis(char *basis, size_t max, const char *what)
{
	size_t l = strlen(basis), wl = strlen(what);

	for (const char *p = basis; (p = strstr(p, what)); p++)
		if ((p == basis || p[-1] == '+') && (p[wl] == '\0' || p[wl] == '+'))
			return;
	snprintf(basis + l, max - l, "%s%s", l ? "+" : "", what);
}

static bool identity_bearing(const struct fp_sig *s)
{
	return (s->kind == FP_BANNER || s->kind == FP_EHLO_TEXT || s->kind == FP_REPLY) &&
	       s->confidence >= FP_IDENTITY_MIN;
}

/* One software's evidence, for fingerprint_match() */
struct cand {
	const char *sw;
	double miss;	/* prod(1 - c) over behavioural signatures */
	double bmiss;	/* the same over banner signatures */
	bool backed;	/* a behavioural signature matched in full */
	bool ident;	/* an identity-bearing signature matched */
	int conf;
	char basis[128];
};

/* How well signature s matches in (0: not), and what it looked at into *what (tmp: its buffer). */
static int sig_score(const struct fp_sig *s, const struct fp_input *in, const char **what, char *tmp,
		     size_t tmplen)
{
	int score = 0, differ = 0;

	*what = "";
	switch (s->kind) {
	case FP_BANNER:
		score = fp_re_match(s, in->banner) ? s->confidence : 0;
		*what = "banner";
		break;
	case FP_EHLO_TEXT:
		score = fp_re_match(s, in->ehlo_text) ? s->confidence : 0;
		*what = "ehlo-text";
		break;
	case FP_EHLO:
		score = in->keywords ? match_ehlo(s, in->keywords) : 0;
		*what = "ehlo";
		break;
	case FP_CODES:
		score = in->codes ? match_codes(s, in->codes, &differ) : 0;
		if (differ) {
			snprintf(tmp, tmplen, "codes(%d differ)", differ);
			*what = tmp;
		} else {
			*what = "codes";
		}
		break;
	case FP_REPLY:
		score = in->replies && fp_re_match(s, in->replies[s->test]) ? s->confidence : 0;
		*what = "replies";
		break;
	default:
		break;
	}
	return score;
}

/* Add a match of s (score, on what) to its software's candidate in c (*nc of them). */
static void cand_add(struct cand *c, size_t *nc, const struct fp_sig *s, int score, const char *what)
{
	size_t k;

	for (k = 0; k < *nc; k++)
		if (!strcmp(c[k].sw, s->software))
			break;
	if (k == *nc) {
		c[*nc].sw = s->software;
		c[*nc].miss = c[*nc].bmiss = 1.0;
		(*nc)++;
	}
	if (s->kind == FP_BANNER)
		c[k].bmiss *= 1.0 - score / 100.0;
	else
		c[k].miss *= 1.0 - score / 100.0;
	if (s->kind != FP_BANNER && (s->kind != FP_EHLO || score == s->confidence))
		c[k].backed = true;
	if (identity_bearing(s))
		c[k].ident = true;
	add_basis(c[k].basis, sizeof(c[k].basis), what);
}

/* Each candidate's confidence; *best: the highest, *named: the highest identity-bearing one. */
static void cand_rank(const struct fp_db *db, const struct fp_input *in, struct cand *c, size_t nc,
		      size_t *best, size_t *named)
{
	for (size_t k = 0; k < nc; k++) {
		int conf;

		/*
		 * A banner claim that the server's own behaviour does not back up
		 * (it has EHLO signatures, none matched in full, and we saw
		 * keywords) is worth half: banners are easy to change, behaviour
		 * is not.
		 */
		if (!c[k].backed && in->keywords && *in->keywords && has_kind(db, c[k].sw, FP_EHLO))
			c[k].bmiss = 1.0 - (1.0 - c[k].bmiss) / 2;
		conf = (int)((1.0 - c[k].miss * c[k].bmiss) * 100.0 + 0.5);
		c[k].conf = conf > 99 ? 99 : conf;
		if (*best == SIZE_MAX || c[k].conf > c[*best].conf)
			*best = k;
		if (c[k].ident && (*named == SIZE_MAX || c[k].conf > c[*named].conf))
			*named = k;
	}
}

/* Whether candidate named may be named: sure enough and clear of the others; else why not into g. */
static bool may_name(const struct cand *c, size_t nc, size_t named, struct fp_guess *g)
{
	if (named == SIZE_MAX) {
		snprintf(g->why, sizeof(g->why),
			 "no identifying match (banner, EHLO or reply text): codes and keywords are shared");
		return false;
	}
	if (c[named].conf < FP_NAME_MIN) {
		snprintf(g->why, sizeof(g->why), "%s scores %d%%, below %d%%", c[named].sw, c[named].conf,
			 FP_NAME_MIN);
		return false;
	}
	for (size_t k = 0; k < nc; k++) {
		if (k == named)
			continue;
		if (c[k].ident && c[named].conf - c[k].conf < FP_MARGIN) {
			snprintf(g->why, sizeof(g->why), "%s (%d%%) and %s (%d%%) are within %d points",
				 c[named].sw, c[named].conf, c[k].sw, c[k].conf, FP_MARGIN);
			return false;
		}
		if (!c[k].ident && c[k].conf > c[named].conf) {
			snprintf(g->why, sizeof(g->why), "%s (%d%%) is outscored by %s (%d%%)",
				 c[named].sw, c[named].conf, c[k].sw, c[k].conf);
			return false;
		}
	}
	return true;
}

void fingerprint_match(const struct fp_db *db, const struct fp_input *in, struct fp_guess *g)
{
	struct cand *c = NULL;
	size_t nc = 0, best = SIZE_MAX, named = SIZE_MAX;

	memset(g, 0, sizeof(*g));
	if (!db || !db->n)
		return;
	c = calloc(db->n, sizeof(*c));
	if (!c)
		return;
	for (size_t i = 0; i < db->n; i++) {
		const char *what;
		char tmp[32];
		int score = sig_score(&db->sigs[i], in, &what, tmp, sizeof(tmp));

		if (score > 0)
			cand_add(c, &nc, &db->sigs[i], score, what);
	}
	cand_rank(db, in, c, nc, &best, &named);
	if (best == SIZE_MAX)
		goto out;
	if (may_name(c, nc, named, g)) {
		snprintf(g->software, sizeof(g->software), "%s", c[named].sw);
		g->confidence = c[named].conf;
		snprintf(g->basis, sizeof(g->basis), "%s", c[named].basis);
	} else {
		snprintf(g->closest, sizeof(g->closest), "%s", c[best].sw);
		g->closest_confidence = c[best].conf;
		snprintf(g->basis, sizeof(g->basis), "%s", c[best].basis);
	}
out:
	free(c);
}

char *fingerprint_path(const char *opt, bool *explicit_path)
{
	char exe[PATH_MAX], *slash, *p = NULL;
	ssize_t n;

	*explicit_path = true;
	if (opt)
		return strdup(opt);
	if (getenv("PORTLOCK_FINGERPRINTS") && *getenv("PORTLOCK_FINGERPRINTS"))
		return strdup(getenv("PORTLOCK_FINGERPRINTS"));
	*explicit_path = false;
	if (access(PORTLOCK_DATADIR "/fingerprints.conf", R_OK) == 0)
		return strdup(PORTLOCK_DATADIR "/fingerprints.conf");
	/* running from a build directory: <src>/build/portlock -> <src>/data */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (asprintf(&p, "%s/../data/fingerprints.conf", exe) < 0)
		return NULL;
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	return NULL;
}
