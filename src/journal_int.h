/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to the journal (journal_*.c): the handle and the helpers its parts
 * share. The journal owns every file under the state dir; it never looks
 * inside the table content it stores (opaque bytes checked by size and
 * SHA-256) and never prints: problems go to the diag sink. The parts:
 *   journal_rec.c    record metadata: names, file names, JSON codec, argv
 *   journal_dir.c    the handle, state dir and run lock, <state>/tables
 *   journal_read.c   reading and listing records, the cached listing
 *   journal_write.c  new records, blobs, commit, state changes, prune
 *   journal_obj.c    the object store (journal/objects) and its GC
 */
#ifndef PORTLOCK_JOURNAL_INT_H
#define PORTLOCK_JOURNAL_INT_H

#include "journal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>

#include "diag.h"
#include "setobj.h"
#include "statestore.h"
#include "util.h"

#define COUNTER_FILE "next-id"
#define TMP_PREFIX STATESTORE_TMP_PREFIX
#define HASH_CHUNK (1024 * 1024)
/* internal listing flag: metadata only, blobs unchecked (the caller checks what it uses) */
#define LIST_NOBLOBS (1u << 8)

struct journal {
	char *state_dir;
	char *jdir;		/* state_dir/journal */
	int dirfd;		/* journal dir, -1 when it does not exist (read-only) */
	int objfd;		/* journal/objects, -1 until needed (or absent) */
	char *objdir;
	int sfd;		/* the state dir (statestore_open()), -1 when it does not exist */
	int lockfd;		/* -1 for read-only handles */
	char id[STATESTORE_ID_LEN + 1];	/* the state dir's id ("" when it has none yet) */
	bool writable;
	/*
	 * The last listing (without VERIFY): one run asks for the newest
	 * pending, prepared and applied record several times; each listing
	 * reads every record. Dropped whenever a record is written or removed.
	 */
	struct journal_rec *lc;
	size_t nlc;
	bool lc_valid, lc_warned;
	bool lc_blobs;		/* the listing checked every record's blobs */
};

/* Where a parse or check writes its short reason. */
struct perr {
	char *buf;
	size_t len;
};

/* journal_rec.c */
extern const char *const jr_blob_suffix[JOURNAL_BLOB_MAX];	/* NNNNNNNNNN.<suffix> */
void jr_meta_name(uint64_t id, char out[JOURNAL_NAME_MAX]);
void jr_blob_name(uint64_t id, enum journal_blob_kind b, char out[JOURNAL_NAME_MAX]);
/* "NNN.rest" -> id and a pointer to "rest"; false when the name does not start with digits + '.' */
bool jr_name_split(const char *name, uint64_t *id, const char **rest);
/* Write the reason into e; returns -EBADMSG. */
int __printf(2, 3) jr_fail(struct perr *e, const char *fmt, ...);
/* This process's command line, joined; NULL on ENOMEM, "?" when /proc is unavailable. */
char *jr_self_cmdline(void);

/* journal_dir.c */
/* -EBADF (DIAG_INTERNAL) unless the handle is from journal_open(). */
int jr_need_writable(struct journal *j, struct diag *d);
/* Table `table` was (or is about to be) created by this state dir: <state>/tables says so. */
void jr_note_created(struct journal *j, const char *table, struct diag *d);

/* journal_read.c */
/* Read up to len bytes (fewer only at end of file or on an error); returns how many. */
size_t jr_read_full(int fd, char *buf, size_t len);
/* The cached listing: dropped, a record written into it, a record removed from it. */
void jr_lc_drop(struct journal *j);
void jr_lc_put(struct journal *j, const struct journal_rec *r);
void jr_lc_del(struct journal *j, uint64_t id);
/*
 * Read and validate metadata file `name` (id expect_id), and unless
 * LIST_NOBLOBS its blobs. Returns 0, -ENOENT when the record does not exist
 * (or vanished while being read: a concurrent prune), -EBADMSG (e filled),
 * -ENOMEM.
 */
int jr_read_record(struct journal *j, const char *name, uint64_t expect_id, unsigned flags,
		   struct journal_rec *r, struct perr *e);
/* Every intact record, sorted by id (cached unless JOURNAL_LIST_VERIFY); warn: report corrupt ones. */
int jr_list_records(struct journal *j, unsigned flags, bool warn, struct journal_rec **recs,
		    size_t *nrecs, struct diag *d);

/* journal_obj.c */
/*
 * Store the objects of a content (each written once: a present object of the
 * right size is kept) and build its refs text: sorted, unique hex digests.
 */
int jr_write_objects(struct journal *j, const struct journal_content *c, char **refs,
		     size_t *refslen, struct diag *d);
/* Append the digests a refs blob lists; -EBADMSG when it is not a clean list. */
int jr_refs_read(struct journal *j, const struct journal_blob *b, uint8_t (**digs)[32],
		 size_t *n, size_t *cap);
/* Remove every object no record refers to (only when every record is intact). */
int jr_gc_objects(struct journal *j, struct diag *d);
/* Remove those of the candidates (refs of removed records) no remaining record lists. */
void jr_gc_candidates(struct journal *j, uint8_t (*cand)[32], size_t ncand);

#endif
