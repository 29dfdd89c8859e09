#!/usr/bin/env bash
# gen-man.sh FARSIGHT_BINARY: writes farsight(1) in man(7) format on stdout, from the
# binary's own help (the commands, `farsight run --help` with every setting), so the
# man page cannot drift from the program.  `make install` runs it.
set -euo pipefail
bin=$1
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/"; }
ver=$("$bin" --version | awk '{print $2}')
cat <<HEAD
.TH FARSIGHT 1 "" "farsight $ver" "User Commands"
.SH NAME
farsight \- run unmodified programs with their heap in far memory, with learned prefetching
.SH SYNOPSIS
.B farsight run
[\fIOPTIONS\fR] \fB\-\-\fR \fIPROGRAM\fR [\fIARGS\fR...]
.br
.B farsight
\fICOMMAND\fR [\fIARGS\fR...]
.SH DESCRIPTION
.B farsight run
starts PROGRAM with libfarsight\-preload.so preloaded: its malloc heap and private
anonymous mappings live in a far-memory arena of which only \fB\-\-local\-mem\fR bytes
stay local; the rest is held by the backend, and a prefetcher fetches pages ahead of
use.  Forked children get their own copy-on-write view of far memory.  When PROGRAM
ends, however it ends, a summary is printed on standard error and, with
\fB\-\-stats\-json\fR, written as JSON.  Signals sent to \fBfarsight run\fR are
forwarded to PROGRAM; its exit status is passed through (128+N after signal N).
.SH COMMANDS
.nf
HEAD
"$bin" --help | sed -n '/^commands:/,/^$/p' | sed 1d | esc
echo ".fi"
echo ".SH OPTIONS OF farsight run"
echo ".nf"
"$bin" run --help | sed -n '/^options/,/^$/p' | sed 1d | esc
echo ".fi"
cat <<'TAIL'
.SH FILES
.TP
.I PREFIX/lib/farsight/libfarsight\-preload.so
the preload library (found next to the binary in a build tree)
.TP
.I PREFIX/share/farsight/models/*.fsm
the shipped FarSight models; \fIdefault.fsm\fR is the default of \fB\-\-model\fR
.SH SEE ALSO
The documentation in PREFIX/share/doc/farsight: README.md, ARCHITECTURE.md, PRELOAD.md
(what is supported: fork, threads, runtimes), TUNING.md.
TAIL
