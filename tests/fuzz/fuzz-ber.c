/*
 * Fuzz target: the pull-based BER walker of the READ path on arbitrary
 * bytes. Every element is visited: constructed ones entered, OCTET STRINGs
 * and [0] contents streamed through ber_octets in odd-sized reads, the rest
 * captured (into a bounded buffer) or skipped, as the input's first byte
 * decides. The reader's buffer is tiny so that every refill path is taken.
 */
#include <stddef.h>
#include <stdint.h>

#include "ber.h"
#include "cs_buf.h"
#include "read_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned
next_choice(unsigned c)
{
	return c * 1103515245u + 12345u;
}

static int
walk(struct ber *b, unsigned *choice)
{
	struct ber_tlv t;
	struct ber_octets o;
	struct cs_buf cap;
	uint8_t buf[7];
	size_t n;
	int end, r;

	for (;;) {
		*choice = next_choice(*choice);
		if ((r = ber_at_end(b, &end)) != 0 || end)
			return r;
		if ((r = ber_next(b, &t)) != 0)
			return r;
		if ((t.id & ~BER_CONS_BIT) == BER_OCTETS || (t.id & ~BER_CONS_BIT) == BER_CTX(0)) {
			if ((r = ber_octets_init(&o, b, &t)) != 0)
				return r;
			do {
				if ((r = o.src.read(&o.src, buf, 1 + (*choice >> 8) % sizeof(buf),
				                    &n)) != 0)
					return r;
			} while (n > 0);
		} else if (t.cons && (*choice & 0x10000) == 0) {
			if ((r = ber_enter(b, &t)) != 0 || (r = walk(b, choice)) != 0 ||
			    (r = ber_leave(b)) != 0)
				return r;
		} else if ((*choice & 0x20000) != 0) {
			cs_buf_init(&cap, 4096);
			r = ber_capture(b, &t, &cap);
			cs_buf_clear(&cap);
			if (r != 0)
				return r;
		} else if ((r = ber_skip(b, &t)) != 0) {
			return r;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_mem_src m;
	struct rd_in in;
	struct ber b;
	unsigned choice;

	if (size == 0)
		return 0;
	choice = data[0];
	rd_mem_src_init(&m, data + 1, size - 1);
	if (rd_in_init(&in, &m.src, 32) != 0)
		return 0;
	ber_init(&b, &in);
	(void)walk(&b, &choice);
	rd_in_free(&in);
	return 0;
}
