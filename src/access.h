/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Temporary access (`portlock allow`): a source put into a service's
 * temporary set S_tmp4/S_tmp6 with a kernel timeout, so that it expires by
 * itself whether or not portlock runs, or taken out early. Each change is one
 * generation-guarded nftables batch and one journal record (kind "allow" or
 * "revoke") holding the table before and after, under the state-dir lock.
 */
#ifndef PORTLOCK_ACCESS_H
#define PORTLOCK_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "cidr.h"

struct diag;

struct access_req {
	bool revoke;		/* false: grant */
	const char *state_dir;
	int wait_s;		/* for the state-dir lock (journal_open()) */
	unsigned journal_keep;
	const char *table;
	const char *service;
	struct cidr src;
	uint32_t for_s;		/* grant: seconds */
};

struct access_result {
	uint64_t txn;		/* the journal record */
	bool renewed;		/* grant: the same source had a grant; its timeout starts again */
	int64_t expires_at;	/* grant: unix time */
	uint32_t gen_before, gen_after;
};

/* Returns 0, or -errno with the reason in d (DIAG_CONFLICT: no such grant, no temporary set). */
int access_change(const struct access_req *r, struct access_result *res, struct diag *d);

#endif
