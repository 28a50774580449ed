// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Journal handle, state dir and run lock: journal_open() (state dir trusted
 * through statestore, the lock taken and described, a crash's leftovers
 * removed), journal_open_readonly(), journal_close()/journal_forget(), and the
 * state dir's id and list of tables it created (<state>/tables).
 */
#include "journal_int.h"

const char *journal_path(const struct journal *j)
{
	return j->jdir;
}

const char *journal_objects_path(const struct journal *j)
{
	return j->objdir;
}

static void journal_free(struct journal *j)
{
	if (!j)
		return;
	jr_lc_drop(j);
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
	cmd = jr_self_cmdline();
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

		if (jr_name_split(de->d_name, &id, &rest) && !strcmp(rest, "json") &&
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
		if (!jr_name_split(de->d_name, &id, &rest))
			continue;
		for (unsigned b = 0; b < JOURNAL_BLOB_MAX; b++)
			is_blob |= !strcmp(rest, jr_blob_suffix[b]);
		if (!is_blob || (nids && bsearch(&id, ids, nids, sizeof(*ids), id_cmp)))
			continue;
		/* a record written since the first pass has its metadata now */
		{
			char meta[JOURNAL_NAME_MAX];

			jr_meta_name(id, meta);
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
			jr_note_created(j, recs[i].table, d);
	journal_recs_free(recs, n);
	jr_lc_drop(j);	/* the caller's first listing reads the records itself */
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

int jr_need_writable(struct journal *j, struct diag *d)
{
	if (!j->writable || j->dirfd < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, EBADF,
				"journal '%s' is open read-only", j->state_dir);
	return 0;
}

/* Table `table` was (or is about to be) created by this state dir: <state>/tables says so. */
void jr_note_created(struct journal *j, const char *table, struct diag *d)
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
