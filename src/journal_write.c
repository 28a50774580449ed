// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Writing the journal (journal.h: write protocol): new ids (journal_begin()),
 * a content's blobs written or hard-linked to an earlier identical result,
 * the metadata as the commit point (journal_prepare(), journal_commit()),
 * state transitions, and removal (journal_abort(), journal_prune()).
 */
#include "journal_int.h"

#include <openssl/evp.h>

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

static int fsync_dir(struct journal *j, struct diag *d)
{
	if (fsync(j->dirfd) < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot sync journal directory '%s'",
				j->jdir);
	return 0;
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
		setobj_hex(md, 32, sha_hex);
	}
	rc = statestore_replace(j->dirfd, name, buf, len, STATESTORE_SYNC);
	if (rc)
		return diag_err(d, DIAG_INTERNAL, NULL, -rc, "cannot write '%s/%s'", j->jdir, name);
	return 0;
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

		if (jr_name_split(de->d_name, &id, &rest) && id > max)
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

	rc = jr_need_writable(j, d);
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
	jr_meta_name(id, r->file);
	r->kind = JOURNAL_KIND_APPLY;
	r->state = JOURNAL_STATE_APPLIED;
	r->time = r->state_time = (int64_t)time(NULL);
	r->uid = (uint32_t)getuid();
	user_name(getuid(), r->user, sizeof(r->user));
	r->argv = jr_self_cmdline();
	if (!r->argv)
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	return 0;
}

/* The blobs of a content: nlmsg, nft (format 1 only), ranges, refs (prior or result). */
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
	got = jr_read_full(fd, buf, (size_t)st.st_size);
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
	jr_meta_name(src_id, name);
	rc = jr_read_record(j, name, src_id, false, &src, &e);
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
		jr_blob_name(r->id, k[i], b->file);
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

static int write_content(struct journal *j, struct journal_rec *r, enum journal_blob_kind nl,
			 enum journal_blob_kind nft, const struct journal_content *c, bool *absent,
			 struct diag *d)
{
	char *refs = NULL;
	size_t refslen = 0;
	/* the .nft kind is only linked (from a format 1 record), never written */
	const void *data[CONTENT_KINDS] = { c->nlmsg, NULL, c->ranges, NULL };
	size_t len[CONTENT_KINDS] = { c->nlmsg_len, 0, c->ranges_len, 0 };
	enum journal_blob_kind kinds[CONTENT_KINDS];
	int rc;

	(void)nft;
	if (c->same_as_result_of)
		return link_content(j, r, nl, c->same_as_result_of, absent, d);
	content_kinds(nl, kinds);
	*absent = c->absent;
	if (!c->absent) {
		/* objects first: durable before anything refers to them */
		rc = jr_write_objects(j, c, &refs, &refslen, d);
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
		jr_blob_name(r->id, kinds[i], b->file);
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
		jr_lc_put(j, r);
	else
		jr_lc_drop(j);
	return rc;
}

static int check_new_rec(struct journal *j, struct journal_rec *r, struct diag *d)
{
	int rc = jr_need_writable(j, d);
	char want[JOURNAL_NAME_MAX];

	if (rc)
		return rc;
	jr_meta_name(r->id, want);
	if (!r->id || strcmp(r->file, want))
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal record not from journal_begin()");
	if (!*r->table)
		return diag_err(d, DIAG_INTERNAL, NULL, EINVAL, "journal record %" PRIu64 ": no table name",
				r->id);
	if (!r->argv && !(r->argv = strdup("")))
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
	return 0;
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
		jr_note_created(j, r->table, d);
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
		jr_note_created(j, r->table, d);
	r->has_result = true;
	r->state_time = (int64_t)time(NULL);
	return write_meta(j, r, d);
}

/* Remove a record: metadata first (the record is gone), then its blobs. */
static int remove_record(struct journal *j, uint64_t id, struct diag *d)
{
	char name[JOURNAL_NAME_MAX];

	jr_meta_name(id, name);
	if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT) {
		jr_lc_drop(j);
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "cannot remove '%s/%s'", j->jdir, name);
	}
	jr_lc_del(j, id);
	for (unsigned b = 0; b < JOURNAL_BLOB_MAX; b++) {
		jr_blob_name(id, b, name);
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
		rc = jr_gc_objects(j, d);
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

	rc = jr_need_writable(j, d);
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

int journal_prune(struct journal *j, unsigned keep, struct diag *d)
{
	struct journal_rec *recs;
	uint8_t (*cand)[32] = NULL;
	size_t n, removed = 0, ncand = 0, ccand = 0;
	bool sweep = false;
	int rc;

	rc = jr_need_writable(j, d);
	if (rc)
		return rc;
	if (!keep)
		keep = 1;
	rc = jr_list_records(j, LIST_NOBLOBS, false, &recs, &n, d);
	if (rc)
		return rc;
	for (size_t i = 0; n > keep && i < n - keep; i++) {
		if (recs[i].state == JOURNAL_STATE_PENDING || recs[i].state == JOURNAL_STATE_PREPARED)
			continue;
		/* what it used, read before its files go */
		for (int k = 0; k < 2 && !rc; k++) {
			const struct journal_blob *b =
				&recs[i].blob[k ? JOURNAL_BLOB_RESULT_REFS : JOURNAL_BLOB_PRIOR_REFS];

			if (b->present && jr_refs_read(j, b, &cand, &ncand, &ccand) == -ENOMEM)
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
			rc = jr_gc_objects(j, d);
		else if (!rc && ncand)
			jr_gc_candidates(j, cand, ncand);
	}
	free(cand);
	return rc ? rc : (int)removed;
}
