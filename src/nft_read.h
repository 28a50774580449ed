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

struct nl_sock;
struct nm_live;
struct diag;

/*
 * Dump table inet <table> into *out (which the caller releases with
 * nm_live_fini()). out->t.exists tells whether the table is there. With
 * capture_raw, out->raw holds the dumped NEW* messages of the table in replay
 * order (table, chains, sets, elements, rules), for the journal.
 * Returns 0, or -errno recorded in d (DIAG_CONFLICT when the ruleset kept
 * changing during every retry).
 */
int nft_read(struct nl_sock *s, const char *table, bool capture_raw, struct nm_live *out,
	     struct diag *d);

/*
 * Parse a table saved by nft_read(capture_raw) back into a model that can be
 * handed to plan_build() as the desired state (revert): rules keep their
 * libnftnl objects (handles removed) so that they can be sent again, sets
 * portlock does not interpret keep their raw messages for replay. t must be
 * zeroed; release with nm_table_fini(). An empty blob yields a table that
 * does not exist. Returns 0 or -errno (-EINVAL for a malformed blob, recorded
 * in d with `what`).
 */
struct nm_table;
int nft_parse_raw(const void *raw, size_t len, const char *table, struct nm_table *t,
		  const char *what, struct diag *d);

#endif
