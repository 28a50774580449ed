// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the transaction journal: round trips, ids, corruption
 * handling, retention, states, the run lock (with a child holding it) and
 * crash safety (a child SIGKILLed at random points while committing).
 * Everything happens in a temp dir under /tmp; no root, no network.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "diag.h"
#include "journal.h"

#include <openssl/evp.h>

struct fx {
	char tmp[64];
	char state[128];
	struct diag d;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/pl-journal-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->state, sizeof(f->state), "%s/state", f->tmp);
	diag_init(&f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	diag_fini(&f->d);
	free(f);
	return 0;
}

/* True when some record of level lvl reads "FILE: MSG" containing needle. */
static bool diag_has(const struct diag *d, enum diag_level lvl, const char *needle)
{
	for (size_t i = 0; i < d->nrecs; i++) {
		char buf[2048];

		if (d->recs[i].lvl != lvl)
			continue;
		snprintf(buf, sizeof(buf), "%s: %s", d->recs[i].file ? d->recs[i].file : "",
			 d->recs[i].msg ? d->recs[i].msg : "");
		if (strstr(buf, needle))
			return true;
	}
	return false;
}

static void dump_diag(const struct diag *d)
{
	diag_print(d, stderr);
}

static char *path_in(struct fx *f, const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/journal/%s", f->state, name);
	return buf;
}

/* Commit one record with recognizable content; returns its id. */
static uint64_t add_rec(struct journal *j, struct diag *d, enum journal_state st, size_t size,
			bool prior_absent)
{
	struct journal_rec r;
	struct journal_content prior = { 0 }, result = { 0 };
	char *a = malloc(size + 1), *b = malloc(size + 1);
	uint64_t id;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(journal_begin(j, &r, d), 0);
	for (size_t i = 0; i < size; i++) {
		a[i] = (char)(r.id * 7 + i);
		b[i] = (char)(r.id * 13 + i * 3);
	}
	snprintf(r.table, sizeof(r.table), "portlock");
	memset(r.policy_sha256, 'a', 64);
	r.gen_before = 10;
	r.gen_after = 11;
	r.added = 3;
	r.removed = 1;
	r.state = st;
	if (st == JOURNAL_STATE_PENDING)
		r.confirm_deadline = r.time + 60;
	prior.absent = prior_absent;
	prior.nlmsg = a;
	prior.nlmsg_len = size;
	prior.ranges = "table inet portlock {\n}\n";
	prior.ranges_len = strlen(prior.ranges);
	result.nlmsg = b;
	result.nlmsg_len = size;
	result.ranges = "table inet portlock { chain input { } }\n";
	result.ranges_len = strlen(result.ranges);
	if (journal_commit(j, &r, &prior, &result, d))
		dump_diag(d);
	id = r.id;
	journal_rec_fini(&r);
	free(a);
	free(b);
	return id;
}

static void list_ids(struct journal *j, struct diag *d, uint64_t *ids, size_t *n)
{
	struct journal_rec *recs;
	size_t cnt;

	assert_int_equal(journal_list(j, 0, &recs, &cnt, d), 0);
	for (size_t i = 0; i < cnt; i++)
		ids[i] = recs[i].id;
	*n = cnt;
	journal_recs_free(recs, cnt);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec *recs, r;
	size_t n, len;
	void *buf;
	struct stat st;
	uint64_t id;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	id = add_rec(j, &f->d, JOURNAL_STATE_PENDING, 1000, false);
	assert_int_equal(id, 1);
	journal_close(j);
	assert_false(diag_failed(&f->d));
	assert_int_equal(stat(f->state, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(journal_open_readonly(&j, f->state, &f->d), 0);
	assert_int_equal(journal_list(j, JOURNAL_LIST_VERIFY, &recs, &n, &f->d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].id, 1);
	assert_int_equal(recs[0].kind, JOURNAL_KIND_APPLY);
	assert_int_equal(recs[0].state, JOURNAL_STATE_PENDING);
	assert_int_equal(recs[0].confirm_deadline, recs[0].time + 60);
	assert_int_equal(recs[0].gen_before, 10);
	assert_int_equal(recs[0].gen_after, 11);
	assert_int_equal(recs[0].added, 3);
	assert_int_equal(recs[0].removed, 1);
	assert_int_equal(recs[0].uid, getuid());
	assert_string_equal(recs[0].table, "portlock");
	assert_int_equal(strlen(recs[0].policy_sha256), 64);
	assert_non_null(strstr(recs[0].argv, "test_journal"));
	assert_false(recs[0].prior_absent);
	assert_true(recs[0].has_result);
	assert_string_equal(recs[0].blob[JOURNAL_BLOB_PRIOR_NLMSG].file, "0000000001.prior.nlmsg");
	assert_int_equal(recs[0].blob[JOURNAL_BLOB_PRIOR_NLMSG].size, 1000);

	assert_int_equal(journal_load_blob(j, &recs[0], JOURNAL_BLOB_PRIOR_NLMSG, &buf, &len, &f->d), 0);
	assert_int_equal(len, 1000);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(((unsigned char *)buf)[i], (unsigned char)(1 * 7 + i));
	free(buf);
	assert_int_equal(journal_load_blob(j, &recs[0], JOURNAL_BLOB_RESULT_RANGES, &buf, &len, &f->d), 0);
	assert_string_equal(buf, "table inet portlock { chain input { } }\n");
	free(buf);
	assert_int_equal(journal_get(j, 1, &r, &f->d), 0);
	assert_int_equal(r.id, 1);
	assert_string_equal(r.argv, recs[0].argv);
	journal_rec_fini(&r);
	journal_recs_free(recs, n);
	journal_close(j);
	assert_int_equal(f->d.nrecs, 0);
}

static void test_create_modes(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	char path[256];
	struct stat st;

	/* missing parents 0755, the state dir and journal 0700, even with a trailing '/' */
	snprintf(path, sizeof(path), "%s/a/b/state/", f->tmp);
	assert_int_equal(journal_open(&j, path, 0, &f->d), 0);
	snprintf(path, sizeof(path), "%s/a/b/state/journal", f->tmp);
	assert_string_equal(journal_path(j), path);
	journal_close(j);
	/* missing parents are created 0700 too (statestore_open()) */
	snprintf(path, sizeof(path), "%s/a/b", f->tmp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/state", f->tmp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/state/journal", f->tmp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/state/lock", f->tmp);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a file where the state dir should be */
	snprintf(path, sizeof(path), "%s/a/b/state/lock", f->tmp);
	assert_int_equal(journal_open(&j, path, 0, &f->d), -ENOTDIR);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "/lock' is not a directory"));
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFIG);
}

static void test_ids_monotonic_across_prune(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	uint64_t ids[16];
	size_t n;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false), i);
	assert_int_equal(journal_prune(j, 2, &f->d), 3);
	list_ids(j, &f->d, ids, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 4);
	assert_int_equal(ids[1], 5);
	assert_int_equal(add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false), 6);
	/* keep 0 still keeps the newest record: the next id can be derived from it */
	assert_int_equal(journal_prune(j, 0, &f->d), 2);
	list_ids(j, &f->d, ids, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 6);
	/* without the counter file, the highest record on disk decides */
	assert_int_equal(unlink(path_in(f, "next-id")), 0);
	assert_int_equal(add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false), 7);
	/* a counter ahead of the records wins (ids handed out and then pruned) */
	assert_int_equal(journal_prune(j, 1, &f->d), 1);
	{
		int fd = open(path_in(f, "next-id"), O_WRONLY | O_TRUNC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "42\n", 3), 3);
		close(fd);
	}
	assert_int_equal(add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false), 42);
	/* a corrupt counter is warned about and ignored */
	{
		int fd = open(path_in(f, "next-id"), O_WRONLY | O_TRUNC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "garbage", 7), 7);
		close(fd);
	}
	assert_int_equal(add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false), 43);
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING, "'next-id' is corrupt"));
	journal_close(j);
	assert_false(diag_failed(&f->d));
}

static void test_blob_checksum_mismatch(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec *recs, r;
	size_t n, len;
	void *buf = NULL;
	int fd;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 4096, false);
	add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 4096, false);
	/* flip one byte: same size, different hash */
	fd = open(path_in(f, "0000000001.prior.nlmsg"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff\xfe", 2, 100), 2);
	close(fd);
	/* a cheap list checks sizes only */
	assert_int_equal(journal_list(j, 0, &recs, &n, &f->d), 0);
	assert_int_equal(n, 2);
	journal_recs_free(recs, n);
	assert_int_equal(f->d.nwarnings, 0);
	/* --verify hashes: record 1 is reported and skipped, record 2 stays */
	assert_int_equal(journal_list(j, JOURNAL_LIST_VERIFY, &recs, &n, &f->d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].id, 2);
	journal_recs_free(recs, n);
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING, "0000000001.json: corrupt journal record skipped: blob '0000000001.prior.nlmsg' has sha256"));
	/* loading the blob (what revert does) always verifies */
	assert_int_equal(journal_get(j, 1, &r, &f->d), 0);
	assert_int_equal(journal_load_blob(j, &r, JOURNAL_BLOB_PRIOR_NLMSG, &buf, &len, &f->d),
			 -EBADMSG);
	assert_null(buf);
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFLICT);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is corrupt: sha256"));
	/* the other blob of the same record is fine */
	assert_int_equal(journal_load_blob(j, &r, JOURNAL_BLOB_RESULT_NLMSG, &buf, &len, &f->d), 0);
	assert_int_equal(len, 4096);
	free(buf);
	journal_rec_fini(&r);
	journal_close(j);
}

static void test_truncated_json_skipped(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r;
	uint64_t ids[8];
	size_t n;
	struct stat st;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	for (int i = 0; i < 3; i++)
		add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 100, false);
	assert_int_equal(stat(path_in(f, "0000000002.json"), &st), 0);
	assert_int_equal(truncate(path_in(f, "0000000002.json"), st.st_size / 2), 0);
	/* an empty record and a non-JSON one too */
	assert_int_equal(truncate(path_in(f, "0000000003.json"), 0), 0);
	list_ids(j, &f->d, ids, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 1);
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING,
			     "journal/0000000002.json: corrupt journal record skipped: truncated or invalid JSON at line"));
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING,
			     "journal/0000000003.json: corrupt journal record skipped: empty file"));
	assert_false(diag_failed(&f->d));
	/* asked for by id, a corrupt record is a conflict naming the file */
	assert_int_equal(journal_get(j, 2, &r, &f->d), -EBADMSG);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "0000000002.json' is corrupt: truncated"));
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFLICT);
	/* corrupt records still burn their id */
	assert_int_equal(add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false), 4);
	journal_close(j);
}

static void test_missing_blob(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	uint64_t ids[8];
	size_t n;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 100, false);
	add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 100, false);
	assert_int_equal(unlink(path_in(f, "0000000001.result.ranges")), 0);
	assert_int_equal(truncate(path_in(f, "0000000002.prior.nlmsg"), 10), 0);
	list_ids(j, &f->d, ids, &n);
	assert_int_equal(n, 0);
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING,
			     "0000000001.json: corrupt journal record skipped: blob '0000000001.result.ranges' is missing"));
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING,
			     "blob '0000000002.prior.nlmsg' has 10 bytes, expected 100 (truncated)"));
	journal_close(j);
}

static void test_prior_absent(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r;
	struct journal_content none = { .absent = true }, prior = { .nlmsg = "x", .nlmsg_len = 1 };
	void *buf = NULL;
	size_t len;
	uint64_t id;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	id = add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, true);
	assert_int_equal(journal_get(j, id, &r, &f->d), 0);
	assert_true(r.prior_absent);
	assert_false(r.blob[JOURNAL_BLOB_PRIOR_NLMSG].present);
	assert_false(r.blob[JOURNAL_BLOB_PRIOR_NFT].present);
	assert_true(r.blob[JOURNAL_BLOB_RESULT_NLMSG].present);
	assert_int_equal(journal_load_blob(j, &r, JOURNAL_BLOB_PRIOR_NLMSG, &buf, &len, &f->d), -ENOENT);
	assert_null(buf);
	journal_rec_fini(&r);
	assert_int_equal(access(path_in(f, "0000000001.prior.nlmsg"), F_OK), -1);

	/* a revert that removed the table: result absent */
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	r.kind = JOURNAL_KIND_REVERT;
	r.reverts_id = id;
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_int_equal(journal_commit(j, &r, &prior, &none, &f->d), 0);
	journal_rec_fini(&r);
	assert_int_equal(journal_get(j, 2, &r, &f->d), 0);
	assert_int_equal(r.kind, JOURNAL_KIND_REVERT);
	assert_int_equal(r.reverts_id, 1);
	assert_false(r.prior_absent);
	assert_true(r.result_absent);
	assert_int_equal(r.policy_sha256[0], '\0');
	assert_false(r.blob[JOURNAL_BLOB_RESULT_NFT].present);
	/* no rendering given: none stored ("nft": null), and loading it is -ENOENT */
	assert_false(r.blob[JOURNAL_BLOB_PRIOR_NFT].present);
	assert_false(r.blob[JOURNAL_BLOB_PRIOR_RANGES].present);
	assert_int_equal(journal_load_blob(j, &r, JOURNAL_BLOB_PRIOR_NFT, &buf, &len, &f->d), -ENOENT);
	/* an empty nlmsg is still a (0-byte) blob */
	assert_true(r.blob[JOURNAL_BLOB_PRIOR_NLMSG].present);
	assert_int_equal(r.blob[JOURNAL_BLOB_PRIOR_NLMSG].size, 1);
	free(buf);
	journal_rec_fini(&r);
	journal_close(j);
	assert_false(diag_failed(&f->d));
}

/* Format 2: ranges blobs, and a content that is a hard link to an earlier result. */
static void test_ranges_and_link(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r, r2;
	struct journal_content prior = { .nlmsg = "p", .nlmsg_len = 1, .ranges = "PR", .ranges_len = 2 };
	struct journal_content result = { .nlmsg = "res", .nlmsg_len = 3, .ranges = "RANGES", .ranges_len = 6 };
	struct journal_content linked = { .same_as_result_of = 0 };
	struct stat st;
	void *buf;
	size_t len;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_int_equal(journal_prepare(j, &r, &prior, &f->d), 0);
	assert_int_equal(journal_commit(j, &r, NULL, &result, &f->d), 0);
	journal_rec_fini(&r);
	assert_int_equal(journal_get(j, 1, &r, &f->d), 0);
	assert_int_equal(r.format, JOURNAL_FORMAT);
	assert_false(r.blob[JOURNAL_BLOB_RESULT_NFT].present);
	assert_int_equal(journal_load_blob(j, &r, JOURNAL_BLOB_RESULT_RANGES, &buf, &len, &f->d), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "RANGES", 6);
	free(buf);

	/* the next record's prior is record 1's result: linked, not copied */
	linked.same_as_result_of = 1;
	assert_int_equal(journal_begin(j, &r2, &f->d), 0);
	snprintf(r2.table, sizeof(r2.table), "portlock");
	assert_int_equal(journal_prepare(j, &r2, &linked, &f->d), 0);
	assert_int_equal(journal_commit(j, &r2, NULL, &result, &f->d), 0);
	journal_rec_fini(&r2);
	assert_int_equal(journal_get(j, 2, &r2, &f->d), 0);
	assert_string_equal(r2.blob[JOURNAL_BLOB_PRIOR_RANGES].sha256, r.blob[JOURNAL_BLOB_RESULT_RANGES].sha256);
	assert_int_equal(stat(path_in(f, "0000000002.prior.ranges"), &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(journal_load_blob(j, &r2, JOURNAL_BLOB_PRIOR_NLMSG, &buf, &len, &f->d), 0);
	assert_int_equal(len, 3);
	free(buf);

	/* pruning record 1 leaves record 2's linked prior intact */
	assert_int_equal(journal_prune(j, 1, &f->d), 1);
	assert_int_equal(journal_load_blob(j, &r2, JOURNAL_BLOB_PRIOR_RANGES, &buf, &len, &f->d), 0);
	assert_memory_equal(buf, "RANGES", 6);
	free(buf);

	/* linking to a record that does not exist fails cleanly */
	linked.same_as_result_of = 99;
	journal_rec_fini(&r);
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_true(journal_prepare(j, &r, &linked, &f->d) < 0);
	assert_true(diag_failed(&f->d));
	journal_rec_fini(&r);
	journal_rec_fini(&r2);
	journal_close(j);
}

#define META1 \
	"{\"format\": 1, \"id\": 5, \"kind\": \"apply\", \"reverts_id\": null," \
	" \"time\": 1, \"state_time\": 1, \"uid\": 0, \"user\": \"root\", \"argv\": \"portlock apply\"," \
	" \"policy_sha256\": null, \"table\": \"portlock\", \"gen_before\": 1, \"gen_after\": 2," \
	" \"state\": \"applied\", \"confirm_deadline\": null, \"added\": 1, \"removed\": 0," \
	" \"prior\": {\"absent\": true, \"nlmsg\": null, \"nft\": null}," \
	" \"result\": {\"absent\": false," \
	" \"nlmsg\": {\"file\": \"0000000005.result.nlmsg\", \"size\": 1, \"sha256\": \"%s\"}," \
	" \"nft\": {\"file\": \"0000000005.result.nft\", \"size\": 1, \"sha256\": \"%s\"}}}"

/* One handle lists once, and sees every record it writes or removes afterwards. */
static void test_listing_follows_writes(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r;
	struct journal_rec *recs;
	size_t n;
	uint64_t a, b, c;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	a = add_rec(j, &f->d, JOURNAL_STATE_PENDING, 4, false);
	assert_int_equal(journal_pending(j, &r, &f->d), 0);	/* lists (and keeps) */
	assert_int_equal(r.id, a);
	journal_rec_fini(&r);
	assert_int_equal(journal_set_state(j, a, JOURNAL_STATE_CONFIRMED, &f->d), 0);
	assert_int_equal(journal_pending(j, &r, &f->d), -ENOENT);	/* not the kept list */
	b = add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 4, false);
	assert_int_equal(journal_last(j, JOURNAL_STATE_ANY, &r, &f->d), 0);
	assert_int_equal(r.id, b);
	journal_rec_fini(&r);
	c = add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 4, false);
	assert_int_equal(journal_prune(j, 1, &f->d), 2);
	assert_int_equal(journal_list(j, 0, &recs, &n, &f->d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].id, c);
	journal_recs_free(recs, n);
	/* the copies handed out are the caller's: freeing them leaves the next listing intact */
	assert_int_equal(journal_list(j, 0, &recs, &n, &f->d), 0);
	assert_int_equal(n, 1);
	assert_non_null(recs[0].argv);
	journal_recs_free(recs, n);
	journal_close(j);
	assert_false(diag_failed(&f->d));
}

/* A format 1 record (with its .nft rendering, no ranges) still reads. */
static void test_format1_reads(void **state)
{
	const char *h = "0000000000000000000000000000000000000000000000000000000000000000";
	struct journal_rec r;
	char buf[4096], err[256];

	(void)state;
	snprintf(buf, sizeof(buf), META1, h, h);
	assert_int_equal(journal_rec_parse(buf, strlen(buf), 5, &r, err, sizeof(err)), 0);
	assert_int_equal(r.format, 1);
	assert_true(r.blob[JOURNAL_BLOB_RESULT_NFT].present);
	assert_false(r.blob[JOURNAL_BLOB_RESULT_RANGES].present);
	journal_rec_fini(&r);
	/* format 1 needs its rendering: a null one is refused */
	snprintf(buf, sizeof(buf), META1, h, h);
	*strstr(buf, "{\"file\": \"0000000005.result.nft") = '\0';
	strcat(buf, "null}}");
	assert_int_equal(journal_rec_parse(buf, strlen(buf), 5, &r, err, sizeof(err)), -EBADMSG);
	journal_rec_fini(&r);
}

static void test_prune_keeps_pending(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	uint64_t ids[8];
	size_t n;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	add_rec(j, &f->d, JOURNAL_STATE_PENDING, 10, false);
	for (int i = 0; i < 4; i++)
		add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false);
	/* a corrupt old record is left alone */
	assert_int_equal(truncate(path_in(f, "0000000002.json"), 5), 0);
	assert_int_equal(journal_prune(j, 2, &f->d), 1);
	list_ids(j, &f->d, ids, &n);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 4);
	assert_int_equal(ids[2], 5);
	assert_int_equal(access(path_in(f, "0000000003.prior.nlmsg"), F_OK), -1);
	assert_int_equal(access(path_in(f, "0000000002.json"), F_OK), 0);
	journal_close(j);
}

static void test_state_transitions(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 10, false);
	add_rec(j, &f->d, JOURNAL_STATE_PENDING, 10, false);
	assert_int_equal(journal_pending(j, &r, &f->d), 0);
	assert_int_equal(r.id, 2);
	journal_rec_fini(&r);
	assert_int_equal(journal_set_state(j, 2, JOURNAL_STATE_CONFIRMED, &f->d), 0);
	assert_int_equal(journal_set_state(j, 2, JOURNAL_STATE_CONFIRMED, &f->d), 0); /* no-op */
	assert_int_equal(journal_pending(j, &r, &f->d), -ENOENT);
	assert_int_equal(journal_last(j, JOURNAL_STATE_ANY, &r, &f->d), 0);
	assert_int_equal(r.id, 2);
	assert_int_equal(r.state, JOURNAL_STATE_CONFIRMED);
	assert_true(r.state_time >= r.time);
	journal_rec_fini(&r);
	assert_int_equal(journal_set_state(j, 1, JOURNAL_STATE_REVERTED, &f->d), 0);
	assert_int_equal(journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_REVERTED), &r, &f->d), 0);
	assert_int_equal(r.id, 1);
	journal_rec_fini(&r);
	assert_false(diag_failed(&f->d));
	/* reverted is final; confirming it is a conflict */
	assert_int_equal(journal_set_state(j, 1, JOURNAL_STATE_CONFIRMED, &f->d), -EBUSY);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "transaction 1 is reverted; it cannot become confirmed"));
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFLICT);
	assert_int_equal(journal_set_state(j, 99, JOURNAL_STATE_CONFIRMED, &f->d), -ENOENT);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "no transaction 99 in the journal"));
	journal_close(j);
}

static void test_prepare_commit_abort(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r, r2;
	struct journal_content prior = { .nlmsg = "prior", .nlmsg_len = 5, .ranges = "p", .ranges_len = 1 };
	struct journal_content result = { .nlmsg = "result", .nlmsg_len = 6 };
	void *buf;
	size_t len;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	r.state = JOURNAL_STATE_PENDING;
	assert_int_equal(journal_prepare(j, &r, &prior, &f->d), 0);
	assert_int_equal(r.state, JOURNAL_STATE_PENDING);
	/* on disk: prepared, no result, the prior already restorable */
	assert_int_equal(journal_get(j, r.id, &r2, &f->d), 0);
	assert_int_equal(r2.state, JOURNAL_STATE_PREPARED);
	assert_false(r2.has_result);
	assert_int_equal(journal_load_blob(j, &r2, JOURNAL_BLOB_PRIOR_NLMSG, &buf, &len, &f->d), 0);
	assert_memory_equal(buf, "prior", 5);
	free(buf);
	/* a prepared record cannot just change state */
	assert_int_equal(journal_set_state(j, r.id, JOURNAL_STATE_APPLIED, &f->d), -EBUSY);
	diag_fini(&f->d);
	diag_init(&f->d);
	journal_rec_fini(&r2);
	assert_int_equal(journal_commit(j, &r, NULL, &result, &f->d), 0);
	journal_rec_fini(&r);
	assert_int_equal(journal_get(j, 1, &r, &f->d), 0);
	assert_int_equal(r.state, JOURNAL_STATE_PENDING);
	assert_true(r.has_result);
	assert_int_equal(journal_load_blob(j, &r, JOURNAL_BLOB_RESULT_NLMSG, &buf, &len, &f->d), 0);
	assert_memory_equal(buf, "result", 6);
	free(buf);
	journal_rec_fini(&r);

	/* kernel refused: abort removes every file of the record */
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_int_equal(journal_prepare(j, &r, &prior, &f->d), 0);
	assert_int_equal(journal_abort(j, &r, &f->d), 0);
	assert_int_equal(access(path_in(f, "0000000002.json"), F_OK), -1);
	assert_int_equal(access(path_in(f, "0000000002.prior.nlmsg"), F_OK), -1);
	journal_rec_fini(&r);

	/* a prepared record found after a crash: read it back and commit it */
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	assert_int_equal(r.id, 3);
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_int_equal(journal_prepare(j, &r, &prior, &f->d), 0);
	journal_rec_fini(&r);
	assert_int_equal(journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &r, &f->d), 0);
	assert_int_equal(r.id, 3);
	r.state = JOURNAL_STATE_APPLIED;
	assert_int_equal(journal_commit(j, &r, NULL, &result, &f->d), 0);
	journal_rec_fini(&r);
	assert_int_equal(journal_get(j, 3, &r, &f->d), 0);
	assert_int_equal(r.state, JOURNAL_STATE_APPLIED);
	assert_true(r.blob[JOURNAL_BLOB_PRIOR_NLMSG].present);
	journal_rec_fini(&r);
	/* commit without any prior content is a programming error */
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_int_equal(journal_commit(j, &r, NULL, &result, &f->d), -EINVAL);
	journal_rec_fini(&r);
	journal_close(j);
}

/* apply --confirm: the deadline is on disk in the prepared record; the safe state is recorded */
static void test_prepared_deadline_and_safe_state(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec r, r2;
	struct journal_content prior = { .nlmsg = "prior", .nlmsg_len = 5 };
	struct journal_content result = { .nlmsg = "result", .nlmsg_len = 6 };

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	assert_int_equal(journal_begin(j, &r, &f->d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	r.state = JOURNAL_STATE_PENDING;
	r.confirm_deadline = r.time + 30;
	assert_int_equal(journal_prepare(j, &r, &prior, &f->d), 0);
	journal_rec_fini(&r);
	/* after a crash: prepared, with its deadline */
	assert_int_equal(journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PREPARED), &r, &f->d), 0);
	assert_int_equal(r.confirm_deadline, r.time + 30);
	assert_string_equal(r.safe_state, "");
	r.state = JOURNAL_STATE_PENDING;
	assert_int_equal(journal_commit(j, &r, NULL, &result, &f->d), 0);
	assert_int_equal(journal_pending(j, &r2, &f->d), 0);
	assert_int_equal(r2.id, r.id);
	assert_int_equal(r2.confirm_deadline, r.time + 30);
	journal_rec_fini(&r2);
	/* the auto-revert could not restore the prior: applied, safe state "kept" */
	assert_int_equal(journal_set_safe_state(j, r.id, JOURNAL_STATE_APPLIED, "kept", "prior damaged", &f->d), 0);
	assert_int_equal(journal_get(j, r.id, &r2, &f->d), 0);
	assert_int_equal(r2.state, JOURNAL_STATE_APPLIED);
	assert_string_equal(r2.safe_state, "kept");
	assert_string_equal(r2.safe_reason, "prior damaged");
	journal_rec_fini(&r2);
	/* a plain state change keeps it */
	assert_int_equal(journal_set_state(j, r.id, JOURNAL_STATE_REVERTED, &f->d), 0);
	assert_int_equal(journal_get(j, r.id, &r2, &f->d), 0);
	assert_string_equal(r2.safe_state, "kept");
	journal_rec_fini(&r2);
	journal_rec_fini(&r);
	assert_false(diag_failed(&f->d));
	journal_close(j);
}

static void test_unsafe_dir(void **state)
{
	struct fx *f = *state;
	struct journal *j = NULL;
	struct journal_rec *recs;
	size_t n;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	journal_close(j);
	assert_int_equal(chmod(f->state, 0777), 0);
	j = NULL;
	assert_int_equal(journal_open(&j, f->state, 0, &f->d), -EPERM);
	assert_null(j);
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFIG);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is writable by group or others"));
	diag_fini(&f->d);
	diag_init(&f->d);
	/* reading still works, with a warning */
	assert_int_equal(journal_open_readonly(&j, f->state, &f->d), 0);
	assert_int_equal(journal_list(j, 0, &recs, &n, &f->d), 0);
	assert_int_equal(n, 0);
	journal_close(j);
	assert_true(diag_has(&f->d, DIAG_LVL_WARNING, "is writable by group or others"));
	assert_false(diag_failed(&f->d));
	/* a missing state dir reads as an empty journal */
	assert_int_equal(journal_open_readonly(&j, "/nonexistent/portlock-state", &f->d), 0);
	assert_int_equal(journal_list(j, 0, &recs, &n, &f->d), 0);
	assert_int_equal(n, 0);
	/* and cannot be written through a read-only handle */
	{
		struct journal_rec r;

		assert_int_equal(journal_begin(j, &r, &f->d), -EBADF);
	}
	journal_close(j);
}

/* Child: take the lock, tell the parent, hold it for hold_ms, exit. */
static pid_t lock_holder(const char *dir, int hold_ms)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct diag d;
		struct journal *j;

		close(p[0]);
		diag_init(&d);
		if (journal_open(&j, dir, 0, &d))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		usleep((useconds_t)hold_ms * 1000);
		journal_close(j);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void test_lock_contention(void **state)
{
	struct fx *f = *state;
	struct journal *j = NULL;
	struct timespec t0, t1;
	char needle[64];
	pid_t pid;
	int status;
	double waited;

	pid = lock_holder(f->state, 3000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(journal_open(&j, f->state, 1, &f->d), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(waited >= 0.95 && waited < 2.5);
	assert_null(j);
	snprintf(needle, sizeof(needle), "is locked by pid %d (", (int)pid);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, needle));
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "test_journal"));
	assert_int_equal(diag_exit_code(&f->d), PL_EXIT_CONFLICT);
	/* wait 0: fail at once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(journal_open(&j, f->state, 0, &f->d), -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 1);
	/* released within the wait: the second run gets it */
	assert_int_equal(journal_open(&j, f->state, 10, &f->d), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	journal_close(j);

	/* a child that forgets an inherited handle does not keep the lock */
	diag_fini(&f->d);
	diag_init(&f->d);
	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		journal_forget(j);
		sleep(5);
		_exit(0);
	}
	journal_close(j);
	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	journal_close(j);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_false(diag_failed(&f->d));
}

/* Count files in the journal dir whose name starts with prefix. */
static int count_prefix(struct fx *f, const char *prefix)
{
	char dir[256];
	struct dirent *de;
	int n = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/journal", f->state);
	dp = opendir(dir);
	assert_non_null(dp);
	while ((de = readdir(dp)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(dp);
	return n;
}

/* Child body for the crash test: commit one record of `size` bytes per blob. */
static void crash_child(const char *dir, size_t size)
{
	struct diag d;
	struct journal *j;

	diag_init(&d);
	if (journal_open(&j, dir, -1, &d))
		_exit(1);
	add_rec(j, &d, JOURNAL_STATE_APPLIED, size, false);
	journal_close(j);
	_exit(diag_failed(&d) ? 1 : 0);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void test_crash_safety(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec *recs;
	uint64_t before[64];
	size_t nbefore = 0, n;
	double full, span;
	int status, tries = 80, completed = 0, torn_free = 0, killed_new = 0, killed_old = 0;
	pid_t pid;

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	/* calibrate: how long does one uninterrupted commit take? */
	full = now_s();
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		crash_child(f->state, 2 << 20);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	full = now_s() - full;
	span = full;

	for (int t = 0; t < tries; t++) {
		/* mostly full-size records killed anywhere in their commit; some small ones */
		size_t size = t % 4 ? (size_t)2 << 20 : (size_t)(rand() % 65536);
		useconds_t delay = (useconds_t)((double)rand() / RAND_MAX * span * 1e6);
		bool found_old = true;

		/* the old set, read under the lock */
		assert_int_equal(journal_open(&j, f->state, 5, &f->d), 0);
		list_ids(j, &f->d, before, &nbefore);
		journal_close(j);

		pid = fork();
		assert_true(pid >= 0);
		if (!pid)
			crash_child(f->state, size);
		usleep(delay);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* timing varies with the machine's load: adapt the kill window so
		 * that most children die somewhere inside their commit */
		if (WIFEXITED(status)) {
			assert_int_equal(WEXITSTATUS(status), 0);
			completed++;
			span *= 0.8;
		} else {
			span *= 1.1;
		}

		/* a lock-free reader right after the crash: temp files are never records */
		assert_int_equal(journal_open_readonly(&j, f->state, &f->d), 0);
		assert_int_equal(journal_list(j, JOURNAL_LIST_VERIFY, &recs, &n, &f->d), 0);
		assert_int_equal(f->d.nwarnings, 0);
		assert_true(n == nbefore || n == nbefore + 1);
		journal_recs_free(recs, n);
		journal_close(j);

		/* open cleans up after the dead child; then the set is old or old + 1 */
		assert_int_equal(journal_open(&j, f->state, 5, &f->d), 0);
		assert_int_equal(count_prefix(f, ".tmp."), 0);
		/* ...and no orphan blobs: next-id + 5 files per record, nothing else */
		assert_int_equal(count_prefix(f, "0") + count_prefix(f, "next-id"),
				 1 + 5 * (int)(n == nbefore ? nbefore : nbefore + 1));
		assert_int_equal(journal_list(j, JOURNAL_LIST_VERIFY, &recs, &n, &f->d), 0);
		assert_int_equal(f->d.nwarnings, 0);
		assert_true(n == nbefore || n == nbefore + 1);
		for (size_t i = 0; i < nbefore; i++)
			found_old &= recs[i].id == before[i];
		assert_true(found_old);
		if (n == nbefore + 1) {
			/* the new record is complete: every blob loads and verifies */
			for (unsigned b = 0; b < JOURNAL_BLOB_MAX; b++) {
				void *buf;
				size_t len;

				if (b == JOURNAL_BLOB_PRIOR_NFT || b == JOURNAL_BLOB_RESULT_NFT ||
				    b == JOURNAL_BLOB_PRIOR_REFS || b == JOURNAL_BLOB_RESULT_REFS)
					continue;	/* none written */
				assert_int_equal(journal_load_blob(j, &recs[n - 1], b, &buf, &len,
								   &f->d), 0);
				free(buf);
			}
			assert_true(recs[n - 1].id > (nbefore ? before[nbefore - 1] : 0));
		}
		if (WIFSIGNALED(status))
			*(n == nbefore ? &killed_old : &killed_new) += 1;
		torn_free++;
		journal_recs_free(recs, n);
		/* keep the disk use small; pruning must not disturb the invariant */
		journal_prune(j, 3, &f->d);
		journal_close(j);
		assert_false(diag_failed(&f->d));
	}
	assert_int_equal(torn_free, tries);
	print_message("crash test: %d kills, %d children finished before the kill, %d killed "
		      "leaving the old set, %d killed after the commit point; full commit %.0f ms\n",
		      tries, completed, killed_old, killed_new, full * 1000);
	/* most runs must really have been interrupted */
	assert_true(completed < tries);
}

/*
 * Lock-free readers (`portlock log`) while a writer commits, changes states and
 * prunes as fast as it can: a reader never sees a torn or half-deleted record,
 * so it never warns, and the ids it sees only grow.
 */
static void test_readers_during_writes(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec *recs;
	size_t n;
	pid_t pid;
	int status = 0, lists = 0;
	uint64_t last_max = 0;

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	add_rec(j, &f->d, JOURNAL_STATE_APPLIED, 100, false);
	journal_close(j);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct diag d;
		int writes = 0;

		diag_init(&d);
		if (journal_open(&j, f->state, 5, &d))
			_exit(1);
		/* at least 1.5 s and 30 records: a loaded machine must not thin the test out */
		for (double stop = now_s() + 1.5, cap = now_s() + 60;
		     (now_s() < stop || writes < 30) && now_s() < cap; writes++) {
			uint64_t id = add_rec(j, &d, JOURNAL_STATE_PENDING, 20000, false);

			journal_set_state(j, id, JOURNAL_STATE_CONFIRMED, &d);
			journal_prune(j, 3, &d);
		}
		journal_close(j);
		_exit(diag_failed(&d) || d.nwarnings ? 1 : 0);
	}
	/* read until the writer is done (and once more after that) */
	for (bool done = false, last = false; !last;) {
		last = done;
		if (!done)
			done = waitpid(pid, &status, WNOHANG) == pid;
		assert_int_equal(journal_open_readonly(&j, f->state, &f->d), 0);
		assert_int_equal(journal_list(j, 0, &recs, &n, &f->d), 0);
		assert_true(n >= 1);
		assert_true(recs[n - 1].id >= last_max);
		last_max = recs[n - 1].id;
		journal_recs_free(recs, n);
		journal_close(j);
		lists++;
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (f->d.nrecs)
		dump_diag(&f->d);
	assert_int_equal(f->d.nrecs, 0);
	print_message("readers: %d lists during writes, newest id seen %" PRIu64 "\n", lists,
		      last_max);
	assert_true(last_max > 10);
}

/*
 * Crash test, metadata-heavy variant: the child commits tiny records (and
 * changes their state) in a loop, so most of its time is spent in the
 * metadata write and rename; it is killed after a random 0-40 ms. Every
 * surviving record must be intact and the old records must all be there.
 */
static void test_crash_small_records(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec *recs;
	uint64_t before[256];
	size_t nbefore, n;
	int status;
	pid_t pid;

	for (int t = 0; t < 50; t++) {
		assert_int_equal(journal_open(&j, f->state, 5, &f->d), 0);
		journal_prune(j, 20, &f->d);
		list_ids(j, &f->d, before, &nbefore);
		journal_close(j);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			struct diag d;

			diag_init(&d);
			if (journal_open(&j, f->state, -1, &d))
				_exit(1);
			for (;;) {
				uint64_t id = add_rec(j, &d, JOURNAL_STATE_PENDING, 16, false);

				journal_set_state(j, id, JOURNAL_STATE_CONFIRMED, &d);
			}
		}
		usleep((useconds_t)(rand() % 40000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(journal_open(&j, f->state, 5, &f->d), 0);
		assert_int_equal(journal_list(j, JOURNAL_LIST_VERIFY, &recs, &n, &f->d), 0);
		assert_true(n >= nbefore);
		for (size_t i = 0; i < nbefore; i++)
			assert_int_equal(recs[i].id, before[i]);
		for (size_t i = nbefore; i < n; i++)
			assert_true(recs[i].state == JOURNAL_STATE_PENDING ||
				    recs[i].state == JOURNAL_STATE_CONFIRMED);
		journal_recs_free(recs, n);
		assert_int_equal(count_prefix(f, ".tmp."), 0);
		journal_close(j);
		assert_int_equal(f->d.nwarnings, 0);
		assert_false(diag_failed(&f->d));
	}
}

/* Commit a record whose result uses the objects given (data: "obj-<k>"). */
static uint64_t add_obj_rec(struct journal *j, struct diag *d, const int *keys, size_t n, int rc_want)
{
	struct journal_rec r;
	struct journal_object objs[8];
	char data[8][16];
	struct journal_content prior = { .absent = true }, result = { .nlmsg = "x", .nlmsg_len = 1 };
	uint64_t id;

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		unsigned mdlen = 0;

		snprintf(data[i], sizeof(data[i]), "obj-%d", keys[i] < 0 ? -keys[i] : keys[i]);
		assert_true(EVP_Digest(data[i], strlen(data[i]), objs[i].digest, &mdlen, EVP_sha256(), NULL));
		/* a negative key: by reference only (it must be in the store) */
		objs[i].data = keys[i] < 0 ? NULL : data[i];
		objs[i].len = strlen(data[i]);
	}
	result.objs = objs;
	result.nobjs = n;
	result.ranges = "m";
	result.ranges_len = 1;
	assert_int_equal(journal_begin(j, &r, d), 0);
	snprintf(r.table, sizeof(r.table), "portlock");
	assert_int_equal(journal_commit(j, &r, &prior, &result, d), rc_want);
	id = r.id;
	journal_rec_fini(&r);
	return id;
}

static int count_objects(struct fx *f)
{
	char dir[600];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/journal/objects", f->state);
	dp = opendir(dir);
	if (!dp)
		return 0;
	while ((de = readdir(dp)))
		n += de->d_name[0] != '.';
	closedir(dp);
	return n;
}

/* Format 3: objects are stored once, referenced by refs, removed when no record uses them. */
static void test_objects_gc(void **state)
{
	struct fx *f = *state;
	struct journal *j;
	struct journal_rec *recs;
	size_t n;
	static const int k1[] = { 1, 2, 3 }, k2[] = { -1, 2, 4 }, k3[] = { -4, 5 }, bad[] = { -9 };

	assert_int_equal(journal_open(&j, f->state, 0, &f->d), 0);
	add_obj_rec(j, &f->d, k1, 3, 0);
	assert_int_equal(count_objects(f), 3);
	/* 1 by reference, 2 again (kept, not rewritten), 4 new */
	add_obj_rec(j, &f->d, k2, 3, 0);
	assert_int_equal(count_objects(f), 4);
	/* a reference to an object that is not there: refused, nothing recorded */
	add_obj_rec(j, &f->d, bad, 1, -ENOENT);
	assert_true(diag_has(&f->d, DIAG_LVL_ERROR, "is missing"));
	diag_fini(&f->d);
	diag_init(&f->d);
	add_obj_rec(j, &f->d, k3, 2, 0);
	assert_int_equal(count_objects(f), 5);
	/* keep 2 records: the first goes, and 3 (only it used) with it */
	assert_int_equal(journal_prune(j, 2, &f->d), 1);
	assert_int_equal(count_objects(f), 4);
	/* keep 1: 1 and 2 go; 4 and 5 stay */
	assert_int_equal(journal_prune(j, 1, &f->d), 1);
	assert_int_equal(count_objects(f), 2);
	assert_int_equal(journal_list(j, JOURNAL_LIST_VERIFY, &recs, &n, &f->d), 0);
	assert_int_equal(n, 1);
	assert_true(recs[0].blob[JOURNAL_BLOB_RESULT_REFS].present);
	assert_int_equal(recs[0].blob[JOURNAL_BLOB_RESULT_REFS].size, 2 * 65);
	assert_int_equal(recs[0].format, 3);
	journal_recs_free(recs, n);
	/* a corrupt record: its refs are unknown, so nothing is collected */
	add_obj_rec(j, &f->d, (const int[]){ 6 }, 1, 0);
	{
		FILE *fp = fopen(path_in(f, "0000000099.json"), "w");

		assert_non_null(fp);
		fputs("{ \"format\": 3, \"id\": 99", fp);
		fclose(fp);
	}
	assert_int_equal(journal_prune(j, 1, &f->d), 1);
	assert_int_equal(count_objects(f), 3);
	journal_close(j);
}

static void test_parse_rejects(void **state)
{
	static const struct {
		const char *json, *err;
	} cases[] = {
		{ "[]", "not a JSON object" },
		{ "{\"format\": 4}", "format 4 is newer" },
		{ "{\"format\": 1, \"id\": 7}", "does not match the file name" },
		{ "{\"format\": 1, \"id\": 5, \"kind\": \"explode\"}", "'kind' 'explode' is unknown" },
		{ "{\"format\": 1, \"id\": 5, \"kind\": \"apply\", \"reverts_id\": \"x\"}",
		  "'reverts_id' must be an integer or null" },
		{ "{\"format\": 1, \"format\": 1}", "duplicate" },
		{ "{\"format\": 1, \"id\": 5", "truncated or invalid JSON" },
	};
	struct journal_rec r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(journal_rec_parse(cases[i].json, strlen(cases[i].json), 5, &r, err,
						   sizeof(err)),
				 -EBADMSG);
		if (!strstr(err, cases[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].err);
		journal_rec_fini(&r);
	}
}

static void test_argv_join(void **state)
{
	char *args[] = { "portlock", "apply", "--confirm", "60", "it's here", "", "a\x01\xc3" };
	char *s = journal_argv_join(7, args);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "portlock apply --confirm 60 'it'\\''s here' '' 'a\\x01\\xc3'");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges_and_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing_follows_writes, setup, teardown),
		cmocka_unit_test(test_format1_reads),
		cmocka_unit_test_setup_teardown(test_create_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_monotonic_across_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_checksum_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_json_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prior_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_keeps_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_commit_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_contention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_small_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_during_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_objects_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepared_deadline_and_safe_state, setup, teardown),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_argv_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
