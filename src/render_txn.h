/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command layer's rendering of what a transaction did (struct
 * txn_result, txn.h): apply, revert, confirm and the auto-reverts recovery
 * does on the way, as text on stdout or as one JSON object each.
 */
#ifndef PORTLOCK_RENDER_TXN_H
#define PORTLOCK_RENDER_TXN_H

#include <stddef.h>
#include <stdint.h>

struct pl_ctx;
struct txn_result;

/*
 * Print res (nothing for TXN_NONE) as ctx->json and ctx->verbose say. A
 * failed write of stdout is a warning in ctx->diag: the change stands as
 * the journal records it.
 */
void render_txn(struct pl_ctx *ctx, const struct txn_result *res);

/* A deadline as the messages show it ("13:17:28", local time). */
void render_time(int64_t t, char *buf, size_t len);

#endif
