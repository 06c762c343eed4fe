#!/usr/bin/env bash
# Every C++ source git tracks is formatted by the committed .clang-format (exit 77 = skipped:
# no clang-format, another major version than 14, or not a git checkout). Fix with:
#   git ls-files '*.cpp' '*.hpp' | xargs clang-format -i
set -euo pipefail
command -v clang-format >/dev/null || { echo "clang-format not installed: skipped"; exit 77; }
# The tree is formatted with Debian 12's clang-format 14; later majors (Debian 13 has 19) lay out a
# few constructs differently (`struct stat s {};`, pointers to members), so only 14 judges it.
major=$(clang-format --version | grep -oE '[0-9]+' | head -n 1)
[ "$major" = 14 ] || { echo "clang-format $major, the tree follows clang-format 14 (Debian 12): skipped"; exit 77; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "not a git checkout: skipped"; exit 77; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
[ "${#files[@]}" -gt 0 ] || { echo "no C++ sources found" >&2; exit 1; }
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "some files are not clang-formatted; run: git ls-files '*.cpp' '*.hpp' | xargs clang-format -i" >&2
  exit 1
fi
echo "${#files[@]} files formatted"
