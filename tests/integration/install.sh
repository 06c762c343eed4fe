#!/usr/bin/env bash
# `cmake --install` into a DESTDIR, then the installed tree on its own: both binaries, the
# trainer found next to locsweep (and a clear error without it), `plan` of a shipped sweep, the
# man page through `man -l`, and the bash completion completing a subcommand and an option.
# Needs the default build target (man pages, completion); no man page without help2man
# (reported, not a failure: the build skips it with a message).
set -euo pipefail

: "${LOCSWEEP_BUILD_DIR:?set LOCSWEEP_BUILD_DIR to the build folder}"
tmp=$(mktemp -d /tmp/locsweep-install-test.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
prefix=/opt/locsweep-test
DESTDIR="$tmp/root" cmake --install "$LOCSWEEP_BUILD_DIR" --prefix "$prefix" >"$tmp/install.log" ||
  fail "cmake --install failed: $(tail -3 "$tmp/install.log")"
root="$tmp/root$prefix"
bin="$root/bin"
unset LOCSWEEP_TRAINER

echo "== the installed binaries"
[ -x "$bin/locsweep" ] && [ -x "$bin/locsweep-trainer" ] || fail "binaries not installed in $bin"
"$bin/locsweep" --help | grep -q '^Subcommands:' || fail "locsweep --help"
"$bin/locsweep" plan "$root/share/locsweep/sweeps/paper-v1.yaml" >"$tmp/plan.txt" ||
  fail "plan of the installed paper-v1.yaml"
grep -q 'quintic' "$tmp/plan.txt" || fail "plan output lacks the quintic trials: $(head -3 "$tmp/plan.txt")"
[ -x "$root/share/locsweep/scripts/launch" ] || fail "scripts/launch not installed"

echo "== locsweep finds the trainer next to itself"
"$bin/locsweep" trial --help >"$tmp/trial-help.txt" 2>&1 || fail "locsweep trial --help: $(cat "$tmp/trial-help.txt")"
grep -q -- '--out' "$tmp/trial-help.txt" || fail "trial --help is not the trainer's"
mv "$bin/locsweep-trainer" "$tmp/trainer.away"
if "$bin/locsweep" trial --help >"$tmp/no-trainer.txt" 2>&1; then fail "trial ran without the trainer"; fi
grep -qF "$bin/locsweep-trainer" "$tmp/no-trainer.txt" ||
  fail "the error does not name the installed trainer's path: $(cat "$tmp/no-trainer.txt")"
mv "$tmp/trainer.away" "$bin/locsweep-trainer"

echo "== bash completion"
completion="$root/share/bash-completion/completions/locsweep"
[ -f "$completion" ] || fail "no completion script at $completion"
complete_words() {  # complete_words WORD... : what TAB offers after the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _locsweep
           complete -p locsweep >/dev/null || exit 3; echo "${COMPREPLY[*]}"' _ "$completion" "$@"
}
[ "$(complete_words locsweep pla)" = plan ] || fail "'locsweep pla<TAB>' gives '$(complete_words locsweep pla)'"
[ "$(complete_words locsweep sta)" = status ] || fail "'locsweep sta<TAB>'"
case " $(complete_words locsweep results --for) " in *" --format "*) ;; *) fail "'results --for<TAB>'" ;; esac
case " $(complete_words locsweep plan --) " in *" --db "*) ;; *) fail "'plan --<TAB>' lacks --db" ;; esac
[ -z "$(complete_words locsweep completion)" ] || fail "the hidden completion command is offered"

echo "== man pages"
page="$root/share/man/man1/locsweep.1"
if [ ! -f "$page" ]; then
  command -v help2man >/dev/null && fail "help2man is installed but no man page was installed"
  echo "SKIP man page: help2man is not installed (the build skipped it)"
else
  [ -f "$root/share/man/man1/locsweep-trainer.1" ] || fail "no locsweep-trainer.1"
  grep -q '^\.TH LOCSWEEP' "$page" || fail "$page is not a man page"
  if ! command -v man >/dev/null; then
    echo "SKIP man -l: no man(1) on this machine (Debian package man-db)"
    echo "OK"
    exit 0
  fi
  MANWIDTH=100 man -P cat -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err" || fail "man -l: $(cat "$tmp/man.err")"
  grep -q 'progressive-localisation' "$tmp/man.txt" || fail "man page lacks the summary"
  grep -q 'Expand a sweep spec' "$tmp/man.txt" || fail "man page lacks the subcommands (--help-all)"
  if grep -qF "$LOCSWEEP_BUILD_DIR" "$tmp/man.txt"; then fail "the man page names the build folder"; fi
fi
echo "OK"
