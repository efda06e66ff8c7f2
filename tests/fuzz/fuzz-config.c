/* Fuzz target: cardseald.conf parsing on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_config c;
	char err[256];

	if (cs_config_defaults(&c, "/usr/libexec/cardseal-keyd") == 0)
		(void)cs_config_parse(&c, "fuzz", (const char *)data, size, err, sizeof(err));
	cs_config_clear(&c);
	return 0;
}
