// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compile cache (see compile.h, and compile_int.h for its parts and
 * terms): services compiled in full or from the cache, compile_load(),
 * compile_save() and the cache's garbage collection.
 */
#include "compile_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "config.h"
#include "diag.h"
#include "journal.h"
#include "nl.h"
#include "policy.h"
#include "setobj.h"
#include "statestore.h"
#include "util.h"

/*
 * SIGBUS while a mapped file is read: it was truncated meanwhile (by its
 * writer, or through a hard-linked copy). The compile or save in progress is
 * abandoned (the full load reads the files with read()); the memory it
 * allocated is still reachable from struct compile and freed with it.
 */
static sigjmp_buf bus_env;
static volatile sig_atomic_t bus_armed;
static struct sigaction bus_old;

static void on_bus(int sig)
{
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(bus_env, 1);
	}
	sigaction(SIGBUS, &bus_old, NULL);
	raise(sig);
}

static void bus_arm(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_bus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &bus_old);
	bus_armed = 1;
}

static void bus_disarm(void)
{
	bus_armed = 0;
	sigaction(SIGBUS, &bus_old, NULL);
}

static void hex16(const uint8_t *p, char out[33])
{
	setobj_hex(p, 16, out);
}

/* ---- services ---------------------------------------------------------------------------- */

static void csvc_fini(struct csvc *s)
{
	free(s->name);
	free(s->files);
	for (int f = 0; f < 2; f++) {
		rangeset_fini(&s->inl[f]);
		cc_cfam_fini(&s->fam[f]);
	}
	memset(s, 0, sizeof(*s));
}

/* The service of the index with this name and the same allow_files, or NULL. */
static const struct ix_svc *ix_find(const struct compile *c, const struct policy_service *s)
{
	if (!c->have_ix)
		return NULL;
	for (size_t i = 0; i < c->ix.nsvcs; i++) {
		const struct ix_svc *is = &c->ix.svcs[i];

		if (strcmp(is->name, s->name) || is->nfiles != s->nfiles)
			continue;
		for (size_t k = 0; k < s->nfiles; k++)
			if (strcmp(c->ix.files[is->files[k]].path, s->files[k]))
				return NULL;
		return is;
	}
	return NULL;
}

/* Multiset difference: out = a - b (both sorted). */
static int minus(const struct rangeset *a, const struct rangeset *b, struct rangeset *out)
{
	size_t i = 0, j = 0;

	rangeset_init(out);
	while (i < a->n) {
		int cmp = j < b->n ? range_order(&a->r[i], &b->r[j]) : -1;

		if (cmp < 0) {
			if (cc_ranges_push(out, a->r[i].lo, a->r[i].hi) < 0)
				return -ENOMEM;
			i++;
		} else if (cmp > 0) {
			j++;
		} else {
			i++;
			j++;
		}
	}
	return 0;
}

/* Append src to dst. */
static int append(struct rangeset *dst, const struct rangeset *src)
{
	if (!src->n)
		return 0;
	if (rangeset_reserve(dst, dst->n + src->n + 1) < 0)
		return -ENOMEM;
	memcpy(dst->r + dst->n, src->r, src->n * sizeof(*src->r));
	dst->n += src->n;
	return 0;
}

static int svc_full_family(struct compile *c, const struct policy_service *s, struct csvc *cs,
			   int fi)
{
	struct rangeset e;
	int ret = 0;

	rangeset_init(&e);
	for (size_t k = 0; k < cs->nfiles && !ret; k++) {
		struct src *sf = &c->src[cs->files[k]];

		ret = cc_src_parse(c, sf);
		if (ret)
			break;
		/* the last service to read a file's entries takes them (a million, not copied) */
		if (sf->users == 1 && !e.n) {
			rangeset_fini(&e);
			e = sf->all[fi];
			rangeset_init(&sf->all[fi]);
		} else {
			ret = append(&e, &sf->all[fi]);
		}
	}
	if (!ret)
		ret = append(&e, &cs->inl[fi]);
	if (ret) {
		rangeset_fini(&e);
		return ret;
	}
	(void)s;
	return cc_fam_full(c, idx_fam(fi), &e, &cs->fam[fi]);
}

static int compile_service(struct compile *c, const struct policy_service *s, struct csvc *cs,
			   bool full)
{
	const struct ix_svc *is = full ? NULL : ix_find(c, s);
	bool inc = is != NULL;
	int ret = 0;

	cs->name = strdup(s->name);
	cs->files = calloc(s->nfiles + 1, sizeof(*cs->files));
	if (!cs->name || !cs->files)
		return -ENOMEM;
	cs->nfiles = s->nfiles;
	for (size_t k = 0; k < s->nfiles; k++) {
		for (size_t i = 0; i < c->nsrc; i++)
			if (!strcmp(c->src[i].path, s->files[k]))
				cs->files[k] = (uint32_t)i;
		if (c->src[cs->files[k]].state == SRC_NOCACHE)
			inc = false;
	}
	if (rangeset_copy(&cs->inl[0], &s->v4) < 0 || rangeset_copy(&cs->inl[1], &s->v6) < 0)
		return -ENOMEM;
	cs->nsrc_files = 0;
	if (inc) {
		long n = (long)is->nsrc_files;

		for (size_t k = 0; k < cs->nfiles; k++)
			n += c->src[cs->files[k]].state == SRC_DELTA ? c->src[cs->files[k]].dsrc : 0;
		cs->nsrc_files = n < 0 ? 0 : (uint64_t)n;
	}
	for (int fi = 0; fi < 2 && inc && !ret; fi++) {
		struct rangeset rm, ad;

		/* the policy file's own prefixes, then each allow_file's changed lines */
		ret = minus(&is->fam[fi].inl, &cs->inl[fi], &rm);
		if (!ret)
			ret = minus(&cs->inl[fi], &is->fam[fi].inl, &ad);
		for (size_t k = 0; k < cs->nfiles && !ret; k++) {
			struct src *sf = &c->src[cs->files[k]];

			if (sf->state != SRC_DELTA)
				continue;
			ret = append(&rm, &sf->rm[fi]);
			if (!ret)
				ret = append(&ad, &sf->ad[fi]);
		}
		if (!ret) {
			rangeset_sort(&rm);
			rangeset_sort(&ad);
			cc_cancel_common(&rm, &ad);
			ret = cc_fam_inc(c, idx_fam(fi), &is->fam[fi], &rm, &ad, &cs->fam[fi]);
		}
		rangeset_fini(&rm);
		rangeset_fini(&ad);
		if (ret == -EAGAIN) {
			/* the cache does not fit the change: the service from scratch */
			inc = false;
			ret = 0;
			cc_cfam_fini(&cs->fam[0]);
			cc_cfam_fini(&cs->fam[1]);
		}
	}
	for (int fi = 0; fi < 2 && !inc && !ret; fi++)
		ret = svc_full_family(c, s, cs, fi);
	if (!inc) {
		cs->nsrc_files = 0;
		for (size_t k = 0; k < cs->nfiles && !ret; k++) {
			ret = cc_src_parse(c, &c->src[cs->files[k]]);
			cs->nsrc_files += c->src[cs->files[k]].nsrc;
		}
	}
	for (size_t k = 0; k < cs->nfiles; k++)
		c->src[cs->files[k]].users--;
	c->st.services++;
	if (!inc)
		c->st.services_full++;
	return ret;
}

/* The policy's view of a compiled family: fresh shards with their ranges, others lazy. */
static int to_policy(struct compile *c, struct cfam *cf, enum cidr_family f,
		     struct policy_compiled **out)
{
	struct policy_compiled *pc = calloc(1, sizeof(*pc));

	*out = pc;
	if (!pc)
		return -ENOMEM;
	pc->sharded = cf->sharded;
	pc->leaves = calloc(cf->nleaves + 1, sizeof(*pc->leaves));
	if (!pc->leaves)
		return -ENOMEM;
	for (size_t i = 0; i < cf->nleaves; i++) {
		struct cleaf *l = &cf->leaves[i];
		struct policy_leaf *pl = &pc->leaves[pc->nleaves++];
		char path[4200], name[65];
		struct stat st;

		pl->prefix = l->prefix;
		pl->len = l->len;
		pl->n = l->count;
		memcpy(pl->digest, l->rd, 32);
		rangeset_init(&pl->r);
		c->st.shards++;
		if (l->fresh) {
			c->st.shards_fresh++;
			pl->r = l->r;
			rangeset_init(&l->r);
			continue;
		}
		/* in the journal's objects (applied before): lazy; else from the cache's entries */
		/* (read later by path; its content is checked against its digest then) */
		cc_obj_path(c->jobjdir, l->rd, path, sizeof(path));
		setobj_hex(l->rd, 32, name);
		if (c->jobjfd >= 0 && fstatat(c->jobjfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (size_t)st.st_size == setobj_size(f, l->count)) {
			pl->lazy = true;
			pl->objpath = strdup(path);
			if (!pl->objpath)
				return -ENOMEM;
			continue;
		}
		{
			struct rangeset m;
			uint8_t rd[32];
			int ret;

			setobj_hex(l->md, 32, name);
			ret = c->objfd < 0 ? -ENOENT : setobj_load_multi_at(c->objfd, name, l->md, f, &m);
			if (ret == -ENOMEM)
				return ret;
			if (ret == -EBADMSG) {
				unlinkat(c->objfd, name, 0);
				c->suspect = true;
			}
			if (ret)
				return -EAGAIN;
			ret = layout_clip(m.r, m.n, l->prefix, layout_block_hi(f, l->prefix, l->len), &pl->r);
			rangeset_fini(&m);
			if (ret)
				return -ENOMEM;
			rangeset_normalize(&pl->r);
			if (setobj_digest(f, &pl->r, rd) < 0)
				return -ENOMEM;
			if (pl->r.n != l->count || memcmp(rd, l->rd, 32))
				return -EAGAIN;
		}
	}
	return 0;
}

void compile_free(struct compile *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsrc; i++)
		cc_src_fini(&c->src[i]);
	free(c->src);
	for (size_t i = 0; i < c->nsvcs; i++)
		csvc_fini(&c->svcs[i]);
	free(c->svcs);
	cc_ix_fini(&c->ix);
	free(c->dir);
	free(c->objdir);
	free(c->jobjdir);
	for (int *fd = &c->sfd; fd <= &c->jobjfd; fd++)
		if (*fd >= 0)
			close(*fd);
	free(c);
}

const struct compile_stats *compile_stats(const struct compile *c)
{
	return &c->st;
}

static void load_index(struct compile *c)
{
	const char *data;
	size_t len;
	struct stat st;
	int fd;

	if (c->dirfd < 0)
		return;
	if (cc_map_file(c->dirfd, INDEX_NAME, &fd, &data, &len, &st) == 0) {
		if (len <= INDEX_MAX && cc_ix_parse((const uint8_t *)data, len, &c->ix) == 0) {
			if (c->ix.shard_max == c->shard_max)
				c->have_ix = true;
			else
				cc_ix_fini(&c->ix);
		}
		if (len)
			munmap((void *)data, len);
		close(fd);
	}
}

/* The file still is what was read: same inode, size, modification and change times. */
static bool same_file(const struct src *s)
{
	struct stat st;

	return fstat(s->fd, &st) == 0 && st.st_ino == s->st.st_ino && st.st_size == s->st.st_size &&
	       st.st_mtim.tv_sec == s->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec &&
	       st.st_ctim.tv_sec == s->st.st_ctim.tv_sec && st.st_ctim.tv_nsec == s->st.st_ctim.tv_nsec;
}

/* Compile every service of p (loaded with CONFIG_DEFER_ALLOW_FILES). -EAGAIN: load in full. */
static int compile_all(struct compile *c, struct policy *p)
{
	int ret = 0;

	/* each allow_file once: mapped, hashed, compared with its copy */
	for (size_t i = 0; i < p->nsvcs && !ret; i++)
		for (size_t k = 0; k < p->svcs[i].nfiles && !ret; k++) {
			const char *path = p->svcs[i].files[k];
			struct src *s = NULL;

			for (size_t j = 0; j < c->nsrc && !s; j++)
				if (!strcmp(c->src[j].path, path))
					s = &c->src[j];
			if (s) {
				s->users++;
				continue;
			}
			if (util_grow((void **)&c->src, &c->csrc, c->nsrc + 1, sizeof(*c->src)) < 0)
				return -ENOMEM;
			s = &c->src[c->nsrc++];
			memset(s, 0, sizeof(*s));
			s->fd = -1;
			s->ci = -1;
			s->users = 1;
			s->path = strdup(path);
			if (!s->path)
				return -ENOMEM;
			if (cc_map_file(AT_FDCWD, path, &s->fd, &s->data, &s->len, &s->st) < 0)
				return -EAGAIN;	/* a full load says why it cannot be read */
			for (size_t x = 0; c->have_ix && x < c->ix.nfiles; x++)
				if (!strcmp(c->ix.files[x].path, path))
					s->ci = (int)x;
			s->state = SRC_NOCACHE;
			if (s->ci >= 0)
				ret = cc_src_delta(c, s);
			if (!ret)
				c->st.files_unchanged += s->state == SRC_UNCHANGED;
			c->st.files_delta += s->state == SRC_DELTA;
		}
	if (ret)
		return ret;
	util_mark("compile: files compared");
	c->svcs = calloc(p->nsvcs + 1, sizeof(*c->svcs));
	if (!c->svcs)
		return -ENOMEM;
	for (size_t i = 0; i < p->nsvcs && !ret; i++) {
		struct policy_service *s = &p->svcs[i];
		struct csvc *cs = &c->svcs[c->nsvcs++];

		ret = compile_service(c, s, cs, false);
		if (ret)
			break;	/* -EAGAIN: a line to report, the full load does */
		ret = to_policy(c, &cs->fam[0], CIDR_V4, &s->c4);
		if (!ret)
			ret = to_policy(c, &cs->fam[1], CIDR_V6, &s->c6);
		if (ret == -EAGAIN) {
			/* a shard the change did not touch cannot be read back: this service from scratch */
			policy_compiled_free(s->c4);
			policy_compiled_free(s->c6);
			s->c4 = s->c6 = NULL;
			csvc_fini(cs);
			for (size_t k = 0; k < s->nfiles; k++)
				for (size_t j = 0; j < c->nsrc; j++)
					c->src[j].users += !strcmp(c->src[j].path, s->files[k]);
			c->st.services--;
			ret = compile_service(c, s, cs, true);
			if (!ret)
				ret = to_policy(c, &cs->fam[0], CIDR_V4, &s->c4);
			if (!ret)
				ret = to_policy(c, &cs->fam[1], CIDR_V6, &s->c6);
		}
		if (!ret)
			s->nsources += cs->nsrc_files;
	}
	for (size_t i = 0; i < c->nsrc; i++)
		c->st.files_full += c->src[i].parsed;
	/* the files may not change while they are compiled: a cache made of a torn read is worse than none */
	for (size_t i = 0; i < c->nsrc && !ret; i++)
		if (!same_file(&c->src[i]))
			ret = -EAGAIN;
	c->st.cached = c->have_ix;
	return ret;
}

/* compile_all() with the SIGBUS guard: -EAGAIN when a mapped file was truncated meanwhile. */
static int compile_guarded(struct compile *c, struct policy *p)
{
	int ret;

	if (sigsetjmp(bus_env, 1)) {
		bus_disarm();
		return -EAGAIN;
	}
	bus_arm();
	ret = compile_all(c, p);
	bus_disarm();
	return ret;
}

/* The XXH3 of every allow_file read, with the SIGBUS guard: -ESTALE when one was truncated. */
static int hash_guarded(struct compile *c)
{
	if (sigsetjmp(bus_env, 1)) {
		bus_disarm();
		return -ESTALE;
	}
	bus_arm();
	for (size_t i = 0; i < c->nsrc; i++)
		if (!c->src[i].has_h) {
			c->src[i].h = XXH3_128bits(c->src[i].data, c->src[i].len);
			c->src[i].has_h = true;
		}
	bus_disarm();
	return 0;
}

int compile_load(const char *config_path, const char *state_dir, unsigned flags, struct policy *p,
		 struct compile **cp, struct diag *d)
{
	struct compile *c = NULL;
	struct diag q;
	int ret;

	*cp = NULL;
	if (!state_dir || !*state_dir || getenv("PORTLOCK_NO_COMPILE_CACHE"))
		return config_load_file(config_path, p, d);
	diag_init(&q);
	ret = config_load_file_flags(config_path, p, &q, CONFIG_DEFER_ALLOW_FILES);
	if (ret || q.nrecs) {
		/* anything to report: the full load reports it, in its order */
		diag_fini(&q);
		if (!ret)
			policy_fini(p);
		return config_load_file(config_path, p, d);
	}
	diag_fini(&q);
	c = calloc(1, sizeof(*c));
	if (c)
		c->sfd = c->dirfd = c->objfd = c->jobjfd = -1;
	if (!c || asprintf(&c->dir, "%s/" COMPILE_DIR, state_dir) < 0 ||
	    asprintf(&c->objdir, "%s/" COMPILE_DIR "/" OBJ_DIR, state_dir) < 0 ||
	    asprintf(&c->jobjdir, "%s/" JOURNAL_SUBDIR "/" JOURNAL_OBJECTS, state_dir) < 0) {
		compile_free(c);
		policy_fini(p);
		return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "compile");
	}
	c->shard_max = (uint32_t)policy_shard_max();
	c->save = flags & COMPILE_WRITE;
	util_mark("compile: config read");
	/*
	 * The state dir as the journal trusts it (statestore.h), and every file
	 * below through its descriptors; objects are written as shards are
	 * computed, so the directories come first. A state dir that is not
	 * trusted means no cache, read or written (the journal reports why).
	 */
	{
		unsigned fl = STATESTORE_QUIET | (c->save ? STATESTORE_CREATE : 0);
		int jfd;

		c->sfd = statestore_open(state_dir, fl, NULL);
		if (c->sfd >= 0)
			c->dirfd = statestore_subdir(c->sfd, COMPILE_DIR, c->dir, fl, NULL);
		if (c->dirfd >= 0)
			c->objfd = statestore_subdir(c->dirfd, OBJ_DIR, c->objdir, fl, NULL);
		jfd = c->sfd < 0 ? -1 : statestore_subdir(c->sfd, JOURNAL_SUBDIR, c->jobjdir, STATESTORE_QUIET, NULL);
		if (jfd >= 0) {
			c->jobjfd = statestore_subdir(jfd, JOURNAL_OBJECTS, c->jobjdir, STATESTORE_QUIET, NULL);
			close(jfd);
		}
		if (c->objfd < 0)
			c->save = false;
	}
	load_index(c);
	util_mark("compile: index read");
	ret = compile_guarded(c, p);
	if (ret) {
		compile_free(c);
		policy_fini(p);
		if (ret == -ENOMEM)
			return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "compile");
		return config_load_file(config_path, p, d);
	}
	*cp = c;
	return 0;
}

/* ---- the cache on disk ------------------------------------------------------------------- */

/*
 * The copy of an allow_file as it was compiled, put in place by rename (a
 * reader of the previous copy keeps it whole; portlock never writes into a
 * copy). A file that was replaced since the last compile (a new inode: sed
 * -i, editors, Ansible and generators write a new file and rename it) will
 * likely be replaced again: its copy is a hard link, which costs nothing;
 * should it be edited in place after all, the link changes with it, fails
 * its XXH3 and is not used. Any other file is copied from the bytes read.
 */
static int save_copy(struct compile *c, struct src *s, char *name, size_t namelen)
{
	char tmp[300];
	uint8_t md[32];
	unsigned mdlen = 0;
	char hex[33];
	struct stat st;
	bool linked = false;
	int ret = 0;

	if (!EVP_Digest(s->path, strlen(s->path), md, &mdlen, EVP_sha256(), NULL))
		return -ENOMEM;
	hex16(md, hex);
	snprintf(name, namelen, SRC_PREFIX "%s", hex);
	if (s->state == SRC_UNCHANGED && s->ci >= 0 && !strcmp(c->ix.files[s->ci].copy, name))
		return 0;
	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s.%d", name, (int)getpid());
	unlinkat(c->dirfd, tmp, 0);
	if (s->ci >= 0 && c->ix.files[s->ci].file_ino != (uint64_t)s->st.st_ino &&
	    linkat(AT_FDCWD, s->path, c->dirfd, tmp, 0) == 0) {
		/* the inode read, not one that replaced it since */
		linked = fstatat(c->dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			 st.st_ino == s->st.st_ino && (size_t)st.st_size == s->len;
		if (!linked)
			unlinkat(c->dirfd, tmp, 0);
	}
	/* the copy replaced is freed when the process is gone (nl_exit_close()), not now */
	nl_exit_close(openat(c->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
	if (!linked)
		return statestore_replace(c->dirfd, name, s->data, s->len, 0);
	if (renameat(c->dirfd, tmp, c->dirfd, name) < 0) {
		ret = -errno;
		unlinkat(c->dirfd, tmp, 0);
	}
	return ret;
}

static int dig_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* A directory stream on a copy of fd (fd stays open), rewound; NULL on failure. */
static DIR *fdopendir_dup(int fd)
{
	int dfd = fd < 0 ? -1 : dup(fd);
	DIR *dir = dfd < 0 ? NULL : fdopendir(dfd);

	if (!dir && dfd >= 0)
		close(dfd);
	if (dir)
		rewinddir(dir);
	return dir;
}

/* Remove objects the index does not use, copies of files it does not name, and temp files. */
static void gc(struct compile *c, const char (*copies)[64], size_t ncopies)
{
	uint8_t (*keep)[32] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;

	for (size_t i = 0; i < c->nsvcs; i++)
		for (int f = 0; f < 2; f++)
			for (size_t k = 0; k < c->svcs[i].fam[f].nleaves; k++) {
				if (util_grow((void **)&keep, &cap, n + 1, 32) < 0) {
					free(keep);
					return;
				}
				memcpy(keep[n++], c->svcs[i].fam[f].leaves[k].md, 32);
			}
	if (n)
		qsort(keep, n, 32, dig_cmp);
	dir = fdopendir_dup(c->objfd);
	while (dir && (de = readdir(dir))) {
		uint8_t md[32];

		if (de->d_name[0] == '.' && strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			continue;
		if (setobj_unhex(de->d_name, md) && n && bsearch(md, keep, n, 32, dig_cmp))
			continue;
		if (!setobj_unhex(de->d_name, md) && strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			continue;	/* not ours */
		unlinkat(c->objfd, de->d_name, 0);
	}
	if (dir)
		closedir(dir);
	free(keep);
	dir = fdopendir_dup(c->dirfd);
	while (dir && (de = readdir(dir))) {
		bool used = false;

		if (strncmp(de->d_name, SRC_PREFIX, strlen(SRC_PREFIX)))
			continue;
		for (size_t i = 0; i < ncopies && !used; i++)
			used = !strcmp(copies[i], de->d_name);
		if (used)
			continue;
		unlinkat(c->dirfd, de->d_name, 0);
	}
	if (dir)
		closedir(dir);
}

void compile_save(struct compile *c, struct diag *d)
{
	char (*copies)[64] = NULL;
	struct bytebuf w = { 0 };
	uint8_t md[32];
	unsigned mdlen = 0;
	int lockfd, ret = 0;

	if (!c || !c->save)
		return;
	lockfd = statestore_lock(c->dirfd, LOCK_NAME, 0, NULL);
	if (lockfd < 0)
		return;	/* another run is writing it */
	copies = calloc(c->nsrc + 1, sizeof(*copies));
	if (!copies)
		ret = -ENOMEM;
	/*
	 * What was compiled is what is stored: a file changed since it was read
	 * is not cached. (Checked before the copies: a hard link moves the
	 * file's ctime. A linked file changed after this check fails its XXH3
	 * when next read.)
	 */
	for (size_t i = 0; i < c->nsrc && !ret; i++)
		if (!same_file(&c->src[i]))
			ret = -ESTALE;
	for (size_t i = 0; i < c->nsrc && !ret; i++)
		ret = save_copy(c, &c->src[i], copies[i], sizeof(copies[i]));
	util_mark("compile: copies saved");
	/* after the commit: hashing the new contents is off the critical path */
	if (!ret)
		ret = hash_guarded(c);
	if (!ret)
		cc_index_encode(c, (const char (*)[64])copies, &w);
	if (!ret && w.err)
		ret = w.err;
	if (!ret && (!EVP_Digest(w.p, w.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32))
		ret = -ENOMEM;
	bytebuf_put(&w, md, 32);
	if (!ret && w.err)
		ret = w.err;
	if (!ret)
		ret = statestore_replace(c->dirfd, INDEX_NAME, w.p, w.len, 0);
	util_mark("compile: index written");
	if (!ret) {
		gc(c, (const char (*)[64])copies, c->nsrc);
		util_mark("compile: gc");
	} else if (ret == -ESTALE) {
		/* the old index no longer matches the copies either: the next run reads them whole */
		unlinkat(c->dirfd, INDEX_NAME, 0);
	} else {
		diag_warn(d, NULL, "cannot write the compile cache in '%s' (%s): the next run reads every allow_file",
			  c->dir, strerror(-ret));
	}
	free(w.p);
	free(copies);
	flock(lockfd, LOCK_UN);
	close(lockfd);
}
