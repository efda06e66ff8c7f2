/* The admin policy file's parser: every key, the EAS mapping, the hardware test, hostile input. */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "policy.h"
#include "tap.h"

static int
parse(struct cs_policy *p, const char *text, char *err, size_t n)
{
	cs_policy_defaults(p);
	err[0] = '\0';
	return cs_policy_parse(p, "policy.conf", text, strlen(text), err, n);
}

int
main(void)
{
	struct cs_policy p;
	const char *why = NULL;
	char err[256], *big, *modules[1];
	int r;

	cs_policy_defaults(&p);
	CHECK(p.signature_algs == POLICY_SIG_ALL && p.encryption_algs == POLICY_ENC_ALL &&
	          !p.require_signed && !p.require_encrypted && p.negotiation == POLICY_NEG_ANY &&
	          p.allow_soft_certs && !p.lock_sign && !p.lock_encrypt && !p.confirm_signatures &&
	          p.allow_raw_cms && p.source[0] == '\0',
	      "no policy: everything allowed, nothing required or locked");

	r = parse(&p,
	          "# admin\n[policy]\nsignature-algorithms = sha384, ecdsa\n"
	          "encryption-algorithms = AES256-GCM\nrequire-signed = yes\r\n"
	          "require-encrypted = true\nalgorithm-negotiation = never\nallow-soft-certs = no\n"
	          "hardware-modules = /etc/hw\nlock-toggles = encrypt\nconfirm-signatures = 1\n"
	          "  allow-raw-cms = no  \n",
	          err, sizeof(err));
	CHECK(r == 0 && p.signature_algs == (POLICY_SIG_SHA384 | POLICY_SIG_ECDSA) &&
	          p.encryption_algs == POLICY_ENC_AES256_GCM && p.require_signed &&
	          p.require_encrypted && p.negotiation == POLICY_NEG_NEVER && !p.allow_soft_certs &&
	          strcmp(p.hardware_modules, "/etc/hw") == 0 && !p.lock_sign && p.lock_encrypt &&
	          p.confirm_signatures && !p.allow_raw_cms,
	      "every native key read, blanks and CRLF trimmed (%s)", err);
	cs_policy_clear(&p);

	r = parse(&p, "signature-algorithms = rsa\n", err, sizeof(err));
	CHECK(r == 0 && p.signature_algs == (POLICY_SIG_RSA | POLICY_SIG_SHA256 | POLICY_SIG_SHA384 |
	                                     POLICY_SIG_SHA512),
	      "naming only a key algorithm leaves every digest allowed");
	r = parse(&p, "lock-toggles = yes\n", err, sizeof(err));
	CHECK(r == 0 && p.lock_sign && p.lock_encrypt, "lock-toggles = yes locks both");
	r = parse(&p, "lock-toggles = sign, encrypt\n", err, sizeof(err));
	CHECK(r == 0 && p.lock_sign && p.lock_encrypt, "lock-toggles as a list");

	r = parse(&p,
	          "RequireSignedSMIMEMessages = 1\nrequireencryptedsmimemessages = 0\n"
	          "RequireSignedSMIMEAlgorithm = 1\nRequireEncryptionSMIMEAlgorithm = RC240bit\n"
	          "AllowSMIMEEncryptionAlgorithmNegotiation = 1\nAllowSMIMESoftCerts = 0\n",
	          err, sizeof(err));
	CHECK(r == 0 && p.require_signed && !p.require_encrypted && p.negotiation == POLICY_NEG_STRONG &&
	          !p.allow_soft_certs && strcmp(p.eas_sign_minimum, "MD5") == 0 &&
	          strcmp(p.eas_encrypt_minimum, "RC2-40") == 0,
	      "the EAS names map onto the native keys, numbers too, any case (%s)", err);
	CHECK(p.signature_algs == POLICY_SIG_ALL && p.encryption_algs == POLICY_ENC_ALL,
	      "the EAS algorithm minimums change no algorithm the engine uses");
	r = parse(&p,
	          "RequireEncryptionSMIMEAlgorithm = TripleDES\n"
	          "AllowSMIMEEncryptionAlgorithmNegotiation = AllowAnyAlgorithmNegotiation\n",
	          err, sizeof(err));
	CHECK(r == 0 && strcmp(p.eas_encrypt_minimum, "3DES") == 0 && p.negotiation == POLICY_NEG_ANY,
	      "EAS value names");

	r = parse(&p, "require-encrypted = no\nRequireEncryptedSMIMEMessages = 1\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT && strstr(err, "policy.conf:2") != NULL &&
	          strstr(err, "line 1") != NULL,
	      "a key set again through its EAS name is an error: %s", err);
	r = parse(&p, "allow-raw-cms = no\nallow-raw-cms = no\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT, "a key given twice is an error");
	r = parse(&p, "\nrequire-signd = yes\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT && strstr(err, "policy.conf:2: unknown key 'require-signd'"),
	      "an unknown key names file and line: %s", err);
	r = parse(&p, "require-signed = perhaps\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT && strstr(err, "bad value 'perhaps'") != NULL,
	      "a bad boolean: %s", err);
	r = parse(&p, "encryption-algorithms = aes256-gcm des\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT && strstr(err, "'des'") != NULL,
	      "an unknown algorithm is named: %s", err);
	r = parse(&p, "encryption-algorithms = \n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT, "an empty list of encryption algorithms");
	r = parse(&p, "RequireSignedSMIMEAlgorithm = SHA256\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT, "an EAS algorithm value EAS does not define");
	r = parse(&p, "hardware-modules = relative/path\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT, "a relative allowlist path");
	r = parse(&p, "[other]\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT, "another section");
	r = parse(&p, "require-signed\n", err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT, "a line without '='");
	cs_policy_defaults(&p);
	r = cs_policy_parse(&p, "policy.conf", "require-signed = yes\0no\n", 24, err, sizeof(err));
	CHECK(r == CS_ERR_BAD_FORMAT && strstr(err, "NUL") != NULL, "a NUL byte: %s", err);

	big = malloc(70 * 1024);
	if (big != NULL) {
		memset(big, '#', 70 * 1024);
		big[70 * 1024 - 1] = '\0';
		r = parse(&p, big, err, sizeof(err));
		CHECK(r == CS_ERR_TOO_LARGE, "a file over 64 KiB: %s", err);
		big[5000] = '\0';
		r = parse(&p, big, err, sizeof(err));
		CHECK(r == CS_ERR_TOO_LARGE && strstr(err, "line too long") != NULL,
		      "a line over 4 KiB: %s", err);
		free(big);
	}

	/* The hardware test: allowlisted module and CKA_LOCAL, both. */
	cs_policy_defaults(&p);
	modules[0] = "/nonexistent/hw.so";
	p.hw_modules = modules;
	p.n_hw_modules = 1;
	CHECK(policy_key_is_hardware(&p, "/nonexistent/hw.so", CS_KID_LOCAL | CS_KID_SIGN, &why) == 1,
	      "allowlisted module, generated on the token: hardware");
	CHECK(policy_key_is_hardware(&p, "/nonexistent/hw.so", CS_KID_SIGN, &why) == 0 &&
	          strstr(why, "not generated on the token") != NULL,
	      "allowlisted module, imported key: soft (%s)", why);
	CHECK(policy_key_is_hardware(&p, "/nonexistent/soft.so", CS_KID_LOCAL, &why) == 0 &&
	          strstr(why, "allowlist") != NULL,
	      "generated on a token whose module is not allowlisted: soft (%s)", why);
	CHECK(policy_key_is_hardware(&p, NULL, CS_KID_LOCAL, &why) == 0 && strstr(why, "absent"),
	      "its token absent: cannot be checked, soft (%s)", why);
	p.hw_modules = NULL;
	p.n_hw_modules = 0;

	cs_policy_defaults(&p);
	CHECK(policy_cipher_negotiable(&p, POLICY_ENC_AES256_CBC, &why) == 1,
	      "no policy: a peer's needs may select CBC");
	p.negotiation = POLICY_NEG_NEVER;
	CHECK(policy_cipher_negotiable(&p, POLICY_ENC_AES256_CBC, &why) == 0 &&
	          strcmp(why, "algorithm-negotiation") == 0 &&
	          policy_cipher_negotiable(&p, POLICY_ENC_AES256_GCM, &why) == 1,
	      "negotiation never: CBC refused, GCM fine");
	p.encryption_algs = POLICY_ENC_AES256_CBC;
	CHECK(policy_cipher_negotiable(&p, POLICY_ENC_AES256_CBC, &why) == 1 &&
	          policy_cipher_negotiable(&p, POLICY_ENC_AES256_GCM, &why) == 0 &&
	          strcmp(why, "encryption-algorithms") == 0,
	      "CBC the only cipher allowed: it is no negotiation; GCM refused");

	r = cs_policy_load("/nonexistent/cardseal-policy.conf", &p, err, sizeof(err));
	CHECK(r == CS_ERR_NOT_FOUND || r == CS_ERR_PERMISSION,
	      "an explicit policy file that is missing is an error: %s", err);
	return tap_done();
}
