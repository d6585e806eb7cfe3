/*
 * test_model.c - the model registry (trn.h): built-ins, registration of
 * other architectures (duplicates, ABI versions), lookups, the input range
 * of the built-ins, and the parameters each built-in declares.
 *
 * Expected parameter lists and counts are PyTorch's, from the mirrors in
 * tests/ref/torch_models.py (`/usr/bin/python3 tests/ref/torch_models.py`
 * prints them): 97,650 for cnn-small and 307,506 for resnet-mini with two
 * classes.
 */
#include "rf_test.h"

#include "trn.h"

/* ---- a fake architecture, registered through the real registry ------- */

static int fake_builds;

static enum rf_rc fake_build(struct trn_net *n, const struct trn_model_spec *s,
			     enum trn_loss loss, const float *class_weights,
			     struct rf_err *e)
{
	enum rf_rc rc;
	int t = TRN_NET_INPUT;

	fake_builds++;
	rc = trn_net_gap(n, t, &t, e);
	if (!rc)
		rc = trn_net_fc(n, "head", t, s->classes, &t, e);
	if (!rc)
		rc = trn_net_loss(n, t, loss, class_weights, e);
	return rc;
}

static enum rf_rc fake_check(const struct trn_model_spec *s, struct rf_err *e)
{
	if (s->channels > 3)
		return rf_err_set(e, RF_EINVAL, "'fake-net' takes 1 to 3 "
				  "channels");
	return RF_OK;
}

static const struct trn_model_vtable fake_net = {
	.abi_version = TRN_MODEL_ABI_VERSION,
	.name = "fake-net",
	.arch_version = 7,
	.summary = "a test architecture",
	.check = fake_check,
	.build = fake_build,
};

/* A build that forgets the loss. */
static enum rf_rc lossless_build(struct trn_net *n,
				 const struct trn_model_spec *s,
				 enum trn_loss loss, const float *class_weights,
				 struct rf_err *e)
{
	int t = TRN_NET_INPUT;

	(void)s;
	(void)loss;
	(void)class_weights;
	return trn_net_gap(n, t, &t, e);
}

static const struct trn_model_vtable lossless_net = {
	.abi_version = TRN_MODEL_ABI_VERSION,
	.name = "lossless-net",
	.arch_version = 1,
	.summary = "never ends with a loss",
	.build = lossless_build,
};

/* cmocka runs the tests in order in one process; the registry is global,
 * so every test registers what it needs once. */
static void register_fakes(void)
{
	struct rf_err e = {0};

	if (!trn_model_find("fake-net"))
		RF_ASSERT_OK_E(trn_model_register(&fake_net, &e), &e);
	if (!trn_model_find("lossless-net"))
		RF_ASSERT_OK_E(trn_model_register(&lossless_net, &e), &e);
}

static void test_builtins(void **state)
{
	const struct trn_model_vtable *vt;

	(void)state;
	vt = trn_model_at(0);
	assert_non_null(vt);
	assert_string_equal(vt->name, "cnn-small");
	vt = trn_model_at(1);
	assert_non_null(vt);
	assert_string_equal(vt->name, "resnet-mini");
	assert_ptr_equal(trn_model_find("cnn-small"), trn_model_at(0));
	assert_ptr_equal(trn_model_find("resnet-mini"), trn_model_at(1));
	for (size_t i = 0; i < 2; i++) {
		vt = trn_model_at(i);
		assert_int_equal(vt->abi_version, TRN_MODEL_ABI_VERSION);
		assert_true(vt->arch_version >= 1);
		assert_non_null(vt->summary);
		assert_non_null(vt->check);
		assert_non_null(vt->build);
	}
	assert_null(trn_model_find("cnn"));
	assert_null(trn_model_find(""));
	assert_null(trn_model_find(NULL));
}

static void test_register(void **state)
{
	struct trn_model_vtable bad;
	struct rf_err e = {0};
	size_t i;

	(void)state;
	register_fakes();
	assert_ptr_equal(trn_model_find("fake-net"), &fake_net);
	/* after the built-ins, in registration order, then NULL */
	for (i = 0; trn_model_at(i) != &fake_net; i++)
		assert_non_null(trn_model_at(i));
	assert_int_equal(i, 2);
	assert_ptr_equal(trn_model_at(3), &lossless_net);
	assert_null(trn_model_at(4));
	assert_null(trn_model_at((size_t)-1));

	/* duplicates: the same vtable, a copy, a built-in's name */
	RF_ASSERT_RC(trn_model_register(&fake_net, &e), RF_EEXIST);
	assert_non_null(strstr(e.msg, "'fake-net'"));
	bad = fake_net;
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EEXIST);
	bad.name = "cnn-small";
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EEXIST);
	assert_string_equal(e.msg, "model 'cnn-small' is already registered");

	/* another ABI version, even under a new name */
	bad = fake_net;
	bad.name = "future-net";
	bad.abi_version = TRN_MODEL_ABI_VERSION + 1;
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "'future-net'"));
	bad.abi_version = 0;
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EUNSUPPORTED);

	/* missing name or build */
	bad = fake_net;
	bad.name = NULL;
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EINVAL);
	bad.name = "";
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EINVAL);
	bad.name = "buildless-net";
	bad.build = NULL;
	RF_ASSERT_RC(trn_model_register(&bad, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "no build"));
	RF_ASSERT_RC(trn_model_register(NULL, &e), RF_EINVAL);

	/* nothing refused was added */
	assert_null(trn_model_find("future-net"));
	assert_null(trn_model_find("buildless-net"));
	assert_null(trn_model_at(4));
}

static void test_unknown_lists_known(void **state)
{
	struct trn_model_spec s = {1, 64, 64, 2, 0};
	struct trn_net *n = (struct trn_net *)&s;
	struct rf_err e = {0};

	(void)state;
	register_fakes();
	RF_ASSERT_RC(trn_model_build("resnet-50", &s, 8, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, &e),
		     RF_ENOTFOUND);
	assert_null(n);
	assert_string_equal(e.msg, "unknown model 'resnet-50' (known: "
			    "cnn-small, resnet-mini, fake-net, "
			    "lossless-net)");
}

static void expect_refused(const char *name, unsigned c, unsigned h,
			   unsigned w, const char *needle)
{
	struct trn_model_spec s = {c, h, w, 2, 0};
	struct trn_net *n = NULL;
	struct rf_err e = {0};

	RF_ASSERT_RC(trn_model_build(name, &s, 4, TRN_LOSS_SOFTMAX_CE, NULL,
				     1, &n, &e),
		     RF_EINVAL);
	assert_null(n);
	if (!strstr(e.msg, needle))
		fail_msg("%s %ux%ux%u: '%s' does not say '%s'", name, c, h, w,
			 e.msg, needle);
	/* check() says the same without building anything */
	rf_err_clear(&e);
	RF_ASSERT_RC(trn_model_find(name)->check(&s, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, needle));
}

static void test_input_range(void **state)
{
	static const char *const names[] = {"cnn-small", "resnet-mini"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		const char *m = names[i];
		struct trn_model_spec ok = {1, 64, 256, 2, 0};
		struct rf_err e = {0};

		expect_refused(m, 1, 32, 32,
			       "from 64x64 to 256x256, not 32x32");
		expect_refused(m, 1, 512, 512,
			       "from 64x64 to 256x256, not 512x512");
		expect_refused(m, 1, 64, 63, "not 64x63");
		expect_refused(m, 1, 257, 256, "not 257x256");
		expect_refused(m, 3, 64, 64, "1 input channel, not 3");
		RF_ASSERT_OK_E(trn_model_find(m)->check(&ok, &e), &e);
		ok.height = 256;
		ok.width = 64;
		RF_ASSERT_OK_E(trn_model_find(m)->check(&ok, &e), &e);
	}
}

static void test_spec_checked(void **state)
{
	struct trn_model_spec s = {1, 64, 64, 1, 0};
	struct trn_net *n = NULL;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(trn_model_build("cnn-small", &s, 4, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "1 classes"));
	s.classes = 2;
	s.dropout = 1.0f;
	RF_ASSERT_RC(trn_model_build("cnn-small", &s, 4, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "dropout"));
	s.dropout = -0.1f;
	RF_ASSERT_RC(trn_model_build("cnn-small", &s, 4, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, &e),
		     RF_EINVAL);
	s.dropout = 0;
	RF_ASSERT_RC(trn_model_build("cnn-small", &s, 0, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "batch 0"));
	RF_ASSERT_RC(trn_model_build("cnn-small", NULL, 4, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, &e),
		     RF_EINVAL);
	assert_null(n);
}

/* The parameters of a built net, against PyTorch's state_dict. */
struct want_param {
	const char *path;
	unsigned rank;
	uint64_t shape[4];
};

static const struct want_param cnn_small_params[] = {
	{"block1.conv/weight", 4, {16, 1, 3, 3}},
	{"block1.norm/bias", 1, {16}},
	{"block1.norm/weight", 1, {16}},
	{"block2.conv/weight", 4, {32, 16, 3, 3}},
	{"block2.norm/bias", 1, {32}},
	{"block2.norm/weight", 1, {32}},
	{"block3.conv/weight", 4, {64, 32, 3, 3}},
	{"block3.norm/bias", 1, {64}},
	{"block3.norm/weight", 1, {64}},
	{"block4.conv/weight", 4, {128, 64, 3, 3}},
	{"block4.norm/bias", 1, {128}},
	{"block4.norm/weight", 1, {128}},
	{"fc/bias", 1, {2}},
	{"fc/weight", 2, {2, 128}},
};

static void check_params(struct trn_net *n, const struct want_param *want,
			 size_t nwant, size_t total)
{
	struct trn_param *p;
	size_t count, sum = 0;

	p = trn_net_params(n, &count);
	assert_non_null(p);
	if (want)
		assert_int_equal(count, nwant);
	for (size_t i = 0; i < count; i++) {
		sum += p[i].count;
		if (!want)
			continue;
		assert_string_equal(p[i].path, want[i].path);
		assert_int_equal(p[i].rank, want[i].rank);
		for (unsigned d = 0; d < want[i].rank; d++)
			assert_int_equal(p[i].shape[d], want[i].shape[d]);
	}
	assert_int_equal(sum, total);
}

static void test_build_builtins(void **state)
{
	struct trn_model_spec s = {1, 64, 64, 2, 0};
	struct trn_net *n = NULL;
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_OK_E(trn_model_build("cnn-small", &s, 2, TRN_LOSS_SOFTMAX_CE,
				       NULL, 1, &n, &e),
		       &e);
	assert_int_equal(trn_net_classes(n), 2);
	assert_int_equal(trn_net_input_shape(n)->batch, 2);
	check_params(n, cnn_small_params,
		     sizeof cnn_small_params / sizeof cnn_small_params[0],
		     97650);
	trn_net_destroy(n);
	n = NULL;

	/* 38 tensors (torch_models.py lists them), 307,506 values */
	RF_ASSERT_OK_E(trn_model_build("resnet-mini", &s, 2,
				       TRN_LOSS_SOFTMAX_CE, NULL, 1, &n, &e),
		       &e);
	check_params(n, NULL, 0, 307506);
	{
		size_t count;
		struct trn_param *p = trn_net_params(n, &count);

		assert_int_equal(count, 38);
		assert_string_equal(p[0].path, "fc/bias");
		assert_string_equal(p[count - 1].path, "stem.norm/weight");
	}
	trn_net_destroy(n);
	n = NULL;

	/* ten classes, dropout, non-square input, the largest side */
	s.classes = 10;
	s.dropout = 0.25f;
	s.height = 256;
	s.width = 96;
	RF_ASSERT_OK_E(trn_model_build("resnet-mini", &s, 2,
				       TRN_LOSS_SOFTMAX_CE, NULL, 1, &n, &e),
		       &e);
	check_params(n, NULL, 0, 307506 + 8 * 128 + 8);
	trn_net_destroy(n);
}

/* One image per step (trn_net.h allows any batch from 1). */
static void test_build_batch_one(void **state)
{
	static const char *const names[] = {"cnn-small", "resnet-mini"};
	struct trn_model_spec s = {1, 64, 64, 2, 0};
	struct rf_err e = {0};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct trn_net *n = NULL;

		RF_ASSERT_OK_E(trn_model_build(names[i], &s, 1,
					       TRN_LOSS_SOFTMAX_CE, NULL, 1,
					       &n, &e),
			       &e);
		assert_int_equal(trn_net_input_shape(n)->batch, 1);
		trn_net_destroy(n);
	}
}

static void test_registered_build(void **state)
{
	struct trn_model_spec s = {3, 8, 8, 4, 0};
	struct trn_net *n = NULL;
	struct rf_err e = {0};
	int builds;

	(void)state;
	register_fakes();
	builds = fake_builds;
	RF_ASSERT_OK_E(trn_model_build("fake-net", &s, 2, TRN_LOSS_SOFTMAX_CE,
				       NULL, 5, &n, &e),
		       &e);
	assert_int_equal(fake_builds, builds + 1);
	assert_int_equal(trn_net_classes(n), 4);
	check_params(n, NULL, 0, 3 * 4 + 4);
	trn_net_destroy(n);
	n = NULL;

	/* its own check() is called */
	s.channels = 4;
	RF_ASSERT_RC(trn_model_build("fake-net", &s, 2, TRN_LOSS_SOFTMAX_CE,
				     NULL, 5, &n, &e),
		     RF_EINVAL);
	assert_int_equal(fake_builds, builds + 1);
	assert_null(n);

	/* a build that does not end with the loss is a bug, reported */
	s.channels = 1;
	RF_ASSERT_RC(trn_model_build("lossless-net", &s, 2,
				     TRN_LOSS_SOFTMAX_CE, NULL, 5, &n, &e),
		     RF_EINTERNAL);
	assert_null(n);
	assert_non_null(strstr(e.msg, "'lossless-net'"));
}

static void test_build_oom(void **state)
{
	struct trn_model_spec s = {1, 8, 8, 2, 0};
	struct trn_net *n = NULL;
	enum rf_rc rc;

	(void)state;
	register_fakes();
	RF_TEST_OOM_LOOP(rc, {
		rc = trn_model_build("fake-net", &s, 2, TRN_LOSS_SOFTMAX_CE,
				     NULL, 1, &n, NULL);
		if (rc)
			assert_null(n);
	}, trn_net_destroy(n));
}

/* The registry has a fixed room: once full it says so, and keeps what it
 * holds. Runs last: it fills the process's registry. */
static void test_register_full(void **state)
{
	static char names[64][16];
	static struct trn_model_vtable vts[64];
	struct rf_err e = {0};
	enum rf_rc rc = RF_OK;
	size_t i;

	(void)state;
	register_fakes();
	for (i = 0; i < 64; i++) {
		snprintf(names[i], sizeof names[i], "extra-%zu", i);
		vts[i] = fake_net;
		vts[i].name = names[i];
		rc = trn_model_register(&vts[i], &e);
		if (rc)
			break;
	}
	RF_ASSERT_RC(rc, RF_ETOOBIG);
	assert_non_null(strstr(e.msg, "'extra-"));
	/* room for at least 8 beyond the two fakes */
	assert_true(i >= 8);
	assert_null(trn_model_find(names[i]));
	assert_ptr_equal(trn_model_find("extra-0"), &vts[0]);
	assert_ptr_equal(trn_model_find(names[i - 1]), &vts[i - 1]);
	assert_ptr_equal(trn_model_at(4 + i - 1), &vts[i - 1]);
	assert_null(trn_model_at(4 + i));
	assert_ptr_equal(trn_model_find("cnn-small"), trn_model_at(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_unknown_lists_known),
		cmocka_unit_test(test_input_range),
		cmocka_unit_test(test_spec_checked),
		cmocka_unit_test(test_build_builtins),
		cmocka_unit_test(test_build_batch_one),
		cmocka_unit_test(test_registered_build),
		cmocka_unit_test(test_build_oom),
		cmocka_unit_test(test_register_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
