/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state directory (default /var/lib/portlock, --state-dir): opened once,
 * trusted, then used only through its descriptor. The journal (journal.h),
 * the compile cache (compile.h) and the live note (snapshot.h) keep every
 * file under it through this module's helpers.
 *
 * Trust (compare sshd's StrictModes): the path is walked from "/" one
 * component at a time with openat(O_NOFOLLOW | O_DIRECTORY), so that no
 * component can be swapped between a check and its use:
 *   - every directory on the way is owned by root (or by the running uid) and
 *     not writable by group or others, unless it is sticky (like /tmp);
 *   - a symbolic link on the way is followed only when the directory holding
 *     it passed those checks (only root could have put it there), at most 40
 *     times; the state dir itself (the last component) must not be a link;
 *   - the state dir, and every directory portlock keeps below it, is owned
 *     by the running uid and not writable by group or others (sticky or not);
 *   - missing components are created with mode 0700 when asked to.
 * A fault is DIAG_CONFIG (exit 3) naming the path and the reason; readers
 * (STATESTORE_READONLY) get a warning for ownership and mode faults only.
 *
 * Files are replaced atomically (statestore_replace()): a temp file created
 * with O_EXCL in the same directory, written, optionally fsync()ed, renamed
 * over the name, and optionally the directory fsync()ed. A reader sees the
 * whole old or the whole new file.
 */
#ifndef PORTLOCK_STATESTORE_H
#define PORTLOCK_STATESTORE_H

#include <stdbool.h>
#include <stddef.h>

struct diag;

/* Prefix of temp files written by statestore_replace() (removed by their owners' cleanup). */
#define STATESTORE_TMP_PREFIX ".tmp."
/* Symbolic links followed on the way to the state dir, at most (like the kernel's MAXSYMLINKS). */
#define STATESTORE_MAX_LINKS 40

/* statestore_open()/statestore_subdir() flags */
enum {
	STATESTORE_CREATE = 1u << 0,	/* create missing components (0700) */
	STATESTORE_READONLY = 1u << 1,	/* a reader: ownership/mode faults are warnings; a missing
					 * directory is -ENOENT without a diagnostic */
	STATESTORE_QUIET = 1u << 2,	/* no diagnostics at all (caches that just do without) */
};

/*
 * Open the state dir at path (absolute, or relative to the working directory)
 * as described above. Returns a descriptor (O_DIRECTORY, O_CLOEXEC) or:
 * -ENOENT (missing and not STATESTORE_CREATE; an error unless READONLY),
 * -ELOOP (the state dir is a symbolic link, or too many links on the way),
 * -ENOTDIR, -EPERM (a component is not trusted), all DIAG_CONFIG, or another
 * -errno (DIAG_INTERNAL; -EACCES is DIAG_CONFIG). On success the state dir's
 * id, when it has one, becomes the process's owner (statestore_owner()).
 */
int statestore_open(const char *path, unsigned flags, struct diag *d);

/*
 * A directory inside a trusted one: openat(O_NOFOLLOW), created 0700 with
 * STATESTORE_CREATE, held to the state dir's rules (ours, not writable by
 * group or others, not a link). display names it in messages. Returns a
 * descriptor or -errno like statestore_open().
 */
int statestore_subdir(int dirfd, const char *name, const char *display, unsigned flags,
		      struct diag *d);

/* Check an open directory against the state dir's rules (see above); 0 or -EPERM/-ENOTDIR. */
int statestore_check_dir(int fd, const char *display, unsigned flags, struct diag *d);

/* statestore_replace() flags */
enum {
	STATESTORE_SYNC = 1u << 0,	/* fsync the file before the rename */
	STATESTORE_SYNC_DIR = 1u << 1,	/* fsync the directory after the rename */
};

/*
 * Replace dirfd/name with len bytes of buf atomically (see above). Never
 * follows a link; the temp file is removed on failure. No diagnostics:
 * returns 0 or -errno.
 */
int statestore_replace(int dirfd, const char *name, const void *buf, size_t len, unsigned flags);

/*
 * Open (creating, 0600, O_NOFOLLOW) the lock file dirfd/name and take
 * flock(LOCK_EX) on it. wait_seconds: 0 do not wait, negative forever, else
 * poll every 100 ms that long. Returns the locked descriptor, -EWOULDBLOCK
 * when it stayed held (the descriptor is then still returned in *held_fd,
 * open and unlocked, so the caller can read the holder; close it), or -errno.
 * held_fd may be NULL.
 */
int statestore_lock(int dirfd, const char *name, int wait_seconds, int *held_fd);

/* Read a whole small regular file dirfd/name (at most max bytes, NUL-terminated); -errno. */
int statestore_read(int dirfd, const char *name, size_t max, char **buf, size_t *len);

/*
 * The state dir's identity: <state>/id holds 32 random hex digits written
 * when the state dir is first opened for writing (statestore_id() with
 * create). portlock marks every table it creates with the comment
 * "portlock:<id>" (table userdata, NFTNL_UDATA_TABLE_COMMENT), so that a
 * revert can tell its own tables from anyone else's.
 * <state>/tables lists the tables this state dir created, one name a line.
 */
#define STATESTORE_ID_FILE "id"
#define STATESTORE_ID_LEN 32
#define STATESTORE_TABLES_FILE "tables"
#define STATESTORE_MARKER "portlock"	/* the comment's prefix; alone: no state dir known */

/*
 * Read the id of the state dir sfd into out (STATESTORE_ID_LEN hex digits +
 * NUL); with create, write a new one when there is none. *created tells
 * whether it was just written. Also remembered as the process's owner
 * (statestore_owner()). Returns 0, -ENOENT (none, not created), -EBADMSG
 * (a damaged id file), or -errno.
 */
int statestore_id(int sfd, bool create, char out[STATESTORE_ID_LEN + 1], bool *created);

/*
 * The comment portlock puts on the tables it creates: "portlock:<id>" of the
 * state dir opened last by statestore_id(), or "portlock" before any. Static
 * storage; never NULL.
 */
const char *statestore_owner(void);

/* Is table listed in <state>/tables? 1, 0, or -errno. */
int statestore_table_created(int sfd, const char *table);

/* Add table to <state>/tables (atomically, durably) unless it is there. 0 or -errno. */
int statestore_table_add(int sfd, const char *table);

#endif
