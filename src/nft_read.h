/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read the live state of portlock's table from the kernel into a model,
 * consistently: generation id before and after the dumps, retried when it
 * moved. Also lists other tables' base chains on the hooks portlock cares
 * about (prerouting, input, forward).
 */
#ifndef PORTLOCK_NFT_READ_H
#define PORTLOCK_NFT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_sock;
struct nlmsghdr;
struct nlattr;
struct nm_rule;
struct nftnl_rule;
struct nm_live;
struct nm_table;
struct nm_set;
struct diag;

/*
 * What a reader may take instead of dumping: the ranges of range sets as the
 * table held them at generation `genid` (the result of journal record `id`).
 * Used only when the kernel's generation is still exactly genid: every commit
 * in the network namespace moves it, so an equal generation means nothing
 * changed. The caller checks that genid belongs to this boot and network
 * namespace (generations restart with both). Ranges are moved out of t, so
 * a cache serves one read (later attempts dump).
 */
struct nft_read_cache {
	uint32_t genid;
	uint64_t table_handle;	/* the table's handle then (0: not known) */
	uint64_t id;
	struct nm_table *t;
	bool used;		/* set by the read that took its ranges: never twice */
	/*
	 * The reader may leave range sets lazy (nm_set_load() when needed):
	 * the planner, which compares most sets by digest. Otherwise every set
	 * taken from the cache is loaded, and dumped when that fails.
	 */
	bool lazy_ok;
};

/*
 * Dump table inet <table> into *out (which the caller releases with
 * nm_live_fini()). out->t.exists tells whether the table is there. With
 * capture_raw, out->raw holds the dumped NEW* messages of the table in replay
 * order (table, chains, sets, elements, rules), for the journal.
 * Returns 0, or -errno recorded in d (DIAG_CONFLICT when the ruleset kept
 * changing during every retry).
 */
/*
 * Only the table itself (one GETTABLE, no dump of its content): whether
 * table inet <table> exists and its comment (*comment malloc'ed, NULL when
 * it has none; portlock's marker is "portlock:<state dir id>", statestore.h).
 * Returns 0 or -errno recorded in d.
 */
int nft_read_table_comment(struct nl_sock *s, const char *table, bool *exists, char **comment,
			   struct diag *d);

int nft_read(struct nl_sock *s, const char *table, bool capture_raw, struct nft_read_cache *cache,
	     struct nm_live *out, struct diag *d);

/*
 * The ranges of t's range sets (NM_SET_V4/V6 that parsed cleanly) in a compact
 * binary form: the part of a saved table that nft_read()'s capture leaves out.
 * Sets with nothing to store give a short blob, never an error. *buf is
 * malloc'ed. Returns 0 or -ENOMEM. Journal format 2 stored this blob; format
 * 3 stores nft_ranges_manifest() instead, so portlock no longer calls it. It
 * stays as the encoder tests/fuzz/fuzz_ranges.c checks the format 2 reader
 * against: format 2 records may still be on disk and must stay readable.
 *
 * Layout (little-endian): "PLRANGE1", u32 nsets, then per set: u16 name
 * length, name, u8 kind (2 = ipv4, 3 = ipv6), u8 0, u64 kernel elements,
 * u64 n, n x (first, last) of 4 or 16 bytes each (host order of the address
 * as a number).
 */
int nft_ranges_blob(const struct nm_table *t, char **buf, size_t *len);

/*
 * Call fn(arg, el) for each element (NFTA_LIST_ELEM) of the set element lists
 * in one NEWSETELEM message nlh; seen.c reads the seen sets with it.
 */
void nft_read_each_elem(const struct nlmsghdr *nlh, void (*fn)(void *arg, const struct nlattr *el),
			void *arg);

/* A set whose elements a saved content keeps as ranges (V4/V6 that parsed cleanly). */
bool nft_stored_as_ranges(const struct nm_set *ms);

/*
 * The same sets by reference (journal format 3): every range set must have
 * its digest (nm_set_compute_digest()); the ranges themselves are stored as
 * objects (setobj.h) named by it. *buf is malloc'ed. Returns 0, -EINVAL (a
 * set without digest) or -ENOMEM.
 *
 * Layout: "PLRANGE2", u32 nsets, then per set: u16 name length, name, u8
 * kind (2 = ipv4, 3 = ipv6), u8 0, u64 kernel elements, 32 bytes SHA-256 of
 * the set's object.
 */
int nft_ranges_manifest(const struct nm_table *t, char **buf, size_t *len);

/*
 * Parse a PLRANGE1 blob or a PLRANGE2 manifest into t (zeroed or
 * nm_table_init()ed): one set per entry with name, kind and ranges; a
 * manifest yields lazy sets whose objects are in objdir (NULL: a manifest is
 * refused). Strict: every length is checked, ranges must be ascending and
 * disjoint. Returns 0, -EINVAL (malformed) or -ENOMEM.
 */
int nft_ranges_parse(const void *buf, size_t len, const char *objdir, struct nm_table *t);

/*
 * Parse a table saved by nft_read(capture_raw) back into a model that can be
 * handed to plan_build() as the desired state (revert): rules keep their
 * libnftnl objects (handles removed) so that they can be sent again, sets
 * portlock does not interpret keep their raw messages for replay. t must be
 * zeroed; release with nm_table_fini(). An empty blob yields a table that
 * does not exist. Returns 0 or -errno (-EINVAL for a malformed blob, recorded
 * in d with `what`). ranges/rlen (may be NULL/0): the nft_ranges_blob() or
 * nft_ranges_manifest() saved with it, whose sets must all be in raw; a
 * manifest's sets stay lazy, their objects in objdir.
 */
int nft_parse_raw(const void *raw, size_t len, const void *ranges, size_t rlen, const char *objdir,
		  const char *table, struct nm_table *t, const char *what, struct diag *d);

/*
 * What rule nr of chain mr->chain means: one of portlock's shapes when
 * building it again from the facts its expressions suggest
 * (nft_build_rule()) gives the same expressions (counters aside), else
 * NM_ROLE_FOREIGN. t: the table being read (its chains tell base chains).
 * Sets mr->fact (with the counter's values) and, for portlock's shapes,
 * replaces mr->key (nm_rule_key() of nr on entry) by nm_fact_key().
 * Returns 0 or -ENOMEM.
 */
int nft_read_rule_facts(const struct nm_table *t, struct nm_rule *mr, struct nftnl_rule *nr);

#endif
