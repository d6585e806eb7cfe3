#!/usr/bin/python3
"""De-identification throughput: `radfed anon` beside gdcmanon (GDCM, PS3.15
Basic Application Level Confidentiality Profile) and dcmdump (DCMTK, parse
only), from one run. Started by bench/anon.sh; see docs/benchmarks.md.

usage: anon_bench.py RADFED_BINARY

Inputs, made in a temporary folder below $TMPDIR (default /tmp):
  corpus  every file `dpkg -L python3-pydicom` lists below /data/, copied
          flat (non-DICOM files included: each tool has to skip them);
  ct      100 single-frame CT slices 512x512x16 bit, Explicit VR Little
          Endian, made by bench/make_ct_series.py.
Every figure is wall-clock time (time.perf_counter around the process),
best of 3 runs (RADFED_BENCH_RUNS=N in the environment for N: more on a
busy machine), output folder emptied before each run. Writing tools are
timed with the output on the temporary folder's file system and on
/dev/shm (tmpfs), since radfed fsyncs every output file and gdcmanon does
not. files/s counts every input handed to the tool; MB/s counts input
bytes (1 MB = 10^6 bytes).

gdcmanon's directory mode stops at the first file it cannot de-identify,
so it is timed on the corpus files it accepts (found by one run per file),
and again without the files it spends more than SLOW seconds on; radfed
is timed on the same sets."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = int(os.environ.get("RADFED_BENCH_RUNS", "3"))
TARGET_FILES_RATIO = 3.0   # radfed --jobs 1 files/s over gdcmanon's
TARGET_LARGE_MBS = 500.0   # radfed MB/s on the large images
SLOW = 1.0                 # seconds: a file that dominates a corpus run


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, **kw).returncode


def best_of(cmd, out_dir=None):
    """Best wall-clock seconds of RUNS runs of cmd (a list)."""
    best = None
    for _ in range(RUNS):
        if out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
            os.makedirs(out_dir)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
    if out_dir:
        shutil.rmtree(out_dir, ignore_errors=True)
    return best


def folder_stats(d):
    names = sorted(os.listdir(d))
    return len(names), sum(os.path.getsize(os.path.join(d, n))
                           for n in names)


def copy_corpus(dst):
    out = subprocess.run(["dpkg", "-L", "python3-pydicom"], check=True,
                         capture_output=True, text=True).stdout
    os.makedirs(dst)
    for p in out.splitlines():
        if "/data/" not in p or not os.path.isfile(p):
            continue
        rel = p.split("/data/", 1)[1].replace("/", "_")
        shutil.copyfile(p, os.path.join(dst, rel))


def radfed_outcomes(radfed, key, src, out):
    """Outcome counts of one radfed run, from its --json summary."""
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run([radfed, "anon", "--json", "--key", key, "--out",
                        out, "--jobs", "1", src], capture_output=True,
                       text=True)
    shutil.rmtree(out, ignore_errors=True)
    try:
        s = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "exit %d, no summary" % r.returncode
    return ("%d written, %d quarantined, %d skipped, %d failed"
            % (s["written"], s["quarantined"], s["skipped"], s["failed"]))


def gdcmanon_cmd(cert, src, dst):
    return ["gdcmanon", "--continue", "-e", "-c", cert, "-i", src,
            "-o", dst]


def per_file_failures(src, cmd_for, tmp):
    """Files of src that cmd_for(path, out) fails on, one process each,
    and the files whose single run takes more than SLOW seconds."""
    bad, slow = [], []
    for n in sorted(os.listdir(src)):
        out = os.path.join(tmp, "one.dcm")
        t0 = time.perf_counter()
        rc = run(cmd_for(os.path.join(src, n), out))
        if rc != 0:
            bad.append(n)
        elif time.perf_counter() - t0 > SLOW:
            slow.append(n)
        if os.path.exists(out):
            os.remove(out)
    return bad, slow


def row(rows, tool, out_fs, files, nbytes, secs, note=""):
    rows.append((tool, out_fs, files, nbytes / 1e6, secs, files / secs,
                 nbytes / 1e6 / secs, note))


def print_table(title, rows):
    print("\n" + title)
    hdr = ("tool", "output", "files", "MB", "best s", "files/s", "MB/s")
    print("%-28s %-8s %6s %8s %8s %9s %8s  %s" % (hdr + ("notes",)))
    for r in rows:
        print("%-28s %-8s %6d %8.1f %8.3f %9.1f %8.1f  %s" % r)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    radfed = os.path.abspath(sys.argv[1])
    for tool in ("gdcmanon", "dcmdump", "openssl"):
        if not shutil.which(tool):
            sys.exit("anon_bench: '%s' not found (packages: "
                     "libgdcm-tools dcmtk openssl)" % tool)
    tmp = tempfile.mkdtemp(prefix="radfed-bench-")
    shm = tempfile.mkdtemp(prefix="radfed-bench-", dir="/dev/shm")
    disk_fs = os.path.dirname(tmp)
    try:
        key = os.path.join(tmp, "site.key")
        with open(key, "wb") as f:
            f.write(os.urandom(32))
        # gdcmanon -e wants an X.509 certificate to encrypt the original
        # attributes into the Encrypted Attributes Sequence (PS3.15 E.1.1).
        cert = os.path.join(tmp, "cert.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", os.path.join(tmp, "cert.key"), "-out", cert,
             "-days", "3650", "-subj", "/CN=radfed-bench"])
        corpus = os.path.join(tmp, "corpus")
        copy_corpus(corpus)
        ct = os.path.join(tmp, "ct")
        subprocess.run(["/usr/bin/python3",
                        os.path.join(HERE, "make_ct_series.py"), ct],
                       check=True)

        # Which files each tool fails on (untimed, one process per file).
        g_bad, g_slow = per_file_failures(
            corpus, lambda p, o: gdcmanon_cmd(cert, p, o), tmp)
        d_bad, _ = per_file_failures(
            corpus, lambda p, o: ["dcmdump", "-q", p], tmp)
        # gdcmanon's directory mode stops at the first file it cannot
        # de-identify (--continue only skips unreadable ones), so it is
        # timed on the files it accepts; radfed is timed on both sets.
        # A file gdcmanon spends more than SLOW seconds on dominates its
        # figure: the set without such files is timed too.
        ok = os.path.join(tmp, "corpus-gdcm-ok")
        fast = os.path.join(tmp, "corpus-gdcm-fast")
        os.makedirs(ok)
        os.makedirs(fast)
        for n in sorted(os.listdir(corpus)):
            if n not in g_bad:
                shutil.copyfile(os.path.join(corpus, n),
                                os.path.join(ok, n))
            if n not in g_bad and n not in g_slow:
                shutil.copyfile(os.path.join(corpus, n),
                                os.path.join(fast, n))

        n_all, b_all = folder_stats(corpus)
        n_ok, b_ok = folder_stats(ok)
        n_fast, b_fast = folder_stats(fast)
        outs = (("disk", os.path.join(tmp, "out")),
                ("tmpfs", os.path.join(shm, "out")))
        rows = []
        for fs, out in outs:
            t = best_of([radfed, "anon", "--key", key, "--out", out,
                         "--jobs", "1", corpus], out)
            row(rows, "radfed anon --jobs 1", fs, n_all, b_all, t,
                "all files" if fs == "disk" else "")
        for fs, out in outs:
            t = best_of([radfed, "anon", "--key", key, "--out", out,
                         "--jobs", "1", ok], out)
            row(rows, "radfed anon --jobs 1", fs, n_ok, b_ok, t,
                "gdcmanon's files" if fs == "disk" else "")
        g_files = {}
        for fs, out in outs:
            t = best_of(gdcmanon_cmd(cert, ok, out), out)
            g_files[fs] = n_ok / t
            row(rows, "gdcmanon -e (Basic Profile)", fs, n_ok, b_ok, t,
                "gdcmanon's files" if fs == "disk" else "")
        r_fast, g_fast = {}, {}
        for fs, out in outs:
            t = best_of([radfed, "anon", "--key", key, "--out", out,
                         "--jobs", "1", fast], out)
            r_fast[fs] = n_fast / t
            row(rows, "radfed anon --jobs 1", fs, n_fast, b_fast, t,
                "same, no slow file" if fs == "disk" else "")
        for fs, out in outs:
            t = best_of(gdcmanon_cmd(cert, fast, out), out)
            g_fast[fs] = n_fast / t
            row(rows, "gdcmanon -e (Basic Profile)", fs, n_fast, b_fast,
                t, "same, no slow file" if fs == "disk" else "")
        t = best_of(["dcmdump", "-q", "+sd", corpus])
        row(rows, "dcmdump +sd (parse only)", "-", n_all, b_all, t,
            "all files, one process")
        print("machine: %d cores, %s; output disk = %s"
              % (os.cpu_count(), cpu_model(), disk_fs))
        print_table("1. pydicom corpus (%d files, %.1f MB; %d files, "
                    "%.1f MB accepted by gdcmanon)"
                    % (n_all, b_all / 1e6, n_ok, b_ok / 1e6), rows)
        print("failures: radfed: %s" % radfed_outcomes(
            radfed, key, corpus, os.path.join(tmp, "out")))
        print("          gdcmanon: %d of %d files (%s)"
              % (len(g_bad), n_all, ", ".join(g_bad)))
        print("          gdcmanon slower than %.0f s on: %s"
              % (SLOW, ", ".join(g_slow) or "none"))
        print("          dcmdump: %d of %d files (%s)"
              % (len(d_bad), n_all, ", ".join(d_bad)))
        r_files = {fs: rows[2 + i][5] for i, (fs, _) in enumerate(outs)}

        n_ct, b_ct = folder_stats(ct)
        rows = []
        large = {}
        for jobs in ("1", "2"):
            for fs, out in outs:
                t = best_of([radfed, "anon", "--key", key, "--out", out,
                             "--jobs", jobs, ct], out)
                large[(jobs, fs)] = b_ct / 1e6 / t
                row(rows, "radfed anon --jobs " + jobs, fs, n_ct, b_ct, t)
        for fs, out in outs:
            row(rows, "gdcmanon -e (Basic Profile)", fs, n_ct, b_ct,
                best_of(gdcmanon_cmd(cert, ct, out), out))
        row(rows, "dcmdump +sd (parse only)", "-", n_ct, b_ct,
            best_of(["dcmdump", "-q", "+sd", ct]))
        print_table("2. CT series (%d slices 512x512x16 bit, %.1f MB)"
                    % (n_ct, b_ct / 1e6), rows)
        print("failures: radfed: %s" % radfed_outcomes(
            radfed, key, ct, os.path.join(tmp, "out")))

        print("\ntargets:")
        for fs, _ in outs:
            ratio = r_files[fs] / g_files[fs]
            print("  radfed --jobs 1 files/s >= %.0fx gdcmanon (%s): "
                  "%.2fx  %s" % (TARGET_FILES_RATIO, fs, ratio,
                                 verdict(ratio >= TARGET_FILES_RATIO)))
            ratio = r_fast[fs] / g_fast[fs]
            print("  same without gdcmanon's slow files (%s): "
                  "%.2fx  %s" % (fs, ratio,
                                 verdict(ratio >= TARGET_FILES_RATIO)))
        for (jobs, fs), mbs in sorted(large.items()):
            print("  radfed --jobs %s >= %.0f MB/s on CT (%s): %.1f  %s"
                  % (jobs, TARGET_LARGE_MBS, fs, mbs,
                     verdict(mbs >= TARGET_LARGE_MBS)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


def verdict(ok):
    return "met" if ok else "NOT MET"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
