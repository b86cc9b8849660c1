#!/usr/bin/env bash
# Fails when a C++ file of the tree differs from what .clang-format says
# (clang-format 14, Debian bookworm). Fix with: clang-format -i FILE...
set -euo pipefail
clang_format="${1:?usage: checkformat.sh CLANG_FORMAT SOURCE_DIR}"
source_dir="${2:?usage: checkformat.sh CLANG_FORMAT SOURCE_DIR}"
cd "$source_dir"
mapfile -d '' files < <(find app core ui tests \( -name '*.cpp' -o -name '*.h' \) -print0 | sort -z)
[ ${#files[@]} -gt 0 ] || { echo "checkformat: no C++ files under $source_dir" >&2; exit 1; }
"$clang_format" --dry-run -Werror --style=file "${files[@]}"
echo "checkformat: ${#files[@]} files formatted as .clang-format says"
