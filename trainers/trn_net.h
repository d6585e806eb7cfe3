/*
 * trn_net.h - the training engine: a network of layers run forward and
 * backward with oneDNN primitives on the CPU.
 *
 * A network is built once for a fixed batch size and input shape, layer by
 * layer; each builder call returns the id of the tensor the layer produces
 * (the input images are tensor TRN_NET_INPUT), so residual blocks are built
 * by passing an earlier id to trn_net_add(). trn_net_loss() ends the build:
 * it chooses the memory layouts (oneDNN's "any" for convolutions and inner
 * products, blocked activations carried from layer to layer, reorders only
 * where a primitive needs another layout), creates every primitive,
 * allocates every buffer and initialises the weights from the seed.
 *
 *     struct trn_net *n = NULL;
 *     struct trn_net_shape in = {32, 1, 64, 64};
 *     int t = TRN_NET_INPUT;
 *     if (trn_net_create(&in, seed, &n, &e) ||
 *         trn_net_conv(n, "conv1", t, 16, 3, 1, 1, true, &t, &e) ||
 *         trn_net_norm(n, "norm1", t, 1, &t, &e) ||
 *         trn_net_relu(n, t, &t, &e) || ... ||
 *         trn_net_fc(n, "fc", t, 2, &t, &e) ||
 *         trn_net_loss(n, t, TRN_LOSS_SOFTMAX_CE, NULL, &e))
 *             goto out;
 *     trn_net_forward(n, x, labels, NULL, true, step, &loss, &e);
 *     trn_net_backward(n, &e);   -> every trn_param's g
 *
 * Parameters live outside oneDNN's layouts, as plain C-order float32
 * arrays in PyTorch's layout (convolution weights OIHW, inner-product
 * weights [out, in] with the input flattened in C order from [C, H, W],
 * biases and norm scales [C]): optimizers, checkpoints and deltas see only
 * these. The engine reorders them into the layouts its primitives chose at
 * every forward (cheap next to the convolutions) and reorders gradients
 * back after every backward.
 *
 * Layers (the semantics are PyTorch's, so that a model can be checked
 * against torch.nn with the same weights):
 * - conv: 2-D convolution, square kernel, stride, zero padding, optional
 *   bias (nn.Conv2d);
 * - norm: group normalisation with per-channel scale and shift, eps 1e-5
 *   (nn.GroupNorm): statistics per sample, so no running statistics, the
 *   same behaviour in training and evaluation, and samples of a batch
 *   independent of each other (see docs/training.md for why not batch
 *   norm);
 * - relu; max pooling; average pooling counting the padding
 *   (nn.AvgPool2d's default); global average and global max pooling to
 *   [N, C];
 * - fc: inner product with bias (nn.Linear), flattening its input;
 * - dropout: inverted dropout (kept values scaled by 1/(1-p)) in training,
 *   identity in evaluation; the mask is drawn from the net's seed and the
 *   step number only;
 * - add: element-wise sum of two tensors of the same shape (residuals);
 * - loss, one per net, on [N, K] logits:
 *   TRN_LOSS_SOFTMAX_CE: softmax cross-entropy with optional class weights,
 *   the weighted mean of nn.CrossEntropyLoss(weight=w) over the samples
 *   whose label is not negative (label -1 = no label: ignored);
 *   TRN_LOSS_SIGMOID_BCE: multi-label sigmoid binary cross-entropy, mean
 *   over samples and classes (nn.BCEWithLogitsLoss), targets in [0, 1].
 *
 * Samples of a batch never influence each other (no batch statistics), so
 * with TRN_LOSS_SOFTMAX_CE a short last batch may be padded with any image
 * and label -1 and gives exactly the same results for its real samples
 * (TRN_LOSS_SIGMOID_BCE has no "ignored" target: pad multi-label batches
 * by repeating real samples, or use a batch size that divides the data).
 *
 * Determinism: with the same seed, build calls, inputs and step numbers,
 * and the same machine and thread count, every result is bit-identical.
 *
 * Errors: RF_EINVAL (bad builder argument, naming the layer: unknown
 * tensor id, shapes that do not fit, a call after trn_net_loss),
 * RF_EUNSUPPORTED (oneDNN has no implementation for a shape), RF_ENOMEM,
 * RF_EINTERNAL (any other oneDNN failure, with dnnl's status name).
 * A builder call that fails leaves the net unusable except for
 * trn_net_destroy.
 *
 * Thread safety: a net is used by one thread at a time; oneDNN itself runs
 * each primitive on its OpenMP threads. Distinct nets are independent.
 *
 * Must not use: HDF5, node/, aggregator/; only oneDNN's C API (dnnl.h),
 * libc and common/.
 */
#ifndef TRN_NET_H
#define TRN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

/* The id of the input tensor [N, C, H, W]. */
#define TRN_NET_INPUT 0

/* Longest parameter path, "layer/name", with its NUL. */
#define TRN_PARAM_PATH_MAX 64

/* Largest supported batch, channels, height or width. */
#define TRN_NET_DIM_MAX 65536

struct trn_net;

struct trn_net_shape {
	unsigned batch;    /* N, images per step */
	unsigned channels; /* C */
	unsigned height;   /* H */
	unsigned width;    /* W */
};

/* One learnable tensor. w and g are owned by the net, plain C order. */
struct trn_param {
	char path[TRN_PARAM_PATH_MAX]; /* "conv1/weight", "fc/bias" */
	float *w;        /* values: read and written by optimizers */
	float *g;        /* gradient of the loss, set by trn_net_backward */
	size_t count;    /* elements */
	unsigned rank;   /* 1 to 4 */
	uint64_t shape[4];
};

enum trn_loss {
	TRN_LOSS_SOFTMAX_CE = 1,
	TRN_LOSS_SIGMOID_BCE = 2,
};

/*
 * Starts a net for inputs of shape *in. seed fixes the initial weights
 * (PyTorch's default initialisation: kaiming-uniform with a = sqrt(5) for
 * convolution and inner-product weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * for their biases, scale 1 and shift 0 for norms, drawn from a PRG keyed
 * by the seed, not PyTorch's generator) and the dropout masks. On failure
 * *out is NULL.
 */
enum rf_rc trn_net_create(const struct trn_net_shape *in, uint64_t seed,
			  struct trn_net **out, struct rf_err *e) RF_WUR;

/* Frees the net, its primitives and buffers. Accepts NULL. */
void trn_net_destroy(struct trn_net *n);

/* ---- building (each sets *out to the new tensor's id) ---------------- */

/* Layer names are unique within a net, [a-z0-9_.]{1,40}; they name the
 * parameters ("<name>/weight", "<name>/bias"). */

enum rf_rc trn_net_conv(struct trn_net *n, const char *name, int in,
			unsigned out_channels, unsigned kernel, unsigned stride,
			unsigned pad, bool bias, int *out,
			struct rf_err *e) RF_WUR;

/* Group norm of `groups` groups (must divide the channels); parameters
 * "<name>/weight" (scale) and "<name>/bias" (shift). */
enum rf_rc trn_net_norm(struct trn_net *n, const char *name, int in,
			unsigned groups, int *out, struct rf_err *e) RF_WUR;

enum rf_rc trn_net_relu(struct trn_net *n, int in, int *out,
			struct rf_err *e) RF_WUR;

enum rf_rc trn_net_maxpool(struct trn_net *n, int in, unsigned kernel,
			   unsigned stride, unsigned pad, int *out,
			   struct rf_err *e) RF_WUR;

enum rf_rc trn_net_avgpool(struct trn_net *n, int in, unsigned kernel,
			   unsigned stride, unsigned pad, int *out,
			   struct rf_err *e) RF_WUR;

/* Global average pooling: [N, C, H, W] -> [N, C]. */
enum rf_rc trn_net_gap(struct trn_net *n, int in, int *out,
		       struct rf_err *e) RF_WUR;

/* Global max pooling: [N, C, H, W] -> [N, C] (nn.AdaptiveMaxPool2d(1));
 * the gradient goes to the first maximum of each channel. */
enum rf_rc trn_net_gmp(struct trn_net *n, int in, int *out,
		       struct rf_err *e) RF_WUR;

/* Inner product to [N, out_features], with bias. */
enum rf_rc trn_net_fc(struct trn_net *n, const char *name, int in,
		      unsigned out_features, int *out,
		      struct rf_err *e) RF_WUR;

/* Dropout with drop probability p in [0, 1). */
enum rf_rc trn_net_dropout(struct trn_net *n, int in, float p, int *out,
			   struct rf_err *e) RF_WUR;

enum rf_rc trn_net_add(struct trn_net *n, int a, int b, int *out,
		       struct rf_err *e) RF_WUR;

/*
 * Ends the build with a loss on the [N, K] tensor `in` and makes the net
 * runnable. class_weights: NULL (all 1) or K positive weights, copied;
 * only for TRN_LOSS_SOFTMAX_CE.
 */
enum rf_rc trn_net_loss(struct trn_net *n, int in, enum trn_loss kind,
			const float *class_weights, struct rf_err *e) RF_WUR;

/* ---- running -------------------------------------------------------- */

/* The input shape, and K (the loss's classes; 0 before trn_net_loss). */
const struct trn_net_shape *trn_net_input_shape(const struct trn_net *n);
unsigned trn_net_classes(const struct trn_net *n);

/* The parameters, sorted by path (byte order), *count of them. Borrowed:
 * valid until trn_net_destroy. Only after trn_net_loss. */
struct trn_param *trn_net_params(struct trn_net *n, size_t *count);

/*
 * Runs the net on x (N*C*H*W floats, plain NCHW) and computes the loss.
 * Single-label: labels holds N class indices (negative = ignored), targets
 * is NULL. Multi-label: targets holds N*K values in [0, 1], labels is
 * NULL. train selects training behaviour (dropout on) and keeps what
 * trn_net_backward needs; step numbers the dropout masks. *loss receives
 * the mean loss (0 when every label is ignored). RF_EINVAL for a label >=
 * K.
 */
enum rf_rc trn_net_forward(struct trn_net *n, const float *x,
			   const int32_t *labels, const float *targets,
			   bool train, uint64_t step, float *loss,
			   struct rf_err *e) RF_WUR;

/* After a training forward: overwrites every parameter's g with the
 * gradient of that batch's loss. RF_EINVAL if the last forward was not a
 * training one. */
enum rf_rc trn_net_backward(struct trn_net *n, struct rf_err *e) RF_WUR;

/* After a forward: the N*K class probabilities (softmax, or sigmoid for
 * multi-label), plain [N, K]. Borrowed until the next forward. */
const float *trn_net_probs(const struct trn_net *n);

/* After a forward: the N*K logits, plain [N, K]. Borrowed likewise. */
const float *trn_net_logits(const struct trn_net *n);

/* Multiply-adds times 2 of one forward pass over a whole batch (the
 * convolutions and inner products; other layers are not counted). A
 * training step (forward, backward data, backward weights) costs about
 * three times this. */
double trn_net_flops(const struct trn_net *n);

/* ---- testing aids ---------------------------------------------------- */

/* After a forward: the plain NCHW (or [N, K]) value of tensor id into out,
 * which holds *count floats; *count receives the element count. RF_ETOOBIG
 * if it does not fit (then *count says how many are needed); RF_EINVAL for
 * TRN_NET_INPUT (the caller's own buffer) or an unknown id. */
enum rf_rc trn_net_tensor(struct trn_net *n, int id, float *out,
			  size_t *count, struct rf_err *e) RF_WUR;

#endif
