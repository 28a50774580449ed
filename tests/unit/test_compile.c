// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compile cache against the full load: random edits of allow_files and
 * of the policy file's own prefixes (replaced, inserted, removed, repeated,
 * moved lines, prefixes that cover hundreds of others and go again, comments,
 * CRLF, a last line without newline), with shard sizes from 1 up, IPv4 and
 * IPv6, one file shared by two services. After every edit the compiled shards
 * must be exactly those of a full load (blocks, ranges, digests, the shard
 * layout), and the compile must have been incremental: a fallback to a full
 * compile would hide a bug in the incremental one. Then the cache's defences:
 * a damaged copy, object or index, a line that draws a warning; and files
 * replaced or edited in place, in turns.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "cidr.h"
#include "compile.h"
#include "config.h"
#include "diag.h"
#include "layout.h"
#include "policy.h"
#include "setobj.h"

struct fx {
	char tmp[64];
	char state[128], conf[128], a[128], b[128];
	char **la, **lb, **inl;	/* lines of a.txt, b.txt and the inline prefixes */
	size_t na, nb, ninl;
	bool crlf, no_final_nl;
	unsigned seed;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static unsigned rnd(struct fx *f, unsigned n)
{
	f->seed = f->seed * 1103515245u + 12345u;
	return n ? (f->seed >> 8) % n : 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/pl-compile-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->state, sizeof(f->state), "%s/state", f->tmp);
	snprintf(f->conf, sizeof(f->conf), "%s/p.conf", f->tmp);
	snprintf(f->a, sizeof(f->a), "%s/a.txt", f->tmp);
	snprintf(f->b, sizeof(f->b), "%s/b.txt", f->tmp);
	mkdir(f->state, 0700);
	unsetenv("PORTLOCK_NO_COMPILE_CACHE");
	*state = f;
	return 0;
}

static void lines_free(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	lines_free(f->la, f->na);
	lines_free(f->lb, f->nb);
	lines_free(f->inl, f->ninl);
	free(f);
	policy_set_shard_max(0);
	return 0;
}

/* A random prefix: mostly in a few crowded regions, so that shards split and merge. */
static char *rand_prefix(struct fx *f, bool big)
{
	char buf[80];

	if (rnd(f, 5) == 0) {
		int len = big ? 20 + (int)rnd(f, 30) : 48 + (int)rnd(f, 81);
		u128 a = (u128)0x20010db8u << 96 | (u128)rnd(f, 4) << 80 | (u128)rnd(f, 16) << 64 |
			 (u128)rnd(f, 65536) << 48 | rnd(f, 65536);
		char out[64];

		if (len > 128)
			len = 128;
		a &= ~layout_block_hi(CIDR_V6, 0, len);
		snprintf(buf, sizeof(buf), "%s/%d", cidr_addr_str(CIDR_V6, a, out, sizeof(out)), len);
		return strdup(buf);
	}
	{
		unsigned region = rnd(f, 4);
		uint32_t base = region == 0 ? 0x0a000000u : region == 1 ? 0xc0a80000u
				: region == 2 ? 0x0a010000u : (uint32_t)rnd(f, 1u << 30) << 2;
		unsigned len = big ? 8 + rnd(f, 12) : 20 + rnd(f, 13);
		uint32_t a = base | (uint32_t)rnd(f, 1u << 16);
		uint32_t mask = len ? ~0u << (32 - len) : 0;
		char out[64];

		a &= mask;
		if (len == 32)
			snprintf(buf, sizeof(buf), "%s", cidr_addr_str(CIDR_V4, a, out, sizeof(out)));
		else
			snprintf(buf, sizeof(buf), "%s/%u", cidr_addr_str(CIDR_V4, a, out, sizeof(out)), len);
		return strdup(buf);
	}
}

/* replace: write a new file and rename it (sed -i, editors); else in place */
static void write_lines(const char *path, char **l, size_t n, bool crlf, bool no_final_nl,
			bool replace)
{
	FILE *fp;
	char tmp[256];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fp = fopen(replace ? tmp : path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%s%s", l[i], i + 1 == n && no_final_nl ? "" : crlf ? "\r\n" : "\n");
	fclose(fp);
	if (access(tmp, F_OK) == 0)
		assert_int_equal(rename(tmp, path), 0);
}

static void write_conf(struct fx *f)
{
	FILE *fp = fopen(f->conf, "w");

	assert_non_null(fp);
	fprintf(fp, "services = (\n  { name = \"smpp\"; ports = [2775]; allow = [");
	for (size_t i = 0; i < f->ninl; i++)
		fprintf(fp, "%s\"%s\"", i ? ", " : "", f->inl[i]);
	fprintf(fp, "]; allow_file = [\"a.txt\", \"b.txt\"]; },\n");
	fprintf(fp, "  { name = \"smtp\"; ports = [25]; allow = []; allow_file = \"a.txt\"; }\n);\n");
	fclose(fp);
}

static void insert(char ***l, size_t *n, size_t at, char *s)
{
	*l = realloc(*l, (*n + 1) * sizeof(**l));
	assert_non_null(*l);
	memmove(*l + at + 1, *l + at, (*n - at) * sizeof(**l));
	(*l)[at] = s;
	(*n)++;
}

static void erase(char **l, size_t *n, size_t at)
{
	free(l[at]);
	memmove(l + at, l + at + 1, (*n - at - 1) * sizeof(*l));
	(*n)--;
}

/* One random edit of a.txt, b.txt or the inline prefixes. */
static void edit(struct fx *f)
{
	unsigned which = rnd(f, 10);
	char ***l = which < 6 ? &f->la : which < 9 ? &f->lb : &f->inl;
	size_t *n = which < 6 ? &f->na : which < 9 ? &f->nb : &f->ninl;
	unsigned op = rnd(f, 12);

	if (*n == 0 || op < 3) {
		insert(l, n, rnd(f, (unsigned)*n + 1), rand_prefix(f, false));
	} else if (op < 5) {
		erase(*l, n, rnd(f, (unsigned)*n));
	} else if (op < 7) {
		size_t at = rnd(f, (unsigned)*n);

		free((*l)[at]);
		(*l)[at] = rand_prefix(f, false);
	} else if (op == 7) {
		/* a repeat */
		insert(l, n, rnd(f, (unsigned)*n + 1), strdup((*l)[rnd(f, (unsigned)*n)]));
	} else if (op == 8) {
		/* a prefix over many others (and, later, gone again) */
		insert(l, n, rnd(f, (unsigned)*n + 1), rand_prefix(f, true));
	} else if (op == 9 && l != &f->inl) {
		insert(l, n, rnd(f, (unsigned)*n + 1), strdup(rnd(f, 2) ? "# a comment" : ""));
	} else if (op == 10) {
		/* a moved line */
		size_t a = rnd(f, (unsigned)*n), b = rnd(f, (unsigned)*n);
		char *t = (*l)[a];

		(*l)[a] = (*l)[b];
		(*l)[b] = t;
	} else if (l != &f->inl) {
		if (rnd(f, 2))
			f->crlf = !f->crlf;
		else
			f->no_final_nl = !f->no_final_nl;
	}
	/* inline prefixes are config strings: no comments, no blanks */
	if (l == &f->inl)
		for (size_t i = 0; i < *n; i++)
			if (!(*l)[i][0] || (*l)[i][0] == '#') {
				free((*l)[i]);
				(*l)[i] = rand_prefix(f, false);
			}
}

static void write_all(struct fx *f)
{
	/* a.txt replaced every time, b.txt edited in place: both ways files are written */
	write_lines(f->a, f->la, f->na, f->crlf, f->no_final_nl, true);
	write_lines(f->b, f->lb, f->nb, false, false, false);
	write_conf(f);
}

/* The compiled family must be what a full load lays out. */
static void same_family(const struct policy_service *full, const struct policy_service *comp,
			enum cidr_family fam, size_t max)
{
	const struct rangeset *d = fam == CIDR_V4 ? &full->v4 : &full->v6;
	const struct policy_compiled *pc = fam == CIDR_V4 ? comp->c4 : comp->c6;
	struct layout l;

	assert_non_null(pc);
	assert_int_equal(layout_build(d, fam, max, &l), 0);
	if (pc->sharded != l.sharded || pc->nleaves != l.nleaves)
		fail_msg("service %s family %d: %s with %zu shards, the full load %s with %zu", full->name,
			 fam, pc->sharded ? "sharded" : "unsharded", pc->nleaves,
			 l.sharded ? "sharded" : "unsharded", l.nleaves);
	for (size_t i = 0; i < l.nleaves; i++) {
		const struct policy_leaf *pl = &pc->leaves[i];
		const struct layout_node *n = &l.leaves[i];
		u128 hi = layout_block_hi(fam, n->prefix, n->len);
		struct rangeset want;
		uint8_t md[32];

		assert_true(pl->prefix == n->prefix);
		assert_int_equal(pl->len, n->len);
		assert_int_equal(pl->n, n->count);
		rangeset_init(&want);
		assert_int_equal(layout_clip(d->r + n->first, n->count, l.sharded ? n->prefix : 0,
					     l.sharded ? hi : cidr_max(fam), &want), 0);
		assert_int_equal(setobj_digest(fam, &want, md), 0);
		assert_memory_equal(md, pl->digest, 32);
		assert_false(pl->lazy);	/* no journal here: every shard is loaded */
		assert_true(rangeset_equal(&want, &pl->r));
		rangeset_fini(&want);
	}
	layout_fini(&l);
}

/*
 * Compile through the cache and in full; compare; return the stats (all zero
 * when the policy was loaded in full, without compiling).
 */
static struct compile_stats check_round(struct fx *f, size_t max)
{
	struct policy full, comp;
	struct compile *cc = NULL;
	struct compile_stats st = { 0 };
	struct diag d;
	char h1[65], h2[65];

	diag_init(&d);
	assert_int_equal(config_load_file(f->conf, &full, &d), 0);
	assert_int_equal(d.nrecs, 0);
	assert_int_equal(compile_load(f->conf, f->state, COMPILE_WRITE, &comp, &cc, &d), 0);
	assert_int_equal(d.nrecs, 0);
	assert_int_equal(full.nsvcs, comp.nsvcs);
	for (size_t i = 0; cc && i < full.nsvcs; i++) {
		same_family(&full.svcs[i], &comp.svcs[i], CIDR_V4, max);
		same_family(&full.svcs[i], &comp.svcs[i], CIDR_V6, max);
		assert_int_equal(full.svcs[i].nsources, comp.svcs[i].nsources);
	}
	assert_int_equal(policy_hash(&full, h1), 0);
	assert_int_equal(policy_hash(&comp, h2), 0);
	assert_string_equal(h1, h2);
	if (cc) {
		st = *compile_stats(cc);
		compile_save(cc, &d);
		assert_int_equal(d.nrecs, 0);
		compile_free(cc);
	}
	policy_fini(&full);
	policy_fini(&comp);
	diag_fini(&d);
	return st;
}

static void run_random(struct fx *f, unsigned seed, size_t max, int rounds)
{
	size_t fresh = 0, shards = 0;

	/* PL_TEST_SCALE=N: N times the rounds (a longer hunt by hand) */
	if (getenv("PL_TEST_SCALE") && atoi(getenv("PL_TEST_SCALE")) > 0)
		rounds *= atoi(getenv("PL_TEST_SCALE"));
	f->seed = seed;
	srand(seed);
	policy_set_shard_max(max);
	for (int i = 0; i < 150; i++)
		insert(&f->la, &f->na, f->na, rand_prefix(f, false));
	for (int i = 0; i < 40; i++)
		insert(&f->lb, &f->nb, f->nb, rand_prefix(f, false));
	insert(&f->inl, &f->ninl, 0, strdup("192.0.2.0/24"));
	write_all(f);
	check_round(f, max);
	for (int r = 0; r < rounds; r++) {
		struct compile_stats st;
		int k = 1 + (int)rnd(f, 3);

		while (k--)
			edit(f);
		write_all(f);
		st = check_round(f, max);
		if (!st.services)
			fail_msg("seed %u max %zu round %d: the policy was not compiled", seed, max, r);
		if (st.services_full)
			fail_msg("seed %u max %zu round %d: %zu service(s) compiled from scratch (the cache did not apply)",
				 seed, max, r, st.services_full);
		assert_true(st.cached);
		fresh += st.shards_fresh;
		shards += st.shards;
	}
	/* with large shards most of them stay untouched */
	if (max >= 8 && fresh * 2 > shards)
		fail_msg("max %zu: %zu of %zu shards computed again", max, fresh, shards);
}

static void test_random_small_shards(void **state)
{
	run_random(*state, 1, 1, 120);
}

static void test_random_shards_2(void **state)
{
	run_random(*state, 2, 2, 150);
}

static void test_random_shards_5(void **state)
{
	run_random(*state, 3, 5, 150);
}

static void test_random_shards_16(void **state)
{
	run_random(*state, 4, 16, 150);
}

static void test_random_unsharded(void **state)
{
	run_random(*state, 5, 100000, 60);
}

static void test_random_more_seeds(void **state)
{
	struct fx *f = *state;

	for (unsigned seed = 10; seed < 16; seed++) {
		lines_free(f->la, f->na);
		lines_free(f->lb, f->nb);
		lines_free(f->inl, f->ninl);
		f->la = f->lb = f->inl = NULL;
		f->na = f->nb = f->ninl = 0;
		f->crlf = f->no_final_nl = false;
		run_random(f, seed, 3 + seed % 5, 40);
	}
}

/*
 * A compile after the damage must still equal the full load, must not have
 * used the damaged part, and must heal the cache: the next one is incremental.
 */
static void expect_full(struct fx *f, size_t max, const char *what)
{
	struct compile_stats st = check_round(f, max);

	if (!st.services_full)
		fail_msg("%s: the cache was used", what);
	edit(f);
	write_all(f);
	st = check_round(f, max);
	if (!st.services || st.services_full)
		fail_msg("%s: the cache was not rewritten", what);
}

static void corrupt_first(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *dp = opendir(dir);
	char path[600];
	int fd;

	assert_non_null(dp);
	while ((de = readdir(dp)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)) && de->d_name[0] != '.')
			break;
	assert_non_null(de);
	snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(dp);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "Z", 1, 30), 1);
	close(fd);
}

static void test_damage(void **state)
{
	struct fx *f = *state;
	char dir[300];
	struct diag d;
	struct policy p;
	struct compile *cc;

	f->seed = 77;
	policy_set_shard_max(4);
	for (int i = 0; i < 100; i++)
		insert(&f->la, &f->na, f->na, rand_prefix(f, false));
	insert(&f->lb, &f->nb, 0, strdup("10.0.0.0/24"));
	write_all(f);
	check_round(f, 4);
	/* a damaged copy: that file is read whole */
	snprintf(dir, sizeof(dir), "%s/cache", f->state);
	edit(f);
	write_all(f);
	corrupt_first(dir, "src-");
	expect_full(f, 4, "damaged copy");
	/* a damaged object of a shard the change touches */
	snprintf(dir, sizeof(dir), "%s/cache/objects", f->state);
	for (DIR *dp = opendir(dir); dp;) {
		struct dirent *de;
		char path[600];

		while ((de = readdir(dp)))
			if (de->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
				int fd = open(path, O_WRONLY);

				assert_int_equal(pwrite(fd, "Z", 1, 30), 1);
				close(fd);
			}
		closedir(dp);
		break;
	}
	edit(f);
	write_all(f);
	expect_full(f, 4, "damaged objects");
	/* a damaged index */
	snprintf(dir, sizeof(dir), "%s/cache", f->state);
	edit(f);
	write_all(f);
	corrupt_first(dir, "index");
	expect_full(f, 4, "damaged index");
	/* another shard size */
	policy_set_shard_max(6);
	expect_full(f, 6, "another shard size");
	/* a changed line that draws a warning: the full load reports it */
	insert(&f->la, &f->na, 3, strdup("10.9.9.9/8"));
	write_all(f);
	diag_init(&d);
	assert_int_equal(compile_load(f->conf, f->state, COMPILE_WRITE, &p, &cc, &d), 0);
	assert_null(cc);
	assert_int_equal(d.nwarnings, 2);	/* a.txt is read by both services */
	assert_null(p.svcs[0].c4);
	policy_fini(&p);
	diag_fini(&d);
	/* a bad line: exit 3 as without a cache, every error listed */
	free(f->la[3]);
	f->la[3] = strdup("10.9.9.300");
	write_all(f);
	diag_init(&d);
	assert_int_equal(compile_load(f->conf, f->state, COMPILE_WRITE, &p, &cc, &d), -EINVAL);
	assert_int_equal(d.nerrors, 2);	/* a.txt is read by both services */
	diag_fini(&d);
	erase(f->la, &f->na, 3);
	write_all(f);
	check_round(f, 6);
	/* PORTLOCK_NO_COMPILE_CACHE: the full load */
	setenv("PORTLOCK_NO_COMPILE_CACHE", "1", 1);
	diag_init(&d);
	assert_int_equal(compile_load(f->conf, f->state, COMPILE_WRITE, &p, &cc, &d), 0);
	assert_null(cc);
	policy_fini(&p);
	diag_fini(&d);
	unsetenv("PORTLOCK_NO_COMPILE_CACHE");
}

/*
 * Replaced files are kept as hard links, edited-in-place ones as copies: a
 * replaced file edited in place afterwards changed its link too, which is
 * found (one full compile) and copied from then on.
 */
static void replace_a(struct fx *f, const char *extra)
{
	char tmp[200];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.x", f->a);
	fp = fopen(tmp, "w");
	for (size_t i = 0; i < f->na; i++)
		fprintf(fp, "%s\n", f->la[i]);
	fprintf(fp, "%s\n", extra);
	fclose(fp);
	rename(tmp, f->a);
	insert(&f->la, &f->na, f->na, strdup(extra));
}

static void append_a(struct fx *f, const char *extra)
{
	FILE *fp = fopen(f->a, "a");

	fprintf(fp, "%s\n", extra);
	fclose(fp);
	insert(&f->la, &f->na, f->na, strdup(extra));
}

static void test_replaced_and_in_place(void **state)
{
	struct fx *f = *state;
	struct compile_stats st;
	struct stat sb;

	f->seed = 99;
	policy_set_shard_max(4);
	for (int i = 0; i < 60; i++)
		insert(&f->la, &f->na, f->na, rand_prefix(f, false));
	insert(&f->lb, &f->nb, 0, strdup("10.0.0.0/24"));
	write_all(f);
	check_round(f, 4);
	/* replaced: a delta; from now on the copy is a link */
	replace_a(f, "198.51.100.1");
	st = check_round(f, 4);
	assert_int_equal(st.services_full, 0);
	replace_a(f, "198.51.100.2");
	st = check_round(f, 4);
	assert_int_equal(st.services_full, 0);
	assert_int_equal(stat(f->a, &sb), 0);
	assert_int_equal(sb.st_nlink, 2);
	/* in place: the link is the file now, not what was compiled; found, and copied after */
	append_a(f, "198.51.100.3");
	st = check_round(f, 4);
	assert_true(st.services_full > 0);
	assert_int_equal(stat(f->a, &sb), 0);
	assert_int_equal(sb.st_nlink, 1);
	append_a(f, "198.51.100.4");
	st = check_round(f, 4);
	assert_int_equal(st.services_full, 0);
	assert_int_equal(st.files_delta, 1);
	/* and replaced again: a delta against the copy */
	replace_a(f, "198.51.100.5");
	st = check_round(f, 4);
	assert_int_equal(st.services_full, 0);
}

/* An allow_file rewritten between the compile and the save: nothing describes bytes that were not compiled. */
static void test_changed_before_save(void **state)
{
	struct fx *f = *state;
	struct compile *cc = NULL;
	struct policy p;
	struct diag d;
	FILE *fp;

	f->seed = 123;
	policy_set_shard_max(4);
	for (int i = 0; i < 40; i++)
		insert(&f->la, &f->na, f->na, rand_prefix(f, false));
	insert(&f->lb, &f->nb, 0, strdup("10.0.0.0/24"));
	write_all(f);
	check_round(f, 4);
	/* a change compiled, then the file edited again in place before the save */
	insert(&f->la, &f->na, 0, strdup("198.51.100.6"));
	write_all(f);
	diag_init(&d);
	assert_int_equal(compile_load(f->conf, f->state, COMPILE_WRITE, &p, &cc, &d), 0);
	assert_non_null(cc);
	usleep(20000);	/* past the file system's timestamp granularity */
	fp = fopen(f->a, "r+");
	assert_non_null(fp);
	fputs("198.51.100.7\n", fp);	/* same size: only the times tell */
	fclose(fp);
	free(f->la[0]);
	f->la[0] = strdup("198.51.100.7");
	compile_save(cc, &d);
	compile_free(cc);
	policy_fini(&p);
	diag_fini(&d);
	/* the next compile must see .7, not the .6 it compiled */
	check_round(f, 4);
}

#ifdef PORTLOCK_TEST_HOOKS
/*
 * A file truncated while it is mapped: no crash, the full load (which reads
 * it as it is now). The truncation is a test hook (testhook.h): a release
 * build (the Debian package runs the unit tests) has none, so the case is
 * compiled only where the hook is.
 */
static void test_truncated_while_mapped(void **state)
{
	struct fx *f = *state;
	struct compile *cc = NULL;
	struct policy p;
	struct diag d;
	char bak[200];

	f->seed = 7;
	policy_set_shard_max(4);
	for (int i = 0; i < 40; i++)
		insert(&f->la, &f->na, f->na, rand_prefix(f, false));
	insert(&f->lb, &f->nb, 0, strdup("10.0.0.0/24"));
	write_all(f);
	check_round(f, 4);
	edit(f);
	write_all(f);
	snprintf(bak, sizeof(bak), "%s.bak", f->b);
	assert_int_equal(link(f->b, bak), 0);
	/* b.txt is truncated as soon as it is mapped: the read of it faults */
	setenv("PORTLOCK_TEST_TRUNCATE", "/b.txt", 1);
	diag_init(&d);
	assert_int_equal(compile_load(f->conf, f->state, COMPILE_WRITE, &p, &cc, &d), 0);
	unsetenv("PORTLOCK_TEST_TRUNCATE");
	assert_null(cc);	/* loaded in full */
	assert_null(p.svcs[0].c4);
	policy_fini(&p);
	diag_fini(&d);
	/* the emptied file: the cache and the full load agree on it */
	lines_free(f->lb, f->nb);
	f->lb = NULL;
	f->nb = 0;
	check_round(f, 4);
	unlink(bak);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_small_shards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_shards_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_shards_5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_shards_16, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_unsharded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_more_seeds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_and_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_before_save, setup, teardown),
#ifdef PORTLOCK_TEST_HOOKS
		cmocka_unit_test_setup_teardown(test_truncated_while_mapped, setup, teardown),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
