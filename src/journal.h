/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Transaction journal: one record per apply/revert on disk, written so that a
 * crash at any point leaves either the old set of records or the old set plus
 * the complete new record, never a torn one. Also the lock that serializes
 * portlock runs. The journal never interprets the saved table content: the
 * caller hands it opaque bytes (serialized netlink messages) and a readable
 * nft rendering, and gets exactly those bytes back, checked by size and
 * SHA-256.
 *
 * State directory layout (default /var/lib/portlock, --state-dir to change):
 *
 *   <state>/                       0700, owned by the running uid; opened once by
 *                                  statestore_open() (statestore.h: walked from "/"
 *                                  without trusting links, refused when a symlink,
 *                                  group/world-writable or owned by someone else)
 *                                  and then only used through that descriptor
 *   <state>/id                     32 random hex digits, written when the state dir
 *                                  is first opened for writing: the marker
 *                                  "portlock:<id>" goes on every table it creates
 *   <state>/tables                 the tables this state dir created, one a line
 *                                  (a revert acts only on those: snapshot.h)
 *   <state>/live, <state>/cache/   the live note (snapshot.h), the compile cache
 *                                  (compile.h): through the same descriptor
 *   <state>/lock                   flock(LOCK_EX) held by the running portlock;
 *                                  its text names the holder ("pid N", "started
 *                                  UNIXTIME", "cmd ARGV") for "locked by" messages
 *   <state>/journal/               0700
 *   <state>/journal/next-id        the next transaction id (decimal); ids are
 *                                  monotonic and never reused, even after pruning
 *   <state>/journal/NNNNNNNNNN.json           metadata of record NNNNNNNNNN (the
 *                                             commit point: a record exists iff
 *                                             this file exists)
 *   <state>/journal/NNNNNNNNNN.prior.nlmsg    table content before the transaction
 *   <state>/journal/NNNNNNNNNN.prior.nft      readable rendering of the same
 *   <state>/journal/NNNNNNNNNN.result.nlmsg   table content after the transaction
 *   <state>/journal/NNNNNNNNNN.result.nft     readable rendering of the same
 *   <state>/journal/NNNNNNNNNN.{prior,result}.ranges   format 2: the elements of
 *                                 the range sets, compact (the .nlmsg then
 *                                 leaves those elements out); no .nft is
 *                                 written from format 2 on (`log --show`
 *                                 renders a content on demand)
 *
 *   <state>/journal/NNNNNNNNNN.{prior,result}.refs     format 3: the .ranges blob is a
 *                                 manifest (nft_ranges_manifest()): each range set by the
 *                                 SHA-256 of its content, which is stored once in
 *   <state>/journal/objects/<sha256>                   (setobj.h); the .refs blob lists the
 *                                 objects a content uses, one hex digest per line, and
 *                                 keeps them from being pruned while the record exists
 *
 * A content equal to an earlier record's result (nothing changed in between)
 * is stored as hard links to that record's files: a one-prefix change to a
 * million-prefix table does not copy the million prefixes again.
 *   <state>/journal/.tmp.*                    files being written (removed by the
 *                                             next journal_open())
 *
 * A content whose table did not exist ("absent") has no blob files.
 *
 * Write protocol (journal_prepare/journal_commit/journal_set_state):
 *   1. every blob is written to .tmp.<name>.<pid>, fsync()ed, renamed to <name>;
 *   2. the directory is fsync()ed (the renames are durable);
 *   3. the metadata is written to .tmp.NNNNNNNNNN.json.<pid>, fsync()ed, renamed
 *      to NNNNNNNNNN.json, and the directory is fsync()ed again.
 * Step 3's rename is the commit point. Blobs without metadata and stale temp
 * files (a crash before step 3) are removed by journal_open() under the lock.
 * Deletion (prune/abort) removes the metadata first, then the blobs.
 *
 * Metadata (JSON object; "format" 1):
 *   { "format": 1, "id": 12, "kind": "apply"|"revert"|"auto-revert",
 *     "reverts_id": 11|null, "time": UNIX, "state_time": UNIX, "uid": 0,
 *     "user": "root", "argv": "portlock apply --confirm 60",
 *     "policy_sha256": "<64 hex>"|null, "table": "portlock",
 *     "gen_before": 41, "gen_after": 42,
 *     "state": "prepared"|"applied"|"pending"|"confirmed"|"reverted",
 *     "confirm_deadline": UNIX|null, "added": 3, "removed": 1,
 *     "safe_state": "kept"|null, "safe_reason": "…"|null,   (optional; null when missing)
 *     "prior":  { "absent": false,
 *                 "nlmsg": { "file": "0000000012.prior.nlmsg", "size": N, "sha256": "…" },
 *                 "nft":   { "file": "0000000012.prior.nft",   "size": N, "sha256": "…" } },
 *     "result": { "absent": false, "nlmsg": {…}, "nft": {…} } | null }
 * "result" is null only in state "prepared". When "absent" is true the blob
 * entries are null (the table did not exist).
 * "confirm_deadline" is written into the prepared record already (apply
 * --confirm arms the deadline before the batch is sent): a record found
 * "prepared" with a deadline whose batch turns out to be in force is pending
 * with that deadline. "safe_state" is set when an auto-revert could not
 * restore the prior content (damaged) and left the table as it was instead.
 *
 * Locking and readers: writers (apply, revert, confirm, the auto-revert watcher)
 * hold <state>/lock exclusively from journal_open() to journal_close(). Readers
 * (`portlock log`) use journal_open_readonly() and take no lock: every file is
 * replaced by rename, so a reader sees a whole old or a whole new file; a record
 * that disappears while being read (pruned concurrently) is skipped silently.
 *
 * Corrupt records (unparsable or truncated metadata, missing fields, a missing
 * or wrong-sized blob, with JOURNAL_LIST_VERIFY a SHA-256 mismatch) are reported
 * as warnings naming the file and what is wrong, skipped, and never deleted
 * automatically: other records stay usable.
 *
 * Typical use (apply; error handling shortened):
 *
 *	struct journal *j;
 *	struct journal_rec rec;
 *	struct journal_content prior = { .absent = !table_exists,
 *		.nlmsg = live_msgs, .nlmsg_len = live_len, .nft = live_text, .nft_len = n };
 *
 *	if (journal_open(&j, ctx->state_dir, wait_s, &ctx->diag))   // exit 5 when locked
 *		return diag_exit_code(&ctx->diag);
 *	journal_begin(j, &rec, d);                 // id, time, uid, user, argv filled
 *	snprintf(rec.table, sizeof(rec.table), "%s", p->table);
 *	memcpy(rec.policy_sha256, hash, 65);
 *	rec.gen_before = gen; rec.added = a; rec.removed = r;
 *	rec.state = confirm_s ? JOURNAL_STATE_PENDING : JOURNAL_STATE_APPLIED;
 *	journal_prepare(j, &rec, &prior, d);       // prior content durable before the kernel
 *	if (kernel_commit(...) < 0) {
 *		journal_abort(j, &rec, d);
 *	} else {
 *		rec.gen_after = new_gen;
 *		rec.confirm_deadline = confirm_s ? time(NULL) + confirm_s : 0;
 *		journal_commit(j, &rec, NULL, &result, d);
 *		journal_prune(j, p->journal_keep, d);
 *	}
 *	journal_rec_fini(&rec);
 *	journal_close(j);
 *
 * revert ID: journal_get(j, id, &old, d); journal_load_blob(j, &old,
 * JOURNAL_BLOB_PRIOR_NLMSG, ...) (or nothing if old.prior_absent: delete the
 * table); commit a new record with kind REVERT, reverts_id = id, then
 * journal_set_state(j, id, JOURNAL_STATE_REVERTED, d).
 * The --confirm watcher: fork, journal_forget(j) in the child (it must not keep
 * the parent's lock while it sleeps), setsid, sleep until the deadline, then
 * journal_open() (waiting), journal_get() and act only if still PENDING.
 *
 * Error classes: a held lock is DIAG_CONFLICT (exit 5); a state dir that is
 * unsafe (group/world-writable, other owner, not a directory) is DIAG_CONFIG
 * (exit 3); a record that does not exist or is corrupt when asked for by id is
 * DIAG_CONFLICT ("nothing to revert"); I/O failures are DIAG_INTERNAL (exit 70).
 */
#ifndef PORTLOCK_JOURNAL_H
#define PORTLOCK_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diag;
struct journal;

/* Journal format version written into every record; newer formats are refused. */
#define JOURNAL_FORMAT 3
/* Content-addressed objects (format 3): journal/objects/<sha256 hex>. */
#define JOURNAL_OBJECTS "objects"
/* A refs blob larger than this is corrupt (2^20 objects). */
#define JOURNAL_REFS_MAX (65u << 20)
/* Metadata larger than this is reported as corrupt (argv is the only long field). */
#define JOURNAL_META_MAX (1024 * 1024)
/* Name of the journal subdirectory and of the lock file inside the state dir. */
#define JOURNAL_SUBDIR "journal"
#define JOURNAL_LOCK_FILE "lock"

enum journal_kind {
	JOURNAL_KIND_APPLY,
	JOURNAL_KIND_REVERT,		/* `portlock revert` */
	JOURNAL_KIND_AUTO_REVERT,	/* the --confirm watcher, or a run honouring an expired deadline */
	/*
	 * `portlock allow`: a temporary-access element added to or removed
	 * from a service's S_tmp4/S_tmp6 set. Not a change of the policy's
	 * table: journal_last*() and revert pass over them (the kernel
	 * timeout ends a grant; `allow --revoke` ends it early).
	 */
	JOURNAL_KIND_ALLOW,
	JOURNAL_KIND_REVOKE,
	JOURNAL_KIND_MAX,
};

/*
 * Transaction states. Allowed transitions (journal_set_state):
 *   prepared  -> (none: record the outcome with journal_commit(), or journal_abort())
 *   pending   -> confirmed | reverted | applied
 *   applied   -> reverted
 *   confirmed -> reverted
 *   reverted  -> (none)
 * Setting the current state again is a no-op. "prepared" means the prior
 * content was saved but the kernel outcome was never recorded (a crash between
 * journal_prepare() and journal_commit()). To resolve one found later, read
 * it with journal_get(), compare the live table with its prior content, then
 * either journal_abort() it (nothing was applied) or set rec.state and
 * journal_commit(j, &rec, NULL, &live, d) (it was applied).
 */
enum journal_state {
	JOURNAL_STATE_PREPARED,
	JOURNAL_STATE_APPLIED,
	JOURNAL_STATE_PENDING,
	JOURNAL_STATE_CONFIRMED,
	JOURNAL_STATE_REVERTED,
	JOURNAL_STATE_MAX,
};
#define JOURNAL_STATE_BIT(s) (1u << (s))
#define JOURNAL_STATE_ANY ((1u << JOURNAL_STATE_MAX) - 1)

/* The four blobs of a record. */
enum journal_blob_kind {
	JOURNAL_BLOB_PRIOR_NLMSG,	/* table content before: serialized netlink messages */
	JOURNAL_BLOB_PRIOR_NFT,		/* readable nft rendering of the same */
	JOURNAL_BLOB_RESULT_NLMSG,	/* table content after */
	JOURNAL_BLOB_RESULT_NFT,
	JOURNAL_BLOB_PRIOR_RANGES,	/* format 2: range sets' elements (nft_ranges_blob()) */
	JOURNAL_BLOB_RESULT_RANGES,
	JOURNAL_BLOB_PRIOR_REFS,	/* format 3: the objects the content uses, one hex digest a line */
	JOURNAL_BLOB_RESULT_REFS,
	JOURNAL_BLOB_MAX,
};

#define JOURNAL_NAME_MAX 64
#define JOURNAL_TABLE_MAX 257	/* NFT_NAME_MAXLEN (256) + NUL */
#define JOURNAL_USER_MAX 64

/* One blob as described by the metadata. */
struct journal_blob {
	bool present;
	char file[JOURNAL_NAME_MAX];	/* relative to the journal dir */
	uint64_t size;
	char sha256[65];		/* lower-case hex */
};

/*
 * One transaction record. Filled by journal_begin() (id, time, uid, user, argv,
 * kind APPLY, state APPLIED) and then by the caller (everything else); filled
 * from disk by journal_list()/journal_get(). argv is malloc'ed and owned by the
 * record: release with journal_rec_fini(). Zero means "none" for reverts_id and
 * confirm_deadline.
 */
struct journal_rec {
	uint64_t id;
	unsigned format;		/* as read; journal_begin(): JOURNAL_FORMAT */
	enum journal_kind kind;
	uint64_t reverts_id;		/* revert/auto-revert: the transaction undone */
	int64_t time;			/* creation, unix seconds */
	int64_t state_time;		/* last state change, unix seconds */
	uint32_t uid;
	char user[JOURNAL_USER_MAX];
	char *argv;			/* the command line, shell-quoted, owned */
	char policy_sha256[65];		/* "" when none (e.g. a revert) */
	char table[JOURNAL_TABLE_MAX];	/* managed table name (family inet) */
	uint32_t gen_before, gen_after;	/* nftables generation ids */
	enum journal_state state;
	int64_t confirm_deadline;	/* pending: revert if not confirmed by then */
	uint64_t added, removed;	/* tables+chains+sets+elements+rules added/removed, for `log` */
	bool prior_absent;		/* no table existed before */
	bool has_result;		/* false only in state PREPARED */
	bool result_absent;		/* no table exists after (revert of a first apply) */
	/*
	 * Set when the auto-revert at the deadline could not restore the prior
	 * content exactly and the table was left in the documented safe state
	 * instead (portlock(8), SAFE STATE): "kept" (the change stays in force,
	 * nothing is opened). "" when none. safe_reason says why (free text).
	 */
	char safe_state[16];
	char safe_reason[256];
	struct journal_blob blob[JOURNAL_BLOB_MAX];
	char file[JOURNAL_NAME_MAX];	/* metadata file name, e.g. "0000000012.json" */
};

/*
 * One content-addressed object a content refers to (format 3): data (len
 * bytes, whose SHA-256 is digest) is written to objects/<hex> unless an
 * object of that name and size is there already; data NULL means the object
 * must be there already (a set read through it), else the write fails.
 */
struct journal_object {
	uint8_t digest[32];
	const void *data;
	size_t len;
};

/*
 * Content of the managed table handed to journal_prepare()/journal_commit().
 * absent: the table does not exist (nlmsg/nft ignored). Otherwise nlmsg holds
 * nlmsg_len bytes (may be 0) and nft nft_len bytes of text (NULL = empty).
 * The journal only reads these buffers; they stay owned by the caller.
 */
struct journal_content {
	bool absent;
	const void *nlmsg;
	size_t nlmsg_len;
	const char *nft;	/* NULL: no readable rendering is stored ("nft": null) */
	size_t nft_len;
	const void *ranges;	/* NULL: none ("ranges": null) */
	size_t ranges_len;
	/*
	 * The objects the ranges refer to (nft_ranges_manifest()); their
	 * digests become the content's refs blob, which keeps them from being
	 * removed by journal_prune() while the record exists.
	 */
	const struct journal_object *objs;
	size_t nobjs;
	/*
	 * Non-zero: the content is exactly the result of that record; its
	 * files are hard-linked instead of written (nothing else is read).
	 */
	uint64_t same_as_result_of;
};

/*
 * Open the journal in state_dir for writing: statestore_open() with
 * STATESTORE_CREATE (missing directories 0700) and state_dir/journal (0700);
 * refuse a state dir that is not a directory, is a symbolic link, is owned by
 * another uid, or is group/world-writable, or an untrusted directory on the
 * way to it (DIAG_CONFIG).
 * Take flock(LOCK_EX) on state_dir/lock and write our pid, start time and
 * command line into it. When the lock is held, poll every 100 ms for up to
 * wait_seconds (0: do not wait; negative: wait forever), then fail with
 * DIAG_CONFLICT "state dir '…' is locked by pid N (CMD, started TIME)".
 * With the lock held, stale temp files and blobs without metadata (left by a
 * crash) are removed. On success *jp owns the handle (journal_close()).
 * Returns 0, -EAGAIN (locked), -EPERM (unsafe dir), -ELOOP (a symbolic link), -ENOTDIR (not a
 * directory; DIAG_CONFIG), or -errno (DIAG_INTERNAL); *jp untouched.
 */
int journal_open(struct journal **jp, const char *state_dir, int wait_seconds, struct diag *d);

/*
 * Open for reading only (`portlock log`): no lock, nothing created or removed.
 * A missing state dir or journal dir is not an error: the journal is empty.
 * An unsafe (group/world-writable, other owner) dir is a warning; a state dir
 * that is a symbolic link, or not a directory, is refused (DIAG_CONFIG, as
 * statestore_open() with STATESTORE_READONLY). Returns 0 or -errno
 * (-ENOMEM; -EACCES etc. when the dir exists but cannot be opened).
 */
int journal_open_readonly(struct journal **jp, const char *state_dir, struct diag *d);

/* Release the lock (if held) and free the handle. NULL is accepted. */
void journal_close(struct journal *j);

/*
 * In a child created by fork() while the parent holds the journal: close the
 * inherited descriptors WITHOUT unlocking (flock locks belong to the shared open
 * file description; LOCK_UN in the child would unlock the parent) and free the
 * handle. Call it in the child before anything long-running (e.g. the setsid
 * --confirm watcher), otherwise the lock outlives the parent. NULL is accepted.
 */
void journal_forget(struct journal *j);

/* The journal directory (state_dir/journal). */
const char *journal_path(const struct journal *j);

/* The object directory (state_dir/journal/objects), whether or not it exists. */
const char *journal_objects_path(const struct journal *j);

/*
 * Start a record: allocate the next id (max of the counter file and the
 * highest id on disk, plus one; the counter is updated durably before return,
 * so an id is never handed out twice even after a crash or pruning), and fill
 * rec with id, time, uid, user name, argv (this process's command line from
 * /proc/self/cmdline; the caller may replace it, free()ing the old one), kind
 * APPLY, state APPLIED. Needs a handle from journal_open(). Returns 0 or -errno.
 */
int journal_begin(struct journal *j, struct journal_rec *rec, struct diag *d);

/*
 * Optional first phase, before the kernel commit: save the prior content and
 * write the metadata with state PREPARED and no result. If the process dies
 * before journal_commit()/journal_abort(), the record stays "prepared" with its
 * prior content, so the table can still be restored. rec->state in memory is
 * left as the caller set it (the state journal_commit() will write); set
 * rec->table (and the other caller fields) before calling. Returns 0 or -errno.
 */
int journal_prepare(struct journal *j, struct journal_rec *rec,
		    const struct journal_content *prior, struct diag *d);

/*
 * Commit the record after the kernel accepted the batch: write the prior
 * content (unless prior is NULL because journal_prepare() saved it already, or
 * rec was read back by journal_get() in state PREPARED),
 * the result content, then the metadata with rec->state (APPLIED or PENDING;
 * set rec->gen_after, counts and confirm_deadline first). On return 0 the
 * record is durable. On failure the previous metadata (if any) is intact.
 * Returns 0, -EINVAL (prior NULL without prepare, state PREPARED), or -errno.
 */
int journal_commit(struct journal *j, struct journal_rec *rec, const struct journal_content *prior,
		   const struct journal_content *result, struct diag *d);

/*
 * The kernel refused the batch after journal_prepare(): delete the record
 * (metadata first, then blobs). Its id is not reused. Returns 0 or -errno.
 */
int journal_abort(struct journal *j, struct journal_rec *rec, struct diag *d);

/*
 * Change the state of record id (atomic metadata rewrite; state_time updated).
 * An illegal transition (see enum journal_state), e.g. confirming a reverted
 * transaction, is DIAG_CONFLICT and returns -EBUSY; a missing or corrupt record
 * is DIAG_CONFLICT with -ENOENT/-EBADMSG. Returns 0 or -errno.
 */
int journal_set_state(struct journal *j, uint64_t id, enum journal_state st, struct diag *d);

/*
 * The same, and record that the transaction was left in a safe state
 * (safe_state, e.g. "kept", and a reason) instead of being reverted exactly.
 */
int journal_set_safe_state(struct journal *j, uint64_t id, enum journal_state st,
			   const char *safe_state, const char *reason, struct diag *d);

/* journal_list() flags. */
enum {
	/* also hash every blob and compare with its SHA-256 (slow for big tables) */
	JOURNAL_LIST_VERIFY = 1 << 0,
};

/*
 * Read every record, sorted by id (newest last), into a malloc'ed array owned
 * by the caller (journal_recs_free()). Without JOURNAL_LIST_VERIFY, blobs are
 * checked for presence and size only. Corrupt records are diag_warn()ed
 * ("FILE: corrupt journal record skipped: WHAT") and left out. *recs may be
 * NULL when *n is 0. Returns 0 or -errno (-ENOMEM, unreadable directory).
 */
int journal_list(struct journal *j, unsigned flags, struct journal_rec **recs, size_t *n,
		 struct diag *d);

/* Free an array from journal_list(). NULL is accepted. */
void journal_recs_free(struct journal_rec *recs, size_t n);

/* Release what a record owns (argv) and zero it. NULL is accepted. */
void journal_rec_fini(struct journal_rec *rec);

/*
 * Read record id into rec (blobs checked for presence and size). A missing
 * record is DIAG_CONFLICT "no transaction N in the journal" (-ENOENT); a
 * corrupt one is DIAG_CONFLICT naming the file and the fault (-EBADMSG).
 */
int journal_get(struct journal *j, uint64_t id, struct journal_rec *rec, struct diag *d);

/*
 * Load one blob of rec into a malloc'ed buffer (*buf, *len; caller frees;
 * one extra NUL byte follows the data so text can be used as a string).
 * Verifies size and SHA-256. A blob that is absent (the table did not exist,
 * or no result yet) is -ENOENT with no diagnostic; a missing file, wrong size
 * or checksum mismatch is DIAG_CONFLICT and -EBADMSG.
 */
int journal_load_blob(struct journal *j, const struct journal_rec *rec,
		      enum journal_blob_kind which, void **buf, size_t *len, struct diag *d);

/*
 * The newest intact record whose state is in state_mask (JOURNAL_STATE_BIT()s,
 * JOURNAL_STATE_ANY) into rec. Returns 0, -ENOENT when there is none (no
 * diagnostic), or -errno. Corrupt records are warned about and skipped.
 */
int journal_last(struct journal *j, unsigned state_mask, struct journal_rec *rec, struct diag *d);

/*
 * journal_last() among the records of one table (rec.table): each table of a
 * state dir has its own history (a bare `revert` takes the table of the
 * current config).
 */
int journal_last_for_table(struct journal *j, const char *table, unsigned state_mask,
			   struct journal_rec *rec, struct diag *d);

/*
 * Did this state dir create table `table` (it is in <state>/tables, written
 * by journal_prepare()/journal_commit() for a record whose prior is absent)?
 * 1, 0, or -errno. A revert acts only on such tables (statestore.h).
 */
int journal_table_created(struct journal *j, const char *table);

/* The state dir's id (statestore_id()), "" when it has none (read-only handles). */
const char *journal_state_id(const struct journal *j);

/* journal_last(j, JOURNAL_STATE_BIT(JOURNAL_STATE_PENDING), rec, d). */
int journal_pending(struct journal *j, struct journal_rec *rec, struct diag *d);

/*
 * Retention: keep the newest `keep` records (config journal_keep); delete older
 * ones, except records in state PENDING or PREPARED, which are never pruned.
 * keep 0 is treated as 1 (the newest record always stays). Corrupt records are
 * not touched. When records were removed, objects that no remaining record
 * refers to are removed too (a corrupt record's objects are kept: its refs
 * cannot be trusted, so nothing is removed while one exists).
 * Returns the number of records removed, or -errno.
 */
int journal_prune(struct journal *j, unsigned keep, struct diag *d);

/* Names used in the metadata and by `log`; NULL for out-of-range values. */
const char *journal_kind_str(enum journal_kind k);
const char *journal_state_str(enum journal_state s);
/* Parse a name back; returns 0 or -EINVAL. */
int journal_kind_parse(const char *s, enum journal_kind *k);
int journal_state_parse(const char *s, enum journal_state *st);

/*
 * Parse metadata bytes (not NUL-terminated) into rec. expect_id != 0 requires
 * "id" to equal it (the file name's id). Every field is type- and range-checked;
 * blob file names must be the canonical ones for the id. On failure returns
 * -EBADMSG (or -ENOMEM) and writes a short reason ("truncated or invalid JSON
 * at line 1, column 40: …", "'state' is missing") into err. Pure: no I/O.
 * rec must be released with journal_rec_fini() in every case.
 */
int journal_rec_parse(const char *buf, size_t len, uint64_t expect_id, struct journal_rec *rec,
		      char *err, size_t errlen);

/*
 * The record as a JSON object (the metadata format above; `log --json` uses the
 * same fields plus "time_iso"). Returns a new reference (json_t *), NULL on
 * ENOMEM. Declared as void * to keep jansson out of this header.
 */
void *journal_rec_to_json(const struct journal_rec *rec);

/*
 * Join argv into one shell-quoted string ("portlock apply --confirm 60";
 * arguments with spaces or quotes in '…'). Returns a malloc'ed string or NULL.
 */
char *journal_argv_join(int argc, char *const argv[]);

#endif
