/*
 * The administrator's policy: a root-owned file (default
 * /etc/cardseal/policy.conf, docs/policy.md) read once when the engine
 * starts and enforced by it. Native keys, plus the Exchange ActiveSync
 * S/MIME policy names mapped onto them. The engine keeps one policy for its
 * life (policy_install); request handlers read it with policy_current().
 *
 * In per-user mode this is advisory against a determined local user, who can
 * drive the card without the engine: the README says so.
 */
#ifndef CS_POLICY_H
#define CS_POLICY_H

#include <limits.h>
#include <stddef.h>

#include "json.h"

#define CS_POLICY_DEFAULT_PATH "/etc/cardseal/policy.conf"
#define CS_POLICY_MAX_FILE (64u * 1024)     /* the policy file and the allowlist */
#define CS_POLICY_DEFAULT_HW_MODULES "/etc/cardseal/hardware-modules"

/* What signature-algorithms allows: digests and key algorithms. */
enum {
	POLICY_SIG_SHA256 = 1u << 0,
	POLICY_SIG_SHA384 = 1u << 1,
	POLICY_SIG_SHA512 = 1u << 2,
	POLICY_SIG_RSA = 1u << 3,       /* RSA PKCS#1 v1.5 */
	POLICY_SIG_ECDSA = 1u << 4,
};
#define POLICY_SIG_ALL 0x1fu

/* What encryption-algorithms allows (content encryption). */
enum {
	POLICY_ENC_AES256_GCM = 1u << 0,
	POLICY_ENC_AES256_CBC = 1u << 1,
};
#define POLICY_ENC_ALL 0x3u

/* algorithm-negotiation: EAS AllowSMIMEEncryptionAlgorithmNegotiation's three values. */
enum { POLICY_NEG_NEVER = 0, POLICY_NEG_STRONG = 1, POLICY_NEG_ANY = 2 };

struct cs_policy {
	char source[PATH_MAX];          /* the file read, "" when there was none */
	unsigned signature_algs;        /* POLICY_SIG_* */
	unsigned encryption_algs;       /* POLICY_ENC_* */
	int require_signed;
	int require_encrypted;
	int negotiation;                /* POLICY_NEG_* */
	int allow_soft_certs;
	int lock_sign;                  /* the per-message sign toggle is locked */
	int lock_encrypt;
	int confirm_signatures;
	int allow_raw_cms;
	char hardware_modules[PATH_MAX];        /* the allowlist file */
	char **hw_modules;              /* its entries, resolved (realpath) */
	size_t n_hw_modules;
	/* The EAS algorithm minimums as written (reported, never used or sent). */
	char eas_sign_minimum[32];
	char eas_encrypt_minimum[32];
};

/* No policy: everything allowed, nothing required. */
void cs_policy_defaults(struct cs_policy *p);
void cs_policy_clear(struct cs_policy *p);

/*
 * Parses policy text over the defaults (tests use it directly); name is used
 * in messages. Returns 0, or CS_ERR_BAD_FORMAT / CS_ERR_TOO_LARGE with
 * "NAME:LINE: what is wrong" in err.
 */
int cs_policy_parse(struct cs_policy *p, const char *name, const char *text, size_t len,
                    char *err, size_t err_size);

/*
 * Reads the policy (policy_file.c). path NULL: the default path, where a missing file means
 * no policy. path given (cardseald --policy, for tests): refused while the
 * default file exists, so nobody escapes a system policy with it. The file
 * (and the hardware allowlist it names) must be a regular file owned by
 * root, not writable by group or others, in a directory owned by root and
 * not writable by others (unless sticky). Returns 0 and fills p, or a
 * negative CS_ERR_* (CS_ERR_PERMISSION for ownership) with the reason in err.
 */
int cs_policy_load(const char *path, struct cs_policy *p, char *err, size_t err_size);

/* Makes p the engine's policy (once, before clients are served); takes its contents. */
void policy_install(struct cs_policy *p);
/* The engine's policy (defaults when none was installed); never NULL. */
const struct cs_policy *policy_current(void);

/*
 * Whether a key counts as hardware: its module is on the allowlist and it was
 * generated on the token (CKA_LOCAL). module NULL: its token is absent, so
 * nobody can tell. Returns 1, or 0 with *ret_why a static explanation.
 */
int policy_key_is_hardware(const struct cs_policy *p, const char *module, unsigned key_flags,
                           const char **ret_why);

/*
 * Whether a correspondent's needs (its SMIMECapabilities, a client asking for
 * CBC for a peer that cannot read GCM) may move the content cipher from
 * AES-256-GCM to alg (POLICY_ENC_*): alg must be allowed, and negotiation
 * not "never". Every cipher the engine has is strong, so "strong" and "any"
 * agree. Returns 1 or 0 with *ret_policy the key that refuses.
 */
int policy_cipher_negotiable(const struct cs_policy *p, unsigned alg, const char **ret_policy);

/* The policy as members of the JSON object being written (POLICY_GET, STATUS). */
void policy_json(const struct cs_policy *p, struct cs_json *j);

/* The names algorithm flags go by in the policy file and in replies. */
const char *policy_sig_name(unsigned bit);
const char *policy_enc_name(unsigned bit);

#endif
