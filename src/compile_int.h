/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the compile cache (compile_*.c; compile.h says what it does).
 * The parts:
 *   compile.c        services, compile_load(), compile_save(), the cache's GC
 *   compile_index.c  the index file: parser (compile_index_check()) and encoder
 *   compile_src.c    allow_files: mapped, parsed, diffed against their copies
 *   compile_shard.c  shard arithmetic: a family's layout and shard contents,
 *                    from scratch or from the cache and a change
 *
 * Terms used, per service and family:
 *   entries  every prefix given (policy file and allow_files), as a range,
 *            with repeats; sorted by (first, last)
 *   D        the entries merged: sorted, disjoint, non-adjacent ranges
 *   count(N) the number of D ranges that intersect the trie node N
 *   leaf     a shard (layout.h); its entries M are those that intersect it,
 *            its ranges R are D clipped to it (|R| = count(leaf))
 */
#ifndef PORTLOCK_COMPILE_INT_H
#define PORTLOCK_COMPILE_INT_H

#include "compile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "bytebuf.h"
#include "cidr.h"
#include "layout.h"

struct policy;

#define INDEX_MAGIC "PLCACHE1"
#define INDEX_FORMAT 2
#define INDEX_NAME "index"
#define OBJ_DIR "objects"
#define LOCK_NAME "lock"
#define SRC_PREFIX "src-"
#define TMP_PREFIX STATESTORE_TMP_PREFIX
#define INDEX_MAX (256u << 20)

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


static inline enum cidr_family idx_fam(int i)
{
	return i ? CIDR_V6 : CIDR_V4;
}

/* compile_index.c: the index codec */
void cc_index_encode(const struct compile *c, const char (*copies)[64], struct bytebuf *w);
void cc_ix_fini(struct ix *ix);
int cc_ix_parse(const uint8_t *buf, size_t len, struct ix *ix);
/* compile_src.c: allow_files, their copies and the change between them */
void cc_xxh_bytes(XXH128_hash_t h, uint8_t out[16]);
void cc_src_fini(struct src *s);
int cc_map_file(int at, const char *path, int *fdp, const char **data, size_t *len,
		    struct stat *st);
int cc_src_parse(struct compile *c, struct src *s);
void cc_cancel_common(struct rangeset *a, struct rangeset *b);
int cc_src_delta(struct compile *c, struct src *s);
/* compile_shard.c: shard contents, a family from scratch or from the cache and a change */
int cc_ranges_push(struct rangeset *rs, u128 lo, u128 hi);
void cc_cfam_fini(struct cfam *cf);
void cc_obj_path(const char *dir, const uint8_t md[32], char *out, size_t len);
int cc_fam_full(struct compile *c, enum cidr_family f, struct rangeset *e, struct cfam *out);
int cc_fam_inc(struct compile *c, enum cidr_family f, const struct ix_fam *of,
		   const struct rangeset *rm, const struct rangeset *ad, struct cfam *out);

#endif
