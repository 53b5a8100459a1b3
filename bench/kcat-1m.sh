#!/usr/bin/env bash
# kcat (librdkafka) produce and consume of N small records through a penstock broker, once per I/O
# backend, each in its own broker process. Prints records/s and MB/s. Usage: bench/kcat-1m.sh [N] [bytes]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
SIZE=${2:-100}
work=$(mktemp -d)
trap 'kill ${pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
# N lines of SIZE-1 characters plus the newline kcat splits on: SIZE bytes per record on the wire.
node -e "const [n, s] = [+process.argv[1], +process.argv[2]]; const chunk = Buffer.from(('x'.repeat(s - 1) + '\n').repeat(10000)); const fs = require('fs'); const fd = fs.openSync(process.argv[3], 'w'); for (let i = 0; i < n; i += 10000) fs.writeSync(fd, chunk, 0, Math.min(10000, n - i) * s); fs.closeSync(fd)" "$N" "$SIZE" "$work/records.txt"
now() { date +%s%N; }
for io in native fallback; do
  port=$((20000 + RANDOM % 20000))
  PENSTOCK_IO=$io node dist/cli/main.js broker --port "$port" --data-dir "$work/data-$io" --log-level warn >"$work/broker-$io.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do kcat -b "127.0.0.1:$port" -L >/dev/null 2>&1 && break; sleep 0.1; done
  t0=$(now)
  kcat -P -b "127.0.0.1:$port" -t bench -p 0 -X linger.ms=10 -X batch.num.messages=10000 -X queue.buffering.max.messages=500000 <"$work/records.txt"
  t1=$(now)
  consumed=$(kcat -C -b "127.0.0.1:$port" -t bench -p 0 -o beginning -e -q -X fetch.message.max.bytes=4194304 -f '\n' | wc -l)
  t2=$(now)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  awk -v io="$io" -v n="$N" -v c="$consumed" -v s="$SIZE" -v p="$((t1 - t0))" -v q="$((t2 - t1))" 'BEGIN {
    printf "%-8s produce %8.0f rec/s %6.1f MB/s | consume %8.0f rec/s %6.1f MB/s (%d of %d records)\n",
      io, n / (p / 1e9), n * s / (p / 1e9) / 1e6, c / (q / 1e9), c * s / (q / 1e9) / 1e6, c, n }'
done
