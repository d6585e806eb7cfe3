/*
 * trn_optim.h - optimizers over a net's parameters (struct trn_param, plain
 * float32 arrays): SGD with momentum and weight decay, and Adam, each with
 * an optional FedProx proximal term.
 *
 * The update rules are PyTorch 1.13's torch.optim.SGD (dampening 0,
 * nesterov off; the momentum buffer starts as the first gradient) and
 * torch.optim.Adam (amsgrad off; weight decay added to the gradient, as
 * L2), evaluated in float32 in the same order of operations, so that a few
 * steps agree with PyTorch to rounding. FedProx (Li et al. 2020) adds
 * mu * (w - w_anchor) to each gradient before weight decay, with w_anchor
 * the global model of the round (trn_optim_set_anchor).
 *
 * Thread safety: one optimizer per thread; it writes the parameters' w.
 *
 * Must not use: oneDNN, HDF5; only libc and common/.
 */
#ifndef TRN_OPTIM_H
#define TRN_OPTIM_H

#include <stddef.h>

#include "rf_err.h"
#include "trn_net.h"

enum trn_optim_kind {
	TRN_OPTIM_SGD = 1,
	TRN_OPTIM_ADAM = 2,
};

struct trn_optim_config {
	enum trn_optim_kind kind;
	float lr;           /* > 0 */
	float momentum;     /* SGD, [0, 1) */
	float weight_decay; /* >= 0 */
	float beta1, beta2; /* Adam, [0, 1); 0 and 0 mean 0.9 and 0.999 */
	float eps;          /* Adam, > 0; 0 means 1e-8 */
	float prox_mu;      /* FedProx, >= 0; 0 = off */
};

struct trn_optim;

/* Names "sgd" and "adam" to a kind; 0 for anything else. */
enum trn_optim_kind trn_optim_kind_from_name(const char *name);
const char *trn_optim_kind_name(enum trn_optim_kind k);

/*
 * An optimizer for params[0..n) (borrowed: they must outlive it; their w
 * and g pointers are read at each step). RF_EINVAL names the bad setting.
 * With prox_mu > 0 the FedProx anchor starts as the parameters' values
 * now. State: one float per element for SGD with momentum, two for Adam,
 * one more with FedProx (RF_ENOMEM). On failure *out is NULL.
 */
enum rf_rc trn_optim_create(const struct trn_optim_config *cfg,
			    struct trn_param *params, size_t n,
			    struct trn_optim **out, struct rf_err *e) RF_WUR;

/* Copies the current values of every parameter as the FedProx anchor
 * (call once after loading the round's global model). Without FedProx
 * (prox_mu 0) it does nothing. RF_ENOMEM is reserved: the anchor's memory
 * is taken by trn_optim_create. */
enum rf_rc trn_optim_set_anchor(struct trn_optim *o, struct rf_err *e) RF_WUR;

/* Applies one update from the parameters' current gradients (g is only
 * read). Never fails and never allocates. */
void trn_optim_step(struct trn_optim *o);

/* Sets the learning rate (schedules). */
void trn_optim_set_lr(struct trn_optim *o, float lr);

/* Frees the optimizer and its state. Accepts NULL. */
void trn_optim_destroy(struct trn_optim *o);

#endif
