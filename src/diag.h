/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Diagnostics sink. Low-level code records errors here with the context it
 * knows (file:line of the config entry, the peer, the kernel object); main()
 * prints the sink once and maps the worst class to the process exit code.
 * Nothing in this module exits.
 */
#ifndef PORTLOCK_DIAG_H
#define PORTLOCK_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

/* Process exit codes; the same for every command, documented in portlock(8). */
enum pl_exit {
	PL_EXIT_OK = 0,		/* success, nothing to report */
	PL_EXIT_PENDING = 1,	/* changes pending / findings (only when asked for) */
	PL_EXIT_USAGE = 2,	/* bad command line */
	PL_EXIT_CONFIG = 3,	/* config unreadable or invalid */
	PL_EXIT_KERNEL = 4,	/* kernel/netlink refused; nothing changed */
	PL_EXIT_CONFLICT = 5,	/* lock held, table changed under us, nothing to revert */
	PL_EXIT_MISMATCH = 6,	/* probed service is not what the policy expects */
	PL_EXIT_NOJOURNAL = 7,	/* the kernel was changed (policy enforced, or reverted) but the journal could not record it */
	PL_EXIT_UNRESOLVED = 8,	/* a probe target's host name has no address */
	PL_EXIT_INTERNAL = 70,	/* ENOMEM, bug */
};

/* Error classes; each maps to one exit code (diag_exit_code()). */
enum diag_class {
	DIAG_USAGE,
	DIAG_CONFIG,
	DIAG_NETLINK,
	DIAG_CONFLICT,
	DIAG_MISMATCH,
	DIAG_UNRESOLVED,
	DIAG_INTERNAL,
	DIAG_CLASS_MAX,
};

enum diag_level {
	DIAG_LVL_ERROR,
	DIAG_LVL_WARNING,
	DIAG_LVL_NOTE,
};

/* A source location; file NULL or line 0 means "unknown". */
struct srcloc {
	const char *file;
	int line;
};

struct diag_rec {
	enum diag_class cls;
	enum diag_level lvl;
	char *file;	/* owned copy, may be NULL */
	int line;
	char *msg;	/* owned, already includes the strerror part */
};

struct diag {
	struct diag_rec *recs;
	size_t nrecs, cap;
	size_t nerrors, nwarnings;
	bool worst_set;
	enum diag_class worst;
	size_t max_print;	/* errors printed before "and N more"; 0 = unlimited */
};

void diag_init(struct diag *d);
/* Re-record from's messages in to: as they were, or (as_warning) errors as warnings. */
void diag_move(struct diag *to, const struct diag *from, bool as_warning);
void diag_fini(struct diag *d);

/*
 * Record an error of class cls at loc (may be NULL). errnum > 0 appends
 * ": strerror(errnum)". Returns -errnum, or -EINVAL when errnum is 0, so that
 * callers can write `return diag_err(...)`. Never prints.
 */
int diag_err(struct diag *d, enum diag_class cls, const struct srcloc *loc, int errnum,
	     const char *fmt, ...) __printf(5, 6);

/* Record a warning or a note; never changes the exit code. */
void diag_warn(struct diag *d, const struct srcloc *loc, const char *fmt, ...) __printf(3, 4);
void diag_note(struct diag *d, const struct srcloc *loc, const char *fmt, ...) __printf(3, 4);

/* Print every record as "portlock: [file:line: ][warning: ]message". */
void diag_print(const struct diag *d, FILE *f);
/*
 * Loud, now: "portlock: MSG" on stderr at once (also with -q), not kept in a
 * sink. For what must reach a person before the command ends or whoever
 * reads its diagnostics: an auto-revert being done, an overdue one, a
 * safe state taken (the caller also logs those to syslog).
 */
void diag_alert(const char *fmt, ...) __printf(1, 2);

/* Exit code for the worst error recorded, PL_EXIT_OK when there is none. */
int diag_exit_code(const struct diag *d);

/* True when at least one error has been recorded. */
static inline bool diag_failed(const struct diag *d)
{
	return d->nerrors > 0;
}

#endif
