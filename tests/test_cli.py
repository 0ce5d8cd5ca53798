import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastlae import _errors as E
from fastlae import cli


def test_pca_roundtrip_npy_csv_npz(tmp_path, capsys):
    X = np.random.default_rng(1).standard_normal((40, 6))
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    np.savez(tmp_path / "x.npz", X=X, other=np.ones(3))
    outs = []
    for name in ["x.npy", "x.csv", "x.npz"]:
        out = tmp_path / (name + ".out.npz")
        assert cli.main(["pca", str(tmp_path / name), "-k", "2", "-o", str(out)]) == 0
        with np.load(out) as z:
            outs.append(z["components"])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-10)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-12)
    assert "explained variance" in capsys.readouterr().out


@pytest.mark.parametrize("name, content, match", [
    ("missing.npy", None, "cannot read"),
    ("bad.txt", "1,2", "unsupported file type '.txt'"),
    ("bad.npy", "not an array", "cannot read"),
])
def test_errors_are_one_line(tmp_path, capsys, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    out = tmp_path / "o.npz"
    assert cli.main(["pca", str(path), "-k", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err.replace(E.COMPILING + "\n", "")   # a fresh cache says so
    assert err.startswith("fastlae: error:") and match in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_k_from_cli(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((4, 3)))
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "9", "-o", str(tmp_path / "o.npz")]) == 2
    assert "k=9 is out of range" in capsys.readouterr().err


def test_demo_small(capsys):
    assert cli.main(["demo", "--n-samples", "3000", "--n-features", "40", "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "solver:" in out and "agreement" in out


# ---------------------------------------------------------------- the command as users run it

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import fastlae  # noqa: E402


def _run(*args, stdin=None, env=None):
    """``fastlae ARGS`` in a child process: (status, stdout, stderr); stderr is a pipe, not a
    terminal."""
    proc = subprocess.run([sys.executable, "-m", "fastlae.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def _data(n=60, d=5, seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * np.linspace(3, 0.5, d) + 2.0


def test_version_and_help():
    rc, out, err = _run("--version")
    assert rc == 0 and out.strip() == f"fastlae {fastlae.__version__}"
    rc, out, _ = _run("pca", "--help")
    assert rc == 0 and "example: fastlae pca" in out
    for option in ("--transform", "--delimiter", "--header", "--quiet", "--verbose"):
        assert option in out
    # every solver is listed as a choice, and defaults are stated
    assert all(name in out for name in fastlae.solvers.SOLVERS) and "(default: auto)" in out


@pytest.mark.parametrize("command", ["demo", "bench", "warmup", "paper"])
def test_every_subcommand_describes_its_options(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"example: fastlae {command}" in out
    options = [line.split()[0] for line in out.splitlines()
               if line.startswith("  -") and not line.startswith("  -h")]
    assert options
    helped = out.split("options:")[1]
    for option in options:   # the option's line, or the next one, carries a description
        line = next(ln for ln in helped.splitlines() if ln.strip().startswith(option))
        assert len(line.split(maxsplit=1 + line.count(" " + option.upper()))) >= 1
    assert "--help" in out


def test_usage_errors_are_one_line_status_2():
    rc, out, err = _run("pca", "x.csv", "-o", "o.npz")   # -k missing
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "the following arguments are required: -k" in err and "Traceback" not in err
    rc, _, err = _run()   # no command
    assert rc == 2 and err.count("\n") == 1


def test_header_csv_stdin_and_names(tmp_path):
    X = _data()
    names = ["mean radius", "texture", "perimeter", "area", "smoothness"]
    # as pandas writes it: a header row and an unnamed index column
    lines = ["," + ",".join(names)] + [f"{i}," + ",".join(repr(float(v)) for v in row)
                                       for i, row in enumerate(X)]
    text = "\n".join(lines) + "\n"
    out = tmp_path / "c.csv"
    rc, stdout, err = _run("pca", "-", "-k", "2", "-o", str(out), stdin=text)
    assert rc == 0, err
    assert "\r" not in err   # no progress line: stderr is not a terminal
    head, *rows = out.read_text().splitlines()
    assert head.split(",") == ["", "explained_variance", "explained_variance_ratio"] + names
    assert [r.split(",")[0] for r in rows] == ["PC1", "PC2", "mean"]
    table = np.array([r.split(",")[1:] for r in rows[:2]], dtype=float)
    ref = fastlae.pca(X, 2)
    np.testing.assert_allclose(table[:, 0], ref.explained_variance, rtol=1e-12)
    np.testing.assert_allclose(np.abs(table[:, 2:]), np.abs(ref.components), atol=1e-10)
    np.testing.assert_allclose(np.array(rows[2].split(",")[3:], dtype=float), X.mean(axis=0),
                               rtol=1e-14)


@pytest.mark.parametrize("name, delimiter, extra", [
    ("semi.csv", ";", []), ("tab.tsv", "\t", []), ("space.txt.csv", " ", []),
    ("forced.csv", "|", ["--delimiter", "|"]),
])
def test_delimiters(tmp_path, capsys, name, delimiter, extra):
    X = _data(seed=4)
    path = tmp_path / name
    np.savetxt(path, X, delimiter=delimiter, header=delimiter.join(f"f{j}" for j in range(5)),
               comments="")
    out = tmp_path / "o.npz"
    assert cli.main(["pca", str(path), "-k", "2", "-o", str(out), "--quiet", *extra]) == 0
    assert capsys.readouterr().out == ""
    with np.load(out) as z:
        assert list(z["feature_names"]) == [f"f{j}" for j in range(5)]
        np.testing.assert_allclose(z["explained_variance"], fastlae.pca(X, 2).explained_variance,
                                   rtol=1e-12)


def test_header_options(tmp_path, capsys):
    X = np.abs(_data(n=30, seed=5))
    path = tmp_path / "x.csv"
    np.savetxt(path, X, delimiter=",")
    out = tmp_path / "o.npz"
    # --header takes the first numeric row as names: one sample fewer
    assert cli.main(["pca", str(path), "-k", "1", "-o", str(out), "--header", "--quiet"]) == 0
    with np.load(out) as z:
        assert len(z["feature_names"]) == 5
    path.write_text("a,b,c,d,e\n" + path.read_text())
    assert cli.main(["pca", str(path), "-k", "1", "-o", str(out), "--no-header"]) == 2
    assert "line 1, column 1: 'a' is not a number" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".tsv"])
def test_transform_writes_scores(tmp_path, suffix):
    X = _data(seed=6)
    np.save(tmp_path / "x.npy", X)
    scores = tmp_path / f"s{suffix}"
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "3", "-o", str(tmp_path / "c.npz"),
                     "--transform", str(scores), "--quiet"]) == 0
    if suffix == ".npy":
        S = np.load(scores)
    elif suffix == ".npz":
        with np.load(scores) as z:
            S = z["scores"]
    else:
        rows = scores.read_text().splitlines()
        assert rows[0].split("\t" if suffix == ".tsv" else ",") == ["PC1", "PC2", "PC3"]
        S = np.loadtxt(rows[1:], delimiter="\t" if suffix == ".tsv" else ",")
    r = fastlae.pca(X, 3)
    np.testing.assert_allclose(S, (X - r.mean) @ r.components.T, atol=1e-10)


@pytest.mark.parametrize("option", ["-o", "--transform"])
def test_bad_output_fails_before_the_work(tmp_path, option):
    np.save(tmp_path / "x.npy", _data())
    good, bad = str(tmp_path / "c.npz"), str(tmp_path / "missing" / "c.npz")
    args = ["pca", str(tmp_path / "x.npy"), "-k", "2", "-o", bad if option == "-o" else good]
    if option == "--transform":
        args += ["--transform", bad]
    rc, out, err = _run(*args)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot write {option}" in err and "does not exist" in err
    assert not os.path.exists(good)   # nothing was computed or written


def test_unwritable_suffix_and_missing_input(tmp_path, capsys):
    np.save(tmp_path / "x.npy", _data())
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o",
                     str(tmp_path / "c.xlsx")]) == 2
    assert "unsupported file type '.xlsx'" in capsys.readouterr().err
    assert cli.main(["pca", str(tmp_path / "nope.csv"), "-k", "2", "-o",
                     str(tmp_path / "c.npz")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_follow_the_umask(tmp_path, mask, mode):
    np.save(tmp_path / "x.npy", _data())
    old = os.umask(mask)
    try:
        assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o",
                         str(tmp_path / "c.csv"), "--transform", str(tmp_path / "s.npy"),
                         "--quiet"]) == 0
    finally:
        os.umask(old)
    for name in ("c.csv", "s.npy"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == mode
    assert sorted(os.listdir(tmp_path)) == ["c.csv", "s.npy", "x.npy"]   # no temporary left


def test_verbose_reports_what_ran(tmp_path, capsys):
    np.save(tmp_path / "x.npy", _data())
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o", str(tmp_path / "c.npz"),
                     "--verbose", "--solver", "als"]) == 0
    err = capsys.readouterr().err
    assert "solver als" in err and "updates" in err and "converged" in err and "gram" in err


def test_compile_notice_on_a_cold_cache(tmp_path):
    """A fresh cache is detected without compiling anything (the check only reads the index)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = "from fastlae._warmup import cold; print(cold())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "True"
    for solver in ("eigh", "als_tied"):   # the kernels cold() looks for, now cached
        fastlae.pca(_data(), 2, solver=solver)
    from fastlae._warmup import cold

    assert not cold()


def test_warmup_runs_every_path(capsys):
    """``fastlae warmup`` goes through every entry point (here from the warm cache: compiling
    them all afresh takes about 50 s on 2 cores)."""
    assert cli.main(["warmup"]) == 0
    captured = capsys.readouterr()
    assert "kernels ready" in captured.out and "compiling (or loading)" in captured.err
    from fastlae._warmup import cold

    assert not cold()


def _collisions(tmp_path):
    """``(label, args)`` of output paths that name the input or each other, written the ways
    a user would: the same name, a relative path, a symbolic link, a hard link."""
    inp = tmp_path / "d.npy"
    (tmp_path / "sub").mkdir()
    os.symlink(inp, tmp_path / "link.npy")
    os.link(inp, tmp_path / "hard.npy")
    rel = os.path.relpath(inp)
    return [
        ("-o is the input", ["-o", str(inp)]),
        ("--transform is the input", ["-o", str(tmp_path / "c.npz"), "--transform", str(inp)]),
        ("-o is the input, relative", ["-o", str(tmp_path / "sub" / ".." / "d.npy")]),
        ("-o is the input, cwd-relative", ["-o", rel]),
        ("-o links to the input", ["-o", str(tmp_path / "link.npy")]),
        ("-o is a hard link of the input", ["-o", str(tmp_path / "hard.npy")]),
        ("both outputs one file", ["-o", str(tmp_path / "r.npz"), "--transform",
                                   str(tmp_path / "sub" / ".." / "r.npz")]),
    ]


def test_outputs_never_overwrite_the_input_or_each_other(tmp_path):
    X = _data(seed=2)
    np.save(tmp_path / "d.npy", X)
    before = (tmp_path / "d.npy").read_bytes()
    for label, outputs in _collisions(tmp_path):
        rc = cli.main(["pca", str(tmp_path / "d.npy"), "-k", "2", "--quiet"] + outputs)
        assert rc == 2, label
        assert (tmp_path / "d.npy").read_bytes() == before, label
        assert not os.path.exists(tmp_path / "c.npz") and not os.path.exists(tmp_path / "r.npz")


def test_a_failed_second_write_leaves_the_old_files(tmp_path, monkeypatch):
    np.save(tmp_path / "x.npy", _data(seed=3))
    (tmp_path / "c.npz").write_bytes(b"old components")
    (tmp_path / "s.csv").write_text("old scores\n")

    calls = []

    def full_disk(*args, **kwargs):   # the scores' write fails like a full disk
        calls.append(1)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("csv.writer", full_disk)   # the text writer of the scores
    rc = cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o", str(tmp_path / "c.npz"),
                   "--transform", str(tmp_path / "s.csv"), "--quiet"])
    monkeypatch.undo()
    assert rc == 2 and calls
    assert (tmp_path / "c.npz").read_bytes() == b"old components"
    assert (tmp_path / "s.csv").read_text() == "old scores\n"
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "s.csv", "x.npy"]   # no temporary left


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_replacing_a_file_keeps_its_mode(tmp_path, mode):
    np.save(tmp_path / "x.npy", _data())
    out = tmp_path / "c.csv"
    out.write_text("old\n")
    os.chmod(out, mode)
    rc = cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o", str(out), "--quiet"])
    if os.access(out, os.W_OK):   # a read-only file is refused, unless the user may write it
        assert rc == 0 and out.read_text() != "old\n"
    else:
        assert rc == 2 and out.read_text() == "old\n"
    assert os.stat(out).st_mode & 0o777 == mode


def test_an_output_directory_is_named_as_such(tmp_path, capsys):
    np.save(tmp_path / "x.npy", _data())
    (tmp_path / "outdir").mkdir()
    assert cli.main(["pca", str(tmp_path / "x.npy"), "-k", "2", "-o",
                     str(tmp_path / "outdir")]) == 2
    assert "is a directory" in capsys.readouterr().err


def _spellings(tmp_path, name):
    """Ways to name ``tmp_path / name``: absolute, relative with ``..`` and ``.``, through a
    symbolic link to the directory, and a hard link (where the file exists)."""
    link = tmp_path / "linked"
    if not link.exists():
        link.symlink_to(tmp_path, target_is_directory=True)
    return [str(tmp_path / name), os.path.relpath(tmp_path / name),
            str(tmp_path / "sub" / ".." / name), str(tmp_path / "." / name), str(link / name)]


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_random_output_collisions_are_refused_before_any_work(data, tmp_path_factory):
    """Outputs naming the input or each other, however they are spelled (relative, ``..``,
    through a link to the directory, a hard link), are refused with nothing written."""
    tmp_path = tmp_path_factory.mktemp("paths")
    (tmp_path / "sub").mkdir()
    X = _data(seed=11)
    np.save(tmp_path / "d.npy", X)
    os.link(tmp_path / "d.npy", tmp_path / "hard.npy")
    before = (tmp_path / "d.npy").read_bytes()
    kind = data.draw(st.sampled_from(["output is input", "transform is input",
                                      "outputs collide"]))
    if kind == "outputs collide":
        name = data.draw(st.sampled_from(["r.npz", "r.csv", "r.npy"]))
        first = data.draw(st.sampled_from(_spellings(tmp_path, name)))
        second = data.draw(st.sampled_from(_spellings(tmp_path, name)))
        outputs = ["-o", first, "--transform", second]
    else:
        same = data.draw(st.sampled_from(_spellings(tmp_path, "d.npy")
                                         + [str(tmp_path / "hard.npy")]))
        other = str(tmp_path / "c.npz")
        outputs = ["-o", same, "--transform", other] if kind == "output is input" \
            else ["-o", other, "--transform", same]
    rc = cli.main(["pca", str(tmp_path / "d.npy"), "-k", "2", "--quiet"] + outputs)
    assert rc == 2
    assert (tmp_path / "d.npy").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npy", "hard.npy", "linked", "sub"]
