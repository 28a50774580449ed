/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small helpers shared by every module: array sizes, attributes, checked
 * allocation wrappers that return NULL (never exit: callers unwind and report).
 */
#ifndef PORTLOCK_UTIL_H
#define PORTLOCK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __unused __attribute__((unused))
#define __printf(a, b) __attribute__((format(printf, a, b)))

/*
 * Grow *arr (of *cap elements of size elsz) so that it holds at least need
 * elements. Returns 0 or -ENOMEM; *arr is untouched on failure.
 */
int util_grow(void **arr, size_t *cap, size_t need, size_t elsz);

/*
 * snprintf at buf + *pos, never past len; *pos stops at len - 1 once the
 * buffer is full (a message built piece by piece is cut, never overrun).
 */
void util_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...) __printf(4, 5);

/*
 * Parse a duration: a number of seconds ("90"), or numbers with units s, m,
 * h, d, w, as nft writes them ("30d", "1h30m"). Returns 0 with *secs set,
 * -EINVAL for anything else (empty, a bad unit, a unit twice), -ERANGE past
 * UINT32_MAX seconds.
 */
int util_parse_duration(const char *s, uint64_t *secs);

/*
 * A point in time for a message, local time: "13:17:28" when it is today,
 * "2026-12-08 13:17:28" when not (a deadline two days off must not read as
 * today's). len: at least 20.
 */
void util_fmt_clock(int64_t t, char *buf, size_t len);

/* strdup that returns NULL for NULL. */
char *util_strdup(const char *s);

/*
 * Escape untrusted bytes for display: printable ASCII is kept, backslash and
 * quote are escaped, everything else becomes \xNN; at most outmax-1 bytes
 * are written and the result is always NUL-terminated. Returns out.
 */
char *util_escape(const void *in, size_t len, char *out, size_t outmax);

/*
 * PORTLOCK_DEBUG_TIMES set: print "portlock: time <ms since start> <what>"
 * to stderr (where a run spends its time, for bench/README.md). A no-op
 * otherwise.
 */
void util_mark(const char *what);

#endif
