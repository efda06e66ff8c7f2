/*
 * Quarantine for plaintext that may not be released yet: an anonymous
 * temporary file (O_TMPFILE, or mkstemp then unlink at once), its content
 * encrypted with AES-256-CTR under a key drawn fresh for each spill and kept
 * only in memory. The file has no name while it exists and its bytes are
 * useless after spill_free, which wipes the key. No integrity protection: the
 * only party that could change the file is the same user, who could as well
 * change this process.
 */
#ifndef CS_SPILL_H
#define CS_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

struct spill;

/*
 * Creates a spill in dir (NULL: $TMPDIR, else /tmp). Returns 0, CS_ERR_IO if
 * no file could be made there, CS_ERR_NOMEM or CS_ERR_INTERNAL.
 */
int spill_open(const char *dir, struct spill **ret);

/* Appends n bytes. Returns 0 or CS_ERR_IO (disk full ...). Not after spill_rewind. */
int spill_write(struct spill *s, const void *p, size_t n);

/* Ends writing and positions reading at the start. Returns 0 or CS_ERR_IO. */
int spill_rewind(struct spill *s);

/* Reads up to cap bytes of plaintext; *ret_n 0 at the end. Returns 0 or CS_ERR_IO. */
int spill_read(struct spill *s, void *buf, size_t cap, size_t *ret_n);

/* Bytes written so far. */
uint64_t spill_size(const struct spill *s);

/*
 * A read-only BIO over s (after spill_rewind): a memory-bounded replay of
 * what was spilled, for a second pass. The BIO does not own s. NULL when out
 * of memory.
 */
BIO *spill_bio_new(struct spill *s);

/* Closes the file and wipes the key; NULL is fine. */
void spill_free(struct spill *s);

#endif
