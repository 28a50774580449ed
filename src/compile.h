/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The compile cache: `plan` and `apply` of a policy whose allow_files changed
 * by a few lines do the work of those lines, not of the million others.
 *
 * Compiling a service's allowlist means: collect its entries (every prefix of
 * the policy file and of its allow_files, as ranges, with repeats), merge them
 * into D, lay D out in shards (layout.h) and compute each shard's content and
 * digest. The cache in STATE_DIR/cache keeps, from the last apply:
 *
 *	index            which allow_files (a copy of each, checked by XXH3-128),
 *	                 per service and family the prefixes written in the policy
 *	                 file, the split nodes with their counts, and per shard its
 *	                 block, range count, digest and the digest of its entries
 *	objects/<sha256> the entries of one shard (setobj multiset): each entry is
 *	                 in every shard it intersects
 *	src-<hash>       the copy of an allow_file as last compiled, renamed over the
 *	                 last one: a hard link when the file is replaced by its
 *	                 writers, else a copy; checked by its XXH3-128 when read
 *
 * The next compile compares each allow_file with its copy (common head and
 * tail: the lines between are the change), parses only the changed lines,
 * and applies the removed and added entries to the shards they touch. It
 * recomputes the layout from the stored counts (a node's count changes by
 * what the change does inside it), so the shards come out exactly as a full
 * compile lays them out; shards the change did not touch are neither read nor
 * written, and stay lazy (their ranges are in the journal's objects).
 *
 * Nothing is trusted: every object is checked against its digest, every copy
 * against its XXH3, the index against its SHA-256, every recomputed shard's
 * range count against the layout's count. Anything that does not fit (a
 * changed line that draws a warning or an error, a removed line whose entry
 * is not in its shard, a damaged file, another shard size) means a full load
 * of the policy exactly as without a cache, with its diagnostics.
 */
#ifndef PORTLOCK_COMPILE_H
#define PORTLOCK_COMPILE_H

#include <stdbool.h>
#include <stddef.h>

struct diag;
struct policy;
struct compile;

#define COMPILE_DIR "cache"

struct compile_stats {
	bool cached;		/* the cache was read and applied */
	size_t services, services_full;	/* compiled; of which from scratch */
	size_t files_unchanged, files_delta, files_full;
	size_t lines_parsed;	/* allow_file lines read (changed ones, or all) */
	size_t shards, shards_fresh;	/* shards; of which computed now */
};

/*
 * Load the policy at config_path for plan/apply: the same policy as
 * config_load_file() gives, with every service's allowlist compiled into
 * shards (s->c4, s->c6) when the policy loads without a single diagnostic;
 * otherwise (or with PORTLOCK_NO_COMPILE_CACHE set, or no state_dir) exactly
 * config_load_file(). *cp receives a handle for compile_save() and
 * compile_stats(), or NULL when the policy was loaded in full. Returns 0 or
 * -errno like config_load_file().
 */
#define COMPILE_WRITE 1u	/* the caller will compile_save(): write shard entries as they are computed */
int compile_load(const char *config_path, const char *state_dir, unsigned flags, struct policy *p,
		 struct compile **cp, struct diag *d);

/*
 * Store what compile_load() compiled as the cache (apply does, after its
 * transaction, under the cache's own lock). Nothing is stored when an
 * allow_file changed since it was read. Never fatal: a cache that cannot be
 * written is a warning in d and the next run compiles in full. Readers take
 * no lock: every file of the cache is replaced by rename, and whatever a
 * concurrent writer removes is checked for and only means a full compile.
 */
void compile_save(struct compile *c, struct diag *d);

const struct compile_stats *compile_stats(const struct compile *c);
void compile_free(struct compile *c);

/*
 * The index parser, for the fuzzer: 0 when buf is a well-formed index (every
 * length and order checked, its SHA-256 trailer right), else -EINVAL.
 */
int compile_index_check(const void *buf, size_t len);

#endif
