/*
 * anon_dicom.h - DICOM Part 10 reader and writer, and the dataset tree the
 * de-identification engine edits.
 *
 * The reader parses a whole file held in memory into a tree of datasets
 * (struct anon_ds) and elements (struct anon_elem). Values are not copied:
 * an element's value points into the input buffer (or into a buffer the
 * reader owns for deflated and big-endian input), so parsing a large image
 * costs a few allocations, whatever the pixel data size. Every length, count
 * and offset read from the file is checked against the bytes left before it
 * is used; nesting depth and element count are bounded.
 *
 * Transfer syntaxes read: Implicit VR Little Endian, Explicit VR Little
 * Endian, Explicit VR Big Endian (the reader copies the input once and swaps
 * every multi-byte value to little-endian in that copy, so after parsing
 * all values are little-endian whatever the file was), Deflated Explicit VR
 * Little Endian (inflated into an owned buffer, bounded by the caller), and
 * every encapsulated syntax (JPEG, JPEG-LS, JPEG 2000, RLE, ...: the basic
 * offset table and the fragments are kept byte-exact). Files without the
 * 128-byte preamble and "DICM" are read as bare datasets: a leading file
 * meta group (0002,xxxx) is honoured; otherwise the encoding is guessed from
 * the first element as dcmtk does (bytes 4-5 two upper-case letters forming
 * a known VR: explicit VR, else implicit VR; the byte order whose group
 * number is the smaller one wins).
 *
 * The file meta group is read as Explicit VR Little Endian (or implicit VR
 * when its first element shows it); its group length (0002,0000) is not
 * relied upon: the group ends at the first element outside group 0002, as
 * in pydicom and dcmtk, so a wrong group length cannot misplace the
 * dataset. A Transfer Syntax UID (0002,0010) that is missing or not a UID
 * is guessed as for bare datasets. Group 0002 elements found later in the
 * dataset are kept there but never written.
 *
 * Implicit VR: each element's VR comes from the data dictionary
 * (anon_dict.h); private creators are LO, other private and unknown
 * elements UN, "OB or OW" is OW, and "US or SS" is SS when the Pixel
 * Representation (0028,0103) read before it is 1 (except LUT and palette
 * descriptors, always US), as dcmtk and pydicom resolve them.
 *
 * Leniency: odd value lengths are accepted as found (real files have them;
 * the writer pads them to even). A dataset whose first element does not
 * match the announced VR encoding is read with the encoding it actually
 * uses, as pydicom and dcmtk do. A stray sequence delimiter of length 0 at
 * the top level is skipped; an undefined-length item closed by a sequence
 * delimiter instead of an item delimiter ends there. Truncated input fails
 * with RF_EPROTO unless ANON_READ_LENIENT is given: then every element read
 * completely before the data ran out is kept (a sequence cut short keeps
 * its complete items), the element being read is dropped, and `truncated` is
 * set; input with nothing readable gives an empty, truncated dataset.
 *
 * The writer always produces a Part 10 file: 128 zero bytes, "DICM", a new
 * file meta group and the dataset in Explicit VR Little Endian (encapsulated
 * pixel data keeps its fragments and its transfer syntax UID). Sequences
 * and items are written with undefined length. Group length elements
 * (gggg,0000) outside group 0002 are retired and are not written. In a
 * DICOMDIR, the record offsets (0004,1200), (0004,1202), (0004,1400) and
 * (0004,1420) are rewritten to point to the same records in the output
 * (to 0, "no record", when the record they named is not there).
 *
 * Text: anon_ds_text() decodes values of a dataset to UTF-8 following its
 * Specific Character Set (0008,0005); anon_ds_set_text() encodes UTF-8 back.
 *
 * Thread safety: a struct anon_dicom and its tree belong to one thread at a
 * time; distinct objects may be used concurrently.
 *
 * Must not use: anything but libc, zlib, iconv (libc), rf_alloc, rf_buf,
 * rf_err and anon_dict.
 */
#ifndef ANON_DICOM_H
#define ANON_DICOM_H

#include <iconv.h>
#include <stddef.h>
#include <stdint.h>

#include "anon_dict.h"
#include "rf_buf.h"
#include "rf_err.h"

/* radfed's Implementation Class UID (0002,0012): 2.25 + a UUID drawn once. */
#define ANON_IMPL_CLASS_UID "2.25.255545912108399753979693398825475284935"
/* Implementation Version Name (0002,0013). */
#define ANON_IMPL_VERSION "RADFED_010"

#define ANON_TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define ANON_TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define ANON_TS_DEFLATED_LE "1.2.840.10008.1.2.1.99"
#define ANON_TS_EXPLICIT_BE "1.2.840.10008.1.2.2"

/* Undefined length (0xFFFFFFFF) as found in headers. */
#define ANON_UNDEF_LEN 0xffffffffu

/* ---- the tree ----------------------------------------------------------- */

struct anon_elem;

/* A dataset: elements in ascending tag order (the reader sorts a dataset it
 * finds out of order; duplicate tags keep their file order). */
struct anon_ds {
	struct anon_elem *elems;
	size_t n;
	size_t cap;
	uint8_t charset; /* enum anon_charset in effect for this dataset */
	size_t offset;   /* items: offset of the item tag in the parsed data */
};

/* One fragment of encapsulated pixel data (the first one is the basic
 * offset table, possibly empty). */
struct anon_frag {
	const uint8_t *val;
	size_t len;
	uint8_t *owned; /* non-NULL when val is a copy this fragment owns */
};

/* Element flags. */
#define ANON_ELEM_OWNED 0x01 /* val points to `owned` (freed with the tree) */
#define ANON_ELEM_ENCAP 0x02 /* encapsulated: value in frags, not val */

/* One data element. For VR SQ the value is `items`; for encapsulated pixel
 * data it is `frags`; otherwise it is len bytes at val (little-endian,
 * not padded beyond what the file had, not NUL-terminated). */
struct anon_elem {
	uint32_t tag;
	uint16_t vr;  /* ANON_VR('P','N') ...; never ANON_VR_NONE */
	uint8_t flags;
	const uint8_t *val;
	size_t len;
	uint8_t *owned;
	struct anon_ds *items; /* SQ: nitems datasets */
	size_t nitems;
	size_t items_cap;
	struct anon_frag *frags; /* encapsulated: nfrags fragments */
	size_t nfrags;
	size_t offset; /* byte offset of the header in the parsed data */
};

/* A parsed file: its file meta group and its dataset. */
struct anon_dicom {
	struct anon_ds meta; /* group 0002 as read (empty for bare datasets) */
	struct anon_ds ds;   /* the dataset */
	char ts_uid[65];     /* transfer syntax the dataset was read with */
	uint8_t encapsulated; /* 1 if ts_uid is an encapsulated syntax */
	uint8_t truncated;    /* 1 if a lenient read stopped early */
	uint8_t *data;        /* owned copy (deflated, big-endian) or NULL */
	size_t data_len;
	uint8_t *file;        /* owned file contents (anon_dicom_read_file) */
	size_t file_len;
};

/* ---- reading ------------------------------------------------------------ */

#define ANON_READ_LENIENT 0x01 /* keep what was read before a truncation */

struct anon_read_opts {
	unsigned flags;       /* ANON_READ_* */
	size_t max_inflated;  /* deflated input: limit on inflated bytes */
	size_t max_elems;     /* limit on elements, items and fragments */
	unsigned max_depth;   /* limit on sequence nesting, at most
			       * ANON_PATH_MAX */
};

/* Defaults used when opts is NULL or a field is 0. */
#define ANON_READ_MAX_INFLATED ((size_t)1 << 30)
#define ANON_READ_MAX_ELEMS ((size_t)1 << 20)
#define ANON_READ_MAX_DEPTH 64u

/* Parses len bytes at buf; name (a file name, not NULL) appears in error
 * messages, which also give the tag and byte offset of the problem, e.g.
 * "'x.dcm': (0010,0010) at offset 1234: value length 4294967200 exceeds the
 * 482 bytes left" (offsets count from the start of buf, or of the inflated
 * data for deflated input; struct anon_elem.offset likewise). On success
 * *out is a new tree (free with anon_dicom_destroy) that BORROWS buf: buf
 * must stay valid and unchanged until the tree is destroyed. On failure
 * *out is NULL and nothing is allocated. Thread-safe for distinct trees
 * (buf itself is only read). Errors: RF_EPROTO malformed or truncated
 * input (or nesting deeper than max_depth), RF_ETOOBIG inflated data over
 * max_inflated or more than max_elems elements, RF_EINVAL bad arguments,
 * RF_ENOMEM. */
enum rf_rc anon_dicom_read(const uint8_t *buf, size_t len, const char *name,
			   const struct anon_read_opts *opts,
			   struct anon_dicom **out, struct rf_err *e) RF_WUR;

/* Reads the file at path (at most max_size bytes, else RF_ETOOBIG) and
 * parses it as anon_dicom_read() does; the tree owns the file contents.
 * RF_EIO when the file cannot be read. On failure *out is NULL. */
enum rf_rc anon_dicom_read_file(const char *path, size_t max_size,
				const struct anon_read_opts *opts,
				struct anon_dicom **out, struct rf_err *e)
	RF_WUR;

/* A new, empty file (no meta group, empty dataset, Explicit VR Little
 * Endian) to fill with the editing functions below. RF_ENOMEM on failure,
 * *out NULL. */
enum rf_rc anon_dicom_create(struct anon_dicom **out, struct rf_err *e)
	RF_WUR;

/* Frees the tree, every owned value and owned buffer. Accepts NULL. */
void anon_dicom_destroy(struct anon_dicom *d);

/* ---- writing ------------------------------------------------------------ */

/* Appends the Part 10 encoding of d to out (see the top comment): preamble,
 * "DICM", a new meta group with (0002,0000) computed, (0002,0001) 00\01,
 * (0002,0002)/(0002,0003) from (0008,0016)/(0008,0018) of the dataset (from
 * the old meta group when the dataset lacks them; omitted when neither has
 * them), (0002,0010) Explicit VR LE or the encapsulated syntax, and
 * (0002,0012)/(0002,0013) of radfed. Every value is padded to even length
 * (space for text VRs, NUL for UI and binary VRs). Values too long for a
 * 16-bit length field are written as UN. On failure out keeps what it held
 * before (RF_ETOOBIG when its cap is too small, RF_ENOMEM). */
enum rf_rc anon_dicom_write_buf(const struct anon_dicom *d,
				struct rf_buf *out, struct rf_err *e) RF_WUR;

/* Writes d to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. The file gets mode 0600
 * (its content is patient-derived). On failure (RF_EIO, RF_ENOMEM) path is
 * untouched and no temporary file is left. */
enum rf_rc anon_dicom_write_file(const struct anon_dicom *d, const char *path,
				 struct rf_err *e) RF_WUR;

/* ---- finding and editing ------------------------------------------------ */

/* The first element with this tag in ds (not in its sequences), or NULL.
 * The pointer is valid until ds is next modified. O(log n). */
struct anon_elem *anon_ds_find(const struct anon_ds *ds, uint32_t tag);

/* Number of elements of ds itself; anon_ds_count_all also counts the
 * elements of every item of every sequence, recursively. */
size_t anon_ds_count(const struct anon_ds *ds);
size_t anon_ds_count_all(const struct anon_ds *ds);

/* Removes every element with this tag from ds (and frees its value and
 * items). Returns the number removed. */
size_t anon_ds_remove(struct anon_ds *ds, uint32_t tag);

/* Removes every element of ds whose group g satisfies (g & mask) ==
 * (group & mask): mask 0xff00 with group 0x6000 removes the overlay groups
 * 60xx. Only ds itself, not its sequences. Returns the number removed. */
size_t anon_ds_remove_group(struct anon_ds *ds, uint16_t group,
			    uint16_t mask);

/* Set or replace the value of tag in ds with an owned copy (an existing
 * element with this tag is replaced in place, keeping its position; its old
 * value, items and fragments are freed). The value is stored as given; the
 * writer pads it to even length. vr must be two upper-case letters and not
 * SQ. On failure (RF_EINVAL, RF_ENOMEM) ds is unchanged. */
enum rf_rc anon_ds_set_bytes(struct anon_ds *ds, uint32_t tag, uint16_t vr,
			     const void *p, size_t n, struct rf_err *e) RF_WUR;
/* The bytes of the C string s (no encoding), e.g. for UI, CS, DA values. */
enum rf_rc anon_ds_set_str(struct anon_ds *ds, uint32_t tag, uint16_t vr,
			   const char *s, struct rf_err *e) RF_WUR;
/* UTF-8 text s encoded into the character set of ds (see anon_charset). */
enum rf_rc anon_ds_set_text(struct anon_ds *ds, uint32_t tag, uint16_t vr,
			    const char *s, struct rf_err *e) RF_WUR;
/* One US value, or one UL value, little-endian. */
enum rf_rc anon_ds_set_u16(struct anon_ds *ds, uint32_t tag, uint16_t v,
			   struct rf_err *e) RF_WUR;
enum rf_rc anon_ds_set_u32(struct anon_ds *ds, uint32_t tag, uint32_t v,
			   struct rf_err *e) RF_WUR;

/* Adds an empty sequence element tag (VR SQ, no items) to ds, or finds the
 * existing one (RF_EINVAL when it exists and is not SQ). *out (optional)
 * points to it until ds is next modified. */
enum rf_rc anon_ds_add_seq(struct anon_ds *ds, uint32_t tag,
			   struct anon_elem **out, struct rf_err *e) RF_WUR;

/* Inserts an empty item at position index (0..nitems) of the sequence sq
 * and sets *out (optional) to it, valid until sq is next modified. The item
 * inherits the character set of parent (the dataset holding sq; may be
 * NULL for the default repertoire). RF_EINVAL when sq is not SQ or index is
 * beyond the end; on failure sq is unchanged. */
enum rf_rc anon_elem_insert_item(struct anon_elem *sq, size_t index,
				 const struct anon_ds *parent,
				 struct anon_ds **out, struct rf_err *e) RF_WUR;

/* Removes item index of the sequence sq (no-op when out of range). */
void anon_elem_remove_item(struct anon_elem *sq, size_t index);

/* The creator string of a private element (gggg,xxyy), odd gggg and
 * xx >= 0x10: the value of (gggg,00xx) in ds, trailing spaces and NULs
 * removed. Returns a pointer into the tree (not NUL-terminated) and its
 * length in *len, or NULL when tag is not a private data element or ds has
 * no such creator. */
const char *anon_ds_private_creator(const struct anon_ds *ds, uint32_t tag,
				    size_t *len);

/* Releases everything ds holds (elements, values, items) and leaves it
 * empty. Accepts NULL. */
void anon_ds_clear(struct anon_ds *ds);

/* ---- iteration ---------------------------------------------------------- */

/* Where an element sits: at depth 0 the element is in the top dataset;
 * at depth d >= 1 it is in item item[d-1] of the sequence seq[d-1], itself
 * in the dataset one level up. */
#define ANON_PATH_MAX 64
struct anon_path {
	unsigned depth;
	uint32_t seq[ANON_PATH_MAX];
	size_t item[ANON_PATH_MAX];
};

/* What the callback asks for next. */
enum anon_walk {
	ANON_WALK_NEXT = 0, /* go on, into the items if the element is SQ */
	ANON_WALK_SKIP,     /* go on, but not into this element's items */
	ANON_WALK_STOP,     /* stop the walk now */
};

/* Called for each element, parents before their items. ds is the dataset
 * holding el. The callback may modify el's value but must not add or
 * remove elements of ds (collect tags and remove them after the walk). */
typedef enum anon_walk (*anon_walk_fn)(struct anon_ds *ds,
				       struct anon_elem *el,
				       const struct anon_path *path,
				       void *ctx);

/* Walks ds in tag order, recursing into sequences (depth-first). Returns
 * 1 when the callback stopped the walk, else 0. Sequences nested deeper
 * than ANON_PATH_MAX are not entered (the reader never builds them). */
int anon_ds_walk(struct anon_ds *ds, anon_walk_fn fn, void *ctx);

/* ---- character sets ----------------------------------------------------- */

/* The character sets of (0008,0005) the decoder knows. */
enum anon_charset {
	ANON_CS_DEFAULT = 0, /* ISO_IR 6 / empty: ASCII */
	ANON_CS_LATIN1,      /* ISO_IR 100 (ISO 8859-1) */
	ANON_CS_UTF8,        /* ISO_IR 192 */
	ANON_CS_LATIN2,      /* ISO_IR 101 */
	ANON_CS_LATIN3,      /* ISO_IR 109 */
	ANON_CS_LATIN4,      /* ISO_IR 110 */
	ANON_CS_CYRILLIC,    /* ISO_IR 144 */
	ANON_CS_ARABIC,      /* ISO_IR 127 */
	ANON_CS_GREEK,       /* ISO_IR 126 */
	ANON_CS_HEBREW,      /* ISO_IR 138 */
	ANON_CS_LATIN5,      /* ISO_IR 148 */
	ANON_CS_THAI,        /* ISO_IR 166 */
	ANON_CS_LATIN9,      /* ISO_IR 203 */
	ANON_CS_GB18030,     /* GB18030 */
	ANON_CS_GBK,         /* GBK */
	ANON_CS_ISO2022,     /* "ISO 2022 IR ..." code extensions */
	ANON_CS_ISO2022_LATIN1, /* the same, starting with ISO 2022 IR 100 */
	ANON_CS_ISO2022_JIS,    /* the same, starting with ISO 2022 IR 13 */
	ANON_CS_UNKNOWN,     /* a term this decoder does not know */
	ANON_CS_COUNT_
};

/* The charset named by a (0008,0005) value (raw bytes, backslash-separated
 * values, padding ignored). Several values mean ISO 2022 code extensions.
 * NULL or empty gives ANON_CS_DEFAULT. */
enum anon_charset anon_charset_parse(const uint8_t *p, size_t n);

/* Does VR vr hold text in the dataset's character set (SH, LO, ST, LT, UC,
 * UT, PN)? Other string VRs use the default repertoire. */
int anon_vr_is_text(uint16_t vr);

/* Appends the UTF-8 decoding of n bytes at p in charset cs to out (no
 * padding removed). Never fails on content: bytes that are invalid or that
 * the charset cannot map become U+FFFD. ISO 2022 code extensions follow
 * the escape sequences of PS3.3 C.12.1.1.2: ASCII and JIS X 0201 Romaji,
 * JIS X 0208 and 0212, JIS X 0201 Katakana, KS X 1001, GB 2312 and the
 * ISO 8859 parts in G1 all decode; a value starting in ISO 2022 IR 13 or
 * IR 100 starts with that G1 set, any other with none (its non-ASCII bytes
 * before an escape become U+FFFD). Single-byte ISO 8859 sets, GB18030, GBK
 * and the multi-byte ISO 2022 sets go through iconv(3); where iconv lacks
 * a converter, non-ASCII bytes become U+FFFD. Errors: RF_ETOOBIG
 * (out's cap), RF_ENOMEM; out is unchanged on failure. */
enum rf_rc anon_charset_decode(enum anon_charset cs, const uint8_t *p,
			       size_t n, struct rf_buf *out, struct rf_err *e)
	RF_WUR;

/* Appends the encoding of the UTF-8 string s (n bytes) in charset cs to
 * out. Characters cs cannot represent (and invalid UTF-8) become '?'; for
 * ISO 2022 sets and unknown ones only ASCII is written. Errors as for
 * anon_charset_decode. */
enum rf_rc anon_charset_encode(enum anon_charset cs, const char *s, size_t n,
			       struct rf_buf *out, struct rf_err *e) RF_WUR;

/* Keeps iconv(3) converters loaded. glibc loads a converter module on the
 * first iconv_open() of its charset and unloads it soon after the last
 * descriptor closes, so decoding files whose charsets alternate (Greek,
 * then Japanese, then Greek...) loaded and unloaded a module for each
 * value, about 0.2 ms each time. A hold keeps one descriptor open per
 * converter the charsets it was given need, so that every later
 * iconv_open() of the same charset finds the module loaded. It changes no
 * result: decoding and encoding work the same with or without it. */
#define ANON_CHARSET_HOLD_SLOTS 15
struct anon_charset_hold {
	iconv_t cd[ANON_CHARSET_HOLD_SLOTS]; /* (iconv_t)-1: not open */
	uint32_t tried;                      /* slots already opened once */
};

/* Makes h hold nothing. Cannot fail. */
void anon_charset_hold_init(struct anon_charset_hold *h);

/* Opens, once per slot, the converters that decoding text in charset cs
 * uses: its own for the iconv charsets, those of EUC-JP, EUC-KR and
 * GB 2312 for the ISO 2022 code extensions (EUC-JP only for a value
 * starting in ISO 2022 IR 13), none for the charsets decoded without
 * iconv. Best effort, never fails: a converter that cannot be opened is
 * not tried again. Not thread-safe: one hold per thread. */
void anon_charset_hold_add(struct anon_charset_hold *h, enum anon_charset cs);

/* Closes every descriptor h holds; h then holds nothing (and may be used
 * again). Accepts NULL. */
void anon_charset_hold_release(struct anon_charset_hold *h);

/* Appends the value of el, decoded to UTF-8 with the charset of ds for text
 * VRs (ASCII for other VRs), without trailing spaces and NULs, to out.
 * RF_EINVAL for SQ and encapsulated elements. */
enum rf_rc anon_ds_text(const struct anon_ds *ds, const struct anon_elem *el,
			struct rf_buf *out, struct rf_err *e) RF_WUR;

/* Formats a tag as "(gggg,eeee)" into buf (at least 12 bytes); returns
 * buf. */
char *anon_tag_str(uint32_t tag, char *buf);

#endif
