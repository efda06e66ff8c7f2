/*
 * The audit log: one line per private-key operation, appended with O_APPEND
 * so concurrent writers never interleave inside a line. The summary is not
 * written (it is message metadata); its SHA-256 is, so an operation can be
 * matched to a message without the log disclosing the message.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cs_error.h"
#include "keyd.h"

static void
summary_digest(const char *summary, char *out, size_t out_size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	out[0] = '\0';
	if (EVP_Digest(summary, strlen(summary), md, &n, EVP_sha256(), NULL) != 1)
		return;
	for (i = 0; i < n && 2 * i + 2 < out_size; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void
keyd_audit(struct keyd *k, const struct keyd_context *c, const char *op, const char *key_uri,
           int result)
{
	char line[1024], when[32], digest[65];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (k->audit_fd < 0)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	summary_digest(c->summary != NULL ? c->summary : "", digest, sizeof(digest));
	n = snprintf(line, sizeof(line), "%s client=%u op=%s key=%s summary-sha256=%s result=%s\n",
	             when, c->client_id, op, key_uri != NULL ? key_uri : "-", digest,
	             cs_error_name(result));
	if (n > 0 && (size_t)n < sizeof(line))
		(void)!write(k->audit_fd, line, (size_t)n);
}
