#!/usr/bin/env bash
# RPC benchmark: importgate-server against a do-nothing gRPC server
# (bench/noop_server.cc) answering the same method with the same bytes
# (importgate's own answer, fetched first), driven in turns
# (A B A B ...) by h2load replaying one real encoded request, at 1x1 and
# 4x32 (connections x streams). Then, as A/B phases at 4x32: a second
# importgate process against the first (the control: the noise floor),
# importgate with Prometheus metrics on (--metrics_listen, scraped every
# second meanwhile) against it with them off, with the decision log on
# (files only, then shipped to librdkafka's mock Kafka cluster) against it
# off, and importgate with TLS against the do-nothing server with TLS
# (same certificate, made here with openssl) and against itself in
# plaintext.
# Then a batch of 100 items against 100 unary calls; then the engine
# benchmark, with a plot. Prints tables and writes them, with the plot, to docs/performance/.
#
# A third RPC target is a real peer: Cerbos 0.55 (a Go policy decision
# point, from npm) serving the same policy (bench/cerbos/), after a check
# that both answer a few requests alike. --no-cerbos leaves it out; so does
# a machine where npm cannot fetch it (the script says so).
#
#   bash bench/rpc_bench.sh [--rounds=5] [--seconds=5] [--no-cerbos]
#
# As root on Debian 12 it installs what is missing (h2load from
# nghttp2-client, gnuplot) and builds the project first.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
seconds=5
cerbos=1
for arg in "$@"; do
  case $arg in
    --rounds=*) rounds=${arg#*=} ;;
    --seconds=*) seconds=${arg#*=} ;;
    --no-cerbos) cerbos=0 ;;
    *) echo "usage: bash bench/rpc_bench.sh [--rounds=N] [--seconds=S] [--no-cerbos]" >&2; exit 2 ;;
  esac
done
BUILD_DIR=${BUILD_DIR:-build}
out_dir=docs/performance
mkdir -p "$out_dir"

missing=()
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
command -v xxd >/dev/null || missing+=(xxd)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash deploy/dev.sh deps
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIMPORTGATE_BUF="$PWD/$BUILD_DIR/tools/node_modules/.bin/buf" >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target importgate-server importgate noop_server engine_bench \
  reflect_request >/dev/null

cerbos_bin=""
cerbos_version=0.55.0
if [ "$cerbos" = 1 ]; then
  cerbos_dir="$BUILD_DIR/tools/cerbos"
  cerbos_bin="$cerbos_dir/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64"
  if [ ! -x "$cerbos_bin" ] && ! npm install --prefix "$cerbos_dir" --no-audit --no-fund \
      "@cerbos/cerbos-linux-x64@$cerbos_version" >/dev/null 2>&1; then
    echo "Cerbos left out: npm could not install @cerbos/cerbos-linux-x64@$cerbos_version"
    cerbos_bin=""
  fi
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# One request (a cross-border T-shirt into ID at checkout), gRPC-framed.
frame() {  # frame IN.bin OUT.bin: 0x00 + 4-byte big-endian length + message
  local n; n=$(stat -c %s "$1")
  printf '\x00' >"$2"
  printf "%08x" "$n" | xxd -r -p >>"$2"
  cat "$1" >>"$2"
}
item='item { sku: "TEE-1" hs_code: "6109.10.00" origin_country: "CN"
       unit_price { currency_code: "USD" units: 150 } quantity: 1 }
seller { kind: SELLER_KIND_CROSS_BORDER country: "CN" }
destination_country: "ID" channel: CHANNEL_CHECKOUT'
encode() {  # encode MESSAGE < textproto > binary
  protoc --encode="$1" -Iprotos -I/usr/include importgate/v1/import_policy.proto
}
echo "$item" | encode importgate.v1.IsImportAllowedRequest >"$work/unary.pb"
for _ in $(seq 100); do echo "requests { $item }"; done |
  encode importgate.v1.BatchIsImportAllowedRequest >"$work/batch.pb"
frame "$work/unary.pb" "$work/unary.bin"
frame "$work/batch.pb" "$work/batch.bin"

start() {  # start NAME CMD...: sets PORT
  "${@:2}" 2>"$work/$1.log" &
  pids+=($!)
  PORT=""
  for _ in $(seq 100); do
    PORT=$(sed -n 's/.*serving on [0-9.]*:\([0-9]*\).*/\1/p' "$work/$1.log" | head -1)
    [ -n "$PORT" ] && return
    sleep 0.1
  done
  cat "$work/$1.log"; exit 1
}
start importgate "$BUILD_DIR/server/importgate-server" --listen=127.0.0.1:0
ig_port=$PORT
# The do-nothing servers answer with importgate's own answer to the request
# (a DENY with its message, legal basis and bundle digest, 766 bytes), so
# that the floor sends, and with TLS encrypts, as many bytes as importgate.
nghttp -H ':method: POST' -H 'content-type: application/grpc' -H 'te: trailers' \
  -d "$work/unary.bin" "http://127.0.0.1:$ig_port/importgate.v1.ImportPolicyService/IsImportAllowed" \
  >"$work/answer.bin"
tail -c +6 "$work/answer.bin" >"$work/answer.pb"  # drop the 5-byte gRPC frame header
start noop "$BUILD_DIR/bench/noop_server" --listen=127.0.0.1:0 --response_file="$work/answer.pb"
noop_port=$PORT
# A second importgate process like the first: the A/A control, what two
# identical servers measured in turns differ by on this machine.
start importgate_2 "$BUILD_DIR/server/importgate-server" --listen=127.0.0.1:0
ig2_port=$PORT
start metrics "$BUILD_DIR/server/importgate-server" --listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0
metrics_port=$PORT
metrics_http=$(sed -n 's/.*metrics on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$work/metrics.log")
# The decision log on, every decision, files only.
start dlog "$BUILD_DIR/server/importgate-server" --listen=127.0.0.1:0 \
  --decision_log_dir="$work/dlog" --decision_log_max_mib=4096
dlog_port=$PORT
# And with the Kafka sink shipping every entry. There is no Kafka broker
# here: librdkafka's mock cluster (test.mock.num.brokers) runs inside the
# server process, so its broker's work is counted against importgate too.
printf 'test.mock.num.brokers=1\n' >"$work/kafka.conf"
start kafka "$BUILD_DIR/server/importgate-server" --listen=127.0.0.1:0 \
  --decision_log_dir="$work/kafka-dlog" --decision_log_max_mib=4096 \
  --decision_log_kafka_brokers=mock --decision_log_kafka_config="$work/kafka.conf"
kafka_port=$PORT
# A certificate for 127.0.0.1 (the README's openssl commands, abridged).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/tls.key" -out "$work/tls.crt" -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start tls "$BUILD_DIR/server/importgate-server" --listen=127.0.0.1:0 \
  --tls_cert_file="$work/tls.crt" --tls_key_file="$work/tls.key"
tls_port=$PORT
start noop_tls "$BUILD_DIR/bench/noop_server" --listen=127.0.0.1:0 \
  --tls_cert_file="$work/tls.crt" --tls_key_file="$work/tls.key" --response_file="$work/answer.pb"
noop_tls_port=$PORT
# Prometheus-like scrapes of the metrics target, every second, throughout.
(while sleep 1; do
   exec 3<>"/dev/tcp/127.0.0.1/$metrics_http" || exit 0
   printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3 >/dev/null; exec 3<&-
 done) &
pids+=($!)
targets=(importgate noop)
extra_targets=(importgate_2 metrics tls noop_tls dlog kafka)
declare -A port_of=([importgate]=$ig_port [importgate_2]=$ig2_port [noop]=$noop_port
                    [metrics]=$metrics_port [tls]=$tls_port [noop_tls]=$noop_tls_port
                    [dlog]=$dlog_port [kafka]=$kafka_port)
unary=importgate.v1.ImportPolicyService/IsImportAllowed
declare -A path_of=([importgate]=$unary [importgate_2]=$unary [noop]=$unary
                    [metrics]=$unary [tls]=$unary [noop_tls]=$unary [dlog]=$unary [kafka]=$unary
                    [cerbos]=cerbos.svc.v1.CerbosService/CheckResources)
declare -A body_of=([importgate]="$work/unary.bin" [importgate_2]="$work/unary.bin"
                    [noop]="$work/unary.bin"
                    [metrics]="$work/unary.bin" [tls]="$work/unary.bin"
                    [noop_tls]="$work/unary.bin" [dlog]="$work/unary.bin"
                    [kafka]="$work/unary.bin"
                    [cerbos]="$work/cerbos.bin")
declare -A scheme_of=([tls]=https [noop_tls]=https)

# The same question for both engines, as JSON: seller kind, HS code,
# currency, units.
importgate_json() {
  echo "{\"item\": {\"sku\": \"TEE-1\", \"hsCode\": \"$2\", \"originCountry\": \"CN\",
    \"unitPrice\": {\"currencyCode\": \"$3\", \"units\": \"$4\"}, \"quantity\": \"1\"},
    \"seller\": {\"kind\": \"$1\", \"country\": \"CN\"},
    \"destinationCountry\": \"ID\", \"channel\": \"CHANNEL_CHECKOUT\"}"
}
cerbos_json() {
  echo "{\"requestId\": \"bench\", \"principal\": {\"id\": \"checkout\", \"roles\": [\"service\"]},
    \"resources\": [{\"actions\": [\"import\"], \"resource\": {\"kind\": \"import_item\",
    \"id\": \"TEE-1\", \"attr\": {\"hs_code\": \"$2\", \"origin_country\": \"CN\",
    \"seller_kind\": \"$1\", \"seller_country\": \"CN\", \"destination_country\": \"ID\",
    \"channel\": \"CHANNEL_CHECKOUT\", \"currency\": \"$3\", \"units\": $4}}}]}"
}
ask() {  # ask TARGET ARGS...: prints EFFECT_ALLOW or EFFECT_DENY, or nothing
  local json reply
  json=$("${1}_json" "${@:2}")
  reply=$("$BUILD_DIR/bench/reflect_request" --server="127.0.0.1:${port_of[$1]}" \
    --method="${path_of[$1]}" --json="$json" --call) || return 0
  grep -o 'EFFECT_[A-Z]*' <<<"$reply" | head -1 || true
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -n "$cerbos_bin" ]; then
  # Cerbos takes its addresses from the config: pick two free ports, for
  # gRPC and the HTTP API it always serves too.
  cerbos_port=""
  for _ in $(seq 20); do
    port=$(shuf -i 20000-60000 -n 1)
    if port_free "$port" && port_free $((port + 1)); then cerbos_port=$port; break; fi
  done
  [ -n "$cerbos_port" ] || { echo "no two free ports for Cerbos"; exit 1; }
  CERBOS_POLICY_DIR="$PWD/bench/cerbos/policies" "$cerbos_bin" server \
    --config=bench/cerbos/config.yaml --log-level=error \
    --set=server.grpcListenAddr="127.0.0.1:$cerbos_port" \
    --set=server.httpListenAddr="127.0.0.1:$((cerbos_port + 1))" \
    >"$work/cerbos.log" 2>&1 &
  pids+=($!)
  port_of[cerbos]=$cerbos_port
  for _ in $(seq 100); do
    port_free "$cerbos_port" || break
    sleep 0.1
  done
  if port_free "$cerbos_port"; then
    echo "Cerbos did not start listening:"; cat "$work/cerbos.log"; exit 1
  fi
  "$BUILD_DIR/bench/reflect_request" --server="127.0.0.1:$cerbos_port" \
    --method="${path_of[cerbos]}" --out="$work/cerbos.bin" \
    --json="$(cerbos_json SELLER_KIND_CROSS_BORDER 61091000 USD 150)"
  # The policies must agree before their speeds are compared.
  for question in "SELLER_KIND_CROSS_BORDER 61091000 USD 150" \
      "SELLER_KIND_DOMESTIC 61091000 USD 150" "SELLER_KIND_CROSS_BORDER 85171300 USD 150" \
      "SELLER_KIND_CROSS_BORDER 85171300 USD 50" "SELLER_KIND_CROSS_BORDER 85171300 IDR 2000000" \
      "SELLER_KIND_CROSS_BORDER 49011000 USD 5" "SELLER_KIND_CROSS_BORDER 20098900 USD 500"; do
    # shellcheck disable=SC2086
    a=$(ask importgate $question); b=$(ask cerbos $question)
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
      echo "importgate ($a) and Cerbos ($b) disagree on: $question"; cat "$work/cerbos.log"; exit 1
    fi
  done
  targets+=(cerbos)
fi

# Sanity: each answers the request h2load replays with grpc-status 0.
for target in "${targets[@]}" "${extra_targets[@]}"; do
  nghttp -v -H ':method: POST' -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "${body_of[$target]}" \
    "${scheme_of[$target]:-http}://127.0.0.1:${port_of[$target]}/${path_of[$target]}" \
    2>&1 | grep -q 'grpc-status: 0' || { echo "$target did not answer OK"; exit 1; }
done

# run PORT PATH BODY C M [SCHEME] -> "req_per_s p50_us p99_us". Call it as
# `x=$(run ...)`, so that a failed run (h2load's summary goes to stderr)
# stops the script under `set -e`.
run() {
  local log="$work/h2.log"
  rm -f "$log"
  local summary
  summary=$(h2load -D "$seconds" --warm-up-time=1 -c "$4" -m "$5" \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$3" \
    --log-file="$log" "${6:-http}://127.0.0.1:$1/$2" 2>&1)
  local rps
  rps=$(sed -n 's/.*finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$summary")
  local failed
  failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$summary")
  if [ -z "$rps" ] || [ "${failed:-0}" != 0 ]; then
    echo "h2load against $2 on port $1 failed:" >&2; echo "$summary" >&2; return 1
  fi
  read -r p50 p99 < <(cut -f3 "$log" | sort -n | awk '{a[NR]=$1} END {
    print a[int(NR*0.50)+1], a[int(NR*0.99)+1]}')
  echo "$rps $p50 $p99"
}

# quantile P [FORMAT]: the P-quantile of the numbers read, one per line,
# interpolated between the two nearest (R's type 7: the median of an even
# count is the mean of the middle two), printed with FORMAT (%.10g).
quantile() {
  sort -n | awk -v p="$1" -v f="${2:-%.10g}\n" '{a[NR]=$1} END {
    h = (NR - 1) * p + 1; i = int(h); j = (i < NR) ? i + 1 : i
    printf f, a[i] + (h - i) * (a[j] - a[i])}'
}
median() { quantile 0.5; }
# paired A B C KIND: the median over rounds of A's KIND (rps, p50, p99) over
# B's, at C connections, A and B taken from the same round.
paired() {
  paste "$work/$1-$3.$4" "$work/$2-$3.$4" | awk '{printf "%.3f\n", $1 / $2}' | quantile 0.5 %.3f
}

report="$out_dir/rpc-latest.md"
{
  echo "# RPC benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "h2load, ${rounds} rounds of ${seconds} s per target and shape, in turns;"
  echo "median over rounds. Machine: $(nproc) cores, load generator on the same cores."
  echo "noop: the do-nothing server, answering with importgate's own answer ($(stat -c %s "$work/answer.pb") bytes)."

  if [ -n "${port_of[cerbos]:-}" ]; then
    echo "cerbos: Cerbos $cerbos_version from npm on bench/cerbos/policies, which answered"
    echo "seven check requests as importgate did."
  fi
  echo
  echo "| shape | target | req/s | p50 µs | p99 µs |"
  echo "|---|---|---:|---:|---:|"
} >"$report"
declare -A result
for shape in "1 1" "4 32"; do
  read -r c m <<<"$shape"
  for target in "${targets[@]}"; do : >"$work/$target.rps"; : >"$work/$target.p50"; : >"$work/$target.p99"; done
  for _ in $(seq "$rounds"); do
    for target in "${targets[@]}"; do
      measured=$(run "${port_of[$target]}" "${path_of[$target]}" "${body_of[$target]}" "$c" "$m" \
        "${scheme_of[$target]:-http}")
      read -r rps p50 p99 <<<"$measured"
      echo "$rps" >>"$work/$target.rps"; echo "$p50" >>"$work/$target.p50"; echo "$p99" >>"$work/$target.p99"
    done
  done
  for target in "${targets[@]}"; do
    for kind in rps p50 p99; do cp "$work/$target.$kind" "$work/$target-$c.$kind"; done
    rps=$(median <"$work/$target.rps"); p50=$(median <"$work/$target.p50"); p99=$(median <"$work/$target.p99")
    result[$target-$c-rps]=$rps; result[$target-$c-p50]=$p50; result[$target-$c-p99]=$p99
    echo "| ${c}x${m} | $target | $rps | $p50 | $p99 |" >>"$report"
  done
done
{
  echo
  # Each ratio is the median of the rounds' own ratios (A and B measured
  # in the same round, seconds apart), which a noisy shared machine
  # disturbs less than a ratio of medians.
  echo "- throughput at 4x32, importgate / do-nothing: **$(paired importgate noop 4 rps)x** (target >= 0.9x)"
  echo "- p99 at 1x1, importgate / do-nothing: **$(paired importgate noop 1 p99)x** (target <= 1.2x)"
  if [ -n "${result[cerbos-4-rps]:-}" ]; then
    awk -v a="${result[importgate-4-rps]}" -v b="${result[cerbos-4-rps]}" \
      'BEGIN {printf "- throughput at 4x32, importgate / Cerbos %s: **%.1fx**\n", "'"$cerbos_version"'", a/b}'
    awk -v a="${result[importgate-1-p50]}" -v b="${result[cerbos-1-p50]}" \
      'BEGIN {printf "- p50 at 1x1, Cerbos / importgate: **%.1fx**\n", b/a}'
  fi
} >>"$report"

# Features against their absence, each as its own A/B phase at 4x32: A
# and B are measured in pairs, A first in one pair and B first in the next
# (so that neither gains from going first), and each ratio is the median
# of the pairs' own ratios; the quartiles of the throughput ratios show
# the spread. metrics: importgate with --metrics_listen, scraped every
# second, against importgate without. tls: importgate with TLS against the
# do-nothing server with TLS (both P-256, TLS 1.3 with h2load), and against
# importgate in plaintext. The targets nearest their bounds (the decision
# log's) get twice the pairs, and so does importgate against a second
# importgate: the noise floor the other rows are read against.
quartiles() {  # the first and third quartiles of the lines read, "q1-q3"
  local lines; lines=$(cat)
  echo "$(quantile 0.25 %.3f <<<"$lines")-$(quantile 0.75 %.3f <<<"$lines")"
}
ab() {  # ab A B TARGET_TEXT PAIRS: appends one table row
  : >"$work/ab-$1.rps"; : >"$work/ab-$1.p99"; : >"$work/ab-$2.rps"; : >"$work/ab-$2.p99"
  local pair order target
  # One run of each, not recorded: neither starts the phase cold (a
  # target's first calls since it started, or since its last phase).
  for target in "$1" "$2"; do
    run "${port_of[$target]}" "${path_of[$target]}" "${body_of[$target]}" 4 32 \
      "${scheme_of[$target]:-http}" >/dev/null
  done
  for pair in $(seq "$4"); do
    order=("$1" "$2")
    if ((pair % 2 == 0)); then order=("$2" "$1"); fi
    for target in "${order[@]}"; do
      measured=$(run "${port_of[$target]}" "${path_of[$target]}" "${body_of[$target]}" 4 32 \
        "${scheme_of[$target]:-http}")
      read -r rps _ p99 <<<"$measured"
      echo "$rps" >>"$work/ab-$target.rps"; echo "$p99" >>"$work/ab-$target.p99"
    done
  done
  local ratios r p q
  ratios=$(paste "$work/ab-$1.rps" "$work/ab-$2.rps" | awk '{printf "%.3f\n", $1 / $2}')
  r=$(quantile 0.5 %.3f <<<"$ratios"); q=$(quartiles <<<"$ratios")
  p=$(paste "$work/ab-$1.p99" "$work/ab-$2.p99" | awk '{printf "%.3f\n", $1 / $2}' | quantile 0.5 %.3f)
  echo "| $1 / $2 | $4 | $(median <"$work/ab-$1.rps") / $(median <"$work/ab-$2.rps") | **${r}x** | $q | ${p}x | $3 |" >>"$report"
}
{
  echo
  echo "A/B at 4x32, pairs of ${seconds} s, each A first in one pair and B first in the next:"
  echo "importgate_2 = a second importgate process like the first; metrics = importgate with"
  echo "--metrics_listen, scraped every second; dlog = importgate with --decision_log_dir"
  echo "(every decision, files only); kafka = the same shipping every entry to Kafka"
  echo "(librdkafka's mock cluster, inside the server process); tls = importgate with TLS; noop_tls ="
  echo "the do-nothing server with TLS (P-256 certificate; h2load negotiates TLS 1.3)."
  echo "Ratios are medians of the pairs' own ratios; quartiles are those of the throughput ratios."
  echo
  echo "| A / B | pairs | req/s (medians) | throughput ratio | its quartiles | p99 ratio | target |"
  echo "|---|---:|---:|---:|---:|---:|---|"
} >>"$report"
ab importgate_2 importgate "(the noise floor: 1x expected)" $((4 * rounds))
ab metrics importgate ">= 0.97x throughput" $((2 * rounds))
ab dlog importgate ">= 0.9x throughput, p99 <= 1.2x" $((4 * rounds))
ab kafka importgate ">= 0.9x throughput, p99 <= 1.2x" $((4 * rounds))
ab tls noop_tls ">= 0.9x throughput" $((2 * rounds))
ab tls importgate "(what TLS costs)" $((2 * rounds))

# What the decision log keeps per decision: its bytes on disk over the
# records `importgate log verify` counts (a SIGTERM first: the queue drains).
kill -TERM "$(pgrep -f -- "--decision_log_dir=$work/dlog" | head -1)" 2>/dev/null || true
for _ in $(seq 100); do pgrep -f -- "--decision_log_dir=$work/dlog" >/dev/null || break; sleep 0.1; done
verified=$("$BUILD_DIR/server/importgate" log verify "$work/dlog")
records=$(sed -n 's/.*, \([0-9]*\) decision record(s).*/\1/p' <<<"$verified")
disk=$(du -sb "$work/dlog" | cut -f1)
{
  echo
  awk -v d="$disk" -v r="$records" 'BEGIN {printf "- decision log: %d records, %.0f bytes per decision on disk; `importgate log verify` accepts them\n", r, d / r}'
} >>"$report"

# A batch of 100 against 100 unary calls, on importgate, at 4x32.
: >"$work/b.rps"; : >"$work/u.rps"
for _ in $(seq "$rounds"); do
  measured=$(run "$ig_port" importgate.v1.ImportPolicyService/BatchIsImportAllowed "$work/batch.bin" 4 32)
  echo "${measured%% *}" >>"$work/b.rps"
  measured=$(run "$ig_port" importgate.v1.ImportPolicyService/IsImportAllowed "$work/unary.bin" 4 32)
  echo "${measured%% *}" >>"$work/u.rps"
done
b=$(median <"$work/b.rps"); u=$(median <"$work/u.rps")
{
  echo
  echo "| importgate, 4x32 | calls/s | items/s | µs per item |"
  echo "|---|---:|---:|---:|"
  awk -v u="$u" 'BEGIN {printf "| unary | %s | %s | %.2f |\n", u, u, 1e6/u}'
  awk -v b="$b" 'BEGIN {printf "| batch of 100 | %s | %.0f | %.2f |\n", b, b*100, 1e6/(b*100)}'
  awk -v b="$b" -v u="$u" 'BEGIN {printf "\n- per-item cost in a batch / one unary call: **%.3f** (target <= 0.05)\n", u/(b*100)}'
} >>"$report"
# The engine: time per decision against bundle size (median of three
# repetitions), compile time and memory, with a plot.
# (one run per family: the CSV reporter wants the same counters per row)
"$BUILD_DIR/bench/engine_bench" --benchmark_format=csv --benchmark_filter='BM_Decide/' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null >"$work/decide.csv"
"$BUILD_DIR/bench/engine_bench" --benchmark_format=csv --benchmark_filter='BM_Compile/' \
  2>/dev/null >"$work/compile.csv"
grep '^"BM_Decide/.*_median"' "$work/decide.csv" |
  awk -F, '{split($1,a,"[/_]"); print a[3], $3}' >"$out_dir/engine-decide.dat"
grep '^"BM_Compile/' "$work/compile.csv" |
  awk -F, '{split($1,a,"/"); gsub("\"","",a[2]); print a[2], $3, $NF}' >"$out_dir/engine-compile.dat"
gnuplot <<EOG
set terminal png size 800,450
set output "$out_dir/engine-decide.png"
set logscale x
set xlabel "rules in the bundle"
set ylabel "ns per decision (one thread)"
set yrange [0:*]
set grid
plot "$out_dir/engine-decide.dat" using 1:2 with linespoints lw 2 title "Evaluate: validate + decide + write Decision"
EOG
{
  echo
  echo "| rules | ns per decision (median of 3) | compile ms | snapshot bytes per rule |"
  echo "|---:|---:|---:|---:|"
  join "$out_dir/engine-decide.dat" "$out_dir/engine-compile.dat" |
    awk '{printf "| %s | %.0f | %.1f | %.0f |\n", $1, $2, $3, $4}'
  echo
  awk '$1 == 100000 {printf "- decision on 100k rules: **%.0f ns** (target < 1000 ns)\n", $2}' \
    "$out_dir/engine-decide.dat"
  awk '$1 == 10 {small = $2} $1 == 1000000 {big = $2}
    END {printf "- 1M-rule decision / 10-rule decision: **%.2fx** (target <= 2x)\n", big / small}' \
    "$out_dir/engine-decide.dat"
  awk '$1 == 1000000 {printf "- 1M-rule compile: **%.1f s**, **%.0f bytes per rule** (targets < 10 s, < 1024)\n", $2 / 1000, $3}' \
    "$out_dir/engine-compile.dat"
} >>"$report"
cat "$report"
echo "plot: $out_dir/engine-decide.png"
