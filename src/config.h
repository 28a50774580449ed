/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libconfig file -> validated struct policy. The only file that includes
 * <libconfig.h>. Every mistake in a file is recorded in the diag sink with its
 * file:line (DIAG_CONFIG), not just the first one; host bits set in a prefix
 * are normalized with a warning.
 */
#ifndef PORTLOCK_CONFIG_H
#define PORTLOCK_CONFIG_H

#include <stddef.h>

struct diag;
struct policy;

/*
 * Load and validate the policy in file path. On success (return 0) *p holds
 * the policy and must be released with policy_fini(). On failure returns a
 * negative errno (-EINVAL for invalid content), every problem is in d, and
 * *p is left zeroed.
 */
int config_load_file(const char *path, struct policy *p, struct diag *d);

/*
 * Same for an in-memory text (fuzzing, tests); name is used in messages and
 * relative allow_file paths are resolved against basedir (NULL: the cwd).
 */
int config_load_string(const char *text, const char *name, const char *basedir,
		       struct policy *p, struct diag *d);

/* True when s is a name nft accepts for a table (not a keyword, identifier chars). */
int config_valid_table_name(const char *s);

#endif
