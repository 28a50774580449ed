// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Diagnostics sink: collects error records with their location and class,
 * prints them once, maps the worst class to an exit code. Never exits.
 */
#include "diag.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const int class_exit[] = {
	[DIAG_USAGE] = PL_EXIT_USAGE,
	[DIAG_CONFIG] = PL_EXIT_CONFIG,
	[DIAG_NETLINK] = PL_EXIT_KERNEL,
	[DIAG_CONFLICT] = PL_EXIT_CONFLICT,
	[DIAG_MISMATCH] = PL_EXIT_MISMATCH,
	[DIAG_UNRESOLVED] = PL_EXIT_UNRESOLVED,
	[DIAG_INTERNAL] = PL_EXIT_INTERNAL,
};
static_assert(ARRAY_SIZE(class_exit) == DIAG_CLASS_MAX, "class_exit out of sync");

/* Severity order used to pick the worst class: internal beats everything. */
static int class_rank(enum diag_class c)
{
	switch (c) {
	case DIAG_INTERNAL: return 7;
	case DIAG_NETLINK: return 6;
	case DIAG_CONFLICT: return 5;
	case DIAG_CONFIG: return 4;
	case DIAG_USAGE: return 3;
	case DIAG_UNRESOLVED: return 2;	/* a target not probed at all beats a mismatch */
	case DIAG_MISMATCH: return 1;
	default: return 0;
	}
}

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
	d->max_print = 20;
}

void diag_fini(struct diag *d)
{
	for (size_t i = 0; i < d->nrecs; i++) {
		free(d->recs[i].file);
		free(d->recs[i].msg);
	}
	free(d->recs);
	memset(d, 0, sizeof(*d));
}

__attribute__((format(printf, 6, 0)))
static void diag_vadd(struct diag *d, enum diag_class cls, enum diag_level lvl,
		      const struct srcloc *loc, int errnum, const char *fmt, va_list ap)
	__printf(6, 0);
static void diag_vadd(struct diag *d, enum diag_class cls, enum diag_level lvl,
		      const struct srcloc *loc, int errnum, const char *fmt, va_list ap)
{
	struct diag_rec *r;
	char *msg = NULL;
	int n;

	if (lvl == DIAG_LVL_ERROR) {
		d->nerrors++;
		if (!d->worst_set || class_rank(cls) > class_rank(d->worst)) {
			d->worst = cls;
			d->worst_set = true;
		}
	} else if (lvl == DIAG_LVL_WARNING) {
		d->nwarnings++;
	}
	if (util_grow((void **)&d->recs, &d->cap, d->nrecs + 1, sizeof(*d->recs)) < 0)
		return; /* the class and count are kept; only the text is lost */
	n = vasprintf(&msg, fmt, ap);
	if (n < 0)
		return;
	if (errnum > 0) {
		char *full = NULL;

		if (asprintf(&full, "%s: %s", msg, strerror(errnum)) >= 0) {
			free(msg);
			msg = full;
		}
	}
	r = &d->recs[d->nrecs++];
	r->cls = cls;
	r->lvl = lvl;
	r->file = loc && loc->file ? strdup(loc->file) : NULL;
	r->line = loc ? loc->line : 0;
	r->msg = msg;
}

int diag_err(struct diag *d, enum diag_class cls, const struct srcloc *loc, int errnum,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, cls, DIAG_LVL_ERROR, loc, errnum, fmt, ap);
	va_end(ap);
	return errnum > 0 ? -errnum : -EINVAL;
}

void diag_warn(struct diag *d, const struct srcloc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, DIAG_CONFIG, DIAG_LVL_WARNING, loc, 0, fmt, ap);
	va_end(ap);
}

void diag_note(struct diag *d, const struct srcloc *loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, DIAG_CONFIG, DIAG_LVL_NOTE, loc, 0, fmt, ap);
	va_end(ap);
}

void diag_print(const struct diag *d, FILE *f)
{
	size_t printed_err = 0, printed_warn = 0, skipped = 0;

	for (size_t i = 0; i < d->nrecs; i++) {
		const struct diag_rec *r = &d->recs[i];
		const char *lvl = "";

		if (r->lvl == DIAG_LVL_ERROR) {
			if (d->max_print && printed_err >= d->max_print) {
				skipped++;
				continue;
			}
			printed_err++;
		} else {
			if (d->max_print && printed_warn >= d->max_print) {
				skipped++;
				continue;
			}
			printed_warn++;
			lvl = r->lvl == DIAG_LVL_WARNING ? "warning: " : "note: ";
		}
		if (r->file && r->line > 0)
			fprintf(f, "portlock: %s:%d: %s%s\n", r->file, r->line, lvl, r->msg);
		else if (r->file)
			fprintf(f, "portlock: %s: %s%s\n", r->file, lvl, r->msg);
		else
			fprintf(f, "portlock: %s%s\n", lvl, r->msg);
	}
	if (skipped)
		fprintf(f, "portlock: ... and %zu more message%s not shown\n", skipped,
			skipped == 1 ? "" : "s");
	if (d->nerrors > 1)
		fprintf(f, "portlock: %zu errors\n", d->nerrors);
}

int diag_exit_code(const struct diag *d)
{
	if (!d->nerrors)
		return PL_EXIT_OK;
	return class_exit[d->worst];
}

/* Re-record from's messages in to: as they were, or (as_warning) as warnings. */
void diag_move(struct diag *to, const struct diag *from, bool as_warning)
{
	for (size_t i = 0; i < from->nrecs; i++) {
		const struct diag_rec *x = &from->recs[i];
		struct srcloc loc = { x->file, x->line };

		if (x->lvl == DIAG_LVL_ERROR && !as_warning)
			diag_err(to, x->cls, x->file ? &loc : NULL, 0, "%s", x->msg);
		else if (x->lvl == DIAG_LVL_NOTE)
			diag_note(to, x->file ? &loc : NULL, "%s", x->msg);
		else
			diag_warn(to, x->file ? &loc : NULL, "%s", x->msg);
	}
}

void diag_alert(const char *fmt, ...)
{
	va_list ap;

	fputs("portlock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
