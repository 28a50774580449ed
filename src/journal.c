// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transaction journal and run lock (see journal.h for the on-disk layout and
 * the write protocol). This module owns every file under the state dir; it
 * never looks inside the table content it stores (opaque bytes checked by size
 * and SHA-256) and never prints: problems go to the diag sink.
 */
#include "journal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "diag.h"
#include "setobj.h"
#include "statestore.h"
#include "util.h"

#define COUNTER_FILE "next-id"
#define TMP_PREFIX STATESTORE_TMP_PREFIX
#define HASH_CHUNK (1024 * 1024)
/* internal listing flag: metadata only, blobs unchecked (the caller checks what it uses) */
#define LIST_NOBLOBS (1u << 8)

struct journal {
	char *state_dir;
	char *jdir;		/* state_dir/journal */
	int dirfd;		/* journal dir, -1 when it does not exist (read-only) */
	int objfd;		/* journal/objects, -1 until needed (or absent) */
	char *objdir;
	int sfd;		/* the state dir (statestore_open()), -1 when it does not exist */
	int lockfd;		/* -1 for read-only handles */
	char id[STATESTORE_ID_LEN + 1];	/* the state dir's id ("" when it has none yet) */
	bool writable;
	/*
	 * The last listing (without VERIFY): one run asks for the newest
	 * pending, prepared and applied record several times; each listing
	 * reads every record. Dropped whenever a record is written or removed.
	 */
	struct journal_rec *lc;
	size_t nlc;
	bool lc_valid, lc_warned;
	bool lc_blobs;		/* the listing checked every record's blobs */
};

static const char *const kind_names[] = {
	[JOURNAL_KIND_APPLY] = "apply",
	[JOURNAL_KIND_REVERT] = "revert",
	[JOURNAL_KIND_AUTO_REVERT] = "auto-revert",
	[JOURNAL_KIND_ALLOW] = "allow",
	[JOURNAL_KIND_REVOKE] = "revoke",
};
static_assert(ARRAY_SIZE(kind_names) == JOURNAL_KIND_MAX, "kind_names out of sync");

static const char *const state_names[] = {
	[JOURNAL_STATE_PREPARED] = "prepared",
	[JOURNAL_STATE_APPLIED] = "applied",
	[JOURNAL_STATE_PENDING] = "pending",
	[JOURNAL_STATE_CONFIRMED] = "confirmed",
	[JOURNAL_STATE_REVERTED] = "reverted",
};
static_assert(ARRAY_SIZE(state_names) == JOURNAL_STATE_MAX, "state_names out of sync");

/* File name suffix of each blob: NNNNNNNNNN.<suffix> */
static const char *const blob_suffix[] = {
	[JOURNAL_BLOB_PRIOR_NLMSG] = "prior.nlmsg",
	[JOURNAL_BLOB_PRIOR_NFT] = "prior.nft",
	[JOURNAL_BLOB_RESULT_NLMSG] = "result.nlmsg",
	[JOURNAL_BLOB_RESULT_NFT] = "result.nft",
	[JOURNAL_BLOB_PRIOR_RANGES] = "prior.ranges",
	[JOURNAL_BLOB_RESULT_RANGES] = "result.ranges",
	[JOURNAL_BLOB_PRIOR_REFS] = "prior.refs",
	[JOURNAL_BLOB_RESULT_REFS] = "result.refs",
};
static_assert(ARRAY_SIZE(blob_suffix) == JOURNAL_BLOB_MAX, "blob_suffix out of sync");

/* Allowed transitions: bit set of target states per source state. */
#define B(s) JOURNAL_STATE_BIT(JOURNAL_STATE_##s)
static const unsigned state_next[] = {
	[JOURNAL_STATE_PREPARED] = 0,	/* journal_commit() or journal_abort() */
	[JOURNAL_STATE_APPLIED] = B(REVERTED),
	[JOURNAL_STATE_PENDING] = B(CONFIRMED) | B(REVERTED) | B(APPLIED),
	[JOURNAL_STATE_CONFIRMED] = B(REVERTED),
	[JOURNAL_STATE_REVERTED] = 0,
};
#undef B
static_assert(ARRAY_SIZE(state_next) == JOURNAL_STATE_MAX, "state_next out of sync");

const char *journal_kind_str(enum journal_kind k)
{
	return (unsigned)k < JOURNAL_KIND_MAX ? kind_names[k] : NULL;
}

const char *journal_state_str(enum journal_state s)
{
	return (unsigned)s < JOURNAL_STATE_MAX ? state_names[s] : NULL;
}

int journal_kind_parse(const char *s, enum journal_kind *k)
{
	for (unsigned i = 0; i < JOURNAL_KIND_MAX; i++)
		if (s && !strcmp(s, kind_names[i])) {
			*k = i;
			return 0;
		}
	return -EINVAL;
}

int journal_state_parse(const char *s, enum journal_state *st)
{
	for (unsigned i = 0; i < JOURNAL_STATE_MAX; i++)
		if (s && !strcmp(s, state_names[i])) {
			*st = i;
			return 0;
		}
	return -EINVAL;
}

const char *journal_path(const struct journal *j)
{
	return j->jdir;
}

const char *journal_objects_path(const struct journal *j)
{
	return j->objdir;
}

static void meta_name(uint64_t id, char out[JOURNAL_NAME_MAX])
{
	snprintf(out, JOURNAL_NAME_MAX, "%010" PRIu64 ".json", id);
}

static void blob_name(uint64_t id, enum journal_blob_kind b, char out[JOURNAL_NAME_MAX])
{
	snprintf(out, JOURNAL_NAME_MAX, "%010" PRIu64 ".%s", id, blob_suffix[b]);
}

/* "NNN.rest" -> id and a pointer to "rest"; false when the name does not start with digits + '.' */
static bool name_split(const char *name, uint64_t *id, const char **rest)
{
	uint64_t v = 0;
	const char *p = name;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p != '.')
		return false;
	*id = v;
	*rest = p + 1;
	return true;
}

static void hex(const unsigned char *md, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return i == 64;
}

static int fsync_dir(struct journal *j, struct diag *d)
{
	if (fsync(j->dirfd) < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot sync journal directory '%s'",
				j->jdir);
	return 0;
}

/* Read up to len bytes (fewer only at end of file or on an error); returns how many. */
static size_t read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/*
 * Write buf to name atomically (statestore_replace(): temp file, fsync,
 * rename; no directory fsync: the caller batches those). sha_hex (may be
 * NULL) receives the SHA-256.
 */
static int atomic_write(struct journal *j, const char *name, const void *buf, size_t len,
			char *sha_hex, struct diag *d)
{
	int rc;

	if (sha_hex) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;

		if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
			return diag_err(d, DIAG_INTERNAL, NULL, 0, "sha256 failed");
		hex(md, 32, sha_hex);
	}
	rc = statestore_replace(j->dirfd, name, buf, len, STATESTORE_SYNC);
	if (rc)
		return diag_err(d, DIAG_INTERNAL, NULL, -rc, "cannot write '%s/%s'", j->jdir, name);
	return 0;
}

/* ---- metadata <-> JSON ------------------------------------------------------------------ */

static json_t *blob_json(const struct journal_blob *b)
{
	if (!b->present)
		return json_null();
	return json_pack("{s:s,s:I,s:s}", "file", b->file, "size", (json_int_t)b->size, "sha256",
			 b->sha256);
}

static json_t *content_json(const struct journal_rec *r, bool absent, enum journal_blob_kind nl,
			    enum journal_blob_kind nft)
{
	bool prior = nl == JOURNAL_BLOB_PRIOR_NLMSG;
	enum journal_blob_kind rg = prior ? JOURNAL_BLOB_PRIOR_RANGES : JOURNAL_BLOB_RESULT_RANGES;
	enum journal_blob_kind rf = prior ? JOURNAL_BLOB_PRIOR_REFS : JOURNAL_BLOB_RESULT_REFS;
	json_t *o = json_pack("{s:b,s:o,s:o,s:o}", "absent", absent, "nlmsg", blob_json(&r->blob[nl]),
			      "nft", blob_json(&r->blob[nft]), "ranges", blob_json(&r->blob[rg]));

	/* a record keeps its format: format 2 has no refs */
	if (o && (r->format ? r->format : JOURNAL_FORMAT) >= 3 &&
	    json_object_set_new(o, "refs", blob_json(&r->blob[rf]))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *int_or_null(int64_t v)
{
	return v ? json_integer(v) : json_null();
}

void *journal_rec_to_json(const struct journal_rec *r)
{
	json_t *o = json_object();
	int rc = 0;

	if (!o)
		return NULL;
#define SET(k, v) (rc |= json_object_set_new(o, k, v))
	/* a record keeps its format when its state is rewritten */
	SET("format", json_integer(r->format ? r->format : JOURNAL_FORMAT));
	SET("id", json_integer((json_int_t)r->id));
	SET("kind", json_string(journal_kind_str(r->kind) ? journal_kind_str(r->kind) : "?"));
	SET("reverts_id", int_or_null((int64_t)r->reverts_id));
	SET("time", json_integer(r->time));
	SET("state_time", json_integer(r->state_time));
	SET("uid", json_integer(r->uid));
	SET("user", json_string(r->user));
	SET("argv", json_string(r->argv ? r->argv : ""));
	SET("policy_sha256", r->policy_sha256[0] ? json_string(r->policy_sha256) : json_null());
	SET("table", json_string(r->table));
	SET("gen_before", json_integer(r->gen_before));
	SET("gen_after", json_integer(r->gen_after));
	SET("state", json_string(journal_state_str(r->state) ? journal_state_str(r->state) : "?"));
	SET("confirm_deadline", int_or_null(r->confirm_deadline));
	SET("added", json_integer((json_int_t)r->added));
	SET("removed", json_integer((json_int_t)r->removed));
	SET("safe_state", r->safe_state[0] ? json_string(r->safe_state) : json_null());
	SET("safe_reason", r->safe_state[0] ? json_string(r->safe_reason) : json_null());
	SET("prior", content_json(r, r->prior_absent, JOURNAL_BLOB_PRIOR_NLMSG,
				  JOURNAL_BLOB_PRIOR_NFT));
	SET("result", r->has_result ? content_json(r, r->result_absent, JOURNAL_BLOB_RESULT_NLMSG,
						     JOURNAL_BLOB_RESULT_NFT)
				    : json_null());
#undef SET
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

struct perr {
	char *buf;
	size_t len;
};

static int __printf(2, 3) fail(struct perr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (e->len)
		vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* An integer member in [lo, hi]; null allowed (-> 0) when nullable. */
static int get_int(struct perr *e, json_t *o, const char *key, bool nullable, int64_t lo,
		   int64_t hi, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return fail(e, "'%s' is missing", key);
	if (nullable && json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return fail(e, "'%s' must be an integer%s", key, nullable ? " or null" : "");
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return fail(e, "'%s' value %" PRId64 " is out of range", key, *out);
	return 0;
}

/* A string member of at most max-1 bytes; copied into out (when out_len) or returned. */
static int get_str(struct perr *e, json_t *o, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return fail(e, "'%s' is missing", key);
	if (!json_is_string(v))
		return fail(e, "'%s' must be a string", key);
	if (json_string_length(v) >= max || strlen(json_string_value(v)) != json_string_length(v))
		return fail(e, "'%s' is too long or contains NUL", key);
	*out = json_string_value(v);
	return 0;
}

/* optional: may be null (or, when missing_ok, missing) although the table existed */
static int parse_blob(struct perr *e, json_t *c, const char *ckey, const char *key, uint64_t id,
		      enum journal_blob_kind which, bool absent, bool optional, struct journal_blob *b)
{
	json_t *v = json_object_get(c, key), *f, *s, *h;
	char want[JOURNAL_NAME_MAX];

	memset(b, 0, sizeof(*b));
	if (!v && optional)
		return 0;
	if (!v)
		return fail(e, "'%s.%s' is missing", ckey, key);
	if (absent) {
		if (!json_is_null(v))
			return fail(e, "'%s.%s' must be null when the table was absent", ckey, key);
		return 0;
	}
	if (optional && json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(e, "'%s.%s' must be an object", ckey, key);
	f = json_object_get(v, "file");
	s = json_object_get(v, "size");
	h = json_object_get(v, "sha256");
	blob_name(id, which, want);
	if (!json_is_string(f) || strcmp(json_string_value(f), want))
		return fail(e, "'%s.%s.file' must be '%s'", ckey, key, want);
	if (!json_is_integer(s) || json_integer_value(s) < 0)
		return fail(e, "'%s.%s.size' must be a non-negative integer", ckey, key);
	if (!json_is_string(h) || !is_sha256_hex(json_string_value(h)))
		return fail(e, "'%s.%s.sha256' must be 64 lower-case hex digits", ckey, key);
	b->present = true;
	snprintf(b->file, sizeof(b->file), "%s", want);
	b->size = (uint64_t)json_integer_value(s);
	memcpy(b->sha256, json_string_value(h), 65);
	return 0;
}

static int parse_content(struct perr *e, json_t *o, const char *key, uint64_t id,
			 enum journal_blob_kind nl, enum journal_blob_kind nft, bool *absent,
			 struct journal_rec *r)
{
	json_t *c = json_object_get(o, key), *a;
	int rc;

	if (!json_is_object(c))
		return fail(e, "'%s' must be an object", key);
	a = json_object_get(c, "absent");
	if (!json_is_boolean(a))
		return fail(e, "'%s.absent' must be true or false", key);
	*absent = json_is_true(a);
	rc = parse_blob(e, c, key, "nlmsg", id, nl, *absent, false, &r->blob[nl]);
	/* format 2: no rendering ("nft": null), elements of range sets apart ("ranges") */
	if (!rc)
		rc = parse_blob(e, c, key, "nft", id, nft, *absent, r->format >= 2, &r->blob[nft]);
	if (!rc && r->format >= 2 && !json_object_get(c, "ranges"))
		rc = fail(e, "'%s.ranges' is missing", key);
	if (!rc)
		rc = parse_blob(e, c, key, "ranges", id,
				nl == JOURNAL_BLOB_PRIOR_NLMSG ? JOURNAL_BLOB_PRIOR_RANGES
							       : JOURNAL_BLOB_RESULT_RANGES,
				*absent, true, &r->blob[nl == JOURNAL_BLOB_PRIOR_NLMSG
								? JOURNAL_BLOB_PRIOR_RANGES
								: JOURNAL_BLOB_RESULT_RANGES]);
	/* format 3: the objects the ranges refer to ("refs", null when none) */
	if (!rc && r->format >= 3 && !json_object_get(c, "refs"))
		rc = fail(e, "'%s.refs' is missing", key);
	if (!rc && r->format >= 3)
		rc = parse_blob(e, c, key, "refs", id,
				nl == JOURNAL_BLOB_PRIOR_NLMSG ? JOURNAL_BLOB_PRIOR_REFS
							       : JOURNAL_BLOB_RESULT_REFS,
				*absent, true, &r->blob[nl == JOURNAL_BLOB_PRIOR_NLMSG
								? JOURNAL_BLOB_PRIOR_REFS
								: JOURNAL_BLOB_RESULT_REFS]);
	return rc;
}

int journal_rec_parse(const char *buf, size_t len, uint64_t expect_id, struct journal_rec *r,
		      char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	json_error_t jerr;
	json_t *o, *v;
	const char *s;
	int64_t x;
	int rc;

	memset(r, 0, sizeof(*r));
	if (errlen)
		err[0] = '\0';
	if (!len)
		return fail(&e, "empty file (truncated)");
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return fail(&e, "truncated or invalid JSON at line %d, column %d: %s", jerr.line,
			    jerr.column, jerr.text);
	if (!json_is_object(o)) {
		rc = fail(&e, "not a JSON object");
		goto out;
	}
#define CHECK(call)              \
	do {                     \
		rc = (call);     \
		if (rc)          \
			goto out; \
	} while (0)
	CHECK(get_int(&e, o, "format", false, 1, INT64_MAX, &x));
	r->format = (unsigned)(x > JOURNAL_FORMAT ? JOURNAL_FORMAT : x);
	if (x > JOURNAL_FORMAT) {
		rc = fail(&e, "format %" PRId64 " is newer than this portlock understands (%d)", x,
			  JOURNAL_FORMAT);
		goto out;
	}
	CHECK(get_int(&e, o, "id", false, 1, INT64_MAX, &x));
	r->id = (uint64_t)x;
	if (expect_id && r->id != expect_id) {
		rc = fail(&e, "'id' %" PRIu64 " does not match the file name (%" PRIu64 ")", r->id,
			  expect_id);
		goto out;
	}
	snprintf(r->file, sizeof(r->file), "%010" PRIu64 ".json", r->id);
	CHECK(get_str(&e, o, "kind", 32, &s));
	if (journal_kind_parse(s, &r->kind) < 0) {
		rc = fail(&e, "'kind' '%.32s' is unknown", s);
		goto out;
	}
	CHECK(get_int(&e, o, "reverts_id", true, 1, INT64_MAX, &x));
	r->reverts_id = (uint64_t)x;
	CHECK(get_int(&e, o, "time", false, 0, INT64_MAX, &r->time));
	CHECK(get_int(&e, o, "state_time", false, 0, INT64_MAX, &r->state_time));
	CHECK(get_int(&e, o, "uid", false, 0, UINT32_MAX, &x));
	r->uid = (uint32_t)x;
	CHECK(get_str(&e, o, "user", sizeof(r->user), &s));
	snprintf(r->user, sizeof(r->user), "%s", s);
	CHECK(get_str(&e, o, "argv", JOURNAL_META_MAX, &s));
	r->argv = strdup(s);
	if (!r->argv) {
		rc = -ENOMEM;
		goto out;
	}
	v = json_object_get(o, "policy_sha256");
	if (!v) {
		rc = fail(&e, "'policy_sha256' is missing");
		goto out;
	}
	if (!json_is_null(v)) {
		if (!json_is_string(v) || !is_sha256_hex(json_string_value(v))) {
			rc = fail(&e, "'policy_sha256' must be 64 lower-case hex digits or null");
			goto out;
		}
		memcpy(r->policy_sha256, json_string_value(v), 65);
	}
	CHECK(get_str(&e, o, "table", sizeof(r->table), &s));
	if (!*s) {
		rc = fail(&e, "'table' is empty");
		goto out;
	}
	snprintf(r->table, sizeof(r->table), "%s", s);
	CHECK(get_int(&e, o, "gen_before", false, 0, UINT32_MAX, &x));
	r->gen_before = (uint32_t)x;
	CHECK(get_int(&e, o, "gen_after", false, 0, UINT32_MAX, &x));
	r->gen_after = (uint32_t)x;
	CHECK(get_str(&e, o, "state", 32, &s));
	if (journal_state_parse(s, &r->state) < 0) {
		rc = fail(&e, "'state' '%.32s' is unknown", s);
		goto out;
	}
	CHECK(get_int(&e, o, "confirm_deadline", true, 1, INT64_MAX, &r->confirm_deadline));
	CHECK(get_int(&e, o, "added", false, 0, INT64_MAX, &x));
	r->added = (uint64_t)x;
	CHECK(get_int(&e, o, "removed", false, 0, INT64_MAX, &x));
	r->removed = (uint64_t)x;
	/* optional (records before the safe state have neither) */
	v = json_object_get(o, "safe_state");
	if (v && !json_is_null(v)) {
		CHECK(get_str(&e, o, "safe_state", sizeof(r->safe_state), &s));
		snprintf(r->safe_state, sizeof(r->safe_state), "%s", s);
		v = json_object_get(o, "safe_reason");
		if (v && !json_is_null(v)) {
			CHECK(get_str(&e, o, "safe_reason", sizeof(r->safe_reason), &s));
			snprintf(r->safe_reason, sizeof(r->safe_reason), "%s", s);
		}
	}
	CHECK(parse_content(&e, o, "prior", r->id, JOURNAL_BLOB_PRIOR_NLMSG, JOURNAL_BLOB_PRIOR_NFT,
			    &r->prior_absent, r));
	v = json_object_get(o, "result");
	if (!v) {
		rc = fail(&e, "'result' is missing");
		goto out;
	}
	if (json_is_null(v)) {
		if (r->state != JOURNAL_STATE_PREPARED) {
			rc = fail(&e, "'result' is null but the state is '%s'",
				  journal_state_str(r->state));
			goto out;
		}
	} else {
		if (r->state == JOURNAL_STATE_PREPARED) {
			rc = fail(&e, "'result' must be null in state 'prepared'");
			goto out;
		}
		r->has_result = true;
		CHECK(parse_content(&e, o, "result", r->id, JOURNAL_BLOB_RESULT_NLMSG,
				    JOURNAL_BLOB_RESULT_NFT, &r->result_absent, r));
	}
#undef CHECK
	rc = 0;
out:
	json_decref(o);
	return rc;
}

void journal_rec_fini(struct journal_rec *r)
{
	if (!r)
		return;
	free(r->argv);
	memset(r, 0, sizeof(*r));
}

void journal_recs_free(struct journal_rec *recs, size_t n)
{
	for (size_t i = 0; recs && i < n; i++)
		journal_rec_fini(&recs[i]);
	free(recs);
}

/* ---- argv ------------------------------------------------------------------------------- */

static bool shell_safe(unsigned char c)
{
	return isalnum(c) || strchr("_@%+=:,./-", c);
}

char *journal_argv_join(int argc, char *const argv[])
{
	size_t cap = 1, o = 0;
	char *s;

	for (int i = 0; i < argc; i++)
		cap += strlen(argv[i]) * 4 + 3 + 1;
	s = malloc(cap);
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const unsigned char *a = (const unsigned char *)argv[i];
		bool quote = !*a;

		for (const unsigned char *p = a; *p; p++)
			if (!shell_safe(*p))
				quote = true;
		if (i)
			s[o++] = ' ';
		if (quote)
			s[o++] = '\'';
		for (const unsigned char *p = a; *p; p++) {
			if (*p == '\'') {
				memcpy(s + o, "'\\''", 4);
				o += 4;
			} else if (*p < 0x20 || *p >= 0x7f) {
				/* keep the record ASCII (valid JSON text): \xNN */
				o += (size_t)sprintf(s + o, "\\x%02x", *p);
			} else {
				s[o++] = (char)*p;
			}
		}
		if (quote)
			s[o++] = '\'';
	}
	s[o] = '\0';
	return s;
}

/* This process's command line, joined; NULL on ENOMEM, "?" when /proc is unavailable. */
static char *self_cmdline(void)
{
	char buf[8192], *argv[256];
	ssize_t n;
	int fd, argc = 0;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return strdup("?");
	buf[n] = '\0';
	for (char *p = buf; p < buf + n && argc < (int)ARRAY_SIZE(argv); p += strlen(p) + 1)
		argv[argc++] = p;
	return journal_argv_join(argc, argv);
}

/* ---- open, lock, close ------------------------------------------------------------------ */

static void note_created(struct journal *j, const char *table, struct diag *d);

static void lc_drop(struct journal *j)
{
	journal_recs_free(j->lc, j->nlc);
	j->lc = NULL;
	j->nlc = 0;
	j->lc_valid = false;
}

static int rec_cmp(const void *a, const void *b);

/* A record was written: the cached listing takes it as written (no new listing needed). */
static void lc_put(struct journal *j, const struct journal_rec *r)
{
	size_t i;

	if (!j->lc_valid)
		return;
	for (i = 0; i < j->nlc && j->lc[i].id != r->id; i++)
		;
	if (i == j->nlc) {
		struct journal_rec *a = realloc(j->lc, (j->nlc + 1) * sizeof(*a));

		if (!a) {
			lc_drop(j);
			return;
		}
		j->lc = a;
		memset(&j->lc[j->nlc++], 0, sizeof(*a));
	}
	free(j->lc[i].argv);
	j->lc[i] = *r;
	j->lc[i].argv = r->argv ? strdup(r->argv) : NULL;
	if (r->argv && !j->lc[i].argv) {
		lc_drop(j);
		return;
	}
	qsort(j->lc, j->nlc, sizeof(*j->lc), rec_cmp);
}

static void lc_del(struct journal *j, uint64_t id)
{
	for (size_t i = 0; j->lc_valid && i < j->nlc; i++)
		if (j->lc[i].id == id) {
			free(j->lc[i].argv);
			memmove(&j->lc[i], &j->lc[i + 1], (j->nlc - i - 1) * sizeof(*j->lc));
			j->nlc--;
			return;
		}
}

static void journal_free(struct journal *j)
{
	if (!j)
		return;
	lc_drop(j);
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->objfd >= 0)
		close(j->objfd);
	if (j->lockfd >= 0)
		close(j->lockfd);
	if (j->sfd >= 0)
		close(j->sfd);
	free(j->state_dir);
	free(j->jdir);
	free(j->objdir);
	free(j);
}

static struct journal *journal_alloc(const char *state_dir)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->dirfd = j->lockfd = j->objfd = j->sfd = -1;
	j->state_dir = strdup(state_dir);
	/* "dir/" is "dir" in every message */
	for (size_t n = j->state_dir ? strlen(j->state_dir) : 0; n > 1 && j->state_dir[n - 1] == '/';)
		j->state_dir[--n] = '\0';
	if (!j->state_dir || asprintf(&j->jdir, "%s/%s", j->state_dir, JOURNAL_SUBDIR) < 0 ||
	    asprintf(&j->objdir, "%s/%s", j->jdir, JOURNAL_OBJECTS) < 0) {
		journal_free(j);
		return NULL;
	}
	return j;
}

/* Describe the lock holder from the lock file's text: "pid N (CMD, started TIME)". */
static void lock_holder(int fd, char *out, size_t outlen)
{
	char buf[4096], when[64] = "unknown time", *cmd = NULL, *line, *save = NULL;
	long pid = 0;
	long long started = 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0) {
		snprintf(out, outlen, "another portlock (pid not yet recorded)");
		return;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "pid ", 4))
			pid = strtol(line + 4, NULL, 10);
		else if (!strncmp(line, "started ", 8))
			started = strtoll(line + 8, NULL, 10);
		else if (!strncmp(line, "cmd ", 4))
			cmd = line + 4;
	}
	if (started > 0) {
		time_t t = (time_t)started;
		struct tm tm;

		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	}
	snprintf(out, outlen, "pid %ld (%.200s, started %s)", pid, cmd ? cmd : "?", when);
}

static int take_lock(struct journal *j, int wait_seconds, struct diag *d)
{
	char holder[512], *cmd, text[1024];
	int held = -1, fd;

	fd = statestore_lock(j->sfd, JOURNAL_LOCK_FILE, wait_seconds, &held);
	if (fd == -EWOULDBLOCK) {
		lock_holder(held, holder, sizeof(holder));
		close(held);
		diag_err(d, DIAG_CONFLICT, NULL, 0,
			 "state dir '%s' is locked by %s; waited %d s (--wait S waits longer)",
			 j->state_dir, holder, wait_seconds);
		return -EAGAIN;
	}
	if (fd < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, -fd, "cannot lock '%s/%s'", j->state_dir,
				JOURNAL_LOCK_FILE);
	j->lockfd = fd;
	cmd = self_cmdline();
	snprintf(text, sizeof(text), "pid %ld\nstarted %lld\ncmd %.900s\n", (long)getpid(),
		 (long long)time(NULL), cmd ? cmd : "?");
	free(cmd);
	/* informational only: a failure here does not make the lock less held */
	if (ftruncate(j->lockfd, 0) == 0 && pwrite(j->lockfd, text, strlen(text), 0) < 0)
		diag_warn(d, NULL, "cannot record our pid in '%s/%s'", j->state_dir,
			  JOURNAL_LOCK_FILE);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Under the lock: remove temp files and blobs whose metadata never appeared. */
static void cleanup_stale(struct journal *j)
{
	int fd = dup(j->dirfd);
	bool removed = false;
	uint64_t *ids = NULL;
	size_t nids = 0, cids = 0;
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return;
	}
	/* the records there are, then their files (one pass each, no lookup per file) */
	rewinddir(dir);
	while ((de = readdir(dir))) {
		const char *rest;
		uint64_t id;

		if (name_split(de->d_name, &id, &rest) && !strcmp(rest, "json") &&
		    util_grow((void **)&ids, &cids, nids + 1, sizeof(*ids)) == 0)
			ids[nids++] = id;
	}
	if (nids)
		qsort(ids, nids, sizeof(*ids), id_cmp);
	rewinddir(dir);
	while ((de = readdir(dir))) {
		const char *rest;
		uint64_t id;
		bool is_blob = false;

		if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			removed |= unlinkat(j->dirfd, de->d_name, 0) == 0;
			continue;
		}
		if (!name_split(de->d_name, &id, &rest))
			continue;
		for (unsigned b = 0; b < JOURNAL_BLOB_MAX; b++)
			is_blob |= !strcmp(rest, blob_suffix[b]);
		if (!is_blob || (nids && bsearch(&id, ids, nids, sizeof(*ids), id_cmp)))
			continue;
		/* a record written since the first pass has its metadata now */
		{
			char meta[JOURNAL_NAME_MAX];

			meta_name(id, meta);
			if (faccessat(j->dirfd, meta, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
				removed |= unlinkat(j->dirfd, de->d_name, 0) == 0;
		}
	}
	closedir(dir);
	free(ids);
	if (removed)
		fsync(j->dirfd);
}

/*
 * Under the lock: the state dir's id (statestore_id()), written when it has
 * none yet; a state dir from before ids existed also gets <state>/tables from
 * its records (each table a record created). Never fatal: without an id the
 * tables created get the bare marker, and a revert relies on <state>/tables.
 */
static void state_id(struct journal *j, struct diag *d)
{
	struct journal_rec *recs = NULL;
	bool created = false;
	size_t n = 0;
	int rc = statestore_id(j->sfd, true, j->id, &created);

	if (rc) {
		j->id[0] = '\0';
		diag_warn(d, NULL, "cannot %s the id of state dir '%s' (%s)",
			  rc == -EBADMSG ? "read" : "write", j->state_dir, strerror(-rc));
		return;
	}
	if (!created || journal_list(j, 0, &recs, &n, d))
		return;
	for (size_t i = 0; i < n; i++)
		if (recs[i].prior_absent && recs[i].has_result && !recs[i].result_absent)
			note_created(j, recs[i].table, d);
	journal_recs_free(recs, n);
	lc_drop(j);	/* the caller's first listing reads the records itself */
}

/* Under the lock: temp files a crash left in the state dir itself (the live note's). */
static void cleanup_tmp(int sfd)
{
	int fd = dup(sfd);
	struct dirent *de;
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			unlinkat(sfd, de->d_name, 0);
	closedir(dir);
}

int journal_open(struct journal **jp, const char *state_dir, int wait_seconds, struct diag *d)
{
	struct journal *j;
	int rc;

	if (!state_dir || !*state_dir)
		return diag_err(d, DIAG_USAGE, NULL, 0, "the state dir must not be empty");
	j = journal_alloc(state_dir);
	if (!j)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	j->writable = true;
	j->sfd = statestore_open(j->state_dir, STATESTORE_CREATE, d);
	if (j->sfd < 0) {
		rc = j->sfd;
		goto err;
	}
	j->dirfd = statestore_subdir(j->sfd, JOURNAL_SUBDIR, j->jdir, STATESTORE_CREATE, d);
	if (j->dirfd < 0) {
		rc = j->dirfd;
		goto err;
	}
	rc = take_lock(j, wait_seconds, d);
	if (rc)
		goto err;
	cleanup_stale(j);
	cleanup_tmp(j->sfd);
	state_id(j, d);
	*jp = j;
	return 0;
err:
	journal_free(j);
	return rc;
}

int journal_open_readonly(struct journal **jp, const char *state_dir, struct diag *d)
{
	struct journal *j;
	int fd;

	if (!state_dir || !*state_dir)
		return diag_err(d, DIAG_USAGE, NULL, 0, "the state dir must not be empty");
	j = journal_alloc(state_dir);
	if (!j)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	fd = statestore_open(j->state_dir, STATESTORE_READONLY, d);
	if (fd >= 0) {
		j->sfd = fd;
		/* a reader checks markers too (revert --dry-run): the id, never written here */
		if (statestore_id(j->sfd, false, j->id, NULL))
			j->id[0] = '\0';
		fd = statestore_subdir(j->sfd, JOURNAL_SUBDIR, j->jdir, STATESTORE_READONLY, d);
	}
	if (fd < 0 && fd != -ENOENT) {
		journal_free(j);
		return fd;	/* reported by statestore */
	}
	j->dirfd = fd >= 0 ? fd : -1;
	*jp = j;
	return 0;
}

void journal_close(struct journal *j)
{
	if (j && j->lockfd >= 0)
		flock(j->lockfd, LOCK_UN);
	journal_free(j);
}

void journal_forget(struct journal *j)
{
	journal_free(j);	/* close() only: the parent keeps the lock */
}

static int need_writable(struct journal *j, struct diag *d)
{
	if (!j->writable || j->dirfd < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, EBADF,
				"journal '%s' is open read-only", j->state_dir);
	return 0;
}

/* ---- reading records -------------------------------------------------------------------- */

static int hash_fd(int fd, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char *buf = malloc(HASH_CHUNK);
	int rc = 0;

	if (!c || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (;;) {
		ssize_t n = read(fd, buf, HASH_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (!n)
			break;
		EVP_DigestUpdate(c, buf, (size_t)n);
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	hex(md, 32, out);
out:
	EVP_MD_CTX_free(c);
	free(buf);
	return rc;
}

/* Check one blob on disk: presence, regular file, size, and optionally the hash. */
static int check_blob(struct journal *j, const struct journal_blob *b, bool verify, struct perr *e)
{
	struct stat st;
	char sha[65];
	int fd, rc;

	if (!verify) {
		/* presence and size: one fstatat() instead of open/fstat/close (every list, every record) */
		if (fstatat(j->dirfd, b->file, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return fail(e, "blob '%s' is missing", b->file), -ENOENT;
			rc = -errno;
			fail(e, "blob '%s' cannot be opened: %s", b->file, strerror(-rc));
			return -EBADMSG;
		}
		if (!S_ISREG(st.st_mode))
			return fail(e, "blob '%s' is not a regular file", b->file);
		if ((uint64_t)st.st_size != b->size)
			return fail(e, "blob '%s' has %lld bytes, expected %" PRIu64 "%s", b->file,
				    (long long)st.st_size, b->size,
				    (uint64_t)st.st_size < b->size ? " (truncated)" : "");
		return 0;
	}
	fd = openat(j->dirfd, b->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return fail(e, "blob '%s' is missing", b->file), -ENOENT;
		rc = -errno;
		fail(e, "blob '%s' cannot be opened: %s", b->file, strerror(-rc));
		return -EBADMSG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(e, "blob '%s' is not a regular file", b->file);
	}
	if ((uint64_t)st.st_size != b->size) {
		close(fd);
		return fail(e, "blob '%s' has %lld bytes, expected %" PRIu64 "%s", b->file,
			    (long long)st.st_size, b->size,
			    (uint64_t)st.st_size < b->size ? " (truncated)" : "");
	}
	if (verify) {
		rc = hash_fd(fd, sha);
		if (!rc && strcmp(sha, b->sha256))
			rc = fail(e, "blob '%s' has sha256 %.12s…, expected %.12s…", b->file, sha,
				  b->sha256);
		else if (rc && rc != -ENOMEM)
			rc = fail(e, "blob '%s' cannot be read: %s", b->file, strerror(-rc));
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/*
 * Read and validate metadata file `name` (id expect_id). Returns 0, -ENOENT when
 * the record does not exist (or vanished while being read: a concurrent prune),
 * -EBADMSG (e filled), -ENOMEM.
 */
static int check_blobs(struct journal *j, const char *name, const struct journal_rec *r, bool verify,
		       struct perr *e);

static int read_record(struct journal *j, const char *name, uint64_t expect_id, unsigned flags,
		       struct journal_rec *r, struct perr *e)
{
	bool verify = flags & JOURNAL_LIST_VERIFY;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	if (j->dirfd < 0)
		return -ENOENT;
	fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		rc = -errno;
		fail(e, "cannot open: %s", strerror(-rc));
		return -EBADMSG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(e, "not a regular file");
	}
	if (st.st_size > JOURNAL_META_MAX) {
		close(fd);
		return fail(e, "metadata is %lld bytes, more than the %d allowed", (long long)st.st_size,
			    JOURNAL_META_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	got = read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	rc = journal_rec_parse(buf, got, expect_id, r, e->buf, e->len);
	free(buf);
	if (rc || (flags & LIST_NOBLOBS))
		return rc;
	return check_blobs(j, name, r, verify, e);
}

/* The blobs of record r (metadata file name): present, regular, right size, optionally hashed. */
static int check_blobs(struct journal *j, const char *name, const struct journal_rec *r, bool verify,
		       struct perr *e)
{
	int rc;

	for (unsigned b = 0; b < JOURNAL_BLOB_MAX; b++) {
		if (!r->blob[b].present)
			continue;
		rc = check_blob(j, &r->blob[b], verify, e);
		if (rc == -ENOENT) {
			/* metadata gone too: pruned while we read it, not corrupt */
			if (faccessat(j->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
				return -ENOENT;
			rc = -EBADMSG;
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct journal_rec *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Deep copy of n records (argv is owned). Returns 0 or -ENOMEM. */
static int recs_copy(const struct journal_rec *src, size_t n, struct journal_rec **out)
{
	struct journal_rec *a = n ? calloc(n, sizeof(*a)) : NULL;

	*out = NULL;
	if (n && !a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		a[i] = src[i];
		a[i].argv = src[i].argv ? strdup(src[i].argv) : NULL;
		if (src[i].argv && !a[i].argv) {
			journal_recs_free(a, i);
			return -ENOMEM;
		}
	}
	*out = a;
	return 0;
}

static int list_records_uncached(struct journal *j, unsigned flags, bool warn,
				 struct journal_rec **recs, size_t *nrecs, struct diag *d);

static int list_records(struct journal *j, unsigned flags, bool warn, struct journal_rec **recs,
			size_t *nrecs, struct diag *d)
{
	int rc;

	if (!(flags & JOURNAL_LIST_VERIFY) && j->lc_valid && (j->lc_warned || !warn) &&
	    (j->lc_blobs || (flags & LIST_NOBLOBS))) {
		*nrecs = 0;
		if (recs_copy(j->lc, j->nlc, recs))
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
		*nrecs = j->nlc;
		return 0;
	}
	rc = list_records_uncached(j, flags, warn, recs, nrecs, d);
	if (!rc && !(flags & JOURNAL_LIST_VERIFY)) {
		lc_drop(j);
		if (recs_copy(*recs, *nrecs, &j->lc) == 0) {
			j->nlc = *nrecs;
			j->lc_valid = true;
			j->lc_warned = warn;
			j->lc_blobs = !(flags & LIST_NOBLOBS);
		}
	}
	return rc;
}

static int scan_records(struct journal *j, unsigned flags, bool warn, struct journal_rec **recs,
			size_t *nrecs, struct diag *d);

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * A lock-free reader (log, the read commands) lists while a writer renames
 * records into place: readdir() may then miss the renamed entry (tmpfs
 * moves it to the front of the directory, behind the reader's cursor). A
 * rename changes the directory's mtime: when it moved during the scan, scan
 * again (a few times; then the last scan stands).
 */
static int list_records_uncached(struct journal *j, unsigned flags, bool warn,
				 struct journal_rec **recs, size_t *nrecs, struct diag *d)
{
	for (int attempt = 0;; attempt++) {
		struct stat before, after;
		struct diag q;
		bool moved;
		int rc;

		if (j->dirfd < 0 || fstat(j->dirfd, &before) < 0)
			return scan_records(j, flags, warn, recs, nrecs, d);
		diag_init(&q);
		rc = scan_records(j, flags, warn, recs, nrecs, &q);
		moved = fstat(j->dirfd, &after) < 0 || !same_time(&before.st_mtim, &after.st_mtim) ||
			!same_time(&before.st_ctim, &after.st_ctim);
		if (rc || !moved || attempt == 16) {
			diag_move(d, &q, false);
			diag_fini(&q);
			return rc;
		}
		diag_fini(&q);
		journal_recs_free(*recs, *nrecs);
		*recs = NULL;
		*nrecs = 0;
	}
}

static int scan_records(struct journal *j, unsigned flags, bool warn, struct journal_rec **recs,
			size_t *nrecs, struct diag *d)
{
	struct journal_rec *arr = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd, rc = 0;

	*recs = NULL;
	*nrecs = 0;
	if (j->dirfd < 0)
		return 0;
	fd = dup(j->dirfd);
	if (fd < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot read '%s'", j->jdir);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot read '%s'", j->jdir);
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		char err[512], canon[JOURNAL_NAME_MAX];
		const char *rest;
		uint64_t id;
		struct perr e = { err, sizeof(err) };

		if (!name_split(de->d_name, &id, &rest) || strcmp(rest, "json"))
			continue;
		if (util_grow((void **)&arr, &cap, n + 1, sizeof(*arr)) < 0) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
			break;
		}
		meta_name(id, canon);
		if (!id || strcmp(canon, de->d_name)) {
			char path[PATH_MAX];

			snprintf(path, sizeof(path), "%s/%s", j->jdir, de->d_name);
			if (warn)
				diag_warn(d, &(struct srcloc){ path, 0 },
					  "corrupt journal record skipped: not a canonical record "
					  "name (expected '%s')", canon);
			continue;
		}
		err[0] = '\0';
		rc = read_record(j, de->d_name, id, flags, &arr[n], &e);
		if (rc == -ENOMEM) {
			journal_rec_fini(&arr[n]);
			diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
			break;
		}
		if (rc) {
			journal_rec_fini(&arr[n]);
			if (rc != -ENOENT && warn) {
				char path[PATH_MAX];

				snprintf(path, sizeof(path), "%s/%s", j->jdir, de->d_name);
				diag_warn(d, &(struct srcloc){ path, 0 },
					  "corrupt journal record skipped: %s", err);
			}
			rc = 0;
			continue;
		}
		n++;
	}
	closedir(dir);
	if (rc) {
		journal_recs_free(arr, n);
		return rc;
	}
	if (n)
		qsort(arr, n, sizeof(*arr), rec_cmp);
	*recs = arr;
	*nrecs = n;
	return 0;
}

int journal_list(struct journal *j, unsigned flags, struct journal_rec **recs, size_t *n,
		 struct diag *d)
{
	return list_records(j, flags, true, recs, n, d);
}

int journal_get(struct journal *j, uint64_t id, struct journal_rec *r, struct diag *d)
{
	char name[JOURNAL_NAME_MAX], err[512] = "";
	struct perr e = { err, sizeof(err) };
	int rc;

	meta_name(id, name);
	rc = id ? read_record(j, name, id, false, r, &e) : -ENOENT;
	if (!rc)
		return 0;
	journal_rec_fini(r);
	if (rc == -ENOENT)
		diag_err(d, DIAG_CONFLICT, NULL, 0, "no transaction %" PRIu64 " in the journal '%s'",
			 id, j->jdir);
	else if (rc == -EBADMSG)
		diag_err(d, DIAG_CONFLICT, NULL, 0, "journal record '%s/%s' is corrupt: %s", j->jdir,
			 name, err);
	else
		diag_err(d, DIAG_INTERNAL, NULL, -rc, "journal record '%s/%s'", j->jdir, name);
	return rc;
}

int journal_load_blob(struct journal *j, const struct journal_rec *r,
		      enum journal_blob_kind which, void **bufp, size_t *lenp, struct diag *d)
{
	const struct journal_blob *b;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char sha[65];
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd;

	if ((unsigned)which >= JOURNAL_BLOB_MAX)
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal blob %d", which);
	b = &r->blob[which];
	if (!b->present || j->dirfd < 0)
		return -ENOENT;
	fd = openat(j->dirfd, b->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;

		diag_err(d, DIAG_CONFLICT, NULL, e, "journal record %" PRIu64 ": cannot open '%s/%s'",
			 r->id, j->jdir, b->file);
		return -EBADMSG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != b->size) {
		close(fd);
		diag_err(d, DIAG_CONFLICT, NULL, 0,
			 "journal record %" PRIu64 ": '%s/%s' has %lld bytes, expected %" PRIu64,
			 r->id, j->jdir, b->file, (long long)st.st_size, b->size);
		return -EBADMSG;
	}
	if (b->size >= SIZE_MAX) {
		close(fd);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal blob '%s'", b->file);
	}
	buf = malloc((size_t)b->size + 1);
	if (!buf) {
		close(fd);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal blob '%s'", b->file);
	}
	got = read_full(fd, buf, (size_t)b->size);
	close(fd);
	if (got != b->size || !EVP_Digest(buf, got, md, &mdlen, EVP_sha256(), NULL)) {
		free(buf);
		diag_err(d, DIAG_CONFLICT, NULL, 0, "journal record %" PRIu64 ": cannot read '%s/%s'",
			 r->id, j->jdir, b->file);
		return -EBADMSG;
	}
	hex(md, 32, sha);
	if (strcmp(sha, b->sha256)) {
		free(buf);
		diag_err(d, DIAG_CONFLICT, NULL, 0,
			 "journal record %" PRIu64 ": '%s/%s' is corrupt: sha256 %s, expected %s",
			 r->id, j->jdir, b->file, sha, b->sha256);
		return -EBADMSG;
	}
	buf[got] = '\0';
	*bufp = buf;
	*lenp = got;
	return 0;
}

static int last_of(struct journal *j, const char *table, unsigned state_mask, struct journal_rec *r,
		   struct diag *d)
{
	struct journal_rec *recs;
	size_t n;
	int rc;

	/* metadata of all, the blobs of the one taken (a hundred records, one used) */
	rc = list_records(j, LIST_NOBLOBS, true, &recs, &n, d);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = n; i-- > 0;) {
		if (table && strcmp(recs[i].table, table))
			continue;
		/* temporary access (allow/revoke) is not a state of the policy's table */
		if (recs[i].kind == JOURNAL_KIND_ALLOW || recs[i].kind == JOURNAL_KIND_REVOKE)
			continue;
		if (state_mask & JOURNAL_STATE_BIT(recs[i].state)) {
			char err[512] = "";
			struct perr e = { err, sizeof(err) };
			int br = check_blobs(j, recs[i].file, &recs[i], false, &e);

			if (br == -ENOMEM) {
				rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
				break;
			}
			if (br) {
				char path[PATH_MAX];

				if (br != -ENOENT) {
					snprintf(path, sizeof(path), "%s/%s", j->jdir, recs[i].file);
					diag_warn(d, &(struct srcloc){ path, 0 },
						  "corrupt journal record skipped: %s", err);
				}
				continue;
			}
			*r = recs[i];
			memset(&recs[i], 0, sizeof(recs[i]));	/* ownership moved to *r */
			rc = 0;
			break;
		}
	}
	journal_recs_free(recs, n);
	return rc;
}

int journal_last(struct journal *j, unsigned state_mask, struct journal_rec *r, struct diag *d)
{
	return last_of(j, NULL, state_mask, r, d);
}

int journal_last_for_table(struct journal *j, const char *table, unsigned state_mask,
			   struct journal_rec *r, struct diag *d)
{
	return last_of(j, table, state_mask, r, d);
}

int journal_pending(struct journal *j, struct journal_rec *r, struct diag *d)
{
	return journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING), r, d);
}

/* ---- writing records -------------------------------------------------------------------- */

/* Highest id named by any file in the journal dir (records, blobs, corrupt ones). */
static uint64_t scan_max_id(struct journal *j)
{
	int fd = dup(j->dirfd);
	struct dirent *de;
	uint64_t max = 0;
	DIR *dir;

	if (fd < 0)
		return 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return 0;
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		const char *rest;
		uint64_t id;

		if (name_split(de->d_name, &id, &rest) && id > max)
			max = id;
	}
	closedir(dir);
	return max;
}

static uint64_t read_counter(struct journal *j, struct diag *d)
{
	char buf[32], *end;
	unsigned long long v;
	ssize_t n;
	int fd = openat(j->dirfd, COUNTER_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto bad;
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		goto bad;
	return v;
bad:
	diag_warn(d, &(struct srcloc){ j->jdir, 0 },
		  "'%s' is corrupt; the next id is taken from the records instead", COUNTER_FILE);
	return 0;
}

static void user_name(uid_t uid, char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name) {
		char *q = journal_argv_join(1, &res->pw_name);

		if (q && strlen(q) < outlen) {
			snprintf(out, outlen, "%s", q);
			free(q);
			return;
		}
		free(q);
	}
	snprintf(out, outlen, "%u", (unsigned)uid);
}

int journal_begin(struct journal *j, struct journal_rec *r, struct diag *d)
{
	uint64_t id, max;
	char buf[32];
	int rc;

	rc = need_writable(j, d);
	if (rc)
		return rc;
	memset(r, 0, sizeof(*r));
	id = read_counter(j, d);
	max = scan_max_id(j);
	if (id <= max)
		id = max + 1;
	snprintf(buf, sizeof(buf), "%" PRIu64 "\n", id + 1);
	rc = atomic_write(j, COUNTER_FILE, buf, strlen(buf), NULL, d);
	if (!rc)
		rc = fsync_dir(j, d);
	if (rc)
		return rc;
	r->id = id;
	r->format = JOURNAL_FORMAT;
	meta_name(id, r->file);
	r->kind = JOURNAL_KIND_APPLY;
	r->state = JOURNAL_STATE_APPLIED;
	r->time = r->state_time = (int64_t)time(NULL);
	r->uid = (uint32_t)getuid();
	user_name(getuid(), r->user, sizeof(r->user));
	r->argv = self_cmdline();
	if (!r->argv)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	return 0;
}

/* Write the two blobs of one content (prior: base 0, result: base 2). */
/* The blobs of a content: nlmsg, nft, ranges (prior or result). */
#define CONTENT_KINDS 4
static void content_kinds(enum journal_blob_kind nl, enum journal_blob_kind k[CONTENT_KINDS])
{
	bool prior = nl == JOURNAL_BLOB_PRIOR_NLMSG;

	k[0] = nl;
	k[1] = prior ? JOURNAL_BLOB_PRIOR_NFT : JOURNAL_BLOB_RESULT_NFT;
	k[2] = prior ? JOURNAL_BLOB_PRIOR_RANGES : JOURNAL_BLOB_RESULT_RANGES;
	k[3] = prior ? JOURNAL_BLOB_PRIOR_REFS : JOURNAL_BLOB_RESULT_REFS;
}

/* Copy journal file src to dst (written like any blob: temp, fsync, rename). */
static int copy_blob(struct journal *j, const char *src, const char *dst, struct diag *d)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, rc;

	fd = openat(j->dirfd, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot read '%s/%s'", j->jdir, src);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "cannot copy '%s/%s'", j->jdir, src);
	}
	got = read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	rc = got == (size_t)st.st_size ? atomic_write(j, dst, buf, got, NULL, d)
				       : diag_err(d, DIAG_INTERNAL, NULL, EIO, "cannot read '%s/%s'", j->jdir, src);
	free(buf);
	return rc;
}

/*
 * Content equal to record src's result: hard-link its files (already durable),
 * or copy them where the file system has no hard links.
 */
static int link_content(struct journal *j, struct journal_rec *r, enum journal_blob_kind nl,
			uint64_t src_id, bool *absent, struct diag *d)
{
	enum journal_blob_kind k[CONTENT_KINDS], sk[CONTENT_KINDS];
	struct journal_rec src;
	struct perr e;
	char err[256] = "";
	char name[JOURNAL_NAME_MAX];
	int rc;

	e.buf = err;
	e.len = sizeof(err);
	meta_name(src_id, name);
	rc = read_record(j, name, src_id, false, &src, &e);
	if (!rc && !src.has_result)
		rc = -ENOENT;
	if (rc) {
		journal_rec_fini(&src);
		return diag_err(d, DIAG_INTERNAL, NULL, 0, "journal record %" PRIu64 ": %s", src_id,
				*err ? err : "no result to link");
	}
	content_kinds(nl, k);
	content_kinds(JOURNAL_BLOB_RESULT_NLMSG, sk);
	*absent = src.result_absent;
	for (int i = 0; i < CONTENT_KINDS; i++) {
		struct journal_blob *b = &r->blob[k[i]];

		memset(b, 0, sizeof(*b));
		if (!src.blob[sk[i]].present)
			continue;
		*b = src.blob[sk[i]];
		blob_name(r->id, k[i], b->file);
		unlinkat(j->dirfd, b->file, 0);	/* a leftover of a crashed run with this id */
		if (linkat(j->dirfd, src.blob[sk[i]].file, j->dirfd, b->file, 0) == 0)
			continue;
		if (errno != EPERM && errno != EOPNOTSUPP && errno != EMLINK && errno != EXDEV &&
		    errno != ENOSYS) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot link '%s/%s' to '%s'", j->jdir,
				      src.blob[sk[i]].file, b->file);
			break;
		}
		/* a file system without hard links (or at the link limit): copy */
		rc = copy_blob(j, src.blob[sk[i]].file, b->file, d);
		if (rc)
			break;
	}
	journal_rec_fini(&src);
	return rc;
}

/* The object directory, created when asked (writers) and opened once. */
static int obj_dir(struct journal *j, bool create, struct diag *d)
{
	int fd;

	if (j->objfd >= 0)
		return j->objfd;
	if (j->dirfd < 0)
		return -ENOENT;
	fd = statestore_subdir(j->dirfd, JOURNAL_OBJECTS, j->objdir,
			       create ? STATESTORE_CREATE : STATESTORE_READONLY, d);
	if (fd >= 0)
		j->objfd = fd;
	return fd;
}

static int dig_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/*
 * Store the objects of a content (each written once: a present object of the
 * right size is kept) and build its refs text: sorted, unique hex digests.
 */
static int write_objects(struct journal *j, const struct journal_content *c, char **refs,
			 size_t *refslen, struct diag *d)
{
	uint8_t (*digs)[32] = NULL;
	size_t n = 0;
	bool wrote = false;
	char *text;
	int fd, rc = 0;

	*refs = NULL;
	*refslen = 0;
	if (!c->nobjs)
		return 0;
	fd = obj_dir(j, true, d);
	if (fd < 0)
		return fd;
	for (size_t i = 0; i < c->nobjs && !rc; i++) {
		const struct journal_object *o = &c->objs[i];
		char name[65];
		struct stat st;

		setobj_hex(o->digest, 32, name);
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    (!o->data || (uint64_t)st.st_size == o->len))
			continue;
		if (!o->data) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, ENOENT, "journal object '%s/%s' is missing",
				      j->objdir, name);
			break;
		}
		rc = statestore_replace(fd, name, o->data, o->len, STATESTORE_SYNC);
		if (rc) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, -rc, "cannot write '%s/%s'", j->objdir, name);
			break;
		}
		wrote = true;
	}
	if (!rc && wrote && fsync(fd) < 0)
		rc = diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot sync '%s'", j->objdir);
	if (rc)
		return rc;
	digs = malloc(c->nobjs * sizeof(*digs));
	text = malloc(c->nobjs * 65 + 1);
	if (!digs || !text) {
		free(digs);
		free(text);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	}
	for (size_t i = 0; i < c->nobjs; i++)
		memcpy(digs[i], c->objs[i].digest, 32);
	qsort(digs, c->nobjs, 32, dig_cmp);
	for (size_t i = 0; i < c->nobjs; i++) {
		if (i && !memcmp(digs[i], digs[i - 1], 32))
			continue;
		setobj_hex(digs[i], 32, text + n);
		text[n + 64] = '\n';
		n += 65;
	}
	free(digs);
	*refs = text;
	*refslen = n;
	return 0;
}

static int write_content(struct journal *j, struct journal_rec *r, enum journal_blob_kind nl,
			 enum journal_blob_kind nft, const struct journal_content *c, bool *absent,
			 struct diag *d)
{
	char *refs = NULL;
	size_t refslen = 0;
	const void *data[CONTENT_KINDS] = { c->nlmsg, c->nft, c->ranges, NULL };
	size_t len[CONTENT_KINDS] = { c->nlmsg_len, c->nft_len, c->ranges_len, 0 };
	enum journal_blob_kind kinds[CONTENT_KINDS];
	int rc;

	(void)nft;
	if (c->same_as_result_of)
		return link_content(j, r, nl, c->same_as_result_of, absent, d);
	content_kinds(nl, kinds);
	*absent = c->absent;
	if (!c->absent) {
		/* objects first: durable before anything refers to them */
		rc = write_objects(j, c, &refs, &refslen, d);
		if (rc)
			return rc;
		data[3] = refs;
		len[3] = refslen;
	}
	for (int i = 0; i < CONTENT_KINDS; i++) {
		struct journal_blob *b = &r->blob[kinds[i]];

		memset(b, 0, sizeof(*b));
		if (c->absent)
			continue;
		/* the netlink messages are always there; no rendering or ranges: null */
		if (i > 0 && !data[i])
			continue;
		if (!data[i] && len[i])
			return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal content");
		blob_name(r->id, kinds[i], b->file);
		rc = atomic_write(j, b->file, data[i] ? data[i] : "", len[i], b->sha256, d);
		if (rc) {
			free(refs);
			return rc;
		}
		b->size = len[i];
		b->present = true;
	}
	free(refs);
	return 0;
}

static int write_meta(struct journal *j, const struct journal_rec *r, struct diag *d)
{
	json_t *o = journal_rec_to_json(r);
	char *text;
	int rc;

	/* the cached listing is updated below, once the record is on disk */
	if (!o)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM,
				"journal record %" PRIu64 " (strings must be UTF-8)", r->id);
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal record %" PRIu64, r->id);
	{
		size_t n = strlen(text);
		char *t2 = realloc(text, n + 2);

		if (!t2) {
			free(text);
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
		}
		text = t2;
		memcpy(text + n, "\n", 2);
	}
	rc = atomic_write(j, r->file, text, strlen(text), NULL, d);
	free(text);
	if (!rc)
		rc = fsync_dir(j, d);
	if (!rc)
		lc_put(j, r);
	else
		lc_drop(j);
	return rc;
}

static int check_new_rec(struct journal *j, struct journal_rec *r, struct diag *d)
{
	int rc = need_writable(j, d);
	char want[JOURNAL_NAME_MAX];

	if (rc)
		return rc;
	meta_name(r->id, want);
	if (!r->id || strcmp(r->file, want))
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal record not from journal_begin()");
	if (!*r->table)
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal record %" PRIu64 ": no table name",
				r->id);
	if (!r->argv && !(r->argv = strdup("")))
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	return 0;
}

/* Table `table` was (or is about to be) created by this state dir: <state>/tables says so. */
static void note_created(struct journal *j, const char *table, struct diag *d)
{
	int rc = j->sfd < 0 ? -EBADF : statestore_table_add(j->sfd, table);

	if (rc)
		diag_warn(d, NULL, "cannot record table '%s' in '%s/%s' (%s): a later revert will "
			  "refuse it", table, j->state_dir, STATESTORE_TABLES_FILE, strerror(-rc));
}

int journal_table_created(struct journal *j, const char *table)
{
	return j->sfd < 0 ? 0 : statestore_table_created(j->sfd, table);
}

const char *journal_state_id(const struct journal *j)
{
	return j->id;
}

int journal_prepare(struct journal *j, struct journal_rec *r, const struct journal_content *prior,
		    struct diag *d)
{
	enum journal_state final;
	bool had_result;
	int rc;

	rc = check_new_rec(j, r, d);
	if (rc)
		return rc;
	if (!prior)
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal_prepare() without content");
	rc = write_content(j, r, JOURNAL_BLOB_PRIOR_NLMSG, JOURNAL_BLOB_PRIOR_NFT, prior,
			   &r->prior_absent, d);
	if (!rc)
		rc = fsync_dir(j, d);
	if (rc)
		return rc;
	/* a table this transaction may create: ours from now on (before the kernel makes it) */
	if (r->prior_absent)
		note_created(j, r->table, d);
	/* on disk: "prepared", no result; in memory the caller's final state stays */
	final = r->state;
	had_result = r->has_result;
	r->state = JOURNAL_STATE_PREPARED;
	r->has_result = false;
	r->state_time = (int64_t)time(NULL);
	rc = write_meta(j, r, d);
	r->state = final;
	r->has_result = had_result;
	return rc;
}

int journal_commit(struct journal *j, struct journal_rec *r, const struct journal_content *prior,
		   const struct journal_content *result, struct diag *d)
{
	bool prepared;
	int rc;

	rc = check_new_rec(j, r, d);
	if (rc)
		return rc;
	prepared = r->prior_absent || r->blob[JOURNAL_BLOB_PRIOR_NLMSG].present;
	if (!result || r->state == JOURNAL_STATE_PREPARED || (unsigned)r->state >= JOURNAL_STATE_MAX ||
	    (!prior && !prepared))
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL,
				"journal_commit(): missing content or bad state");
	if (prior) {
		rc = write_content(j, r, JOURNAL_BLOB_PRIOR_NLMSG, JOURNAL_BLOB_PRIOR_NFT, prior,
				   &r->prior_absent, d);
		if (rc)
			return rc;
	}
	rc = write_content(j, r, JOURNAL_BLOB_RESULT_NLMSG, JOURNAL_BLOB_RESULT_NFT, result,
			   &r->result_absent, d);
	if (!rc)
		rc = fsync_dir(j, d);
	if (rc)
		return rc;
	if (r->prior_absent && !r->result_absent)
		note_created(j, r->table, d);
	r->has_result = true;
	r->state_time = (int64_t)time(NULL);
	return write_meta(j, r, d);
}

static int gc_objects(struct journal *j, struct diag *d);

/* Remove a record: metadata first (the record is gone), then its blobs. */
static int remove_record(struct journal *j, uint64_t id, struct diag *d)
{
	char name[JOURNAL_NAME_MAX];

	meta_name(id, name);
	if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT) {
		lc_drop(j);
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot remove '%s/%s'", j->jdir, name);
	}
	lc_del(j, id);
	for (unsigned b = 0; b < JOURNAL_BLOB_MAX; b++) {
		blob_name(id, b, name);
		unlinkat(j->dirfd, name, 0);	/* leftovers are removed by the next open */
	}
	return 0;
}

int journal_abort(struct journal *j, struct journal_rec *r, struct diag *d)
{
	int rc = check_new_rec(j, r, d);

	if (!rc)
		rc = remove_record(j, r->id, d);
	if (!rc)
		rc = fsync_dir(j, d);
	/* objects its prior content wrote and nothing else uses */
	if (!rc)
		rc = gc_objects(j, d);
	return rc;
}

int journal_set_state(struct journal *j, uint64_t id, enum journal_state st, struct diag *d)
{
	return journal_set_safe_state(j, id, st, NULL, NULL, d);
}

int journal_set_safe_state(struct journal *j, uint64_t id, enum journal_state st,
			   const char *safe_state, const char *reason, struct diag *d)
{
	struct journal_rec r;
	int rc;

	rc = need_writable(j, d);
	if (rc)
		return rc;
	if ((unsigned)st >= JOURNAL_STATE_MAX)
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal state %d", st);
	rc = journal_get(j, id, &r, d);
	if (rc)
		return rc;
	if (r.state == st && !safe_state)
		goto out;
	if (r.state != st && !(state_next[r.state] & JOURNAL_STATE_BIT(st))) {
		diag_err(d, DIAG_CONFLICT, NULL, 0, "transaction %" PRIu64 " is %s; it cannot become %s",
			 id, journal_state_str(r.state), journal_state_str(st));
		rc = -EBUSY;
		goto out;
	}
	if (r.state == JOURNAL_STATE_PREPARED) {
		/* the kernel outcome was never recorded: only journal_commit() can add it */
		diag_err(d, DIAG_CONFLICT, NULL, 0,
			 "transaction %" PRIu64 " is prepared (its outcome was never recorded); "
			 "it cannot become %s", id, journal_state_str(st));
		rc = -EBUSY;
		goto out;
	}
	r.state = st;
	r.state_time = (int64_t)time(NULL);
	if (safe_state) {
		snprintf(r.safe_state, sizeof(r.safe_state), "%s", safe_state);
		snprintf(r.safe_reason, sizeof(r.safe_reason), "%s", reason ? reason : "");
	}
	rc = write_meta(j, &r, d);
out:
	journal_rec_fini(&r);
	return rc;
}

/* Append the digests a refs blob lists; -EBADMSG when it is not a clean list. */
static int refs_read(struct journal *j, const struct journal_blob *b, uint8_t (**digs)[32],
		     size_t *n, size_t *cap)
{
	char *buf;
	size_t got;
	int fd, rc = 0;

	if (b->size > JOURNAL_REFS_MAX || b->size % 65)
		return -EBADMSG;
	fd = openat(j->dirfd, b->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -EBADMSG;
	buf = malloc(b->size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	got = read_full(fd, buf, b->size);
	close(fd);
	if (got != b->size)
		rc = -EBADMSG;
	for (size_t off = 0; !rc && off < got; off += 65) {
		if (buf[off + 64] != '\n') {
			rc = -EBADMSG;
			break;
		}
		buf[off + 64] = '\0';
		if (util_grow((void **)digs, cap, *n + 1, 32) < 0)
			rc = -ENOMEM;
		else if (!setobj_unhex(buf + off, (*digs)[*n]))
			rc = -EBADMSG;
		else
			(*n)++;
	}
	free(buf);
	return rc;
}

/*
 * Remove objects no record refers to (and stale temp files of objects). Done
 * only when every record on disk is intact: a corrupt record's refs are
 * unknown, and its objects might be all that is left of a table.
 */
static bool all_intact(struct journal *j, size_t nrecs);

static int gc_objects(struct journal *j, struct diag *d)
{
	uint8_t (*digs)[32] = NULL;
	size_t n = 0, cap = 0, nrecs = 0;
	struct journal_rec *recs = NULL;
	struct dirent *de;
	bool removed = false;
	DIR *dir;
	int fd, dfd, rc;

	fd = obj_dir(j, false, d);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	rc = list_records(j, LIST_NOBLOBS, false, &recs, &nrecs, d);
	if (rc)
		return rc;
	/* every metadata file must have listed as an intact record */
	if (!all_intact(j, nrecs)) {
		journal_recs_free(recs, nrecs);
		return 0;
	}
	for (size_t i = 0; i < nrecs && !rc; i++) {
		if (recs[i].blob[JOURNAL_BLOB_PRIOR_REFS].present)
			rc = refs_read(j, &recs[i].blob[JOURNAL_BLOB_PRIOR_REFS], &digs, &n, &cap);
		if (!rc && recs[i].blob[JOURNAL_BLOB_RESULT_REFS].present)
			rc = refs_read(j, &recs[i].blob[JOURNAL_BLOB_RESULT_REFS], &digs, &n, &cap);
	}
	journal_recs_free(recs, nrecs);
	if (rc) {
		free(digs);
		return rc == -ENOMEM ? diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal") : 0;
	}
	if (n)
		qsort(digs, n, 32, dig_cmp);
	dfd = dup(fd);
	dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		free(digs);
		return 0;
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		uint8_t md[32];

		if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX))) {
			removed |= unlinkat(fd, de->d_name, 0) == 0;
			continue;
		}
		if (!setobj_unhex(de->d_name, md))
			continue;	/* not ours: left alone */
		if (n && bsearch(md, digs, n, 32, dig_cmp))
			continue;
		removed |= unlinkat(fd, de->d_name, 0) == 0;
	}
	closedir(dir);
	free(digs);
	if (removed)
		fsync(fd);
	return 0;
}

/* Every metadata file lists as an intact record (else refs are unknown: nothing may be collected). */
static bool all_intact(struct journal *j, size_t nrecs)
{
	int dfd = dup(j->dirfd);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	size_t nmeta = 0;

	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		return false;
	}
	rewinddir(dir);
	while ((de = readdir(dir))) {
		const char *rest;
		uint64_t id;

		if (name_split(de->d_name, &id, &rest) && !strcmp(rest, "json"))
			nmeta++;
	}
	closedir(dir);
	return nmeta == nrecs;
}

/*
 * The objects only the removed records used: candidates are their refs; a
 * candidate some remaining record lists (each distinct refs file read once:
 * a linked prior is its predecessor's result) stays, the others go.
 */
static void gc_candidates(struct journal *j, uint8_t (*cand)[32], size_t ncand)
{
	struct journal_rec *recs = NULL;
	size_t nrecs = 0;
	struct { dev_t dev; ino_t ino; } *seen = NULL;
	size_t nseen = 0, cseen = 0;
	bool *used = calloc(ncand + 1, sizeof(*used));
	struct diag quiet;
	int fd;

	diag_init(&quiet);
	fd = obj_dir(j, false, &quiet);
	if (!used || fd < 0 || list_records(j, LIST_NOBLOBS, false, &recs, &nrecs, &quiet) || !all_intact(j, nrecs))
		goto out;
	for (size_t i = 0; i < nrecs; i++) {
		for (int k = 0; k < 2; k++) {
			const struct journal_blob *b =
				&recs[i].blob[k ? JOURNAL_BLOB_RESULT_REFS : JOURNAL_BLOB_PRIOR_REFS];
			struct stat st;
			bool dup_file = false;
			char *text;
			size_t got;
			int rfd;

			if (!b->present)
				continue;
			if (b->size > JOURNAL_REFS_MAX)
				goto out;
			rfd = openat(j->dirfd, b->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (rfd < 0 || fstat(rfd, &st) < 0) {
				if (rfd >= 0)
					close(rfd);
				goto out;	/* unreadable: keep everything */
			}
			for (size_t x = 0; x < nseen && !dup_file; x++)
				dup_file = seen[x].dev == st.st_dev && seen[x].ino == st.st_ino;
			if (dup_file || util_grow((void **)&seen, &cseen, nseen + 1, sizeof(*seen)) < 0) {
				close(rfd);
				if (dup_file)
					continue;
				goto out;
			}
			seen[nseen].dev = st.st_dev;
			seen[nseen++].ino = st.st_ino;
			text = malloc(b->size + 1);
			if (!text) {
				close(rfd);
				goto out;
			}
			got = read_full(rfd, text, b->size);
			close(rfd);
			text[got] = '\0';
			for (size_t c = 0; c < ncand; c++) {
				char hexd[65];

				if (used[c])
					continue;
				setobj_hex(cand[c], 32, hexd);
				used[c] = memmem(text, got, hexd, 64) != NULL;
			}
			free(text);
		}
	}
	{
		bool removed = false;

		for (size_t c = 0; c < ncand; c++) {
			char hexd[65];

			if (used[c])
				continue;
			setobj_hex(cand[c], 32, hexd);
			removed |= unlinkat(fd, hexd, 0) == 0;
		}
		if (removed)
			fsync(fd);
	}
out:
	journal_recs_free(recs, nrecs);
	free(seen);
	free(used);
	diag_fini(&quiet);
}

int journal_prune(struct journal *j, unsigned keep, struct diag *d)
{
	struct journal_rec *recs;
	uint8_t (*cand)[32] = NULL;
	size_t n, removed = 0, ncand = 0, ccand = 0;
	bool sweep = false;
	int rc;

	rc = need_writable(j, d);
	if (rc)
		return rc;
	if (!keep)
		keep = 1;
	rc = list_records(j, LIST_NOBLOBS, false, &recs, &n, d);
	if (rc)
		return rc;
	for (size_t i = 0; n > keep && i < n - keep; i++) {
		if (recs[i].state == JOURNAL_STATE_PENDING || recs[i].state == JOURNAL_STATE_PREPARED)
			continue;
		/* what it used, read before its files go */
		for (int k = 0; k < 2 && !rc; k++) {
			const struct journal_blob *b =
				&recs[i].blob[k ? JOURNAL_BLOB_RESULT_REFS : JOURNAL_BLOB_PRIOR_REFS];

			if (b->present && refs_read(j, b, &cand, &ncand, &ccand) == -ENOMEM)
				rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
		}
		if (rc)
			break;
		rc = remove_record(j, recs[i].id, d);
		if (rc)
			break;
		/* now and then every object is checked (orphans of a crash between writes) */
		sweep |= recs[i].id % 64 == 0;
		removed++;
	}
	journal_recs_free(recs, n);
	if (removed) {
		int rc2 = fsync_dir(j, d);

		if (!rc)
			rc = rc2;
		if (!rc && sweep)
			rc = gc_objects(j, d);
		else if (!rc && ncand)
			gc_candidates(j, cand, ncand);
	}
	free(cand);
	return rc ? rc : (int)removed;
}
