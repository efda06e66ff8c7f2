/* Help texts of status, protect, sign, encrypt, read and data (the other command files carry their own). */
#include "help.h"

#include <string.h>

static const struct {
	const char *cmd;
	const char *text;
} texts[] = {
	{ "status",
	  "Usage: cardseal status [--json] [--watch]\n"
	  "\n"
	  "Your tokens (present or not, PIN state: count low, final try, locked), your\n"
	  "identities (certificates with their keys on tokens, also those whose card is out),\n"
	  "the admin policy in force.\n"
	  "\n"
	  "  --json    the engine's JSON, for scripts\n"
	  "  --watch   then print token and reader events as they happen, until interrupted\n" },
	{ "protect",
	  "Usage: cardseal protect [--sign] [--encrypt] [--no-sign] [--no-encrypt] [--opaque]\n"
	  "                        [--cbc] [--drop-missing] [--account ADDR]\n"
	  "                        [--report FILE | --json]\n"
	  "                        [IN [OUT]]\n"
	  "\n"
	  "Signs and/or encrypts an RFC 5322 message (IN, default standard input) as the\n"
	  "From: address (or ADDR) and writes the protected message to OUT (default standard\n"
	  "output; written only when everything succeeded). Without --sign or --encrypt the\n"
	  "account's settings decide (always sign, always encrypt). Encryption goes to every\n"
	  "To and Cc recipient and to you; each Bcc recipient gets a copy of their own\n"
	  "(OUT.bcc1, OUT.bcc2 ...).\n"
	  "\n"
	  "  --sign          sign (multipart/signed)\n"
	  "  --encrypt       encrypt (AES-256-GCM AuthEnvelopedData; AES-256-CBC when a\n"
	  "                  recipient's signed mail said it cannot read GCM and the\n"
	  "                  admin policy allows negotiation)\n"
	  "  --no-sign, --no-encrypt\n"
	  "                  without --sign/--encrypt: turn off an account default\n"
	  "  --opaque        signed as application/pkcs7-mime instead of multipart/signed\n"
	  "  --cbc           AES-256-CBC EnvelopedData, for peers without GCM (gpgsm 2.2)\n"
	  "  --drop-missing  leave out recipients without a certificate (and say who)\n"
	  "  --account ADDR  the account to sign and encrypt as\n"
	  "  --report FILE   the engine's JSON reply: what was applied and why, who was\n"
	  "                  left out, the outputs\n"
	  "  --json          that reply on standard output (OUT must then be a file)\n"
	  "\n"
	  "Exit status 4 names the recipients without a certificate.\n" },
	{ "sign", "Usage: cardseal sign [protect options] [IN [OUT]]\n"
	          "\n"
	          "The same as cardseal protect --sign; see cardseal protect --help.\n" },
	{ "encrypt", "Usage: cardseal encrypt [protect options] [IN [OUT]]\n"
	             "\n"
	             "The same as cardseal protect --encrypt; see cardseal protect --help.\n" },
	{ "read",
	  "Usage: cardseal read [--report FILE | --json] [IN [OUT]]\n"
	  "\n"
	  "Decrypts and verifies a message (any nesting of signed and encrypted layers) and\n"
	  "writes the innermost message to OUT, only when everything succeeded. Each layer is\n"
	  "described on standard error in plain words; valid signed mail may add the sender's\n"
	  "certificates to your store (the account's harvest setting).\n"
	  "\n"
	  "  --report FILE   the engine's JSON report (verdicts with reasons, layers)\n"
	  "  --json          the report on standard output (OUT must then be a file)\n"
	  "\n"
	  "Exit status 0 when every signature is valid (or there is none), 3 otherwise.\n" },
	{ "data",
	  "Usage: cardseal data sign [--detached] [--account ADDR] [IN [OUT]]\n"
	  "       cardseal data verify [--report FILE] [IN [OUT]]\n"
	  "       cardseal data encrypt [--cbc] [--account ADDR] --to ADDR... [IN [OUT]]\n"
	  "       cardseal data decrypt [IN [OUT]]\n"
	  "\n"
	  "CMS (DER) for scripts: SignedData, AuthEnvelopedData / EnvelopedData. The admin\n"
	  "policy may forbid these raw operations.\n" },
};

int
help_for(const char *cmd, FILE *out)
{
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		if (strcmp(texts[i].cmd, cmd) == 0) {
			fputs(texts[i].text, out);
			return 0;
		}
	}
	return -1;
}

int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}
