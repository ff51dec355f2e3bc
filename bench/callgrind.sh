#!/bin/sh
# Instruction counts per job of the supervisor in the end-to-end stream run
# (the setup of bench/run.py step_e2e: 2 echo workers, one pool): runs
# ./mpsup under callgrind, sends JOBS jobs with bench_e2e, stops the
# supervisor and prints instructions per job, whole and per function.
# Usage: bench/callgrind.sh [JOBS [PREFETCH [OUTDIR]]], from the build dir
# after `make mpsup examples/echo_worker bench/bench_e2e`. STORE=sqlite
# (and STORE_SYNC=normal|full) runs it with the SQLite store, the
# database in OUTDIR.
# With MPSUP_CLUSTER=URL (a running Redis, e.g. unix:/path/redis.sock) the
# supervisor is a one-node cluster on that Redis (node "callgrind"): the
# cluster queue's cost per job on the node's side.
set -eu
jobs=${1:-200000}
prefetch=${2:-256}
dir=${3:-$(mktemp -d /tmp/mpsup-callgrind.XXXXXX)}
here=$(pwd)
mkdir -p "$dir"
store="store = memory"
if [ "${STORE:-memory}" = sqlite ]; then
	rm -f "$dir/jobs.db" "$dir/jobs.db-wal" "$dir/jobs.db-shm"
	store="store = sqlite:$dir/jobs.db
store_sync = ${STORE_SYNC:-normal}"
fi
# A cluster takes no store.
if [ -n "${MPSUP_CLUSTER:-}" ]; then
	store="cluster = $MPSUP_CLUSTER
node = callgrind"
fi
cat >"$dir/pool.ini" <<INI
[supervisor]
listen = unix:$dir/mpsup.sock
authkey_file = authkey
legacy_md5 = yes
status =
log = mpsup.log
$store

[pool:echo]
type = stream
workers = 2
prefetch = $prefetch
max_queue = 1000000
command = $here/examples/echo_worker
INI
rm -f "$dir/mpsup.sock" "$dir/callgrind.out"
(cd "$dir" && exec valgrind --tool=callgrind --callgrind-out-file=callgrind.out \
    "$here/mpsup" -c pool.ini >stdout.log 2>&1) &
sv=$!
i=0
while [ ! -S "$dir/mpsup.sock" ] || [ ! -s "$dir/authkey" ]; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		echo "callgrind.sh: supervisor did not come up" >&2
		kill "$sv"
		exit 1
	fi
	sleep 0.1
done
sleep 1
"$here/bench/bench_e2e" -a "unix:$dir/mpsup.sock" -k "$dir/authkey" \
    -p echo -n "$jobs" -b 2000 -w 4 -t 3600 | tail -n 1
kill -TERM "$sv"
wait "$sv" || true
total=$(callgrind_annotate "$dir/callgrind.out" | awk '/PROGRAM TOTALS/ {
    gsub(",", "", $1); print $1 }')
echo "supervisor: $total instructions, $((total / jobs)) per job ($jobs jobs)"
# Instructions per job of each function, self (exclusive) and with callees.
per_job() {
	callgrind_annotate --inclusive="$1" "$dir/callgrind.out" 2>/dev/null |
	    sed -nE 's/^ *([0-9,]+) +\( *[0-9.]+%\) +(.*)$/\1 \2/p' |
	    sed -E 's/ \[[^]]*\]$//; s,[^ ]*/([^/]+:[^/]+)$,\1,' |
	    awk -v jobs="$jobs" '{ n = $1; gsub(",", "", n);
		if (n / jobs >= 1 && $2 != "PROGRAM" && !seen[$2]++) printf "%8.0f  %s\n", n / jobs, $2 }' |
	    head -n "$2"
}
echo "self, instructions per job:"
per_job no 25
echo "inclusive, instructions per job:"
per_job yes 40
echo "callgrind output: $dir/callgrind.out"
