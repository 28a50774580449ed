// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compile cache's allow_files: each mapped read-only, parsed into entries,
 * and compared with its copy from the last compile (common head and tail: the
 * lines between are the change), giving the entries removed and added.
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
#include <sys/mman.h>
#include <sys/stat.h>

#include "config.h"
#include "diag.h"
#include "policy.h"
#include "testhook.h"
#include "util.h"

void cc_xxh_bytes(XXH128_hash_t h, uint8_t out[16])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, 16);
}

/* ---- allow_files ------------------------------------------------------------------------- */

void cc_src_fini(struct src *s)
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
 * A mapping shows later writes (cc_compile_all() and compile_save() check that
 * the file did not change) and faults when the file is truncated meanwhile:
 * that SIGBUS is caught (bus_guard) and means a full load. 0 or -errno.
 */
int cc_map_file(int at, const char *path, int *fdp, const char **data, size_t *len,
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
		if (testhook("PORTLOCK_TEST_TRUNCATE") && strstr(path, testhook("PORTLOCK_TEST_TRUNCATE")) &&
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
		if (cc_ranges_push(c.family == CIDR_V4 ? v4 : v6, c.addr, hi) < 0)
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
int cc_src_parse(struct compile *c, struct src *s)
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
void cc_cancel_common(struct rangeset *a, struct rangeset *b)
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
int cc_src_delta(struct compile *c, struct src *s)
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
	    cc_map_file(c->dirfd, cf->copy, &fd, &old, &oldlen, &st) < 0 || oldlen != cf->size)
		goto out;
	s->h = XXH3_128bits(old, oldlen);
	cc_xxh_bytes(s->h, got);
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
		cc_cancel_common(&s->rm[f], &s->ad[f]);
	}
	s->state = SRC_DELTA;
out:
	if (oldlen)
		munmap((void *)old, oldlen);
	if (fd >= 0)
		close(fd);
	return ret;
}
