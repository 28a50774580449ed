/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test hooks: environment variables through which the test suite makes
 * portlock fail or wait at chosen points (a dump overrun, a file truncated
 * while mapped, a pause before or after the batch, a set size the kernel
 * refuses, a small shard size, a copy of syslog in a file). They exist only
 * in a build configured with -DPORTLOCK_TEST_HOOKS=ON (tests/run.sh's builds);
 * in any other build every hook is off and no variable is read. portlock(8),
 * TEST HOOKS, lists them.
 */
#ifndef PORTLOCK_TESTHOOK_H
#define PORTLOCK_TESTHOOK_H

#include <stdarg.h>

#ifdef PORTLOCK_TEST_HOOKS
/* The value of the hook's environment variable (its full name), NULL when unset. */
const char *testhook(const char *env);
/* PORTLOCK_TEST_SYSLOG: append a copy of a syslog message to that file. */
void testhook_syslog(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
#else
static inline const char *testhook(const char *env)
{
	(void)env;
	return (const char *)0;
}

static inline void testhook_syslog(int prio, const char *fmt, va_list ap)
{
	(void)prio;
	(void)fmt;
	(void)ap;
}
#endif

#endif
