/*
 * Plain words for what the engine reports about a message: one headline per
 * layer for the security bar, a sentence per reason for Details. The words
 * describe the engine's verdict; they never make one.
 */
#ifndef CSG_SECURITY_WORDS_H
#define CSG_SECURITY_WORDS_H

#include "engine_json.h"

/* What a layer is, in one line ("Signed by Alice <alice@example.org>: valid"). */
char *sw_layer_headline(const struct ej_layer *l);

/* What the verdict means for the reader, or NULL when there is nothing to add. */
const char *sw_verdict_meaning(const char *verdict);

/* A sentence for a reason name from the report ("revocation-unknown" ...). */
const char *sw_reason_text(const char *reason);

/* Why a toggle is locked ("Locked by your administrator: every message is signed"). */
char *policy_lock_text(const struct ej_toggle *t, const char *what);

/* 1 when the layer is fine (encrypted with integrity, or a valid signature). */
int sw_layer_ok(const struct ej_layer *l);

#endif
