/*
 * trn_model.c - the model registry and the built-in architectures,
 * cnn-small and resnet-mini (layer tables: docs/training.md).
 *
 * Layer names are those of the PyTorch mirror (tests/ref/torch_models.py)
 * with the last "." of a state_dict key turned into "/": PyTorch's
 * "block1.conv.weight" is our parameter "block1.conv/weight", and
 * "layer2.down.norm.bias" is "layer2.down.norm/bias". Convolutions carry no
 * bias: every one is followed by a group norm, whose shift makes a bias
 * redundant (as in torchvision's ResNets).
 */
#include "trn.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define IN_SIDE_MIN 64
#define IN_SIDE_MAX 256
#define CLASSES_MAX 4096
/* Registrations beyond the built-ins. */
#define EXTRA_MAX 16

/* Channels of the four blocks (cnn-small) or stages (resnet-mini). */
static const unsigned widths[4] = {16, 32, 64, 128};

/* ---- shared pieces ---------------------------------------------------- */

/* Group norm groups: 16 channels per group (oneDNN's 16-channel blocks on
 * AVX-512), at least one group. */
static unsigned norm_groups(unsigned channels)
{
	return channels / 16 ? channels / 16 : 1;
}

/* The input range both built-ins accept: one channel, 64 to 256 pixels a
 * side (four halvings leave at least 4x4; the top bounds the memory of a
 * step). */
static enum rf_rc check_common(const char *arch,
			       const struct trn_model_spec *s,
			       struct rf_err *e)
{
	if (s->channels != 1)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' takes 1 input channel, not %u", arch,
				  s->channels);
	if (s->height < IN_SIDE_MIN || s->height > IN_SIDE_MAX ||
	    s->width < IN_SIDE_MIN || s->width > IN_SIDE_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' takes inputs from %ux%u to %ux%u, "
				  "not %ux%u",
				  arch, IN_SIDE_MIN, IN_SIDE_MIN, IN_SIDE_MAX,
				  IN_SIDE_MAX, s->height, s->width);
	return RF_OK;
}

/* conv (no bias) -> group norm [-> relu]: "<prefix>.conv<sfx>",
 * "<prefix>.norm<sfx>". */
static enum rf_rc conv_norm(struct trn_net *n, const char *prefix,
			    const char *sfx, int in, unsigned channels,
			    unsigned kernel, unsigned stride, bool relu,
			    int *out, struct rf_err *e)
{
	char name[48];
	enum rf_rc rc;
	int t = in;

	snprintf(name, sizeof name, "%s.conv%s", prefix, sfx);
	rc = trn_net_conv(n, name, t, channels, kernel, stride, kernel / 2,
			  false, &t, e);
	if (rc)
		return rc;
	snprintf(name, sizeof name, "%s.norm%s", prefix, sfx);
	rc = trn_net_norm(n, name, t, norm_groups(channels), &t, e);
	if (rc)
		return rc;
	if (relu) {
		rc = trn_net_relu(n, t, &t, e);
		if (rc)
			return rc;
	}
	*out = t;
	return RF_OK;
}

/* global pooling (max when gmp, else average) -> dropout (when p > 0) ->
 * fc "fc" -> loss. */
static enum rf_rc head(struct trn_net *n, int in, bool gmp,
		       const struct trn_model_spec *s, enum trn_loss loss,
		       const float *class_weights, struct rf_err *e)
{
	enum rf_rc rc;
	int t = in;

	rc = gmp ? trn_net_gmp(n, t, &t, e) : trn_net_gap(n, t, &t, e);
	if (!rc && s->dropout > 0)
		rc = trn_net_dropout(n, t, s->dropout, &t, e);
	if (!rc)
		rc = trn_net_fc(n, "fc", t, s->classes, &t, e);
	if (!rc)
		rc = trn_net_loss(n, t, loss, class_weights, e);
	return rc;
}

/* ---- cnn-small -------------------------------------------------------- */

static enum rf_rc cnn_small_check(const struct trn_model_spec *s,
				  struct rf_err *e)
{
	return check_common("cnn-small", s, e);
}

/* block<i>: conv3x3 s1 p1 -> gn -> relu -> maxpool 2x2 s2; then global
 * max pooling: the classifier asks whether a finding is present anywhere,
 * and an average over the whole image dilutes a small finding (version 1
 * averaged, and needed several times more steps to find nodules of a few
 * pixels). */
static enum rf_rc cnn_small_build(struct trn_net *n,
				  const struct trn_model_spec *s,
				  enum trn_loss loss,
				  const float *class_weights, struct rf_err *e)
{
	enum rf_rc rc;
	int t = TRN_NET_INPUT;

	for (unsigned i = 0; i < 4; i++) {
		char prefix[16];

		snprintf(prefix, sizeof prefix, "block%u", i + 1);
		rc = conv_norm(n, prefix, "", t, widths[i], 3, 1, true, &t, e);
		if (!rc)
			rc = trn_net_maxpool(n, t, 2, 2, 0, &t, e);
		if (rc)
			return rc;
	}
	return head(n, t, true, s, loss, class_weights, e);
}

static const struct trn_model_vtable cnn_small = {
	.abi_version = TRN_MODEL_ABI_VERSION,
	.name = "cnn-small",
	.arch_version = 2,
	.summary = "4 conv blocks (16-128 channels, group norm), "
		   "98k parameters",
	.check = cnn_small_check,
	.build = cnn_small_build,
};

/* ---- resnet-mini ------------------------------------------------------ */

static enum rf_rc resnet_mini_check(const struct trn_model_spec *s,
				    struct rf_err *e)
{
	return check_common("resnet-mini", s, e);
}

/*
 * layer<i>: conv1 3x3 stride s -> norm1 -> relu -> conv2 3x3 -> norm2,
 * plus the shortcut: identity, or down.conv 1x1 stride s -> down.norm when
 * the shape changes; then relu.
 */
static enum rf_rc basic_block(struct trn_net *n, const char *prefix, int in,
			      unsigned in_channels, unsigned channels,
			      unsigned stride, int *out, struct rf_err *e)
{
	char down[24];
	enum rf_rc rc;
	int t = in, sc = in;

	rc = conv_norm(n, prefix, "1", t, channels, 3, stride, true, &t, e);
	if (!rc)
		rc = conv_norm(n, prefix, "2", t, channels, 3, 1, false, &t, e);
	if (!rc && (stride != 1 || in_channels != channels)) {
		snprintf(down, sizeof down, "%s.down", prefix);
		rc = conv_norm(n, down, "", in, channels, 1, stride, false,
			       &sc, e);
	}
	if (!rc)
		rc = trn_net_add(n, t, sc, &t, e);
	if (!rc)
		rc = trn_net_relu(n, t, &t, e);
	if (!rc)
		*out = t;
	return rc;
}

/* stem.conv 3x3 s2 p1 -> stem.norm -> relu -> maxpool 3x3 s2 p1 ->
 * layer1..layer4 (strides 1, 2, 2, 2) -> head. */
static enum rf_rc resnet_mini_build(struct trn_net *n,
				    const struct trn_model_spec *s,
				    enum trn_loss loss,
				    const float *class_weights,
				    struct rf_err *e)
{
	static const unsigned strides[4] = {1, 2, 2, 2};
	unsigned in_channels = widths[0];
	enum rf_rc rc;
	int t = TRN_NET_INPUT;

	rc = conv_norm(n, "stem", "", t, widths[0], 3, 2, true, &t, e);
	if (!rc)
		rc = trn_net_maxpool(n, t, 3, 2, 1, &t, e);
	for (unsigned i = 0; !rc && i < 4; i++) {
		char prefix[16];

		snprintf(prefix, sizeof prefix, "layer%u", i + 1);
		rc = basic_block(n, prefix, t, in_channels, widths[i],
				 strides[i], &t, e);
		in_channels = widths[i];
	}
	if (rc)
		return rc;
	return head(n, t, false, s, loss, class_weights, e);
}

static const struct trn_model_vtable resnet_mini = {
	.abi_version = TRN_MODEL_ABI_VERSION,
	.name = "resnet-mini",
	.arch_version = 1,
	.summary = "narrow ResNet-10 (stem, 4 basic blocks of 16-128 "
		   "channels, group norm), 0.31M parameters",
	.check = resnet_mini_check,
	.build = resnet_mini_build,
};

/* ---- the registry ----------------------------------------------------- */

static const struct trn_model_vtable *const builtins[] = {
	&cnn_small,
	&resnet_mini,
	NULL,
};

/*
 * The one global of trainers/: architectures registered at run time, after
 * the built-ins. Written only by trn_model_register(), which callers run
 * before starting threads (main(), tests); read by the lookups below.
 */
static const struct trn_model_vtable *extras[EXTRA_MAX];

const struct trn_model_vtable *trn_model_at(size_t i)
{
	size_t nb = sizeof builtins / sizeof builtins[0] - 1;

	if (i < nb)
		return builtins[i];
	i -= nb;
	return i < EXTRA_MAX ? extras[i] : NULL;
}

const struct trn_model_vtable *trn_model_find(const char *name)
{
	const struct trn_model_vtable *vt;

	if (!name)
		return NULL;
	for (size_t i = 0; (vt = trn_model_at(i)) != NULL; i++)
		if (strcmp(vt->name, name) == 0)
			return vt;
	return NULL;
}

enum rf_rc trn_model_register(const struct trn_model_vtable *vt,
			      struct rf_err *e)
{
	size_t i;

	if (!vt)
		return rf_err_set(e, RF_EINVAL, "no model vtable");
	if (vt->abi_version != TRN_MODEL_ABI_VERSION)
		return rf_err_set(e, RF_EUNSUPPORTED,
				  "model '%s': abi version %u, this build "
				  "knows %u",
				  vt->name ? vt->name : "?", vt->abi_version,
				  TRN_MODEL_ABI_VERSION);
	if (!vt->name || !vt->name[0] || !vt->build)
		return rf_err_set(e, RF_EINVAL, "model '%s': %s",
				  vt->name ? vt->name : "",
				  vt->name && vt->name[0] ? "no build method"
							  : "no name");
	if (trn_model_find(vt->name))
		return rf_err_set(e, RF_EEXIST,
				  "model '%s' is already registered",
				  vt->name);
	for (i = 0; i < EXTRA_MAX && extras[i]; i++)
		;
	if (i == EXTRA_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "cannot register model '%s': %d models "
				  "registered already",
				  vt->name, EXTRA_MAX);
	extras[i] = vt;
	return RF_OK;
}

/* "cnn-small, resnet-mini, ..." into buf (truncated to fit). */
static void known_names(char *buf, size_t size)
{
	const struct trn_model_vtable *vt;
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; (vt = trn_model_at(i)) != NULL; i++) {
		int k = snprintf(buf + len, size - len, "%s%s",
				 i ? ", " : "", vt->name);

		if (k < 0 || (size_t)k >= size - len)
			break;
		len += (size_t)k;
	}
}

static enum rf_rc spec_check(const char *name,
			     const struct trn_model_spec *s, unsigned batch,
			     struct rf_err *e)
{
	if (s->classes < 2 || s->classes > CLASSES_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "model '%s': %u classes, need 2 to %u", name,
				  s->classes, CLASSES_MAX);
	/* written so that NaN fails too */
	if (!(s->dropout >= 0 && s->dropout < 1))
		return rf_err_set(e, RF_EINVAL,
				  "model '%s': dropout %g outside [0, 1)",
				  name, (double)s->dropout);
	if (batch < 1 || batch > TRN_NET_DIM_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "model '%s': batch %u outside 1 to %u", name,
				  batch, TRN_NET_DIM_MAX);
	return RF_OK;
}

enum rf_rc trn_model_build(const char *name, const struct trn_model_spec *s,
			   unsigned batch, enum trn_loss loss,
			   const float *class_weights, uint64_t seed,
			   struct trn_net **out, struct rf_err *e)
{
	const struct trn_model_vtable *vt;
	struct trn_net *n = NULL;
	struct trn_net_shape in;
	char known[200];
	enum rf_rc rc;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for model '%s'",
				  name ? name : "");
	*out = NULL;
	if (!name || !s)
		return rf_err_set(e, RF_EINVAL, "no model name or spec");
	vt = trn_model_find(name);
	if (!vt) {
		known_names(known, sizeof known);
		return rf_err_set(e, RF_ENOTFOUND,
				  "unknown model '%s' (known: %s)", name,
				  known);
	}
	if (vt->abi_version != TRN_MODEL_ABI_VERSION || !vt->build)
		return rf_err_set(e, RF_EUNSUPPORTED,
				  "model '%s': abi version %u, this build "
				  "knows %u",
				  name, vt->abi_version, TRN_MODEL_ABI_VERSION);
	rc = spec_check(name, s, batch, e);
	if (rc)
		return rc;
	if (vt->check) {
		rc = vt->check(s, e);
		if (rc)
			return rc;
	}
	in.batch = batch;
	in.channels = s->channels;
	in.height = s->height;
	in.width = s->width;
	rc = trn_net_create(&in, seed, &n, e);
	if (rc)
		return rc;
	rc = vt->build(n, s, loss, class_weights, e);
	if (rc) {
		rf_err_prefix(e, "model '%s'", name);
		goto out;
	}
	if (trn_net_classes(n) != s->classes) {
		rc = rf_err_set(e, RF_EINTERNAL,
				"model '%s' did not end with a loss on %u "
				"classes",
				name, s->classes);
		goto out;
	}
	*out = n;
	n = NULL;
out:
	trn_net_destroy(n);
	return rc;
}
