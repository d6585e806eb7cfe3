/* fuzz_dicom_read.c - libFuzzer target for the DICOM reader and writer.
 *
 * For every input, strict and lenient: parse; when parsing succeeds, walk
 * the tree decoding every text value, write it back, and require that the
 * output parses again (strictly) and can be written again. Any
 * crash, sanitizer report, leak or broken invariant is a finding.
 *
 * Build and run (clang only; see tests/fuzz/CMakeLists.txt):
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_dicom_read
 *   build-fuzz/tests/fuzz/fuzz_dicom_read -max_len=65536 -timeout=10 \
 *       tests/fuzz/corpus/dicom
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anon_dicom.h"
#include "rf_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum anon_walk decode_cb(struct anon_ds *ds, struct anon_elem *el,
				const struct anon_path *path, void *ctx)
{
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	enum rf_rc rc;

	(void)path;
	(void)ctx;
	if (el->vr != ANON_VR('S', 'Q') && !(el->flags & ANON_ELEM_ENCAP)) {
		rc = anon_ds_text(ds, el, &b, NULL);
		if (rc != RF_OK && rc != RF_ETOOBIG)
			abort();
	}
	rf_buf_release(&b);
	return ANON_WALK_NEXT;
}

static void one(const uint8_t *data, size_t size, unsigned flags)
{
	struct anon_read_opts o = {flags, 1 << 24, 1 << 16, 0};
	struct anon_dicom *d = NULL, *d2 = NULL;
	struct rf_buf out = RF_BUF_INIT((size_t)1 << 28);
	struct rf_buf out2 = RF_BUF_INIT((size_t)1 << 28);
	struct rf_err e = {0};

	if (anon_dicom_read(data, size, "fuzz.dcm", &o, &d, &e) != RF_OK) {
		if (d || !strstr(e.msg, "'fuzz.dcm'"))
			abort();
		return;
	}
	anon_ds_walk(&d->ds, decode_cb, NULL);
	if (anon_dicom_write_buf(d, &out, &e) == RF_OK) {
		o.flags = 0;
		o.max_elems = 0;
		if (anon_dicom_read(out.data, out.len, "out.dcm", &o, &d2,
				    &e) != RF_OK)
			abort();
		if (anon_dicom_write_buf(d2, &out2, &e) != RF_OK)
			abort();
		/* the bytes may differ: a UN value the first read could not
		 * take as a sequence can become one once padded to even */
	}
	anon_dicom_destroy(d2);
	anon_dicom_destroy(d);
	rf_buf_release(&out);
	rf_buf_release(&out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, ANON_READ_LENIENT);
	return 0;
}
