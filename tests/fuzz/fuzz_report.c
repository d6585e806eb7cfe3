/*
 * fuzz_report.c - libFuzzer target for the French report scrubber.
 *
 * The first byte picks a date shift and a style; the rest is the report.
 * Every input must give RF_OK or RF_ETOOBIG (never a crash, a leak or an
 * out-of-bounds read), and the output must be valid UTF-8 without NUL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anon_report.h"
#include "rf_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t b = s[i];
		size_t len;
		uint32_t cp;

		if (b == 0)
			return 0;
		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b < 0xe0) {
			len = 2;
			cp = b & 0x1f;
		} else if (b >= 0xe0 && b < 0xf0) {
			len = 3;
			cp = b & 0x0f;
		} else if (b >= 0xf0 && b < 0xf5) {
			len = 4;
			cp = b & 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct anon_report_ctx c;
	struct anon_report_stats st;
	struct rf_buf out;
	struct rf_err e = {0};
	enum rf_rc rc;

	if (size == 0)
		return 0;
	anon_report_ctx_init(&c);
	c.date_shift_days = (int)(int8_t)data[0] * 400;
	c.style = data[0] & 1 ? ANON_REPORT_STYLE_GENERIC :
				ANON_REPORT_STYLE_TAG;
	if (anon_report_ctx_add_name(&c, "DUPONT^Jean-Pierre^^^Dr", &e) ||
	    anon_report_ctx_add_name(&c, "PETIT^Élodie", &e) ||
	    anon_report_ctx_add_id(&c, "A0042", &e))
		abort();
	/* a cap that the output sometimes exceeds */
	rf_buf_init(&out, 2 * size + 64);
	rc = anon_report_scrub(&c, (const char *)data + 1, size - 1, &out,
			       &st, &e);
	if (rc != RF_OK && rc != RF_ETOOBIG)
		abort();
	if (rc == RF_OK && !valid_utf8(out.data, out.len))
		abort();
	if (rc != RF_OK && out.len != 0)
		abort();
	rf_buf_release(&out);
	return 0;
}
