/*
 * anon_dicom_int.h - declarations shared by the files of the DICOM reader
 * and writer (anon_dicom_read.c, anon_dicom_write.c, anon_dicom_ds.c,
 * anon_charset.c). Not part of the public API.
 *
 * Must not use: anything but libc, rf_alloc, rf_buf, rf_err and anon_dict.
 */
#ifndef ANON_DICOM_INT_H
#define ANON_DICOM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "anon_dicom.h"

#define ANON__VR_SQ ANON_VR('S', 'Q')
#define ANON__VR_UN ANON_VR('U', 'N')
#define ANON__VR_OB ANON_VR('O', 'B')
#define ANON__VR_OW ANON_VR('O', 'W')
#define ANON__VR_UL ANON_VR('U', 'L')
#define ANON__VR_US ANON_VR('U', 'S')
#define ANON__VR_UI ANON_VR('U', 'I')
#define ANON__VR_SH ANON_VR('S', 'H')
#define ANON__VR_CS ANON_VR('C', 'S')
#define ANON__VR_LO ANON_VR('L', 'O')

#define ANON__TAG_ITEM ANON_TAG(0xfffe, 0xe000)
#define ANON__TAG_ITEM_END ANON_TAG(0xfffe, 0xe00d)
#define ANON__TAG_SEQ_END ANON_TAG(0xfffe, 0xe0dd)
#define ANON__TAG_PIXEL_DATA ANON_TAG(0x7fe0, 0x0010)
#define ANON__TAG_CHARSET ANON_TAG(0x0008, 0x0005)

/* Is vr one of the VRs of PS3.5 (2024)? */
int anon__vr_known(uint16_t vr);

/* Does vr use the 12-byte explicit header (2 reserved bytes, 32-bit
 * length)? True for OB OD OF OL OV OW SQ SV UC UN UR UT UV. */
int anon__vr_long(uint16_t vr);

/* Size of one value unit to byte-swap for vr (1 when nothing to swap). */
unsigned anon__vr_swap_unit(uint16_t vr);

/* Padding byte for vr: ' ' for text VRs, '\0' for UI and binary VRs. */
uint8_t anon__vr_pad(uint16_t vr);

/* Frees what el owns (value, items, fragments) and zeroes it. */
void anon__elem_release(struct anon_elem *el);

/* Appends a zeroed element with tag to ds (no sort), returning it, or NULL
 * on allocation failure (ds unchanged). The pointer is valid until ds is
 * next modified. */
struct anon_elem *anon__ds_append(struct anon_ds *ds, uint32_t tag);

/* Sorts ds by tag, keeping the order of equal tags. RF_ENOMEM leaves ds
 * as it was. */
enum rf_rc anon__ds_sort(struct anon_ds *ds, struct rf_err *e) RF_WUR;

/* Appends a zeroed item to sq and returns it, or NULL on allocation
 * failure. */
struct anon_ds *anon__elem_add_item(struct anon_elem *sq);

static inline uint16_t anon__rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t anon__rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint16_t anon__rd16be(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t anon__rd32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#endif
