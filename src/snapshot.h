/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Saved table contents (the journal's prior/result) and the "live" note that
 * lets a reader skip the expensive part of a dump.
 *
 * A content is the table's netlink messages as dumped, minus the elements of
 * range sets, plus those elements as compact ranges (nft_ranges_blob()). When
 * the table is known to be exactly an earlier record's result, the content is
 * a hard link to it.
 *
 * <state>/live names the journal record whose result the kernel held at a
 * generation, in this boot and this network namespace:
 *
 *	portlock-live 2
 *	table portlock
 *	boot 6a1c...-...        (/proc/sys/kernel/random/boot_id)
 *	netns 4099              (SO_NETNS_COOKIE: never reused within a boot)
 *	module 31337            (inode of /sys/module/nf_tables: a reload restarts generations)
 *	generation 42
 *	table_handle 7          (a table deleted and created again has another)
 *	transaction 17
 *
 * The nftables generation moves with every commit in the namespace (ours,
 * nft's, firewalld's, a hand edit), so while it stays equal nothing in the
 * table changed and the range sets need not be dumped again: dumping a large
 * interval set is the slow part of reading a table. Anything that does not
 * match exactly (another boot, namespace, module load, generation, table or
 * table handle, a damaged file or record) means a full dump. Counters are always read live.
 */
#ifndef PORTLOCK_SNAPSHOT_H
#define PORTLOCK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "nft_read.h"

struct nm_live;
struct nm_table;
struct diag;

struct snapshot {
	struct journal_content jc;
	char *ranges;			/* the manifest */
	struct journal_object *objs;	/* one per range set */
	char **bufs;			/* encodings of the sets that were loaded */
	size_t nbufs;
};

/*
 * The content of l (read with capture) for the journal. A table read through
 * a cache that matched is recorded as a link to that record's result. Range
 * sets become objects: a lazy set read through the journal's objects (objdir)
 * by reference, any other by its encoding (digests are computed where missing,
 * lazy sets from elsewhere are loaded). Returns 0 or -ENOMEM. Release with
 * snapshot_fini().
 */
int snapshot_from_live(struct nm_live *l, const char *objdir, struct snapshot *s);
void snapshot_fini(struct snapshot *s);

/*
 * Record rec's prior (result = false) or result as a model that plan_build()
 * can take as the desired table (t zeroed; nm_table_fini()). A content that
 * was absent yields a table that does not exist. With lazy, range sets of a
 * format-3 content stay lazy (nm_set_load()); otherwise all are loaded, and
 * a missing or damaged object is DIAG_CONFLICT naming it. Returns 0 or -errno with
 * the reason in d (DIAG_CONFLICT for a damaged record, naming `what`).
 */
int snapshot_load(struct journal *j, const struct journal_rec *rec, bool result, bool lazy,
		  struct nm_table *t, const char *what, struct diag *d);

/*
 * May a revert of record rec touch its table (rec->table, family inet)?
 * Refused (DIAG_CONFLICT, -EPERM, naming the table and why) when:
 *   - the live table carries another comment than this state dir's marker
 *     "portlock:<id>" (another state dir's table, or anyone else's);
 *   - the live table has no marker (or the bare "portlock" an export loaded
 *     by hand leaves) and this state dir never created it (<state>/tables);
 *   - the table does not exist and this state dir never created it;
 *   - with deleted_check, the table does not exist although the newest
 *     transaction of that table still in force left it in place: it was
 *     deleted outside portlock (`nft delete table`, `flush ruleset`, a
 *     reboot), so its history no longer describes the kernel; `apply`
 *     creates it again.
 * Returns 0, -EPERM, or -errno (netlink) recorded in d.
 */
int snapshot_check_owner(struct journal *j, const struct journal_rec *rec, bool deleted_check,
			 struct diag *d);

/*
 * The cache for reading `table` now, from <state>/live, or nothing (c->t NULL:
 * a full dump) when it does not apply. Never fails: a cache is an optimisation.
 * Release with livecache_fini().
 */
void livecache_load(const char *state_dir, const char *table, struct nft_read_cache *c);
void livecache_fini(struct nft_read_cache *c);

/* After a commit: the table held record id's result at generation genid. */
void livecache_store(const char *state_dir, const char *table, uint32_t genid, uint64_t table_handle,
		     uint64_t id);

#endif
