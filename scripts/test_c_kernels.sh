#!/usr/bin/env bash
# The C kernels (Sources/MoEKernelsC) built for several CPU targets with the standalone harness
# Tests/CKernels/kernel_check.c, which checks every exported function against references of its own
# (gguf's dequantised blocks, PyTorch's e4m3 table, double precision): x86-64 natively, aarch64 under
# qemu-user, so the NEON branches of the kernel files are held to the same references as the x86 ones.
# The aarch64 objects are also disassembled: hot kernels may call nothing outside the kernels and must
# contain the instructions the table below asks for. And the CPU check (Sources/MoECPUCheck) must accept
# an emulated core with the dot-product extension and refuse, by name, a Cortex-A72 without it.
#
# Usage: scripts/test_c_kernels.sh [VARIANT...]     (default: every variant this host runs: all four on
# x86-64 Linux, where the arm64 ones are skipped, loudly, when the cross tools are missing unless
# CKERNELS_REQUIRE_ARM=1 (.ci/run sets it); the arm64 ones natively on arm64 Linux; none elsewhere)
#   CKERNELS_VERBOSE=1 prints every check line, not just failures and a summary.
# Each variant builds into .build-ckernels/<variant>/: objects, kernel_check, kernel_check.log, disasm.log.
# Needs clang (Apple builds the kernels with clang; x8.c uses `#pragma clang attribute`), python3 and, on
# x86-64, the Debian packages qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (.ci/run
# installs them). Runs on Linux only.
set -euo pipefail
cd "$(dirname "$0")/.."

# Before anything bash-4 (declare -A): macOS's /bin/bash is 3.2.
if [ "$(uname -s)" != Linux ]; then
  echo "test_c_kernels.sh: NOT RUN: needs Linux (cross toolchain and qemu-user); this host is $(uname -s)."
  exit 0
fi

# ---- Variants: the flags the kernel objects are compiled with (x86-haswell's are Package.swift's).
# The harness itself is compiled for the architecture's baseline, without FMA contraction.
ALL_VARIANTS=(x86-haswell x86-baseline arm64-dotprod arm64-baseline)
declare -A KERNEL_FLAGS=(
  [x86-haswell]="-march=haswell -O3"             # AVX2/FMA/F16C kernels; the AVX-512 ones run too where the CPU has them
  [x86-baseline]="-march=x86-64 -O3"             # the portable scalar fallbacks
  [arm64-dotprod]="-march=armv8.2-a+dotprod -O3" # the NEON floor (sdot)
  [arm64-baseline]="-march=armv8-a -O3"          # plain ARMv8: below the NEON floor, the scalar fallbacks
)

# ---- Paths each variant must run: check-name prefixes that may have no `skip` line and need at least
# one `ok` line. (A build without a kernel for a path reports it as skip, e.g. moe_dot_q8_tokens
# returning -1.) The NEON kernels (arm64-dotprod) cover every path x86-haswell does.
declare -A MUST_RUN=(
  [x86-haswell]="q8dot/ x8/dot/ x8/vs_unpacked/"
  [x86-baseline]=""
  [arm64-dotprod]="q8dot/ x8/dot/ x8/vs_unpacked/"
  [arm64-baseline]=""
)

# llama.cpp's AVX-512 arithmetic (llamacpp.c) runs wherever the CPU has AVX-512F/DQ/VL.
if grep -qw avx512dq /proc/cpuinfo 2>/dev/null && grep -qw avx512f /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
  MUST_RUN[x86-haswell]+=" llamacpp/"
fi

# ---- Known failures: harness checks that FAIL today, by variant. Each is printed as KNOWN on every run;
# any other FAIL fails this script, and so does a known one that no longer fails (delete it then).
declare -A KNOWN_FAIL=(
  [x86-haswell]=""
  [x86-baseline]=""
  [arm64-dotprod]=""
  [arm64-baseline]=""
)

# ---- aarch64 disassembly of the arm64-dotprod objects. One line a hot kernel:
#   function | instructions it must contain: comma-separated groups, each "a|b" (either, by mnemonic
#   prefix), "-" for none | calls outside the kernels it may make ("-" for none).
# Calls to functions defined in the kernel objects are allowed and followed (their instructions count,
# their calls are checked). The integer kernels must use sdot (by lane for the eight-row layouts), the
# float ones fmla, the FP8 ones the half widening (fcvtl) and the bf16 ones the shift-widening (shll).
DISASM_VARIANTS="arm64-dotprod"
ARM64_HOT_KERNELS='
moe_dot_q4_0_f32             fmla,scvtf|ucvtf                -
moe_dot_q4_1_f32             fmla,scvtf|ucvtf                -
moe_dot_q8_0_f32             fmla,scvtf|ucvtf                -
moe_dot_q4_0_f32_tokens      fmla,scvtf|ucvtf                -
moe_dot_q4_1_f32_tokens      fmla,scvtf|ucvtf                -
moe_dot_q8_0_f32_tokens      fmla,scvtf|ucvtf                -
moe_quantize_q8_act          fcvtns,sqxtn,fmaxv         -
moe_quantize_q8_rows         fcvtns,sqxtn               -
moe_dot_q8_tokens            sdot,fmla,tbl              -
moe_dot_q8_x8_tokens         sdot,fmla,fcvtl            -
moe_dot_q8_x8_tokens_with    sdot,fmla,fcvtl            -
moe_dot_fp8_tokens           fmla,fcvtl                 -
moe_dot_fp8_rows             fmla,fcvtl                 -
moe_f32_to_bf16_rows         shrn,bsl|bit|bif           -
moe_dot_bf16act_rows         fmla,fcvtl,shll            -
moe_dot_bf16act_rows_with    fmla,fcvtl,shll            -
moe_dot_wide_rows            fmla,fcvtl,shll            memset
moe_swiglu                   fmla,frintn,fdiv           expf
moe_attend_head              fmla,frintn                memset,expf
moe_attend_partial           fmla,frintn                memset,expf
'
# memset: the compiler turns a zero-fill outside the loops into a call (wide.c's rows of an empty row
# range, ops.c's output for an empty position range). expf: the scalar tails of fewer than four
# elements in moe_swiglu and of the softmax in moe_attend_head/moe_attend_partial (the x86 build has the
# same tails).
# Calls the scalar code makes inside its loops, one libm call per element or position, are listed
# here: printed as KNOWN on every run; the check fails once one is gone, so that its line gets deleted.
# (Today none: the NEON quantiser rounds with fcvtns, no lrintf.)
ARM64_KNOWN_CALLS='
'

# ------------------------------------------------------------------------------------------------

die() { echo "test_c_kernels.sh: $*" >&2; exit 1; }

host=$(uname -m)

# Default: every variant this host can run (an arm64 host runs the arm64 ones natively).
variants=("$@")
named=${#variants[@]}
if [ "$named" = 0 ]; then
  case $host in
    aarch64|arm64) variants=(arm64-dotprod arm64-baseline) ;;
    *) variants=("${ALL_VARIANTS[@]}") ;;
  esac
fi
for v in "${variants[@]}"; do
  [ -n "${KERNEL_FLAGS[$v]+x}" ] || die "unknown variant $v (variants: ${ALL_VARIANTS[*]})"
done

# Tools, each named with the package that provides it.
missing=()
clang=""
if [ -n "${CC:-}" ] && "$CC" --version 2>/dev/null | grep -q clang; then clang=$CC
elif command -v clang >/dev/null 2>&1; then clang=$(command -v clang)
elif [ -x /opt/swift/usr/bin/clang ]; then clang=/opt/swift/usr/bin/clang
else missing+=("clang (the Swift toolchain's, or Debian package clang)")
fi
command -v python3 >/dev/null 2>&1 || missing+=("python3 (Debian package python3)")
wants_arm=0 wants_x86=0
for v in "${variants[@]}"; do case $v in arm64-*) wants_arm=1 ;; x86-*) wants_x86=1 ;; esac; done
if [ $wants_x86 = 1 ] && [ "$host" != x86_64 ]; then
  die "the x86 variants need an x86-64 host (this one is $host); run e.g. scripts/test_c_kernels.sh arm64-dotprod arm64-baseline"
fi
cross=0
if [ $wants_arm = 1 ] && [ "$host" = x86_64 ]; then
  cross=1
  arm_missing=()
  command -v qemu-aarch64 >/dev/null 2>&1 || arm_missing+=("qemu-aarch64 (Debian package qemu-user)")
  command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || arm_missing+=("aarch64-linux-gnu-gcc (Debian package gcc-aarch64-linux-gnu)")
  command -v aarch64-linux-gnu-objdump >/dev/null 2>&1 || arm_missing+=("aarch64-linux-gnu-objdump (Debian package binutils-aarch64-linux-gnu)")
  [ -e /usr/aarch64-linux-gnu/include/stdio.h ] || arm_missing+=("the aarch64 C library headers (Debian package libc6-dev-arm64-cross)")
  if [ ${#arm_missing[@]} -gt 0 ] && [ "$named" = 0 ] && [ "${CKERNELS_REQUIRE_ARM:-0}" != 1 ]; then
    # A developer machine without the cross tools still runs the x86 variants; CI requires all.
    echo "test_c_kernels.sh: arm64 variants NOT RUN: missing ${arm_missing[*]}"
    echo "  (apt-get install -y qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross, as .ci/run does; CKERNELS_REQUIRE_ARM=1 makes this an error)"
    variants=(x86-haswell x86-baseline)
    cross=0
  else
    missing+=(${arm_missing[@]+"${arm_missing[@]}"})
  fi
elif [ $wants_arm = 1 ]; then
  command -v objdump >/dev/null 2>&1 || missing+=("objdump (Debian package binutils)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  {
    echo "test_c_kernels.sh: missing tools:"
    printf '  %s\n' "${missing[@]}"
    echo "On Debian: apt-get install -y qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross (as .ci/run does)"
  } >&2
  exit 1
fi

root=.build-ckernels
mkdir -p "$root"
status=0

# Every function the header declares must be called by the harness.
uncovered=()
for f in $(grep -v '^[[:space:]]*//' Sources/MoEKernelsC/include/MoEKernelsC.h | grep -oE '\bmoe_[A-Za-z0-9_]+\(' | tr -d '(' | sort -u); do
  grep -qE "\\b$f\\(" Tests/CKernels/kernel_check.c || uncovered+=("$f")
done
if [ ${#uncovered[@]} -gt 0 ]; then
  echo "FAIL header coverage: Tests/CKernels/kernel_check.c never calls ${uncovered[*]}"
  status=1
fi

vectors=$root/vectors.bin
python3 Tests/CKernels/make_vectors.py . "$vectors"

# `list` contains word `w`.
has_word() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

run_variant() {
  local v=$1 out=$root/$1 start=$SECONDS
  local -a target=() link=() run=()
  local objdump=objdump
  rm -rf "$out"
  mkdir -p "$out"
  case $v in
    x86-*) link=("$clang") ;;
    arm64-*)
      if [ $cross = 1 ]; then
        target=(--target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu)
        link=(aarch64-linux-gnu-gcc)   # clang's own link lacks crtbeginS/libgcc for this sysroot
        run=(qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu)
        objdump=aarch64-linux-gnu-objdump
      else
        link=("$clang")
      fi ;;
  esac
  local objs=()
  for src in Sources/MoEKernelsC/*.c; do
    local o=$out/$(basename "$src" .c).o
    # shellcheck disable=SC2086  # the flags are words
    nice "$clang" "${target[@]}" ${KERNEL_FLAGS[$v]} -ISources/MoEKernelsC/include -c "$src" -o "$o" || { echo "FAIL $v: $src does not compile"; return 1; }
    objs+=("$o")
  done
  nice "$clang" "${target[@]}" -O2 -ffp-contract=off -Wall -Wextra -ISources/MoEKernelsC/include \
    -c Tests/CKernels/kernel_check.c -o "$out/kernel_check.o" || { echo "FAIL $v: the harness does not compile"; return 1; }
  nice "${link[@]}" "${objs[@]}" "$out/kernel_check.o" -lm -o "$out/kernel_check" || { echo "FAIL $v: link"; return 1; }

  local rc=0
  nice "${run[@]}" "$out/kernel_check" "$vectors" >"$out/kernel_check.log" 2>&1 || rc=$?
  [ "${CKERNELS_VERBOSE:-0}" = 1 ] && sed "s/^/  [$v] /" "$out/kernel_check.log"
  local bad=0
  if ! grep -q '^summary:' "$out/kernel_check.log" || [ $rc -gt 1 ]; then
    echo "FAIL $v: kernel_check did not finish (exit status $rc); last lines of $out/kernel_check.log:"
    tail -5 "$out/kernel_check.log" | sed 's/^/  /'
    bad=1
  fi
  local known=${KNOWN_FAIL[$v]} nknown=0 name
  while read -r _ name rest; do
    if has_word "$known" "$name"; then
      echo "  KNOWN [$v] $name $rest"
      nknown=$((nknown + 1))
    else
      echo "  FAIL  [$v] $name $rest"
      bad=1
    fi
  done < <(grep '^FAIL ' "$out/kernel_check.log" | tr -s ' ' || true)
  for name in $known; do
    if ! grep -q "^FAIL $name " "$out/kernel_check.log"; then
      echo "  FAIL  [$v] $name is listed in KNOWN_FAIL but did not fail: delete it there"
      bad=1
    fi
  done
  local prefix
  for prefix in ${MUST_RUN[$v]}; do
    if grep -qE "^skip +$prefix" "$out/kernel_check.log"; then
      echo "  FAIL  [$v] $prefix* must run on $v but was skipped:"
      grep -E "^skip +$prefix" "$out/kernel_check.log" | head -3 | sed 's/^/        /'
      bad=1
    elif ! grep -qE "^ok +$prefix" "$out/kernel_check.log"; then
      echo "  FAIL  [$v] $prefix* must run on $v but no check of that name passed"
      bad=1
    fi
  done
  # Skips, counted by the first part of their names.
  local skips
  skips=$(awk '$1 == "skip" { split($2, p, "/"); if (!(p[1] in n)) order[++m] = p[1]; n[p[1]]++ }
    END { for (i = 1; i <= m; i++) printf "%s%s x%d", (i > 1 ? ", " : ""), order[i], n[order[i]] }' "$out/kernel_check.log")

  local disasm=""
  if has_word "$DISASM_VARIANTS" "$v"; then
    {
      echo "# written by scripts/test_c_kernels.sh from ARM64_HOT_KERNELS and ARM64_KNOWN_CALLS"
      echo "$ARM64_HOT_KERNELS" | awk 'NF == 3 { print "hot", $1, $2, $3 }'
      echo "$ARM64_KNOWN_CALLS" | awk 'NF == 2 { print "known", $1, $2 }'
    } >"$out/disasm_table.txt"
    local drc=0
    python3 Tests/CKernels/disasm_check.py "$objdump" "$out/disasm_table.txt" "${objs[@]}" >"$out/disasm.log" 2>&1 || drc=$?
    [ "${CKERNELS_VERBOSE:-0}" = 1 ] && sed "s/^/  [$v] /" "$out/disasm.log"
    grep -E '^(FAIL|KNOWN) ' "$out/disasm.log" | tr -s ' ' | sed "s/^FAIL /  FAIL  [$v] /; s/^KNOWN /  KNOWN [$v] /" || true
    if [ $drc -ne 0 ]; then
      grep -qE '^FAIL ' "$out/disasm.log" || tail -5 "$out/disasm.log" | sed 's/^/  /'
      bad=1
    fi
    disasm="; disassembly: $(grep -c '^ok ' "$out/disasm.log" || true) ok, $(grep -c '^FAIL ' "$out/disasm.log" || true) FAIL, $(grep -c '^KNOWN ' "$out/disasm.log" || true) known"
  fi
  # The CPU check (compiled for the architecture's baseline, as Package.swift does) under emulated
  # cores with and without the dot-product extension, and with it simulated missing.
  local cpucheck=""
  if [ "$v" = arm64-dotprod ] && [ $cross = 1 ]; then
    nice "$clang" "${target[@]}" -O2 -ISources/MoECPUCheck/include -c Sources/MoECPUCheck/cpu_check.c -o "$out/cpu_check.o" &&
      nice "$clang" "${target[@]}" -O2 -ISources/MoECPUCheck/include -c Tests/CKernels/cpu_check_main.c -o "$out/cpu_check_main.o" &&
      nice "${link[@]}" "$out/cpu_check.o" "$out/cpu_check_main.o" -o "$out/cpu_check" || { echo "FAIL $v: the CPU check does not build"; return 1; }
    local cpu expect got nok=0
    for cpu in "max:supported" "cortex-a72:missing: DotProd (ARMv8.2 sdot)" "max+simulated:missing: DotProd (ARMv8.2 sdot)"; do
      expect=${cpu#*:}
      cpu=${cpu%%:*}
      if [ "$cpu" = max+simulated ]; then
        got=$(MOEKIT_SIMULATE_MISSING_CPU=dotprod qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu "$out/cpu_check" || true)
      else
        got=$(qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$out/cpu_check" || true)
      fi
      if [ "$got" = "$expect" ]; then
        nok=$((nok + 1))
      else
        echo "  FAIL  [$v] cpu_check on $cpu: expected \"$expect\", got \"$got\""
        bad=1
      fi
    done
    cpucheck="; CPU check: $nok of 3 ok"
  fi
  local counts
  counts=$(sed -n 's/^summary: //p' "$out/kernel_check.log")
  [ $nknown = 0 ] || counts="$counts ($nknown FAIL known)"
  echo "$( [ $bad = 0 ] && echo ok || echo FAIL ) $v: ${counts:-no summary}${skips:+; skipped: $skips}$disasm$cpucheck [$((SECONDS - start)) s]"
  return $bad
}

for v in "${variants[@]}"; do
  run_variant "$v" || status=1
done
if [ $status = 0 ]; then echo "test_c_kernels.sh: all variants passed"; else echo "test_c_kernels.sh: FAILED (logs in $root/<variant>/)"; fi
exit $status
