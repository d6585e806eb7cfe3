/* cli_table.c - every command and group of radfed, in one place. */
#include "cli.h"

#include <stddef.h>

/*
 * The groups. A group is listed, and `radfed GROUP --help` works, as soon
 * as cli_commands[] has a row in it.
 */
const struct cli_group cli_groups[] = {
	{"site", "the hospital node: set up, enrol, ingest, serve"},
	{"agg", "the consortium aggregator: CA, invitations, sites, serving"},
	{"round", "federated training rounds"},
	{"model", "the models a federation trained"},
	{"audit", "the tamper-evident audit logs"},
	{"policy", "site policy files"},
	{"id", "identities of researchers and auditors"},
	{NULL, NULL},
};

/*
 * The commands.
 *
 * To add a command, e.g. `radfed site status`:
 *   1. add one row below: {"site", "status", CLI_ROLE_SITE, summary,
 *      usage, help, cli_cmd_site_status}. The summary is one lowercase
 *      line without a final period; usage is what follows `radfed site
 *      status` in the synopsis; help describes it and lists every option,
 *      including -h, --help (and --json when it takes it);
 *   2. declare `cli_handler_fn cli_cmd_site_status;` at the end of cli.h;
 *      if the command needs gRPC, HDF5, oneDNN or SQLite, add
 *      `CLI_FORWARD(cli_cmd_site_status)` to cli/cli_front.c (the light
 *      `radfed` front hands it to radfed-full); otherwise its file may
 *      join cli_front_cmds in cli/CMakeLists.txt;
 *   3. write the handler in cli/cmd_site.c (cmd_<name>.c for a top-level
 *      command): parse with cli_getopt_reset() + getopt_long() using an
 *      optstring that starts with ':', answer -h/--help with
 *      cli_help_command(), hand anything else getopt rejects to
 *      cli_bad_option(), report failures with cli_fail(), and return an
 *      enum cli_exit;
 *   4. document it in docs/cli.md and test it in tests/cli/.
 * Help, suggestions, grouping and dispatch follow from the row.
 */
const struct cli_cmd cli_commands[] = {
	{NULL, "help", CLI_ROLE_ANYONE,
	 "show the commands, or the help of one command",
	 "[COMMAND [SUBCOMMAND]]",
	 "Without arguments, lists every command grouped by role. With a\n"
	 "command (`radfed help version`, `radfed help site init`) or a\n"
	 "group (`radfed help site`), shows its help, like --help.\n"
	 "\n"
	 "options:\n"
	 "  -h, --help  show this help\n",
	 cli_cmd_help},
	{NULL, "version", CLI_ROLE_ANYONE,
	 "print the versions of radfed and of its libraries",
	 "[--json]",
	 "Prints `radfed <version>`, then one line per library with the\n"
	 "version linked at run time: grpc (gRPC core's own numbering, not\n"
	 "the gRPC release: 29.0.0 for gRPC 1.51), protobuf-c, openssl,\n"
	 "hdf5, dnnl (oneDNN, with its git hash), libyaml, sqlite, zlib.\n"
	 "`radfed --version` is the same command.\n"
	 "\n"
	 "options:\n"
	 "  --json      one JSON object: {\"radfed\": ..., \"libraries\":\n"
	 "              {\"grpc\": ..., ...}, \"notes\": {...}}\n"
	 "  -h, --help  show this help\n",
	 cli_cmd_version},
	{NULL, "synth", CLI_ROLE_ANYONE,
	 "generate a synthetic imaging set with planted identifiers",
	 "--out DIR --patients N --seed S\n"
	 "       [--images-per-study K] [--size N] [--json]",
	 "Writes invented French patients' chest CT and radiograph studies\n"
	 "as DICOM files (five transfer syntaxes, Latin-1 and UTF-8 text,\n"
	 "identifiers in every attribute family, private tags, overlays,\n"
	 "and a few ultrasound or screen-capture images with burned-in text\n"
	 "to quarantine), one French report per study, labels.csv (half of\n"
	 "the studies show a nodule: label 1) and truth/ (every planted\n"
	 "identifier, the SHA-256 of every image's pixels). The same\n"
	 "arguments give the same bytes. DIR must not already hold dicom/,\n"
	 "reports/, truth/ or labels.csv. See docs/synth.md.\n"
	 "\n"
	 "options:\n"
	 "  --out DIR               output directory (created if missing)\n"
	 "  --patients N            number of patients, 1..100000\n"
	 "  --seed S                seed of every random choice, 0..2^64-1\n"
	 "  --images-per-study K    CT or CR images per study, 1..64\n"
	 "                          (default 3)\n"
	 "  --size N                rows and columns, 32..1024 (default 256)\n"
	 "  --json                  print a summary object\n"
	 "  -h, --help              show this help\n",
	 cli_cmd_synth},
	{NULL, "demo", CLI_ROLE_ANYONE,
	 "run a whole federation on this machine, on synthetic data",
	 "[--dir DIR] [--patients N] [--rounds N]",
	 "Runs a consortium on one machine and leaves every file it made in\n"
	 "DIR (default: radfed-demo) for inspection: synthetic chest CT/CR\n"
	 "sets (radfed synth, 64 pixels) for three hospital sites and a\n"
	 "held-out test set, each de-identified and ingested (radfed site\n"
	 "ingest); an aggregator (agg init, agg serve) and three sites (site\n"
	 "serve) as separate processes over mutual TLS on 127.0.0.1;\n"
	 "invitations and enrollment of the sites, one researcher and one\n"
	 "auditor; site policies; a round of cnn-small with FedAvg (round\n"
	 "start), with the AUC of each iteration's global model on the\n"
	 "held-out set (model export, then evaluation); then every audit log\n"
	 "verified with its owner's key, crosschecked, and what left each\n"
	 "site (audit report). A few minutes on two cores. The processes'\n"
	 "output is in DIR/logs, the audit logs are linked in DIR/audit.\n"
	 "DIR must be missing, empty, or a previous demo folder, which is\n"
	 "replaced. Exit status 1 when any step fails; the servers are\n"
	 "stopped on every exit, SIGINT and SIGTERM included.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR       where to run (default radfed-demo)\n"
	 "  --patients N    patients per synthetic set, 30..5000 (default\n"
	 "                  200)\n"
	 "  --rounds N      iterations of the round, 1..50 (default 5)\n"
	 "  -h, --help      show this help\n",
	 cli_cmd_demo},
	{NULL, "train", CLI_ROLE_ANYONE,
	 "train a model locally on a dataset.h5",
	 "--data FILE.h5 --model NAME --out MODEL.h5 [--epochs N] "
	 "[--batch B] [--lr X] [--optimizer sgd|adam] [--seed S] [--json]",
	 "Trains a registered architecture on the labelled images of a\n"
	 "site's dataset.h5 (radfed site ingest) with oneDNN on the CPU and\n"
	 "writes the model file MODEL.h5 (docs/formats.md). Patients are\n"
	 "split between training and validation by pseudonym (none on both\n"
	 "sides); after every epoch the validation loss, accuracy, balanced\n"
	 "accuracy and ROC AUC are printed. The same seed and data give the\n"
	 "same model, bit for bit, on the same machine. See\n"
	 "docs/training.md.\n"
	 "\n"
	 "models:\n"
	 "  cnn-small             four conv blocks, inputs 64 to 256 pixels\n"
	 "  resnet-mini           narrow ResNet-10, inputs 64 to 256 pixels\n"
	 "\n"
	 "options:\n"
	 "  --data FILE.h5        the training set\n"
	 "  --model NAME          architecture (above)\n"
	 "  --out MODEL.h5        model file to write (atomically)\n"
	 "  --init MODEL.h5       start from this model instead of a fresh\n"
	 "                        initialisation\n"
	 "  --epochs N            passes over the training side (default 5)\n"
	 "  --batch B             images per step (default 32)\n"
	 "  --optimizer NAME      adam (default) or sgd\n"
	 "  --lr X                learning rate (default 0.001)\n"
	 "  --momentum X          sgd momentum (default 0.9)\n"
	 "  --weight-decay X      L2 weight decay (default 0.0001)\n"
	 "  --prox-mu X           FedProx proximal term towards the initial\n"
	 "                        model (default 0: off)\n"
	 "  --val-fraction F      share of patients held out (default 0.2)\n"
	 "  --augment             random flips and shifts of up to 4 pixels\n"
	 "  --dropout P           dropout before the classifier (default 0)\n"
	 "  --balance             weight classes by inverse frequency\n"
	 "  --seed S              seed of initialisation, split, order,\n"
	 "                        augmentation and dropout (default 1)\n"
	 "  --json                one JSON object per epoch on stdout: epoch,\n"
	 "                        loss, val_loss, val_acc, val_bal_acc,\n"
	 "                        val_auc, images, seconds, confusion\n"
	 "  -h, --help            show this help\n",
	 cli_cmd_train},
	{NULL, "eval", CLI_ROLE_ANYONE,
	 "evaluate a model file on a dataset.h5",
	 "--data FILE.h5 --model MODEL.h5 [--batch B] [--json]",
	 "Runs MODEL.h5 on every labelled image of FILE.h5 and prints the\n"
	 "loss, accuracy, balanced accuracy, ROC AUC (one-vs-rest for more\n"
	 "than two classes) and the confusion matrix.\n"
	 "\n"
	 "options:\n"
	 "  --data FILE.h5        the images and labels\n"
	 "  --model MODEL.h5      a model file written by radfed train\n"
	 "  --batch B             images per forward pass (default 32)\n"
	 "  --json                one JSON object: model, arch_version,\n"
	 "                        round, images, loss, acc, bal_acc, auc,\n"
	 "                        confusion\n"
	 "  -h, --help            show this help\n",
	 cli_cmd_eval},
	{NULL, "anon", CLI_ROLE_SITE,
	 "de-identify DICOM files and French reports into a folder",
	 "--key FILE --out DIR [--option NAME]... [--jobs N] INPUT...",
	 "De-identifies every DICOM file and every report `<Accession>.txt`\n"
	 "found in the INPUT files and folders (recursively) under the DICOM\n"
	 "PS3.15 Basic Application Level Confidentiality Profile, 2024b, with\n"
	 "keyed pseudonyms from the site secret. Originals are never changed.\n"
	 "Outputs, named by pseudonyms only, go below DIR as\n"
	 "<patient>/<study>/<instance>.dcm and <patient>/<study>/<acc>.txt;\n"
	 "a report is scrubbed with the names, identifiers and date shift of\n"
	 "the study with its accession number. One JSON line per input goes\n"
	 "to the log: keyed hash of the input path, outcome (written,\n"
	 "quarantined, skipped, failed) and reason, never identifying data.\n"
	 "Images that may carry burned-in text (ultrasound, secondary\n"
	 "capture...) are quarantined. Exit status 3 when any input was\n"
	 "quarantined or failed; a failing input never stops the run.\n"
	 "\n"
	 "options:\n"
	 "  --key FILE            the site secret: at least 32 random bytes\n"
	 "  --out DIR             output folder (created if missing)\n"
	 "  --option NAME         add a profile option (repeatable):\n"
	 "                        retain-safe-private, retain-uids,\n"
	 "                        retain-device-id, retain-institution-id,\n"
	 "                        retain-patient-characteristics,\n"
	 "                        retain-full-dates, retain-modified-dates,\n"
	 "                        clean-descriptors,\n"
	 "                        clean-structured-content, clean-graphics\n"
	 "  --no-default-options  start from the basic profile alone (the\n"
	 "                        defaults are retain-modified-dates,\n"
	 "                        retain-patient-characteristics,\n"
	 "                        clean-descriptors)\n"
	 "  --jobs N              de-identify N files at a time (default 1)\n"
	 "  --log FILE            the log (default DIR/anon-log.jsonl;\n"
	 "                        appended)\n"
	 "  --json                a JSON summary on stdout, no progress bar\n"
	 "  -h, --help            show this help\n",
	 cli_cmd_anon},
	{"site", "init", CLI_ROLE_SITE,
	 "create a site folder: configuration, secret, store",
	 "--dir DIR --name NAME [--json]",
	 "Creates the folder DIR for the site NAME (a-z, 0-9 and '-'):\n"
	 "site.yaml with the default de-identification settings, a new\n"
	 "32-byte site secret in keys/site.secret (mode 0600) that keys\n"
	 "every pseudonym of the site, and empty store/ and logs/ folders.\n"
	 "All or nothing; refuses an existing non-empty DIR.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR    the site folder to create\n"
	 "  --name NAME  the site's name in the federation\n"
	 "  --json       print {\"site\": ..., \"dir\": ...}\n"
	 "  -h, --help   show this help\n",
	 cli_cmd_site_init},
	{"site", "ingest", CLI_ROLE_SITE,
	 "de-identify files into the site store and build dataset.h5",
	 "--site DIR [--labels FILE.csv] [--json] INPUT...",
	 "De-identifies every DICOM file and report found in the INPUT files\n"
	 "and folders into DIR/store/deidentified/ with the site's options,\n"
	 "secret and jobs (like `radfed anon`; one JSON line per input is\n"
	 "appended to DIR/logs/ingest.jsonl), then rebuilds the training set\n"
	 "DIR/store/dataset.h5 from every image of the store: the first\n"
	 "frame, resampled to image-size x image-size, scaled to [0, 1];\n"
	 "labels from FILE.csv (accession_number,study_instance_uid,label\n"
	 "with the original identifiers), -1 when absent; pseudonymous ids\n"
	 "only. The same file twice gives one record; dataset.h5 is replaced\n"
	 "atomically, so an interrupted run leaves the old one: run again.\n"
	 "Images that cannot be decoded are left out and logged. Exit\n"
	 "status 3 when an input was quarantined or failed or an image could\n"
	 "not be decoded. See docs/site.md.\n"
	 "\n"
	 "options:\n"
	 "  --site DIR        the site folder (radfed site init); --dir\n"
	 "                    is the same\n"
	 "  --labels FILE     labels CSV of original identifiers\n"
	 "  --json            a JSON summary on stdout, no progress bar\n"
	 "  -h, --help        show this help\n",
	 cli_cmd_site_ingest},
	{"site", "enroll", CLI_ROLE_SITE,
	 "join the consortium with an invitation: key, certificate",
	 "--dir DIR --aggregator HOST:PORT --token TOKEN\n"
	 "       --ca-fingerprint FP [--name NAME] [--server-name NAME] "
	 "[--json]",
	 "Enrolls the site folder DIR (radfed site init) with the\n"
	 "consortium, using a one-time invitation from the operator\n"
	 "(radfed agg invite). A P-256 key is generated first in\n"
	 "DIR/keys/tls.key (mode 0600) and never leaves the machine; only a\n"
	 "certificate request travels. The aggregator is reached over TLS\n"
	 "with the consortium CA pinned by its SHA-256 fingerprint, and the\n"
	 "certificate it returns is checked (CA, name, role, key) before it\n"
	 "is stored in DIR/keys/tls.pem with the CA in DIR/keys/ca.pem and\n"
	 "the aggregator's address in DIR/federation.yaml. Every step is\n"
	 "written to DIR/logs/audit.jsonl. Refuses an enrolled folder.\n"
	 "See docs/federation.md, \"Enrollment\".\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR              the site folder\n"
	 "  --aggregator HOST:PORT the aggregator's address\n"
	 "  --token TOKEN          the invitation's token (64 hex digits)\n"
	 "  --ca-fingerprint FP    the CA's SHA-256 fingerprint, from the\n"
	 "                         invitation (':' separators allowed)\n"
	 "  --name NAME            the invited name (default: the site's\n"
	 "                         name in site.yaml)\n"
	 "  --server-name NAME     the name in the aggregator's certificate\n"
	 "                         (default: HOST)\n"
	 "  --json                 print {name, role, fingerprint,\n"
	 "                         ca_fingerprint, dir}\n"
	 "  -h, --help             show this help\n",
	 cli_cmd_site_enroll},
	{"site", "serve", CLI_ROLE_SITE,
	 "take part in the federation's rounds: decide, train, upload",
	 "--dir DIR [--policy FILE] [--once] [--json]",
	 "Serves the enrolled site folder DIR until interrupted (Ctrl-C,\n"
	 "SIGTERM): asks the aggregator for work (a long poll: the node\n"
	 "only dials out), verifies every round's spec against the\n"
	 "aggregator's key pinned at enrollment (DIR/keys/aggregator.pub),\n"
	 "accepts or declines each offered round with the site policy and\n"
	 "what DIR/store/dataset.h5 can serve, and for the rounds it\n"
	 "accepted downloads the global model, trains locally and uploads\n"
	 "the weight delta, nothing else. Decisions and updates are kept\n"
	 "in DIR/fed/<round>/, so a restart neither re-decides nor\n"
	 "re-trains. One line per event on stdout; every step in\n"
	 "DIR/logs/audit.jsonl. An unreachable aggregator is retried with\n"
	 "backoff (0.5 s to 30 s), never fatal. See docs/site.md, \"Taking\n"
	 "part in rounds\".\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR      the enrolled site folder (--site DIR too)\n"
	 "  --policy FILE  the site policy (default: DIR/policy.yaml)\n"
	 "  --once         handle tasks until the aggregator has none,\n"
	 "                 then exit\n"
	 "  --json         one JSON object per event: {\"event\": line}\n"
	 "  -h, --help     show this help\n",
	 cli_cmd_site_serve},
	{"id", "enroll", CLI_ROLE_RESEARCHER,
	 "enrol a researcher or auditor identity folder",
	 "--dir DIR --name NAME --aggregator HOST:PORT --token TOKEN\n"
	 "       --ca-fingerprint FP [--server-name NAME] [--json]",
	 "Like `radfed site enroll`, for a person invited as a researcher\n"
	 "or an auditor: DIR (created if missing) receives keys/ (tls.key,\n"
	 "tls.pem, ca.pem, audit.key), logs/audit.jsonl and\n"
	 "federation.yaml. NAME is the invited name, printed by\n"
	 "`radfed agg invite`.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR              the identity folder\n"
	 "  --name NAME            the invited name\n"
	 "  --aggregator HOST:PORT the aggregator's address\n"
	 "  --token TOKEN          the invitation's token\n"
	 "  --ca-fingerprint FP    the CA's SHA-256 fingerprint\n"
	 "  --server-name NAME     the name in the aggregator's certificate\n"
	 "                         (default: HOST)\n"
	 "  --json                 print {name, role, fingerprint,\n"
	 "                         ca_fingerprint, dir}\n"
	 "  -h, --help             show this help\n",
	 cli_cmd_id_enroll},
	{"agg", "init", CLI_ROLE_OPERATOR,
	 "create an aggregator folder: CA, server certificate, registry",
	 "--dir DIR [--name NAME] [--listen HOST:PORT] [--server-name NAME]\n"
	 "       [--cert-days N] [--json]",
	 "Creates the aggregator folder DIR: agg.yaml, the consortium CA\n"
	 "(ca/ca.key, mode 0600, and ca/ca.pem), the server's key and\n"
	 "certificate (tls/, CN radfed-aggregator, SAN the server name), the\n"
	 "audit key (keys/audit.key) and log (logs/audit.jsonl), and an\n"
	 "empty registry (registry.db). All or nothing; refuses an existing\n"
	 "non-empty DIR. Prints the CA fingerprint that invitations carry.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR           the folder to create\n"
	 "  --name NAME         the consortium's name (default radfed)\n"
	 "  --listen HOST:PORT  default address of agg serve\n"
	 "                      (default 0.0.0.0:7443)\n"
	 "  --server-name NAME  the DNS name or IPv4 address clients dial\n"
	 "                      and check (default localhost)\n"
	 "  --cert-days N       lifetime of enrolled certificates (default\n"
	 "                      365)\n"
	 "  --json              print {dir, name, ca_fingerprint,\n"
	 "                      server_name, listen}\n"
	 "  -h, --help          show this help\n",
	 cli_cmd_agg_init},
	{"agg", "invite", CLI_ROLE_OPERATOR,
	 "make a one-time enrollment token for a site or a person",
	 "--dir DIR --name NAME --role site|researcher|auditor [--ttl 24h]\n"
	 "       [--json]",
	 "Creates a one-time invitation for NAME with ROLE, valid for TTL\n"
	 "(1s to 30d, default 24h), and prints its token with the CA\n"
	 "fingerprint and server name the invitee needs. Only the token's\n"
	 "hash is stored; the audit log records name, role and expiry.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR    the aggregator folder\n"
	 "  --name NAME  the site's or person's name (the certificate CN)\n"
	 "  --role ROLE  site, researcher or auditor\n"
	 "  --ttl TTL    how long the token is valid (s, m, h, d)\n"
	 "  --json       print {token, name, role, expires, ca_fingerprint,\n"
	 "               server_name}\n"
	 "  -h, --help   show this help\n",
	 cli_cmd_agg_invite},
	{"agg", "revoke", CLI_ROLE_OPERATOR,
	 "revoke every certificate of a site or a person",
	 "--dir DIR [--reason TEXT] [--json] NAME",
	 "Marks every certificate of NAME revoked in the registry and logs\n"
	 "one revoke event per certificate. A running agg serve refuses the\n"
	 "next call made with one of them, even on a connection already\n"
	 "open: the check runs on every call.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR      the aggregator folder\n"
	 "  --reason TEXT  why, for the audit log (default: revoked by the\n"
	 "                 operator)\n"
	 "  --json         print {name, revoked}\n"
	 "  -h, --help     show this help\n",
	 cli_cmd_agg_revoke},
	{"agg", "sites", CLI_ROLE_OPERATOR,
	 "list the enrolled identities",
	 "--dir DIR [--json]",
	 "Lists every enrolled certificate: name, role, revoked or not,\n"
	 "expiry and SHA-256 fingerprint, by name.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR   the aggregator folder\n"
	 "  --json      print {identities: [{name, role, fingerprint,\n"
	 "              not_after, revoked}]}\n"
	 "  -h, --help  show this help\n",
	 cli_cmd_agg_sites},
	{"agg", "serve", CLI_ROLE_OPERATOR,
	 "serve enrollment and the federation's rounds over mutual TLS",
	 "--dir DIR [--listen HOST:PORT]",
	 "Serves the aggregator's RPC methods on the listen address of\n"
	 "agg.yaml or HOST:PORT (port 0: any free port), printing the port.\n"
	 "Every call is checked against one authorisation table: who may\n"
	 "call each method, the caller's certificate not revoked, its role\n"
	 "in the certificate and the registry. Runs the rounds researchers\n"
	 "start (offers, model downloads, uploads, aggregation, deadlines),\n"
	 "resuming those the registry holds as running and saying so on\n"
	 "stderr, with one line per round event. Every change is on disk\n"
	 "before it is acknowledged: a killed server loses nothing. Stops\n"
	 "cleanly on SIGINT or SIGTERM.\n"
	 "\n"
	 "options:\n"
	 "  --dir DIR           the aggregator folder\n"
	 "  --listen HOST:PORT  overrides agg.yaml\n"
	 "  -h, --help          show this help\n",
	 cli_cmd_agg_serve},
	{"audit", "verify", CLI_ROLE_AUDITOR,
	 "check an audit log's hash chain and signed checkpoints",
	 "LOG [--key PUB.pem] [--json]",
	 "Verifies every line of the audit log LOG (docs/formats.md): its\n"
	 "format, the hash chain, and every checkpoint's count, head and\n"
	 "Ed25519 signature. With --key, each checkpoint must be signed by\n"
	 "that key: the log is authentic. Without it, every checkpoint must\n"
	 "carry the same key, checked only against itself: the log is\n"
	 "intact, but anyone could have written it. Prints the actor, the\n"
	 "events by name, the checkpoints, the unsigned tail (lines after\n"
	 "the last checkpoint) and the key, then OK. On the first bad line,\n"
	 "prints its number and why, and exits with status 5.\n"
	 "\n"
	 "options:\n"
	 "  --key PUB.pem  the log owner's Ed25519 public key (PEM)\n"
	 "  --json         one JSON object: ok, log, actor, lines, events,\n"
	 "                 checkpoints, unsigned_tail, key, authentic,\n"
	 "                 by_event; or ok false, bad_line, reason, error\n"
	 "  -h, --help     show this help\n",
	 cli_cmd_audit_verify},
	{"audit", "crosscheck", CLI_ROLE_AUDITOR,
	 "check the aggregator's log against the sites' logs",
	 "AGG_LOG SITE_LOG... [--key PUB.pem]... [--json]",
	 "Verifies every log, then pairs every update the aggregator\n"
	 "recorded (update.received) with exactly one update.sent of the\n"
	 "site's log, and every model.sent with one model.received, on\n"
	 "round, round_no, sha256 and bytes, and the other way round. A\n"
	 "site log's site is its actor without \"site:\". Prints a table\n"
	 "per round (site, transfer, kind, bytes, hash, matched or not),\n"
	 "then each disagreement in one line. Exit status 5 when any\n"
	 "transfer does not agree or a log does not verify.\n"
	 "See docs/federation.md, \"Audit events\".\n"
	 "\n"
	 "options:\n"
	 "  --key PUB.pem  a trusted Ed25519 public key (repeatable): every\n"
	 "                 log's checkpoints must be signed by one of them\n"
	 "  --json         one JSON object: logs, transfers, mismatches, ok\n"
	 "  -h, --help     show this help\n",
	 cli_cmd_audit_crosscheck},
	{"audit", "report", CLI_ROLE_AUDITOR,
	 "show, per round, which sites took part and what left each",
	 "LOG... [--key PUB.pem]... [--json]",
	 "Verifies the logs (any number of site logs, at most one\n"
	 "aggregator log) and prints, per round, every site that decided on\n"
	 "it or exchanged data in it: its decision and the SHA-256 of the\n"
	 "policy it was taken under, the updates that left it and their\n"
	 "bytes by kind (delta, masked). The figures come from the site's\n"
	 "own log when it is given, else from the aggregator's.\n"
	 "\n"
	 "options:\n"
	 "  --key PUB.pem  a trusted Ed25519 public key (repeatable)\n"
	 "  --json         one JSON object: logs, rounds[{round, sites[{\n"
	 "                 site, decision, policy_sha256, updates, bytes\n"
	 "                 {delta, masked}, models, model_bytes, source}]}]\n"
	 "  -h, --help     show this help\n",
	 cli_cmd_audit_report},
	{"round", "start", CLI_ROLE_RESEARCHER,
	 "start a federated training round from a round spec",
	 "--id DIR [--aggregator HOST:PORT] SPEC.yaml [--json]",
	 "Checks the round spec SPEC.yaml (docs/federation.md, \"Round\n"
	 "spec\"), then asks the aggregator to start it (Control.StartRound)\n"
	 "with the researcher identity of DIR (radfed id enroll). The\n"
	 "aggregator records it, signs its canonical form, makes the initial\n"
	 "model and offers the round to every enrolled site. Prints the\n"
	 "round's id, the SHA-256 of the canonical spec (checked against\n"
	 "the aggregator's) and the canonical spec it accepted.\n"
	 "\n"
	 "options:\n"
	 "  --id DIR                 the researcher's identity folder\n"
	 "  --aggregator HOST:PORT   overrides DIR/federation.yaml\n"
	 "  --json                   one JSON object: round, spec_sha256,\n"
	 "                           spec (canonical), info (as round status)\n"
	 "  -h, --help               show this help\n",
	 cli_cmd_round_start},
	{"round", "status", CLI_ROLE_RESEARCHER,
	 "show the state of the federation's rounds",
	 "--id DIR [--aggregator HOST:PORT] [ROUND] [--json]",
	 "Prints every round (or round ROUND): its state (running, done,\n"
	 "failed), the iteration in progress out of the rounds asked for,\n"
	 "each site's state (offered, accepted, declined, uploaded...) and\n"
	 "the SHA-256 of the policy it decided under, and per iteration the\n"
	 "sites' updates (training samples, local validation AUC and loss,\n"
	 "bytes) and the hash of the model aggregated from them.\n"
	 "\n"
	 "options:\n"
	 "  --id DIR                 the researcher's identity folder\n"
	 "  --aggregator HOST:PORT   overrides DIR/federation.yaml\n"
	 "  --json                   one JSON object: rounds[{round, name,\n"
	 "                           state, round_no, rounds, sites[],\n"
	 "                           iterations[{round_no, model_sha256,\n"
	 "                           updates[{site, samples, bytes, sha256,\n"
	 "                           val_auc, val_loss, metrics_json}]}]}]\n"
	 "  -h, --help               show this help\n",
	 cli_cmd_round_status},
	{"round", "watch", CLI_ROLE_RESEARCHER,
	 "follow a round until it ends",
	 "--id DIR [--aggregator HOST:PORT] ROUND [--json]",
	 "Follows round ROUND (Control.WatchRound) and prints one line per\n"
	 "change: the round's state and iteration, each site's decision,\n"
	 "each update received (samples, local validation AUC and loss),\n"
	 "each aggregated model. Reconnects when the aggregator restarts.\n"
	 "Exit status 0 when the round is done, 1 when it failed.\n"
	 "\n"
	 "options:\n"
	 "  --id DIR                 the researcher's identity folder\n"
	 "  --aggregator HOST:PORT   overrides DIR/federation.yaml\n"
	 "  --json                   one JSON object per change (the round,\n"
	 "                           as round status)\n"
	 "  -h, --help               show this help\n",
	 cli_cmd_round_watch},
	{"model", "export", CLI_ROLE_RESEARCHER,
	 "download a round's global model into a model file",
	 "--id DIR --round ID (--iteration N | --latest) --out F.h5 [--json]",
	 "Downloads the global model of round ID after iteration N (0: the\n"
	 "initial model), or the latest one, as a chunked stream checked\n"
	 "against its SHA-256, into F.h5 (written atomically: a failed\n"
	 "download leaves nothing there), checks that it reads as a model\n"
	 "file (docs/formats.md) and prints its hash. Evaluate it with\n"
	 "`radfed eval --model F.h5`.\n"
	 "\n"
	 "options:\n"
	 "  --id DIR                 the researcher's identity folder\n"
	 "  --aggregator HOST:PORT   overrides DIR/federation.yaml\n"
	 "  --round ID               the round (round start printed it)\n"
	 "  --iteration N            the model after N iterations\n"
	 "  --latest                 the latest model of the round\n"
	 "  --out F.h5               the model file to write\n"
	 "  --json                   one JSON object: round, iteration,\n"
	 "                           sha256, bytes, model, input, classes,\n"
	 "                           out\n"
	 "  -h, --help               show this help\n",
	 cli_cmd_model_export},
	{NULL, NULL, CLI_ROLE_ANYONE, NULL, NULL, NULL, NULL},
};
