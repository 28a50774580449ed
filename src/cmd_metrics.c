// SPDX-License-Identifier: GPL-2.0-or-later
#include "cmd.h"
int cmd_metrics_main(struct pl_ctx *ctx, int argc, char **argv) { (void)ctx; (void)argc; (void)argv; return PL_EXIT_USAGE; }
