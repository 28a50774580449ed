// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the journal metadata parser (journal_rec_parse), the
 * code that reads files from the state dir which a crash, a full disk or a
 * person may have mangled. Invariants checked beyond "no crash, no leak":
 * a record that parses is serialized again by journal_rec_to_json() and the
 * result parses to the same record (what journal_set_state() relies on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "journal.h"

static void same(const struct journal_rec *a, const struct journal_rec *b)
{
	if (a->id != b->id || a->kind != b->kind || a->reverts_id != b->reverts_id ||
	    a->time != b->time || a->state_time != b->state_time || a->uid != b->uid ||
	    strcmp(a->user, b->user) || strcmp(a->argv, b->argv) ||
	    strcmp(a->policy_sha256, b->policy_sha256) || strcmp(a->table, b->table) ||
	    a->gen_before != b->gen_before || a->gen_after != b->gen_after ||
	    a->state != b->state || a->confirm_deadline != b->confirm_deadline ||
	    a->added != b->added || a->removed != b->removed ||
	    a->prior_absent != b->prior_absent || a->has_result != b->has_result ||
	    a->result_absent != b->result_absent)
		abort();
	for (int i = 0; i < JOURNAL_BLOB_MAX; i++)
		if (a->blob[i].present != b->blob[i].present || a->blob[i].size != b->blob[i].size ||
		    strcmp(a->blob[i].file, b->blob[i].file) ||
		    strcmp(a->blob[i].sha256, b->blob[i].sha256))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_rec r, r2;
	char err[512];
	json_t *o;
	char *text;

	if (journal_rec_parse((const char *)data, size, 0, &r, err, sizeof(err)) == 0) {
		o = journal_rec_to_json(&r);
		text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (!text)
			abort();
		if (journal_rec_parse(text, strlen(text), r.id, &r2, err, sizeof(err)))
			abort();
		same(&r, &r2);
		journal_rec_fini(&r2);
		free(text);
		json_decref(o);
	} else if (!err[0]) {
		abort();	/* every rejection must say why */
	}
	journal_rec_fini(&r);
	return 0;
}
