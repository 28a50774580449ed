// SPDX-License-Identifier: GPL-2.0-or-later
/* Saved table contents and the generation-keyed live note (see snapshot.h). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "nft_model.h"
#include "nl.h"
#include "setobj.h"
#include "statestore.h"
#include "util.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71	/* Linux 5.14; not yet in Debian 12's glibc headers */
#endif

#define LIVE_FILE "live"
#define LIVE_MAX 4096

int snapshot_from_live(struct nm_live *l, const char *objdir, struct snapshot *s)
{
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	if (l->cache_id) {
		s->jc.same_as_result_of = l->cache_id;
		return 0;
	}
	if (!l->t.exists) {
		s->jc.absent = true;
		return 0;
	}
	for (size_t i = 0; i < l->t.nsets; i++)
		n += nft_stored_as_ranges(&l->t.sets[i]);
	s->objs = calloc(n + 1, sizeof(*s->objs));
	s->bufs = calloc(n + 1, sizeof(*s->bufs));
	if (!s->objs || !s->bufs)
		goto nomem;
	for (size_t i = 0; i < l->t.nsets; i++) {
		struct nm_set *ms = &l->t.sets[i];
		struct journal_object *o = &s->objs[s->jc.nobjs];

		if (!nft_stored_as_ranges(ms))
			continue;
		/* a lazy set is read through the journal's objects: it is there */
		if (ms->lazy && objdir && ms->objpath &&
		    !strncmp(ms->objpath, objdir, strlen(objdir)) && ms->objpath[strlen(objdir)] == '/') {
			memcpy(o->digest, ms->digest, 32);
			s->jc.nobjs++;
			continue;
		}
		if (nm_set_load(ms) < 0 || nm_set_compute_digest(ms) < 0)
			goto nomem;
		if (setobj_encode(nm_set_family(ms), &ms->ranges, &s->bufs[s->nbufs], &o->len) < 0)
			goto nomem;
		o->data = s->bufs[s->nbufs++];
		memcpy(o->digest, ms->digest, 32);
		s->jc.nobjs++;
	}
	s->jc.objs = s->objs;
	if (nft_ranges_manifest(&l->t, &s->ranges, &s->jc.ranges_len) < 0)
		goto nomem;
	s->jc.ranges = s->ranges;
	s->jc.nlmsg = l->raw;
	s->jc.nlmsg_len = l->rawlen;
	return 0;
nomem:
	snapshot_fini(s);
	return -ENOMEM;
}

void snapshot_fini(struct snapshot *s)
{
	for (size_t i = 0; i < s->nbufs; i++)
		free(s->bufs[i]);
	free(s->bufs);
	free(s->objs);
	free(s->ranges);
	memset(s, 0, sizeof(*s));
}

int snapshot_load(struct journal *j, const struct journal_rec *rec, bool result, bool lazy,
		  struct nm_table *t, const char *what, struct diag *d)
{
	enum journal_blob_kind nl = result ? JOURNAL_BLOB_RESULT_NLMSG : JOURNAL_BLOB_PRIOR_NLMSG;
	enum journal_blob_kind rg = result ? JOURNAL_BLOB_RESULT_RANGES : JOURNAL_BLOB_PRIOR_RANGES;
	void *raw = NULL, *ranges = NULL;
	size_t rawlen = 0, rlen = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	if (result ? rec->result_absent : rec->prior_absent) {
		nm_table_init(t, rec->table);	/* exists = false */
		return t->name ? 0 : diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "%s", what);
	}
	if (result && !rec->has_result)
		return diag_err(d, DIAG_CONFLICT, NULL, 0, "%s has no saved result", what);
	ret = journal_load_blob(j, rec, nl, &raw, &rawlen, d);
	if (ret == -ENOENT)
		ret = diag_err(d, DIAG_CONFLICT, NULL, 0, "%s has no saved %s content", what,
			       result ? "result" : "prior");
	if (!ret && rec->blob[rg].present)
		ret = journal_load_blob(j, rec, rg, &ranges, &rlen, d);
	if (!ret)
		ret = nft_parse_raw(raw, rawlen, ranges, rlen, journal_objects_path(j), rec->table, t,
				    what, d);
	free(raw);
	free(ranges);
	for (size_t i = 0; !ret && !lazy && i < t->nsets; i++) {
		struct nm_set *ms = &t->sets[i];
		int lr = nm_set_load(ms);

		if (lr == -ENOMEM)
			ret = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "%s", what);
		else if (lr)
			ret = diag_err(d, DIAG_CONFLICT, NULL, 0, "%s: set %s: journal object '%s' is %s",
				       what, ms->name, ms->objpath ? ms->objpath : "?",
				       lr == -ENOENT ? "missing" : "damaged");
	}
	if (ret)
		nm_table_fini(t);
	return ret;
}

/* ---- the live note ---- */

struct live_key {
	char boot[40];
	uint64_t netns;
	uint64_t module;	/* inode of /sys/module/nf_tables: new after a module reload */
};

static int live_key(struct live_key *k)
{
	socklen_t len = sizeof(k->netns);
	size_t n;
	FILE *f;
	int fd;

	memset(k, 0, sizeof(*k));
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return -errno;
	n = fread(k->boot, 1, sizeof(k->boot) - 1, f);
	fclose(f);
	k->boot[n] = '\0';
	k->boot[strcspn(k->boot, "\n")] = '\0';
	if (strlen(k->boot) < 16)
		return -EINVAL;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &k->netns, &len) < 0 || len != sizeof(k->netns)) {
		close(fd);
		return -ENOTSUP;	/* before Linux 5.14: no cache */
	}
	close(fd);
	/*
	 * Unloading nf_tables restarts every generation at 1 without a new boot
	 * or namespace; the module's sysfs directory is created anew (another
	 * inode) when it loads again. Built in, it never reloads (0 if absent).
	 */
	{
		struct stat st;

		k->module = stat("/sys/module/nf_tables", &st) == 0 ? (uint64_t)st.st_ino : 0;
	}
	return 0;
}

void livecache_fini(struct nft_read_cache *c)
{
	if (c->t) {
		nm_table_fini(c->t);
		free(c->t);
	}
	memset(c, 0, sizeof(*c));
}

void livecache_load(const char *state_dir, const char *table, struct nft_read_cache *c)
{
	char buf[LIVE_MAX + 1], tbl[300], boot[64];
	unsigned long long netns, module, gen, handle, id;
	struct journal *j = NULL;
	struct journal_rec rec = { 0 };
	struct live_key k;
	struct diag quiet;
	void *blob = NULL;
	size_t len = 0, n;
	int fd, sfd;

	memset(c, 0, sizeof(*c));
	if (!state_dir || getenv("PORTLOCK_NO_LIVE_CACHE"))
		return;
	/* a state dir that is not trusted (statestore.h) has no note worth reading */
	sfd = statestore_open(state_dir, STATESTORE_QUIET, NULL);
	if (sfd < 0)
		return;
	fd = openat(sfd, LIVE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	close(sfd);
	if (fd < 0)
		return;
	n = 0;
	for (ssize_t got; n < LIVE_MAX && (got = read(fd, buf + n, LIVE_MAX - n)) > 0;)
		n += (size_t)got;
	close(fd);
	buf[n] = '\0';
	if (sscanf(buf,
		   "portlock-live 2\ntable %299s\nboot %63s\nnetns %llu\nmodule %llu\ngeneration %llu\n"
		   "table_handle %llu\ntransaction %llu\n",
		   tbl, boot, &netns, &module, &gen, &handle, &id) != 7 ||
	    strcmp(tbl, table) || gen > UINT32_MAX || !id || !handle)
		return;
	if (live_key(&k) || strcmp(k.boot, boot) || k.netns != netns || k.module != module)
		return;
	diag_init(&quiet);
	/* not at that generation any more: do not load (and hold) ranges for nothing */
	{
		struct nl_sock *s = NULL;
		uint32_t now = 0;
		bool same = nl_open(&s, &quiet) == 0 && nl_getgen(s, &now, &quiet) == 0 && now == gen;

		nl_close(s);
		if (!same) {
			diag_fini(&quiet);
			return;
		}
	}
	if (journal_open_readonly(&j, state_dir, &quiet) == 0 && journal_get(j, id, &rec, &quiet) == 0 &&
	    rec.has_result && !rec.result_absent && !strcmp(rec.table, table) &&
	    rec.blob[JOURNAL_BLOB_RESULT_RANGES].present &&
	    journal_load_blob(j, &rec, JOURNAL_BLOB_RESULT_RANGES, &blob, &len, &quiet) == 0) {
		void *raw = NULL;
		size_t rawlen = 0;

		/*
		 * The messages are small; checking them too means a damaged
		 * record is never linked as the prior of a new one.
		 */
		c->t = calloc(1, sizeof(*c->t));
		if (c->t && journal_load_blob(j, &rec, JOURNAL_BLOB_RESULT_NLMSG, &raw, &rawlen, &quiet) == 0 &&
		    nft_ranges_parse(blob, len, journal_objects_path(j), c->t) == 0) {
			c->genid = (uint32_t)gen;
			c->table_handle = handle;
			c->id = id;
		} else {
			livecache_fini(c);
		}
		free(raw);
	}
	free(blob);
	journal_rec_fini(&rec);
	journal_close(j);
	diag_fini(&quiet);
}

void livecache_store(const char *state_dir, const char *table, uint32_t genid, uint64_t table_handle,
		     uint64_t id)
{
	char text[LIVE_MAX];
	struct live_key k;
	int sfd, n;

	if (!state_dir)
		return;
	sfd = statestore_open(state_dir, STATESTORE_QUIET, NULL);
	if (sfd < 0)
		return;
	if (live_key(&k) || !id || !table_handle) {
		unlinkat(sfd, LIVE_FILE, 0);	/* no key to store: no note rather than a stale one */
		close(sfd);
		return;
	}
	n = snprintf(text, sizeof(text),
		     "portlock-live 2\ntable %s\nboot %s\nnetns %" PRIu64 "\nmodule %" PRIu64
		     "\ngeneration %" PRIu32 "\ntable_handle %" PRIu64 "\ntransaction %" PRIu64 "\n",
		     table, k.boot, k.netns, k.module, genid, table_handle, id);
	/*
	 * No fsync: after a crash the boot id differs and the note is ignored;
	 * a torn note does not parse and is ignored too.
	 */
	if (n <= 0 || (size_t)n >= sizeof(text) || statestore_replace(sfd, LIVE_FILE, text, (size_t)n, 0))
		unlinkat(sfd, LIVE_FILE, 0);
	close(sfd);
}

int snapshot_check_owner(struct journal *j, const struct journal_rec *rec, bool deleted_check,
			 struct diag *d)
{
	const char *id = journal_state_id(j);
	char mine[sizeof(STATESTORE_MARKER) + 1 + STATESTORE_ID_LEN + 1], esc[4 * 128 + 1];
	struct nl_sock *s = NULL;
	char *comment = NULL;
	bool exists = false;
	int created, ret;

	ret = nl_open(&s, d);
	if (!ret)
		ret = nft_read_table_comment(s, rec->table, &exists, &comment, d);
	nl_close(s);
	if (ret)
		return ret;
	created = journal_table_created(j, rec->table);
	if (created < 0) {
		free(comment);
		return diag_err(d, DIAG_INTERNAL, NULL, -created, "cannot read '%s'",
				STATESTORE_TABLES_FILE);
	}
	snprintf(mine, sizeof(mine), STATESTORE_MARKER ":%s", id);
	if (comment)
		util_escape(comment, strlen(comment), esc, sizeof(esc));
	if (exists && comment && *id && !strcmp(comment, mine))
		ret = 0;
	else if (exists && comment && strcmp(comment, STATESTORE_MARKER))
		ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
			       "transaction %llu names table inet %s, whose comment \"%s\" is not the "
			       "marker of this state dir (\"%s\"): it belongs to %s; refusing to revert",
			       (unsigned long long)rec->id, rec->table, esc, *id ? mine : STATESTORE_MARKER,
			       strncmp(comment, STATESTORE_MARKER ":", sizeof(STATESTORE_MARKER))
				       ? "someone else"
				       : "another portlock state dir");
	else if (created == 0)
		ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
			       "transaction %llu names table inet %s, which this state dir did not "
			       "create%s: refusing to revert it",
			       (unsigned long long)rec->id, rec->table,
			       exists ? " (the table has no portlock marker)" : "");
	if (!ret && !exists && deleted_check) {
		struct journal_rec last = { 0 };

		if (journal_last_for_table(j, rec->table,
					   JOURNAL_STATE_BIT(JOURNAL_STATE_APPLIED) |
						   JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING) |
						   JOURNAL_STATE_BIT(JOURNAL_STATE_CONFIRMED),
					   &last, d) == 0 &&
		    last.has_result && !last.result_absent)
			ret = diag_err(d, DIAG_CONFLICT, NULL, 0,
				       "table inet %s does not exist, but transaction %llu left it in "
				       "place: it was deleted outside portlock, so its history no longer "
				       "describes the kernel; refusing to revert (`portlock apply` "
				       "creates it again)",
				       rec->table, (unsigned long long)last.id);
		journal_rec_fini(&last);
	}
	free(comment);
	return ret ? (ret == -EINVAL ? -EPERM : ret) : 0;
}
