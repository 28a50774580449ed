/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text and JSON rendering of live tables and plans (one code path per format). */
#ifndef PORTLOCK_RENDER_H
#define PORTLOCK_RENDER_H

#include <stdio.h>

#include <jansson.h>

struct nm_live;
struct plan;

/* The live table in nft syntax (with counters), then other tables' hooks as comments. */
void render_live_text(const struct nm_live *l, FILE *f);
json_t *render_live_json(const struct nm_live *l);

/* The plan as +/- lines in nft syntax and a summary line. */
void render_plan_text(const struct plan *pl, FILE *f);
json_t *render_plan_json(const struct plan *pl);
/* "+1 table, +2 chains, ..." into buf. */
void render_plan_counts(const struct plan *pl, char *buf, size_t len);

#endif
