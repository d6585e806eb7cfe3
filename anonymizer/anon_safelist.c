/*
 * anon_safelist.c - the free-text attributes (VR LO, LT, SH, ST, UT, UC or
 * PN) that PS3.15 Table E.1-1 does not list and that the engine keeps as
 * they are. Every other unlisted free-text attribute is cleaned with the
 * report scrubber (Clean Descriptors) or removed: nothing passes unread.
 *
 * The list is short on purpose. Each entry names equipment type or a term
 * of a controlled vocabulary, never something typed about a patient. The
 * reasons are in docs/deidentification.md; add an entry only with one.
 */
#include "anon_deid.h"

static const uint32_t safe_text[] = {
	/* controlled terminology: code sequences (PS3.3 8.8) */
	0x00080100, /* CodeValue (SH) */
	0x00080102, /* CodingSchemeDesignator (SH) */
	0x00080103, /* CodingSchemeVersion (SH) */
	0x00080104, /* CodeMeaning (LO) */
	0x00080119, /* LongCodeValue (UC) */
	/* equipment type (not identity: serial numbers, station names and
	 * the like are in Table E.1-1) */
	0x00080070, /* Manufacturer (LO) */
	0x00081090, /* ManufacturerModelName (LO) */
	0x00181020, /* SoftwareVersions (LO) */
	/* acquisition and display parameters set by the device */
	0x00180024, /* SequenceName (SH) */
	0x00181160, /* FilterType (SH) */
	0x00181210, /* ConvolutionKernel (SH) */
	0x00181250, /* ReceiveCoilName (SH) */
	0x00181251, /* TransmitCoilName (SH) */
	0x00189005, /* PulseSequenceName (SH) */
	0x00281054, /* RescaleType (LO) */
	0x00281055, /* WindowCenterWidthExplanation (LO) */
	0x00283003, /* LUTExplanation (LO) */
};

int anon_deid_safe_text(uint32_t tag)
{
	size_t i;

	for (i = 0; i < sizeof safe_text / sizeof safe_text[0]; i++)
		if (safe_text[i] == tag)
			return 1;
	return 0;
}
