// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compile cache (see compile.h): full and incremental compiles of the
 * allowlists, the index file, the copies of allow_files.
 *
 * Terms used below, per service and family:
 *   entries  every prefix given (policy file and allow_files), as a range,
 *            with repeats; sorted by (first, last)
 *   D        the entries merged: sorted, disjoint, non-adjacent ranges
 *   count(N) the number of D ranges that intersect the trie node N
 *   leaf     a shard (layout.h); its entries M are those that intersect it,
 *            its ranges R are D clipped to it (|R| = count(leaf))
 * An incremental compile works inside the region A: the hull of the changed
 * entries, grown until it holds every D range it touches or borders. Outside
 * A nothing changes; inside, D is merged again from the entries; every node's
 * count changes by (D ranges now in A inside it) - (D ranges before in A
 * inside it), which is all the layout needs.
 */
#include "compile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "cidr.h"
#include "config.h"
#include "diag.h"
#include "journal.h"
#include "layout.h"
#include "nl.h"
#include "policy.h"
#include "setobj.h"
#include "statestore.h"
#include "util.h"

#define INDEX_MAGIC "PLCACHE1"
#define INDEX_FORMAT 2
#define INDEX_NAME "index"
#define OBJ_DIR "objects"
#define LOCK_NAME "lock"
#define SRC_PREFIX "src-"
#define TMP_PREFIX STATESTORE_TMP_PREFIX
#define INDEX_MAX (256u << 20)

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
#define STR_MAX 4096

/* ---- the index in memory ------------------------------------------------------------- */

struct ix_leaf {
	u128 prefix;
	int len;
	size_t count, nm;
	uint8_t rd[32], md[32];
};

struct ix_fam {
	struct rangeset inl;		/* the policy file's own prefixes, normalized */
	bool sharded;
	struct layout_node *split;	/* prefix, len, count; pre-order */
	size_t nsplit;
	struct ix_leaf *leaves;		/* by address */
	size_t nleaves;
};

struct ix_file {
	char *path;
	char *copy;			/* its copy's name in the cache dir */
	uint64_t size;
	uint8_t xxh[16];
	uint64_t file_ino;		/* the file's inode when it was compiled */
};

struct ix_svc {
	char *name;
	uint32_t *files;		/* indices into ix.files, in policy order */
	size_t nfiles;
	uint64_t nsrc_files;
	struct ix_fam fam[2];		/* IPv4, IPv6 */
};

struct ix {
	uint32_t shard_max;
	struct ix_file *files;
	size_t nfiles;
	struct ix_svc *svcs;
	size_t nsvcs;
};

/* ---- a compile in memory ------------------------------------------------------------- */

struct cleaf {
	u128 prefix;
	int len;
	size_t count, nm;
	uint8_t rd[32], md[32];
	bool fresh;			/* computed now (else as in the index: lazy) */
	struct rangeset r;		/* fresh: its ranges (moved to the policy) */
};

struct cfam {
	bool sharded;
	struct cleaf *leaves;
	size_t nleaves, cleaves;
	struct layout_node *split;
	size_t nsplit, csplit;
};

struct csvc {
	char *name;
	uint32_t *files;		/* indices into compile.src */
	size_t nfiles;
	uint64_t nsrc_files;
	struct rangeset inl[2];
	struct cfam fam[2];
};

enum src_state { SRC_NOCACHE, SRC_UNCHANGED, SRC_DELTA };

struct src {
	char *path;
	int fd;
	const char *data;		/* mapped content ("" when empty) */
	size_t len;
	struct stat st;
	XXH128_hash_t h;		/* of data, once has_h (computed when the cache is saved) */
	bool has_h;
	int ci;				/* its entry in the index, -1 */
	enum src_state state;
	struct rangeset rm[2], ad[2];	/* SRC_DELTA: entries gone and new */
	long dsrc;			/* SRC_DELTA: change in the number of prefixes */
	bool parsed;
	struct rangeset all[2];		/* parsed: every entry */
	size_t nsrc;
	int users;			/* services still to compile that read all[] */
};

struct compile {
	char *dir, *objdir, *jobjdir;	/* for messages and lazy objects' paths */
	/* the state dir's descriptors (statestore.h): every file below is reached through them */
	int sfd, dirfd, objfd, jobjfd;	/* state dir, cache, cache/objects, journal/objects; -1: none */
	bool save;
	uint32_t shard_max;
	struct ix ix;
	bool have_ix;
	struct src *src;
	size_t nsrc, csrc;
	struct csvc *svcs;
	size_t nsvcs;
	struct compile_stats st;
	bool suspect;			/* a damaged object was seen: check existing ones before keeping them */
};

static enum cidr_family idx_fam(int i)
{
	return i ? CIDR_V6 : CIDR_V4;
}

/* ---- small helpers --------------------------------------------------------------------- */

static int ranges_push(struct rangeset *rs, u128 lo, u128 hi)
{
	return rangeset_add(rs, lo, hi);
}

/* First index of sorted disjoint x whose range ends at or after lo. */
static size_t first_ending_at_or_after(const struct rangeset *x, u128 lo)
{
	size_t a = 0, b = x->n;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (x->r[m].hi < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Ranges of sorted disjoint x that intersect [lo, hi]. */
static size_t count_in(const struct rangeset *x, u128 lo, u128 hi)
{
	size_t n = 0;

	for (size_t i = first_ending_at_or_after(x, lo); i < x->n && x->r[i].lo <= hi; i++)
		n++;
	return n;
}

static bool intersects(const struct rangeset *a, u128 lo, u128 hi)
{
	size_t i = first_ending_at_or_after(a, lo);

	return i < a->n && a->r[i].lo <= hi;
}

static bool within(const struct rangeset *a, u128 lo, u128 hi)
{
	size_t i = first_ending_at_or_after(a, lo);

	return i < a->n && a->r[i].lo <= lo && a->r[i].hi >= hi;
}

static void hex16(const uint8_t *p, char out[33])
{
	setobj_hex(p, 16, out);
}

static void xxh_bytes(XXH128_hash_t h, uint8_t out[16])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, 16);
}

/* ---- the index on disk ------------------------------------------------------------------- */

struct wb {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void wb_put(struct wb *w, const void *v, size_t n)
{
	if (w->err)
		return;
	if (util_grow((void **)&w->p, &w->cap, w->len + n, 1) < 0) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void wb_uint(struct wb *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wb_put(w, b, n);
}

static void wb_u128(struct wb *w, u128 v)
{
	wb_uint(w, (uint64_t)v, 8);
	wb_uint(w, (uint64_t)(v >> 64), 8);
}

static void wb_str(struct wb *w, const char *s)
{
	size_t n = strlen(s);

	wb_uint(w, n, 2);
	wb_put(w, s, n);
}

struct rb {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint64_t rb_uint(struct rb *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || r->left < n) {
		r->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->left -= n;
	return v;
}

static u128 rb_u128(struct rb *r)
{
	u128 lo = rb_uint(r, 8);

	return (u128)rb_uint(r, 8) << 64 | lo;
}

static void rb_bytes(struct rb *r, void *out, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = true;
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
}

static char *rb_str(struct rb *r)
{
	size_t n = (size_t)rb_uint(r, 2);
	char *s;

	if (r->bad || !n || n > r->left || n > STR_MAX || memchr(r->p, 0, n)) {
		r->bad = true;
		return NULL;
	}
	s = strndup((const char *)r->p, n);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return s;
}

/* A count read from the file, bounded by what `each` bytes per item leaves room for. */
static size_t rb_count(struct rb *r, size_t n, size_t each)
{
	uint64_t v = rb_uint(r, n);

	if (!r->bad && each && v > r->left / each)
		r->bad = true;
	return r->bad ? 0 : (size_t)v;
}

static void ix_fam_fini(struct ix_fam *f)
{
	rangeset_fini(&f->inl);
	free(f->split);
	free(f->leaves);
	memset(f, 0, sizeof(*f));
}

static void ix_fini(struct ix *ix)
{
	for (size_t i = 0; i < ix->nfiles; i++) {
		free(ix->files[i].path);
		free(ix->files[i].copy);
	}
	free(ix->files);
	for (size_t i = 0; i < ix->nsvcs; i++) {
		free(ix->svcs[i].name);
		free(ix->svcs[i].files);
		ix_fam_fini(&ix->svcs[i].fam[0]);
		ix_fam_fini(&ix->svcs[i].fam[1]);
	}
	free(ix->svcs);
	memset(ix, 0, sizeof(*ix));
}

static bool block_ok(enum cidr_family f, u128 prefix, int len)
{
	int bits = cidr_bits(f);

	if (len < 0 || len > bits || (f == CIDR_V4 && prefix >> 32))
		return false;
	return len == bits || !(prefix & (layout_block_hi(f, 0, len)));
}

static void read_fam(struct rb *r, enum cidr_family f, struct ix_fam *fm)
{
	size_t n;
	u128 prev_hi = 0;

	/* the policy file's prefixes: normalized (ascending, not even adjacent) */
	n = rb_count(r, 8, 32);
	if (!r->bad && rangeset_reserve(&fm->inl, n ? n : 1) < 0)
		r->bad = true;
	for (size_t i = 0; i < n && !r->bad; i++) {
		u128 lo = rb_u128(r), hi = rb_u128(r);

		if (lo > hi || hi > cidr_max(f) || (i && (lo <= prev_hi || lo - 1 == prev_hi)))
			r->bad = true;
		fm->inl.r[fm->inl.n++] = (struct range){ lo, hi };
		prev_hi = hi;
	}
	fm->sharded = rb_uint(r, 1) != 0;
	n = rb_count(r, 4, 25);
	fm->split = n ? calloc(n, sizeof(*fm->split)) : NULL;
	if (n && !fm->split)
		r->bad = true;
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct layout_node *s = &fm->split[i];

		s->prefix = rb_u128(r);
		s->len = (int)rb_uint(r, 1);
		s->count = (size_t)rb_uint(r, 8);
		/* pre-order: by address, a parent before its children; every split node holds more than one range */
		if (!block_ok(f, s->prefix, s->len) || s->count < 2 || s->len >= cidr_bits(f) ||
		    (i && (s->prefix < s[-1].prefix || (s->prefix == s[-1].prefix && s->len <= s[-1].len))))
			r->bad = true;
		fm->nsplit++;
	}
	n = rb_count(r, 4, 97);
	fm->leaves = n ? calloc(n, sizeof(*fm->leaves)) : NULL;
	if (n && !fm->leaves)
		r->bad = true;
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct ix_leaf *l = &fm->leaves[i];

		l->prefix = rb_u128(r);
		l->len = (int)rb_uint(r, 1);
		l->count = (size_t)rb_uint(r, 8);
		l->nm = (size_t)rb_uint(r, 8);
		rb_bytes(r, l->rd, 32);
		rb_bytes(r, l->md, 32);
		if (!block_ok(f, l->prefix, l->len) ||
		    (i && l->prefix <= layout_block_hi(f, l[-1].prefix, l[-1].len)))
			r->bad = true;
		fm->nleaves++;
	}
	/* unsharded: exactly the root; sharded: split nodes, the root first */
	if (!r->bad && !fm->sharded &&
	    (fm->nsplit || fm->nleaves != 1 || fm->leaves[0].len != 0))
		r->bad = true;
	if (!r->bad && fm->sharded &&
	    (!fm->nsplit || fm->split[0].len != 0 || !fm->nleaves))
		r->bad = true;
}

static int ix_parse(const uint8_t *buf, size_t len, struct ix *ix)
{
	struct rb r = { buf, len, false };
	uint8_t md[32];
	unsigned mdlen = 0;
	size_t n;

	memset(ix, 0, sizeof(*ix));
	if (len < 8 + 8 + 32 || memcmp(buf, INDEX_MAGIC, 8))
		return -EINVAL;
	if (!EVP_Digest(buf, len - 32, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32 ||
	    memcmp(md, buf + len - 32, 32))
		return -EINVAL;
	r.left = len - 32 - 8;
	r.p += 8;
	if (rb_uint(&r, 4) != INDEX_FORMAT)
		return -EINVAL;
	ix->shard_max = (uint32_t)rb_uint(&r, 4);
	if (!ix->shard_max)
		r.bad = true;
	n = rb_count(&r, 4, 2 + 1 + 2 + 1 + 8 + 16 + 8);
	ix->files = n ? calloc(n, sizeof(*ix->files)) : NULL;
	if (n && !ix->files)
		r.bad = true;
	for (size_t i = 0; i < n && !r.bad; i++) {
		struct ix_file *f = &ix->files[i];

		f->path = rb_str(&r);
		f->copy = rb_str(&r);
		f->size = rb_uint(&r, 8);
		rb_bytes(&r, f->xxh, 16);
		f->file_ino = rb_uint(&r, 8);
		ix->nfiles++;
		/* a copy is a plain name in the cache dir */
		if (f->copy && (strncmp(f->copy, SRC_PREFIX, strlen(SRC_PREFIX)) || strchr(f->copy, '/')))
			r.bad = true;
	}
	n = rb_count(&r, 4, 2 + 1 + 4 + 8 + 2 * (8 + 1 + 4 + 4));
	ix->svcs = n ? calloc(n, sizeof(*ix->svcs)) : NULL;
	if (n && !ix->svcs)
		r.bad = true;
	for (size_t i = 0; i < n && !r.bad; i++) {
		struct ix_svc *s = &ix->svcs[i];
		size_t nf;

		s->name = rb_str(&r);
		nf = rb_count(&r, 4, 4);
		s->files = nf ? calloc(nf, sizeof(*s->files)) : NULL;
		if (nf && !s->files)
			r.bad = true;
		for (size_t k = 0; k < nf && !r.bad; k++) {
			s->files[k] = (uint32_t)rb_uint(&r, 4);
			if (s->files[k] >= ix->nfiles)
				r.bad = true;
			s->nfiles++;
		}
		s->nsrc_files = rb_uint(&r, 8);
		read_fam(&r, CIDR_V4, &s->fam[0]);
		read_fam(&r, CIDR_V6, &s->fam[1]);
		ix->nsvcs++;
	}
	if (r.bad || r.left) {
		ix_fini(ix);
		return -EINVAL;
	}
	return 0;
}

int compile_index_check(const void *buf, size_t len)
{
	struct ix ix;
	int ret = ix_parse(buf, len, &ix);

	if (!ret)
		ix_fini(&ix);
	return ret;
}

static void write_fam(struct wb *w, const struct rangeset *inl, const struct cfam *cf)
{
	wb_uint(w, inl->n, 8);
	for (size_t i = 0; i < inl->n; i++) {
		wb_u128(w, inl->r[i].lo);
		wb_u128(w, inl->r[i].hi);
	}
	wb_uint(w, cf->sharded, 1);
	wb_uint(w, cf->nsplit, 4);
	for (size_t i = 0; i < cf->nsplit; i++) {
		wb_u128(w, cf->split[i].prefix);
		wb_uint(w, (uint64_t)cf->split[i].len, 1);
		wb_uint(w, cf->split[i].count, 8);
	}
	wb_uint(w, cf->nleaves, 4);
	for (size_t i = 0; i < cf->nleaves; i++) {
		const struct cleaf *l = &cf->leaves[i];

		wb_u128(w, l->prefix);
		wb_uint(w, (uint64_t)l->len, 1);
		wb_uint(w, l->count, 8);
		wb_uint(w, l->nm, 8);
		wb_put(w, l->rd, 32);
		wb_put(w, l->md, 32);
	}
}

/* ---- allow_files ------------------------------------------------------------------------- */

static void src_fini(struct src *s)
{
	if (s->data && s->len)
		munmap((void *)s->data, s->len);
	if (s->fd >= 0)
		close(s->fd);
	for (int f = 0; f < 2; f++) {
		rangeset_fini(&s->rm[f]);
		rangeset_fini(&s->ad[f]);
		rangeset_fini(&s->all[f]);
	}
	free(s->path);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/*
 * Map a file read-only (reading 15 MB costs eight times what mapping does).
 * A mapping shows later writes (compile_all() and compile_save() check that
 * the file did not change) and faults when the file is truncated meanwhile:
 * that SIGBUS is caught (bus_guard) and means a full load. 0 or -errno.
 */
static int map_file(int at, const char *path, int *fdp, const char **data, size_t *len,
		    struct stat *st)
{
	/* below the state dir nothing is a link (statestore.h); an allow_file may be one */
	int fd = openat(at, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
				      (at == AT_FDCWD ? 0 : O_NOFOLLOW));
	void *p;

	*fdp = -1;
	*data = "";
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st->st_size > 0) {
		p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (p == MAP_FAILED) {
			int err = -errno;

			close(fd);
			return err;
		}
		*data = p;
		*len = (size_t)st->st_size;
		/* test hook: the file truncated right after it was mapped (the SIGBUS path) */
		if (getenv("PORTLOCK_TEST_TRUNCATE") && strstr(path, getenv("PORTLOCK_TEST_TRUNCATE")) &&
		    ftruncate(fd, 0) < 0)
			return -errno;
	}
	*fdp = fd;
	return 0;
}

/*
 * Read the lines of buf[0, len) into v4/v6 (entries, unsorted). Returns the
 * number of prefixes, or -EAGAIN at the first line a full load would warn or
 * complain about, or -ENOMEM.
 */
static long parse_lines(const char *buf, size_t len, struct rangeset *v4, struct rangeset *v6,
			size_t *lines)
{
	char text[CONFIG_LINE_MAX];
	long n = 0;

	for (size_t off = 0; off < len;) {
		const char *ln = buf + off, *nl = memchr(ln, '\n', len - off);
		size_t k = nl ? (size_t)(nl - ln) : len - off;
		struct cidr c;
		u128 hi;

		off += k + (nl != NULL);
		(*lines)++;
		switch (config_allow_line(ln, k, &c, text, sizeof(text))) {
		case CONFIG_LINE_BLANK:
			continue;
		case CONFIG_LINE_PREFIX:
			break;
		default:
			return -EAGAIN;
		}
		hi = c.addr | layout_block_hi(c.family, 0, c.plen);
		if (ranges_push(c.family == CIDR_V4 ? v4 : v6, c.addr, hi) < 0)
			return -ENOMEM;
		n++;
	}
	return n;
}

static size_t count_nl(const char *buf, size_t len)
{
	size_t n = 1;

	for (const char *p = buf, *end = buf + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	return n;
}

/* Every entry of an allow_file (once per file, shared by its services). */
static int src_parse(struct compile *c, struct src *s)
{
	size_t lines = 0;
	long n;

	if (s->parsed)
		return 0;
	if (rangeset_reserve(&s->all[0], count_nl(s->data, s->len)) < 0)
		return -ENOMEM;
	n = parse_lines(s->data, s->len, &s->all[0], &s->all[1], &lines);
	c->st.lines_parsed += lines;
	if (n < 0) {
		rangeset_fini(&s->all[0]);
		rangeset_fini(&s->all[1]);
		return (int)n;
	}
	s->nsrc = (size_t)n;
	s->parsed = true;
	return 0;
}

static size_t common_prefix(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn, i = 0;

	while (i + 4096 <= n && !memcmp(a + i, b + i, 4096))
		i += 4096;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static size_t common_suffix(const char *a, size_t an, const char *b, size_t bn, size_t max)
{
	size_t i = 0;

	while (i + 4096 <= max && !memcmp(a + an - i - 4096, b + bn - i - 4096, 4096))
		i += 4096;
	while (i < max && a[an - i - 1] == b[bn - i - 1])
		i++;
	return i;
}

/* Remove the entries both multisets hold (a line moved, or changed back). */
static void cancel_common(struct rangeset *a, struct rangeset *b)
{
	size_t i = 0, j = 0, oa = 0, ob = 0;

	while (i < a->n || j < b->n) {
		int cmp = i >= a->n ? 1 : j >= b->n ? -1 : range_order(&a->r[i], &b->r[j]);

		if (cmp < 0)
			a->r[oa++] = a->r[i++];
		else if (cmp > 0)
			b->r[ob++] = b->r[j++];
		else
			i++, j++;
	}
	a->n = oa;
	b->n = ob;
}

/*
 * Compare an allow_file with its copy in the cache: unchanged, or the entries
 * of the lines between the common head and tail (SRC_DELTA), or no usable
 * copy (SRC_NOCACHE). -EAGAIN when a changed line is not clean (a full load
 * reports it), -ENOMEM.
 */
static int src_delta(struct compile *c, struct src *s)
{
	const struct ix_file *cf = &c->ix.files[s->ci];
	const char *old = "";
	size_t oldlen = 0, p, sfx, lines = 0;
	struct stat st;
	uint8_t got[16];
	long n;
	int fd = -1, ret = 0;

	s->state = SRC_NOCACHE;
	if (c->dirfd < 0 || strchr(cf->copy, '/') ||
	    map_file(c->dirfd, cf->copy, &fd, &old, &oldlen, &st) < 0 || oldlen != cf->size)
		goto out;
	s->h = XXH3_128bits(old, oldlen);
	xxh_bytes(s->h, got);
	if (memcmp(got, cf->xxh, 16))
		goto out;	/* the copy is not what was compiled (damaged, cut short): not usable */
	p = common_prefix(old, oldlen, s->data, s->len);
	if (p == oldlen && p == s->len) {
		s->state = SRC_UNCHANGED;
		s->has_h = true;	/* the same bytes as the copy, hashed above */
		goto out;
	}
	while (p > 0 && old[p - 1] != '\n')
		p--;
	sfx = common_suffix(old, oldlen, s->data, s->len,
			    (oldlen < s->len ? oldlen : s->len) - p);
	/* the tail starts a line in both files */
	while (sfx > 0 && !((oldlen - sfx == p || old[oldlen - sfx - 1] == '\n') &&
			    (s->len - sfx == p || s->data[s->len - sfx - 1] == '\n')))
		sfx--;
	/* the old lines were clean when they were cached: anything else is a damaged copy */
	n = parse_lines(old + p, oldlen - sfx - p, &s->rm[0], &s->rm[1], &lines);
	if (n == -ENOMEM) {
		ret = -ENOMEM;
		goto out;
	}
	if (n < 0)
		goto out;
	s->dsrc = -n;
	n = parse_lines(s->data + p, s->len - sfx - p, &s->ad[0], &s->ad[1], &lines);
	c->st.lines_parsed += lines;
	if (n < 0) {
		ret = (int)n;	/* -EAGAIN: a full load says what is wrong with the line */
		goto out;
	}
	s->dsrc += n;
	for (int f = 0; f < 2; f++) {
		rangeset_sort(&s->rm[f]);
		rangeset_sort(&s->ad[f]);
		cancel_common(&s->rm[f], &s->ad[f]);
	}
	s->state = SRC_DELTA;
out:
	if (oldlen)
		munmap((void *)old, oldlen);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- shard contents ---------------------------------------------------------------------- */

static void cfam_fini(struct cfam *cf)
{
	for (size_t i = 0; i < cf->nleaves; i++)
		rangeset_fini(&cf->leaves[i].r);
	free(cf->leaves);
	free(cf->split);
	memset(cf, 0, sizeof(*cf));
}

static struct cleaf *cfam_leaf(struct cfam *cf)
{
	struct cleaf *l;

	if (util_grow((void **)&cf->leaves, &cf->cleaves, cf->nleaves + 1, sizeof(*cf->leaves)) < 0)
		return NULL;
	l = &cf->leaves[cf->nleaves++];
	memset(l, 0, sizeof(*l));
	rangeset_init(&l->r);
	return l;
}

static int cfam_split(struct cfam *cf, u128 prefix, int len, size_t count)
{
	struct layout_node *s;

	if (util_grow((void **)&cf->split, &cf->csplit, cf->nsplit + 1, sizeof(*cf->split)) < 0)
		return -ENOMEM;
	s = &cf->split[cf->nsplit++];
	memset(s, 0, sizeof(*s));
	s->prefix = prefix;
	s->len = len;
	s->count = count;
	return 0;
}

static void obj_path(const char *dir, const uint8_t md[32], char *out, size_t len)
{
	char hex[65];

	setobj_hex(md, 32, hex);
	snprintf(out, len, "%s/%s", dir, hex);
}

/* Write an object of the cache (entries of a shard) unless it is there. No fsync: it is checked when read. */
static int put_object(struct compile *c, enum cidr_family f, const struct rangeset *m,
		      const uint8_t md[32])
{
	char name[65];
	struct stat st;
	char *buf;
	size_t len;
	int ret;

	setobj_hex(md, 32, name);
	if (setobj_encode_multi(f, m, &buf, &len) < 0)
		return -ENOMEM;
	if (fstatat(c->objfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len) {
		bool same = !c->suspect;

		if (!same) {
			int rfd = openat(c->objfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			char *have = malloc(len + 1);

			same = rfd >= 0 && have && read(rfd, have, len + 1) == (ssize_t)len &&
			       !memcmp(have, buf, len);
			free(have);
			if (rfd >= 0)
				close(rfd);
		}
		if (same) {
			free(buf);
			return 0;
		}
	}
	ret = statestore_replace(c->objfd, name, buf, len, 0);
	free(buf);
	return ret;
}

/*
 * A leaf computed now from its entries m (sorted): its ranges (m clipped to
 * the block, merged), digests, and, when saving, its entries stored. m is
 * consumed. want_count (SIZE_MAX: any) is the layout's count, checked.
 */
static int fresh_leaf(struct compile *c, struct cfam *cf, enum cidr_family f, u128 prefix, int len,
		      struct rangeset *m, size_t want_count)
{
	u128 hi = layout_block_hi(f, prefix, len);
	struct cleaf *l = cfam_leaf(cf);
	int ret;

	if (!l) {
		rangeset_fini(m);
		return -ENOMEM;
	}
	l->prefix = prefix;
	l->len = len;
	l->fresh = true;
	l->nm = m->n;
	if (layout_clip(m->r, m->n, prefix, hi, &l->r) < 0 ||
	    setobj_digest_multi(f, m, l->md) < 0) {
		rangeset_fini(m);
		return -ENOMEM;
	}
	rangeset_normalize(&l->r);
	l->count = l->r.n;
	if (want_count != SIZE_MAX && l->count != want_count) {
		rangeset_fini(m);
		return -EAGAIN;	/* the layout and the contents disagree: trust neither */
	}
	ret = setobj_digest(f, &l->r, l->rd) < 0 ? -ENOMEM : 0;
	if (!ret && c->save && c->objfd >= 0) {
		int w = put_object(c, f, m, l->md);

		if (w == -ENOMEM)
			ret = w;
		else if (w)
			c->save = false;	/* an unwritable cache: this run does without */
	}
	rangeset_fini(m);
	return ret;
}

/* ---- a family from scratch --------------------------------------------------------------- */

/* e: every entry, unsorted (consumed). */
static int fam_full(struct compile *c, enum cidr_family f, struct rangeset *e, struct cfam *out)
{
	struct rangeset d;
	struct layout l;
	size_t i = 0, *active = NULL, nact = 0, cact = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	rangeset_sort(e);
	if (rangeset_copy(&d, e) < 0) {
		rangeset_fini(e);
		return -ENOMEM;
	}
	rangeset_normalize(&d);
	if (layout_build(&d, f, c->shard_max, &l) < 0) {
		rangeset_fini(&d);
		rangeset_fini(e);
		return -ENOMEM;
	}
	rangeset_fini(&d);
	out->sharded = l.sharded;
	for (size_t k = 0; k < l.nsplit && !ret; k++)
		ret = cfam_split(out, l.split[k].prefix, l.split[k].len, l.split[k].count);
	/* each leaf's entries: those that start in it, and those from before that reach into it */
	for (size_t k = 0; k < l.nleaves && !ret; k++) {
		u128 bl = l.leaves[k].prefix, bh = layout_block_hi(f, bl, l.leaves[k].len);
		struct rangeset m;
		size_t o = 0;

		rangeset_init(&m);
		if (!l.sharded) {
			ret = fresh_leaf(c, out, f, 0, 0, e, l.leaves[k].count);
			rangeset_init(e);
			break;
		}
		for (size_t a = 0; a < nact; a++)
			if (e->r[active[a]].hi >= bl)
				active[o++] = active[a];
		nact = o;
		for (; i < e->n && e->r[i].lo < bl; i++)
			if (e->r[i].hi >= bl) {
				if (util_grow((void **)&active, &cact, nact + 1, sizeof(*active)) < 0)
					ret = -ENOMEM;
				else
					active[nact++] = i;
			}
		for (size_t a = 0; a < nact && !ret; a++)
			ret = ranges_push(&m, e->r[active[a]].lo, e->r[active[a]].hi);
		for (; i < e->n && e->r[i].lo <= bh && !ret; i++) {
			ret = ranges_push(&m, e->r[i].lo, e->r[i].hi);
			if (!ret && e->r[i].hi > bh) {
				if (util_grow((void **)&active, &cact, nact + 1, sizeof(*active)) < 0)
					ret = -ENOMEM;
				else
					active[nact++] = i;
			}
		}
		if (!ret)
			ret = fresh_leaf(c, out, f, bl, l.leaves[k].len, &m, l.leaves[k].count);
		else
			rangeset_fini(&m);
	}
	free(active);
	layout_fini(&l);
	rangeset_fini(e);
	if (ret)
		cfam_fini(out);
	return ret;
}

/* ---- a family from the cache and a change ------------------------------------------------ */

struct inc {
	struct compile *c;
	const struct ix_fam *of;
	enum cidr_family f;
	int bits;
	struct rangeset *m, *r;		/* per old leaf, once loaded */
	bool *loaded;
	struct rangeset a;		/* the region */
	struct rangeset newa;		/* entries inside it, after the change */
	struct rangeset dold, dnew;	/* D inside it, before and after */
	struct cfam *out;
	int err;
};

static int load_leaf(struct inc *x, size_t k)
{
	const struct ix_leaf *l = &x->of->leaves[k];
	char name[65];
	uint8_t rd[32];
	int ret;

	if (x->loaded[k])
		return 0;
	setobj_hex(l->md, 32, name);
	ret = x->c->objfd < 0 ? -ENOENT : setobj_load_multi_at(x->c->objfd, name, l->md, x->f, &x->m[k]);
	if (ret == -ENOMEM)
		return ret;
	if (ret == -EBADMSG) {
		unlinkat(x->c->objfd, name, 0);	/* damaged: written again by the full compile that follows */
		x->c->suspect = true;
	}
	if (ret || x->m[k].n != l->nm)
		return -EAGAIN;
	rangeset_init(&x->r[k]);
	x->loaded[k] = true;	/* from here its ranges are freed with it */
	if (layout_clip(x->m[k].r, x->m[k].n, l->prefix, layout_block_hi(x->f, l->prefix, l->len),
			&x->r[k]) < 0)
		return -ENOMEM;
	rangeset_normalize(&x->r[k]);
	if (x->r[k].n != l->count)
		return -EAGAIN;
	if (setobj_digest(x->f, &x->r[k], rd) < 0)
		return -ENOMEM;
	return memcmp(rd, l->rd, 32) ? -EAGAIN : 0;
}

/* Old leaves intersecting [lo, hi]: [*first, *end). */
static void leaves_in(const struct inc *x, u128 lo, u128 hi, size_t *first, size_t *end)
{
	const struct ix_fam *of = x->of;
	size_t a = 0, b = of->nleaves;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (layout_block_hi(x->f, of->leaves[m].prefix, of->leaves[m].len) < lo)
			a = m + 1;
		else
			b = m;
	}
	*first = a;
	while (a < of->nleaves && of->leaves[a].prefix <= hi)
		a++;
	*end = a;
}

/* Grow the region until it holds every D range it touches or borders. */
static int grow_region(struct inc *x)
{
	u128 top = cidr_max(x->f);
	bool changed = true;
	int ret;

	while (changed) {
		size_t n0 = x->a.n;

		changed = false;
		for (size_t i = 0; i < n0; i++) {
			u128 lo = x->a.r[i].lo ? x->a.r[i].lo - 1 : 0;
			u128 hi = x->a.r[i].hi < top ? x->a.r[i].hi + 1 : top;
			size_t k, end;

			leaves_in(x, lo, hi, &k, &end);
			for (; k < end; k++) {
				ret = load_leaf(x, k);
				if (ret)
					return ret;
				for (size_t j = first_ending_at_or_after(&x->r[k], lo);
				     j < x->r[k].n && x->r[k].r[j].lo <= hi; j++) {
					const struct range *p = &x->r[k].r[j];

					if (p->lo >= x->a.r[i].lo && p->hi <= x->a.r[i].hi)
						continue;
					if (ranges_push(&x->a, p->lo, p->hi) < 0)
						return -ENOMEM;
					changed = true;
				}
			}
		}
		if (changed)
			rangeset_normalize(&x->a);
	}
	return 0;
}

/* Index of the old leaf whose block holds addr, or -1. */
static long leaf_at(const struct inc *x, u128 addr)
{
	size_t k, end;

	leaves_in(x, addr, addr, &k, &end);
	return k < end && x->of->leaves[k].prefix <= addr ? (long)k : -1;
}

enum node_kind { NODE_GAP, NODE_SPLIT, NODE_LEAF, NODE_INSIDE };

/* count(N) before the change, and what N was. */
static size_t base_count(struct inc *x, u128 prefix, int len, enum node_kind *kind, long *leaf)
{
	long k = leaf_at(x, prefix);

	*kind = NODE_GAP;
	*leaf = k;
	if (k >= 0 && x->of->leaves[k].len == len) {
		*kind = NODE_LEAF;
		return x->of->leaves[k].count;
	}
	if (k >= 0 && x->of->leaves[k].len < len) {
		*kind = NODE_INSIDE;
		if (!x->loaded[k]) {
			x->err = -EAGAIN;	/* a leaf that splits was changed, so it is loaded */
			return 0;
		}
		return count_in(&x->r[k], prefix, layout_block_hi(x->f, prefix, len));
	}
	for (size_t i = 0; i < x->of->nsplit; i++)
		if (x->of->split[i].prefix == prefix && x->of->split[i].len == len) {
			*kind = NODE_SPLIT;
			return x->of->split[i].count;
		}
	return 0;
}

/* Merge sorted a and b (disjoint by value) into out. */
static int merge_sorted(const struct rangeset *a, const struct rangeset *b, struct rangeset *out)
{
	size_t i = 0, j = 0;

	rangeset_init(out);
	if (rangeset_reserve(out, a->n + b->n + 1) < 0)
		return -ENOMEM;
	while (i < a->n || j < b->n) {
		if (j >= b->n || (i < a->n && range_order(&a->r[i], &b->r[j]) <= 0))
			out->r[out->n++] = a->r[i++];
		else
			out->r[out->n++] = b->r[j++];
	}
	return 0;
}

/* The leaf N of the new layout with cnt ranges. */
static void emit(struct inc *x, u128 prefix, int len, size_t cnt, enum node_kind kind, long k)
{
	u128 hi = layout_block_hi(x->f, prefix, len);
	struct rangeset part1, part2, m;
	size_t first, end;

	if (kind == NODE_LEAF && !intersects(&x->a, prefix, hi)) {
		/* untouched: as it was */
		const struct ix_leaf *ol = &x->of->leaves[k];
		struct cleaf *l = cfam_leaf(x->out);

		if (!l) {
			x->err = -ENOMEM;
			return;
		}
		if (ol->count != cnt) {
			x->err = -EAGAIN;
			return;
		}
		l->prefix = ol->prefix;
		l->len = ol->len;
		l->count = ol->count;
		l->nm = ol->nm;
		memcpy(l->rd, ol->rd, 32);
		memcpy(l->md, ol->md, 32);
		return;
	}
	/* entries inside the region, as they are now */
	rangeset_init(&part1);
	rangeset_init(&part2);
	for (size_t i = 0; i < x->newa.n && !x->err; i++)
		if (x->newa.r[i].lo <= hi && x->newa.r[i].hi >= prefix &&
		    ranges_push(&part1, x->newa.r[i].lo, x->newa.r[i].hi) < 0)
			x->err = -ENOMEM;
	/* entries outside it, from the old leaves in N (each taken from the leaf where it enters N) */
	leaves_in(x, prefix, hi, &first, &end);
	for (size_t j = first; j < end && !x->err; j++) {
		const struct ix_leaf *ol = &x->of->leaves[j];
		u128 bl = ol->prefix, bh = layout_block_hi(x->f, ol->prefix, ol->len);
		int ret = load_leaf(x, j);

		if (ret) {
			x->err = ret;
			break;
		}
		for (size_t i = 0; i < x->m[j].n && !x->err; i++) {
			const struct range *e = &x->m[j].r[i];
			u128 start = e->lo > prefix ? e->lo : prefix;

			if (e->lo > hi || e->hi < prefix || intersects(&x->a, e->lo, e->hi))
				continue;
			if (start < bl || start > bh)
				continue;
			if (ranges_push(&part2, e->lo, e->hi) < 0)
				x->err = -ENOMEM;
		}
	}
	if (!x->err && merge_sorted(&part1, &part2, &m) < 0)
		x->err = -ENOMEM;
	rangeset_fini(&part1);
	rangeset_fini(&part2);
	if (x->err)
		return;
	x->err = fresh_leaf(x->c, x->out, x->f, prefix, len, &m, cnt);
}

static void relayout(struct inc *x, u128 prefix, int len)
{
	u128 hi = layout_block_hi(x->f, prefix, len);
	enum node_kind kind;
	long k;
	size_t base, before, after, cnt;

	if (x->err)
		return;
	base = base_count(x, prefix, len, &kind, &k);
	before = count_in(&x->dold, prefix, hi);
	after = count_in(&x->dnew, prefix, hi);
	if (x->err)
		return;
	if (base < before) {
		x->err = -EAGAIN;
		return;
	}
	cnt = base - before + after;
	if (len == 0) {
		x->out->sharded = cnt > x->c->shard_max;
		if (!x->out->sharded) {
			emit(x, 0, 0, cnt, kind, k);
			return;
		}
	} else if (cnt == 0) {
		return;
	} else if (cnt <= x->c->shard_max || len >= x->bits) {
		emit(x, prefix, len, cnt, kind, k);
		return;
	}
	if (cfam_split(x->out, prefix, len, cnt) < 0) {
		x->err = -ENOMEM;
		return;
	}
	relayout(x, prefix, len + 1);
	relayout(x, prefix | ((u128)1 << (x->bits - len - 1)), len + 1);
}

/* A family from its cached layout and the entries removed and added (sorted). */
static int fam_inc(struct compile *c, enum cidr_family f, const struct ix_fam *of,
		   const struct rangeset *rm, const struct rangeset *ad, struct cfam *out)
{
	struct inc x = { .c = c, .of = of, .f = f, .bits = cidr_bits(f), .out = out };
	struct rangeset olda;
	size_t i, j;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	rangeset_init(&olda);
	if (!rm->n && !ad->n) {
		/* nothing in this family changed: the layout as it was */
		out->sharded = of->sharded;
		for (i = 0; i < of->nsplit && !ret; i++)
			ret = cfam_split(out, of->split[i].prefix, of->split[i].len, of->split[i].count);
		for (i = 0; i < of->nleaves && !ret; i++) {
			struct cleaf *l = cfam_leaf(out);

			if (!l) {
				ret = -ENOMEM;
				break;
			}
			l->prefix = of->leaves[i].prefix;
			l->len = of->leaves[i].len;
			l->count = of->leaves[i].count;
			l->nm = of->leaves[i].nm;
			memcpy(l->rd, of->leaves[i].rd, 32);
			memcpy(l->md, of->leaves[i].md, 32);
		}
		if (ret)
			cfam_fini(out);
		return ret;
	}
	x.m = calloc(of->nleaves + 1, sizeof(*x.m));
	x.r = calloc(of->nleaves + 1, sizeof(*x.r));
	x.loaded = calloc(of->nleaves + 1, sizeof(*x.loaded));
	if (!x.m || !x.r || !x.loaded) {
		ret = -ENOMEM;
		goto out;
	}
	/* the region: the changed entries, merged, then grown over the D ranges they touch */
	for (i = 0; i < rm->n && !ret; i++)
		ret = ranges_push(&x.a, rm->r[i].lo, rm->r[i].hi);
	for (i = 0; i < ad->n && !ret; i++)
		ret = ranges_push(&x.a, ad->r[i].lo, ad->r[i].hi);
	if (ret)
		goto out;
	rangeset_normalize(&x.a);
	ret = grow_region(&x);
	if (ret)
		goto out;
	/* entries inside it before (each from the leaf that holds its start), and D before */
	for (size_t k = 0; k < of->nleaves && !ret; k++) {
		u128 bl = of->leaves[k].prefix, bh = layout_block_hi(f, bl, of->leaves[k].len);

		if (!x.loaded[k])
			continue;
		for (i = 0; i < x.m[k].n && !ret; i++) {
			const struct range *e = &x.m[k].r[i];

			if (!intersects(&x.a, e->lo, e->hi))
				continue;
			if (!within(&x.a, e->lo, e->hi))
				ret = -EAGAIN;	/* an entry across the region's edge: D was not what the cache says */
			else if (e->lo >= bl && e->lo <= bh)
				ret = ranges_push(&olda, e->lo, e->hi);
		}
		for (i = 0; i < x.r[k].n && !ret; i++) {
			const struct range *p = &x.r[k].r[i];
			struct range *last = x.dold.n ? &x.dold.r[x.dold.n - 1] : NULL;

			if (!intersects(&x.a, p->lo, p->hi))
				continue;
			if (!within(&x.a, p->lo, p->hi))
				ret = -EAGAIN;
			else if (last && last->hi + 1 == p->lo && last->hi != cidr_max(f))
				last->hi = p->hi;	/* one D range across a shard boundary */
			else
				ret = ranges_push(&x.dold, p->lo, p->hi);
		}
	}
	if (ret)
		goto out;
	/* after: olda - rm + ad; every removed entry must be there */
	{
		struct rangeset kept;

		rangeset_init(&kept);
		for (i = 0, j = 0; i < olda.n && !ret; i++) {
			int cmp = j < rm->n ? range_order(&olda.r[i], &rm->r[j]) : -1;

			if (cmp == 0) {
				j++;
				continue;
			}
			if (cmp > 0) {
				ret = -EAGAIN;	/* removed, but not in its shard */
				break;
			}
			ret = ranges_push(&kept, olda.r[i].lo, olda.r[i].hi);
		}
		if (!ret && j < rm->n)
			ret = -EAGAIN;
		if (!ret)
			ret = merge_sorted(&kept, ad, &x.newa);
		rangeset_fini(&kept);
	}
	if (!ret)
		ret = rangeset_copy(&x.dnew, &x.newa);
	if (ret)
		goto out;
	rangeset_normalize(&x.dnew);
	relayout(&x, 0, 0);
	ret = x.err;
out:
	for (size_t k = 0; x.loaded && k < of->nleaves; k++) {
		rangeset_fini(&x.m[k]);
		if (x.loaded[k])
			rangeset_fini(&x.r[k]);
	}
	free(x.m);
	free(x.r);
	free(x.loaded);
	rangeset_fini(&x.a);
	rangeset_fini(&x.newa);
	rangeset_fini(&x.dold);
	rangeset_fini(&x.dnew);
	rangeset_fini(&olda);
	if (ret)
		cfam_fini(out);
	return ret;
}

/* ---- services ---------------------------------------------------------------------------- */

static void csvc_fini(struct csvc *s)
{
	free(s->name);
	free(s->files);
	for (int f = 0; f < 2; f++) {
		rangeset_fini(&s->inl[f]);
		cfam_fini(&s->fam[f]);
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
			if (ranges_push(out, a->r[i].lo, a->r[i].hi) < 0)
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

		ret = src_parse(c, sf);
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
	return fam_full(c, idx_fam(fi), &e, &cs->fam[fi]);
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
			cancel_common(&rm, &ad);
			ret = fam_inc(c, idx_fam(fi), &is->fam[fi], &rm, &ad, &cs->fam[fi]);
		}
		rangeset_fini(&rm);
		rangeset_fini(&ad);
		if (ret == -EAGAIN) {
			/* the cache does not fit the change: the service from scratch */
			inc = false;
			ret = 0;
			cfam_fini(&cs->fam[0]);
			cfam_fini(&cs->fam[1]);
		}
	}
	for (int fi = 0; fi < 2 && !inc && !ret; fi++)
		ret = svc_full_family(c, s, cs, fi);
	if (!inc) {
		cs->nsrc_files = 0;
		for (size_t k = 0; k < cs->nfiles && !ret; k++) {
			ret = src_parse(c, &c->src[cs->files[k]]);
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
		obj_path(c->jobjdir, l->rd, path, sizeof(path));
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
		src_fini(&c->src[i]);
	free(c->src);
	for (size_t i = 0; i < c->nsvcs; i++)
		csvc_fini(&c->svcs[i]);
	free(c->svcs);
	ix_fini(&c->ix);
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
	if (map_file(c->dirfd, INDEX_NAME, &fd, &data, &len, &st) == 0) {
		if (len <= INDEX_MAX && ix_parse((const uint8_t *)data, len, &c->ix) == 0) {
			if (c->ix.shard_max == c->shard_max)
				c->have_ix = true;
			else
				ix_fini(&c->ix);
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
			if (map_file(AT_FDCWD, path, &s->fd, &s->data, &s->len, &s->st) < 0)
				return -EAGAIN;	/* a full load says why it cannot be read */
			for (size_t x = 0; c->have_ix && x < c->ix.nfiles; x++)
				if (!strcmp(c->ix.files[x].path, path))
					s->ci = (int)x;
			s->state = SRC_NOCACHE;
			if (s->ci >= 0)
				ret = src_delta(c, s);
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
	struct wb w = { 0 };
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
	wb_put(&w, INDEX_MAGIC, 8);
	wb_uint(&w, INDEX_FORMAT, 4);
	wb_uint(&w, c->shard_max, 4);
	wb_uint(&w, c->nsrc, 4);
	/* after the commit: hashing the new contents is off the critical path */
	if (!ret)
		ret = hash_guarded(c);
	for (size_t i = 0; i < c->nsrc && !ret; i++) {
		uint8_t x[16];

		xxh_bytes(c->src[i].h, x);
		wb_str(&w, c->src[i].path);
		wb_str(&w, copies[i]);
		wb_uint(&w, c->src[i].len, 8);
		wb_put(&w, x, 16);
		wb_uint(&w, (uint64_t)c->src[i].st.st_ino, 8);
	}
	wb_uint(&w, c->nsvcs, 4);
	for (size_t i = 0; i < c->nsvcs && !ret; i++) {
		const struct csvc *s = &c->svcs[i];

		wb_str(&w, s->name);
		wb_uint(&w, s->nfiles, 4);
		for (size_t k = 0; k < s->nfiles; k++)
			wb_uint(&w, s->files[k], 4);
		wb_uint(&w, s->nsrc_files, 8);
		write_fam(&w, &s->inl[0], &s->fam[0]);
		write_fam(&w, &s->inl[1], &s->fam[1]);
	}
	if (!ret && w.err)
		ret = w.err;
	if (!ret && (!EVP_Digest(w.p, w.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32))
		ret = -ENOMEM;
	wb_put(&w, md, 32);
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
