/*
 * The one type for secrets (PINs, content keys on their way out of keyd).
 *
 * The bytes live in their own page-aligned allocation, locked into memory
 * (mlock) and excluded from core dumps (MADV_DONTDUMP), and are wiped by the
 * one free function. A secret is NUL-terminated for the PKCS#11 and Assuan
 * calls that want a C string, and its length is kept beside it.
 */
#ifndef CS_SECRET_H
#define CS_SECRET_H

#include <stddef.h>
#include <stdint.h>

struct cs_secret;

/* Maximum secret length (PINs are short; content keys at most 64 bytes). */
#define CS_SECRET_MAX 1024

/* A new empty secret with room for cap bytes (<= CS_SECRET_MAX), or NULL. */
struct cs_secret *cs_secret_new(size_t cap);

/* A new secret holding a copy of p[0..n), or NULL. */
struct cs_secret *cs_secret_from(const void *p, size_t n);

/* Wipes and frees; NULL is fine. */
void cs_secret_free(struct cs_secret *s);

/* Appends bytes; returns 0 or CS_ERR_TOO_LARGE (the secret is then unchanged). */
int cs_secret_append(struct cs_secret *s, const void *p, size_t n);

/* Wipes the contents; length becomes 0. */
void cs_secret_clear(struct cs_secret *s);

const uint8_t *cs_secret_data(const struct cs_secret *s);
const char *cs_secret_str(const struct cs_secret *s);   /* NUL-terminated view */
size_t cs_secret_len(const struct cs_secret *s);

/* Whether mlock succeeded for this secret (tests check it; RLIMIT_MEMLOCK may refuse). */
int cs_secret_is_locked(const struct cs_secret *s);

/* Compares in time independent of where the bytes differ; returns 1 if equal. */
int cs_secret_equal(const struct cs_secret *s, const void *p, size_t n);

#endif
