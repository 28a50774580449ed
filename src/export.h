/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy -> nft script text: the ruleset `apply` loads, in a form `nft -f`
 * accepts. Pure rendering; stable output (same policy, same bytes).
 */
#ifndef PORTLOCK_EXPORT_H
#define PORTLOCK_EXPORT_H

#include <stdio.h>

struct policy;

/*
 * Write the nft script for p to f. The script first replaces any existing
 * table of the same name (add + delete + add, which works on every kernel),
 * so `nft -f` of it yields exactly what `portlock apply` yields.
 * Returns 0 or -EIO when writing failed.
 */
int export_render(const struct policy *p, FILE *f);

/* Chain priority of portlock's base chains: before the usual filter chains. */
#define EXPORT_CHAIN_PRIORITY (-10)

#endif
