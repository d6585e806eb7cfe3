/*
 * trn.h - trainers/: local training with oneDNN. The part holds the layers,
 * the model registry, the optimizers, the training loop, metrics and
 * checkpoints; backends plug in through a const vtable (trn_onednn.c, ...)
 * registered by name.
 *
 * For now this header declares only the version of the oneDNN library
 * trainers/ runs with.
 *
 * Must not use: node/, aggregator/, policies/ or anonymizer/ headers; only
 * common/ and oneDNN.
 */
#ifndef TRN_H
#define TRN_H

/* oneDNN's version as linked at run time, dnnl_version(), formatted as
 * "major.minor.patch", e.g. "2.6.3". Static storage, valid for the life of
 * the process; formatted once under pthread_once, so thread-safe. Never
 * NULL, never fails. */
const char *trn_version_dnnl(void);

/* The git hash of the oneDNN sources, as dnnl_version() reports it (Debian's
 * build reports "N/A"), or "" when there is none at all. Static storage
 * owned by oneDNN; thread-safe; never NULL. */
const char *trn_version_dnnl_git(void);

#endif
