#!/usr/bin/env bash
# tests/arm64/macos_link.sh - the macOS build's commands, checked on Linux through make -n
# UNAME_S=Darwin (no Mac here: this shows the lines are what Apple's clang and ld64 take, not
# that they run). The library is a .dylib with an @rpath install name and versions, never a
# GNU soname; OpenMP is Homebrew's libomp (-Xpreprocessor -fopenmp, -lomp); the examples find
# the library through @loader_path. The Linux lines keep their soname and $ORIGIN.
# Ends with "test_macos_link: N passed, N failed, 0 skipped".
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0
check() {  # description, condition status
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi
}
b=$(mktemp -d)
mac=$(make -n UNAME_S=Darwin BREW_PREFIX=/opt/homebrew LIBOMP=/opt/homebrew/opt/libomp \
      CC=clang BUILD="$b/mac" lib "$b/mac/examples/generate" 2>&1)
lin=$(make -n CC=cc BUILD="$b/lin" lib "$b/lin/examples/generate" 2>&1)
rm -rf "$b"
ver=$(sed -n 's/^#define TLM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/tinylm.h |
      paste -sd.)
so=${ver%.*} # 0.MINOR while the major is 0
link=$(grep -E -- '-dynamiclib' <<<"$mac")
check "one -dynamiclib link line" $([ "$(grep -c . <<<"$link")" -eq 1 ]; echo $?)
check "install name @rpath/libtinylm.$so.dylib" \
    $(grep -qF -- "-install_name @rpath/libtinylm.$so.dylib" <<<"$link"; echo $?)
check "compatibility and current versions" \
    $(grep -qF -- "-compatibility_version $so -current_version $ver" <<<"$link"; echo $?)
check "writes libtinylm.$ver.dylib" $(grep -qF -- "-o $b/mac/libtinylm.$ver.dylib" <<<"$link"; echo $?)
check "links libomp" $(grep -qE -- '-L/opt/homebrew/opt/libomp/lib -lomp' <<<"$link"; echo $?)
check "no GNU ld option on macOS (-soname, \$ORIGIN, bare -fopenmp)" \
    $(! grep -qE -- '-soname|ORIGIN|(^| )-fopenmp' <<<"$(grep -v Xpreprocessor <<<"$mac")"; echo $?)
check "every compile takes -Xpreprocessor -fopenmp and libomp's headers" \
    $(! grep -E -- ' -c ' <<<"$mac" | grep -qv -- '-Xpreprocessor -fopenmp -I/opt/homebrew/opt/libomp/include'; echo $?)
check "symlinks libtinylm.$so.dylib and libtinylm.dylib" \
    $(grep -qF "ln -sf libtinylm.$ver.dylib $b/mac/libtinylm.$so.dylib" <<<"$mac" &&
      grep -qF "ln -sf libtinylm.$ver.dylib $b/mac/libtinylm.dylib" <<<"$mac"; echo $?)
check "examples find the library through @loader_path/.." \
    $(grep -A1 -- "examples/generate examples/generate.c" <<<"$mac" | grep -qF -- '-Wl,-rpath,@loader_path/..'; echo $?)
check "Linux keeps -shared -Wl,-soname,libtinylm.so.$so" \
    $(grep -qF -- "-shared -Wl,-soname,libtinylm.so.$so -o $b/lin/libtinylm.so.$ver" <<<"$lin"; echo $?)
check "Linux examples keep \$ORIGIN" $(grep -qF -- "-Wl,-rpath,'\$ORIGIN/..'" <<<"$lin"; echo $?)
echo "test_macos_link: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
