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

struct cidr;
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

/*
 * CONFIG_DEFER_ALLOW_FILES: do not read allow_files; record each one's
 * resolved path in its service (files/nfiles) for compile.c. The service's
 * v4/v6 then hold only the prefixes of the policy file itself.
 */
#define CONFIG_DEFER_ALLOW_FILES 1u
int config_load_file_flags(const char *path, struct policy *p, struct diag *d, unsigned flags);

/*
 * One line of an allow_file (n bytes at ln, without its newline), classified
 * exactly as loading the file does: BLANK (empty or comment), PREFIX (*out is
 * the prefix, nothing to report), NOISY (text holds the trimmed prefix text,
 * which draws a warning or an error), TOO_LONG (an error). text is scratch of
 * textlen bytes (CONFIG_LINE_MAX).
 */
enum config_line {
	CONFIG_LINE_BLANK,
	CONFIG_LINE_PREFIX,
	CONFIG_LINE_NOISY,
	CONFIG_LINE_TOO_LONG,
};
#define CONFIG_LINE_MAX 512
enum config_line config_allow_line(const char *ln, size_t n, struct cidr *out, char *text,
				   size_t textlen);

/* True when s is a name nft accepts for a table (not a keyword, identifier chars). */
int config_valid_table_name(const char *s);

#endif
