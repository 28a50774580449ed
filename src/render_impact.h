/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text and JSON of a change's impact (impact.h), for plan, apply and
 * revert --dry-run: one code path per format.
 */
#ifndef PORTLOCK_RENDER_IMPACT_H
#define PORTLOCK_RENDER_IMPACT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct impact;
struct policy;

/*
 * "impact:" and a line per service and kind:
 *   "  smpp: would cut 2 established connections: 10.50.0.10:40122 -> 2775 (smpp), ..."
 *   "  smpp: would start refusing observed sources: 10.50.0.11 (last seen 2 h ago, 123 packets)"
 * or "impact: no established connection is cut, no observed source newly refused".
 * now: the time "ago" counts from. done (apply, after the commit): "cut ..." and
 * "now refuses observed sources" instead.
 */
void render_impact_text(const struct policy *p, const struct impact *im, int64_t now, bool done,
			FILE *f);
/* The "impact" object of plan/apply/revert --json (see portlock(8), IMPACT). */
json_t *render_impact_json(const struct policy *p, const struct impact *im);

#endif
