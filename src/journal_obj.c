// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The journal's object store (format 3): journal/objects/<sha256> holds each
 * distinct range-set content once (its encoding is setobj.c's), a record's
 * refs blobs list the objects it uses, and garbage collection removes objects
 * no remaining record lists. It stays in the journal, not in setobj.c or
 * statestore.c: what may be collected is decided by the journal's records
 * (their refs, and whether every record is intact), while setobj.c is a pure
 * codec and statestore.c knows nothing of records.
 */
#include "journal_int.h"

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
int jr_write_objects(struct journal *j, const struct journal_content *c, char **refs,
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

/* Append the digests a refs blob lists; -EBADMSG when it is not a clean list. */
int jr_refs_read(struct journal *j, const struct journal_blob *b, uint8_t (**digs)[32],
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
	got = jr_read_full(fd, buf, b->size);
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

int jr_gc_objects(struct journal *j, struct diag *d)
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
	rc = jr_list_records(j, LIST_NOBLOBS, false, &recs, &nrecs, d);
	if (rc)
		return rc;
	/* every metadata file must have listed as an intact record */
	if (!all_intact(j, nrecs)) {
		journal_recs_free(recs, nrecs);
		return 0;
	}
	for (size_t i = 0; i < nrecs && !rc; i++) {
		if (recs[i].blob[JOURNAL_BLOB_PRIOR_REFS].present)
			rc = jr_refs_read(j, &recs[i].blob[JOURNAL_BLOB_PRIOR_REFS], &digs, &n, &cap);
		if (!rc && recs[i].blob[JOURNAL_BLOB_RESULT_REFS].present)
			rc = jr_refs_read(j, &recs[i].blob[JOURNAL_BLOB_RESULT_REFS], &digs, &n, &cap);
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

		if (jr_name_split(de->d_name, &id, &rest) && !strcmp(rest, "json"))
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
void jr_gc_candidates(struct journal *j, uint8_t (*cand)[32], size_t ncand)
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
	if (!used || fd < 0 || jr_list_records(j, LIST_NOBLOBS, false, &recs, &nrecs, &quiet) || !all_intact(j, nrecs))
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
			got = jr_read_full(rfd, text, b->size);
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
