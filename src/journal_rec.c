// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Journal record metadata: kind and state names, the canonical file names of a
 * record and its blobs, the record <-> JSON metadata codec (journal_rec_parse(),
 * journal_rec_to_json()) and the shell-quoted command line kept in a record.
 * Pure: no file of the journal is read or written here.
 */
#include "journal_int.h"

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
const char *const jr_blob_suffix[] = {
	[JOURNAL_BLOB_PRIOR_NLMSG] = "prior.nlmsg",
	[JOURNAL_BLOB_PRIOR_NFT] = "prior.nft",
	[JOURNAL_BLOB_RESULT_NLMSG] = "result.nlmsg",
	[JOURNAL_BLOB_RESULT_NFT] = "result.nft",
	[JOURNAL_BLOB_PRIOR_RANGES] = "prior.ranges",
	[JOURNAL_BLOB_RESULT_RANGES] = "result.ranges",
	[JOURNAL_BLOB_PRIOR_REFS] = "prior.refs",
	[JOURNAL_BLOB_RESULT_REFS] = "result.refs",
};
static_assert(ARRAY_SIZE(jr_blob_suffix) == JOURNAL_BLOB_MAX, "jr_blob_suffix out of sync");

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

void jr_meta_name(uint64_t id, char out[JOURNAL_NAME_MAX])
{
	snprintf(out, JOURNAL_NAME_MAX, "%010" PRIu64 ".json", id);
}

void jr_blob_name(uint64_t id, enum journal_blob_kind b, char out[JOURNAL_NAME_MAX])
{
	snprintf(out, JOURNAL_NAME_MAX, "%010" PRIu64 ".%s", id, jr_blob_suffix[b]);
}

/* "NNN.rest" -> id and a pointer to "rest"; false when the name does not start with digits + '.' */
bool jr_name_split(const char *name, uint64_t *id, const char **rest)
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

static bool is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return i == 64;
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

int __printf(2, 3) jr_fail(struct perr *e, const char *fmt, ...)
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
		return jr_fail(e, "'%s' is missing", key);
	if (nullable && json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return jr_fail(e, "'%s' must be an integer%s", key, nullable ? " or null" : "");
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return jr_fail(e, "'%s' value %" PRId64 " is out of range", key, *out);
	return 0;
}

/* A string member of at most max-1 bytes; copied into out (when out_len) or returned. */
static int get_str(struct perr *e, json_t *o, const char *key, size_t max, const char **out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return jr_fail(e, "'%s' is missing", key);
	if (!json_is_string(v))
		return jr_fail(e, "'%s' must be a string", key);
	if (json_string_length(v) >= max || strlen(json_string_value(v)) != json_string_length(v))
		return jr_fail(e, "'%s' is too long or contains NUL", key);
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
		return jr_fail(e, "'%s.%s' is missing", ckey, key);
	if (absent) {
		if (!json_is_null(v))
			return jr_fail(e, "'%s.%s' must be null when the table was absent", ckey, key);
		return 0;
	}
	if (optional && json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return jr_fail(e, "'%s.%s' must be an object", ckey, key);
	f = json_object_get(v, "file");
	s = json_object_get(v, "size");
	h = json_object_get(v, "sha256");
	jr_blob_name(id, which, want);
	if (!json_is_string(f) || strcmp(json_string_value(f), want))
		return jr_fail(e, "'%s.%s.file' must be '%s'", ckey, key, want);
	if (!json_is_integer(s) || json_integer_value(s) < 0)
		return jr_fail(e, "'%s.%s.size' must be a non-negative integer", ckey, key);
	if (!json_is_string(h) || !is_sha256_hex(json_string_value(h)))
		return jr_fail(e, "'%s.%s.sha256' must be 64 lower-case hex digits", ckey, key);
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
		return jr_fail(e, "'%s' must be an object", key);
	a = json_object_get(c, "absent");
	if (!json_is_boolean(a))
		return jr_fail(e, "'%s.absent' must be true or false", key);
	*absent = json_is_true(a);
	rc = parse_blob(e, c, key, "nlmsg", id, nl, *absent, false, &r->blob[nl]);
	/* format 2: no rendering ("nft": null), elements of range sets apart ("ranges") */
	if (!rc)
		rc = parse_blob(e, c, key, "nft", id, nft, *absent, r->format >= 2, &r->blob[nft]);
	if (!rc && r->format >= 2 && !json_object_get(c, "ranges"))
		rc = jr_fail(e, "'%s.ranges' is missing", key);
	if (!rc)
		rc = parse_blob(e, c, key, "ranges", id,
				nl == JOURNAL_BLOB_PRIOR_NLMSG ? JOURNAL_BLOB_PRIOR_RANGES
							       : JOURNAL_BLOB_RESULT_RANGES,
				*absent, true, &r->blob[nl == JOURNAL_BLOB_PRIOR_NLMSG
								? JOURNAL_BLOB_PRIOR_RANGES
								: JOURNAL_BLOB_RESULT_RANGES]);
	/* format 3: the objects the ranges refer to ("refs", null when none) */
	if (!rc && r->format >= 3 && !json_object_get(c, "refs"))
		rc = jr_fail(e, "'%s.refs' is missing", key);
	if (!rc && r->format >= 3)
		rc = parse_blob(e, c, key, "refs", id,
				nl == JOURNAL_BLOB_PRIOR_NLMSG ? JOURNAL_BLOB_PRIOR_REFS
							       : JOURNAL_BLOB_RESULT_REFS,
				*absent, true, &r->blob[nl == JOURNAL_BLOB_PRIOR_NLMSG
								? JOURNAL_BLOB_PRIOR_REFS
								: JOURNAL_BLOB_RESULT_REFS]);
	return rc;
}

#define CHECK(call)              \
	do {                     \
		int rc_ = (call); \
		if (rc_)         \
			return rc_; \
	} while (0)

/* The record's identity: format, id (expect_id: the file name's, 0: any), kind, who ran it. */
static int parse_who(struct perr *e, json_t *o, uint64_t expect_id, struct journal_rec *r)
{
	const char *s;
	int64_t x;

	CHECK(get_int(e, o, "format", false, 1, INT64_MAX, &x));
	r->format = (unsigned)(x > JOURNAL_FORMAT ? JOURNAL_FORMAT : x);
	if (x > JOURNAL_FORMAT)
		return jr_fail(e, "format %" PRId64 " is newer than this portlock understands (%d)", x,
			       JOURNAL_FORMAT);
	CHECK(get_int(e, o, "id", false, 1, INT64_MAX, &x));
	r->id = (uint64_t)x;
	if (expect_id && r->id != expect_id)
		return jr_fail(e, "'id' %" PRIu64 " does not match the file name (%" PRIu64 ")", r->id,
			       expect_id);
	snprintf(r->file, sizeof(r->file), "%010" PRIu64 ".json", r->id);
	CHECK(get_str(e, o, "kind", 32, &s));
	if (journal_kind_parse(s, &r->kind) < 0)
		return jr_fail(e, "'kind' '%.32s' is unknown", s);
	CHECK(get_int(e, o, "reverts_id", true, 1, INT64_MAX, &x));
	r->reverts_id = (uint64_t)x;
	CHECK(get_int(e, o, "time", false, 0, INT64_MAX, &r->time));
	CHECK(get_int(e, o, "state_time", false, 0, INT64_MAX, &r->state_time));
	CHECK(get_int(e, o, "uid", false, 0, UINT32_MAX, &x));
	r->uid = (uint32_t)x;
	CHECK(get_str(e, o, "user", sizeof(r->user), &s));
	snprintf(r->user, sizeof(r->user), "%s", s);
	CHECK(get_str(e, o, "argv", JOURNAL_META_MAX, &s));
	r->argv = strdup(s);
	if (!r->argv)
		return -ENOMEM;
	return 0;
}

/* What the record did: policy, table, generations, state, deadline, counts, safe state. */
static int parse_what(struct perr *e, json_t *o, struct journal_rec *r)
{
	const char *s;
	json_t *v;
	int64_t x;

	v = json_object_get(o, "policy_sha256");
	if (!v)
		return jr_fail(e, "'policy_sha256' is missing");
	if (!json_is_null(v)) {
		if (!json_is_string(v) || !is_sha256_hex(json_string_value(v)))
			return jr_fail(e, "'policy_sha256' must be 64 lower-case hex digits or null");
		memcpy(r->policy_sha256, json_string_value(v), 65);
	}
	CHECK(get_str(e, o, "table", sizeof(r->table), &s));
	if (!*s)
		return jr_fail(e, "'table' is empty");
	snprintf(r->table, sizeof(r->table), "%s", s);
	CHECK(get_int(e, o, "gen_before", false, 0, UINT32_MAX, &x));
	r->gen_before = (uint32_t)x;
	CHECK(get_int(e, o, "gen_after", false, 0, UINT32_MAX, &x));
	r->gen_after = (uint32_t)x;
	CHECK(get_str(e, o, "state", 32, &s));
	if (journal_state_parse(s, &r->state) < 0)
		return jr_fail(e, "'state' '%.32s' is unknown", s);
	CHECK(get_int(e, o, "confirm_deadline", true, 1, INT64_MAX, &r->confirm_deadline));
	CHECK(get_int(e, o, "added", false, 0, INT64_MAX, &x));
	r->added = (uint64_t)x;
	CHECK(get_int(e, o, "removed", false, 0, INT64_MAX, &x));
	r->removed = (uint64_t)x;
	/* optional (records before the safe state have neither) */
	v = json_object_get(o, "safe_state");
	if (v && !json_is_null(v)) {
		CHECK(get_str(e, o, "safe_state", sizeof(r->safe_state), &s));
		snprintf(r->safe_state, sizeof(r->safe_state), "%s", s);
		v = json_object_get(o, "safe_reason");
		if (v && !json_is_null(v)) {
			CHECK(get_str(e, o, "safe_reason", sizeof(r->safe_reason), &s));
			snprintf(r->safe_reason, sizeof(r->safe_reason), "%s", s);
		}
	}
	return 0;
}

/* The table's contents: prior, and result (null exactly while prepared). */
static int parse_contents(struct perr *e, json_t *o, struct journal_rec *r)
{
	json_t *v;

	CHECK(parse_content(e, o, "prior", r->id, JOURNAL_BLOB_PRIOR_NLMSG, JOURNAL_BLOB_PRIOR_NFT,
			    &r->prior_absent, r));
	v = json_object_get(o, "result");
	if (!v)
		return jr_fail(e, "'result' is missing");
	if (json_is_null(v)) {
		if (r->state != JOURNAL_STATE_PREPARED)
			return jr_fail(e, "'result' is null but the state is '%s'",
				       journal_state_str(r->state));
		return 0;
	}
	if (r->state == JOURNAL_STATE_PREPARED)
		return jr_fail(e, "'result' must be null in state 'prepared'");
	r->has_result = true;
	return parse_content(e, o, "result", r->id, JOURNAL_BLOB_RESULT_NLMSG,
			     JOURNAL_BLOB_RESULT_NFT, &r->result_absent, r);
}
#undef CHECK

int journal_rec_parse(const char *buf, size_t len, uint64_t expect_id, struct journal_rec *r,
		      char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	json_error_t jerr;
	json_t *o;
	int rc;

	memset(r, 0, sizeof(*r));
	if (errlen)
		err[0] = '\0';
	if (!len)
		return jr_fail(&e, "empty file (truncated)");
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return jr_fail(&e, "truncated or invalid JSON at line %d, column %d: %s", jerr.line,
			    jerr.column, jerr.text);
	if (!json_is_object(o))
		rc = jr_fail(&e, "not a JSON object");
	else
		rc = parse_who(&e, o, expect_id, r);
	if (!rc)
		rc = parse_what(&e, o, r);
	if (!rc)
		rc = parse_contents(&e, o, r);
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
char *jr_self_cmdline(void)
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
