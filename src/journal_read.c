// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading the journal: one record's metadata and blob checks, the listing of
 * every record (lock-free readers rescan when a writer renamed meanwhile) and
 * the handle's cached listing, journal_get(), journal_load_blob(), and the
 * newest record in a set of states (journal_last*()).
 */
#include "journal_int.h"

#include <openssl/evp.h>

/* Read up to len bytes (fewer only at end of file or on an error); returns how many. */
size_t jr_read_full(int fd, char *buf, size_t len)
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

void jr_lc_drop(struct journal *j)
{
	journal_recs_free(j->lc, j->nlc);
	j->lc = NULL;
	j->nlc = 0;
	j->lc_valid = false;
}

static int rec_cmp(const void *a, const void *b);

/* A record was written: the cached listing takes it as written (no new listing needed). */
void jr_lc_put(struct journal *j, const struct journal_rec *r)
{
	size_t i;

	if (!j->lc_valid)
		return;
	for (i = 0; i < j->nlc && j->lc[i].id != r->id; i++)
		;
	if (i == j->nlc) {
		struct journal_rec *a = realloc(j->lc, (j->nlc + 1) * sizeof(*a));

		if (!a) {
			jr_lc_drop(j);
			return;
		}
		j->lc = a;
		memset(&j->lc[j->nlc++], 0, sizeof(*a));
	}
	free(j->lc[i].argv);
	j->lc[i] = *r;
	j->lc[i].argv = r->argv ? strdup(r->argv) : NULL;
	if (r->argv && !j->lc[i].argv) {
		jr_lc_drop(j);
		return;
	}
	qsort(j->lc, j->nlc, sizeof(*j->lc), rec_cmp);
}

void jr_lc_del(struct journal *j, uint64_t id)
{
	for (size_t i = 0; j->lc_valid && i < j->nlc; i++)
		if (j->lc[i].id == id) {
			free(j->lc[i].argv);
			memmove(&j->lc[i], &j->lc[i + 1], (j->nlc - i - 1) * sizeof(*j->lc));
			j->nlc--;
			return;
		}
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
	setobj_hex(md, 32, out);
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
				return jr_fail(e, "blob '%s' is missing", b->file), -ENOENT;
			rc = -errno;
			jr_fail(e, "blob '%s' cannot be opened: %s", b->file, strerror(-rc));
			return -EBADMSG;
		}
		if (!S_ISREG(st.st_mode))
			return jr_fail(e, "blob '%s' is not a regular file", b->file);
		if ((uint64_t)st.st_size != b->size)
			return jr_fail(e, "blob '%s' has %lld bytes, expected %" PRIu64 "%s", b->file,
				    (long long)st.st_size, b->size,
				    (uint64_t)st.st_size < b->size ? " (truncated)" : "");
		return 0;
	}
	fd = openat(j->dirfd, b->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return jr_fail(e, "blob '%s' is missing", b->file), -ENOENT;
		rc = -errno;
		jr_fail(e, "blob '%s' cannot be opened: %s", b->file, strerror(-rc));
		return -EBADMSG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return jr_fail(e, "blob '%s' is not a regular file", b->file);
	}
	if ((uint64_t)st.st_size != b->size) {
		close(fd);
		return jr_fail(e, "blob '%s' has %lld bytes, expected %" PRIu64 "%s", b->file,
			    (long long)st.st_size, b->size,
			    (uint64_t)st.st_size < b->size ? " (truncated)" : "");
	}
	if (verify) {
		rc = hash_fd(fd, sha);
		if (!rc && strcmp(sha, b->sha256))
			rc = jr_fail(e, "blob '%s' has sha256 %.12s…, expected %.12s…", b->file, sha,
				  b->sha256);
		else if (rc && rc != -ENOMEM)
			rc = jr_fail(e, "blob '%s' cannot be read: %s", b->file, strerror(-rc));
		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

static int check_blobs(struct journal *j, const char *name, const struct journal_rec *r, bool verify,
		       struct perr *e);

int jr_read_record(struct journal *j, const char *name, uint64_t expect_id, unsigned flags,
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
		jr_fail(e, "cannot open: %s", strerror(-rc));
		return -EBADMSG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return jr_fail(e, "not a regular file");
	}
	if (st.st_size > JOURNAL_META_MAX) {
		close(fd);
		return jr_fail(e, "metadata is %lld bytes, more than the %d allowed", (long long)st.st_size,
			    JOURNAL_META_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	got = jr_read_full(fd, buf, (size_t)st.st_size);
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

int jr_list_records(struct journal *j, unsigned flags, bool warn, struct journal_rec **recs,
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
		jr_lc_drop(j);
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

		if (!jr_name_split(de->d_name, &id, &rest) || strcmp(rest, "json"))
			continue;
		if (util_grow((void **)&arr, &cap, n + 1, sizeof(*arr)) < 0) {
			rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "journal");
			break;
		}
		jr_meta_name(id, canon);
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
		rc = jr_read_record(j, de->d_name, id, flags, &arr[n], &e);
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
	return jr_list_records(j, flags, true, recs, n, d);
}

int journal_get(struct journal *j, uint64_t id, struct journal_rec *r, struct diag *d)
{
	char name[JOURNAL_NAME_MAX], err[512] = "";
	struct perr e = { err, sizeof(err) };
	int rc;

	jr_meta_name(id, name);
	rc = id ? jr_read_record(j, name, id, false, r, &e) : -ENOENT;
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
	got = jr_read_full(fd, buf, (size_t)b->size);
	close(fd);
	if (got != b->size || !EVP_Digest(buf, got, md, &mdlen, EVP_sha256(), NULL)) {
		free(buf);
		diag_err(d, DIAG_CONFLICT, NULL, 0, "journal record %" PRIu64 ": cannot read '%s/%s'",
			 r->id, j->jdir, b->file);
		return -EBADMSG;
	}
	setobj_hex(md, 32, sha);
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
	rc = jr_list_records(j, LIST_NOBLOBS, true, &recs, &n, d);
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
