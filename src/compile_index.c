// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compile cache's index file (compile.h): its parser, which checks every
 * length, order and the SHA-256 trailer before anything is used, and its
 * encoder. Little-endian; written with bytebuf.h, read with struct rb.
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

#include <openssl/evp.h>

#include "util.h"

#define STR_MAX 4096

/* ---- the index on disk ------------------------------------------------------------------- */

static void wb_str(struct bytebuf *w, const char *s)
{
	size_t n = strlen(s);

	bytebuf_uint(w, n, 2);
	bytebuf_put(w, s, n);
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

void cc_ix_fini(struct ix *ix)
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

int cc_ix_parse(const uint8_t *buf, size_t len, struct ix *ix)
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
		cc_ix_fini(ix);
		return -EINVAL;
	}
	return 0;
}

int compile_index_check(const void *buf, size_t len)
{
	struct ix ix;
	int ret = cc_ix_parse(buf, len, &ix);

	if (!ret)
		cc_ix_fini(&ix);
	return ret;
}

static void write_fam(struct bytebuf *w, const struct rangeset *inl, const struct cfam *cf)
{
	bytebuf_uint(w, inl->n, 8);
	for (size_t i = 0; i < inl->n; i++) {
		bytebuf_u128(w, inl->r[i].lo, 16);
		bytebuf_u128(w, inl->r[i].hi, 16);
	}
	bytebuf_uint(w, cf->sharded, 1);
	bytebuf_uint(w, cf->nsplit, 4);
	for (size_t i = 0; i < cf->nsplit; i++) {
		bytebuf_u128(w, cf->split[i].prefix, 16);
		bytebuf_uint(w, (uint64_t)cf->split[i].len, 1);
		bytebuf_uint(w, cf->split[i].count, 8);
	}
	bytebuf_uint(w, cf->nleaves, 4);
	for (size_t i = 0; i < cf->nleaves; i++) {
		const struct cleaf *l = &cf->leaves[i];

		bytebuf_u128(w, l->prefix, 16);
		bytebuf_uint(w, (uint64_t)l->len, 1);
		bytebuf_uint(w, l->count, 8);
		bytebuf_uint(w, l->nm, 8);
		bytebuf_put(w, l->rd, 32);
		bytebuf_put(w, l->md, 32);
	}
}

void cc_index_encode(const struct compile *c, const char (*copies)[64], struct bytebuf *w)
{
	bytebuf_put(w, INDEX_MAGIC, 8);
	bytebuf_uint(w, INDEX_FORMAT, 4);
	bytebuf_uint(w, c->shard_max, 4);
	bytebuf_uint(w, c->nsrc, 4);
	for (size_t i = 0; i < c->nsrc; i++) {
		uint8_t x[16];

		cc_xxh_bytes(c->src[i].h, x);
		wb_str(w, c->src[i].path);
		wb_str(w, copies[i]);
		bytebuf_uint(w, c->src[i].len, 8);
		bytebuf_put(w, x, 16);
		bytebuf_uint(w, (uint64_t)c->src[i].st.st_ino, 8);
	}
	bytebuf_uint(w, c->nsvcs, 4);
	for (size_t i = 0; i < c->nsvcs; i++) {
		const struct csvc *s = &c->svcs[i];

		wb_str(w, s->name);
		bytebuf_uint(w, s->nfiles, 4);
		for (size_t k = 0; k < s->nfiles; k++)
			bytebuf_uint(w, s->files[k], 4);
		bytebuf_uint(w, s->nsrc_files, 8);
		write_fam(w, &s->inl[0], &s->fam[0]);
		write_fam(w, &s->inl[1], &s->fam[1]);
	}
}
