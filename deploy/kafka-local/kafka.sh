#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one broker+controller node on 127.0.0.1:$KAFKA_PORT, default 9092)
# without Docker.
#
#   kafka.sh up [--fresh]   build the jars once (Maven), format storage once, start, wait until ready
#   kafka.sh down           stop (SIGTERM, then SIGKILL after $KAFKA_STOP_TIMEOUT s)
#   kafka.sh status         exit 0 when running and accepting connections, 3 when stopped
#   kafka.sh logs [-f]      last lines of the broker log (-f: follow)
#   kafka.sh lib            only assemble the jars into target/lib and print that directory
#                           (tests start private brokers from it: tests/private_broker.py)
#
# Everything it writes lives under deploy/kafka-local/: target/lib (jars, from ~/.m2) and run/
# (config, data, logs, pid; git-ignored; run-PORT/ for another KAFKA_PORT, so brokers on two
# ports keep apart). `up --fresh` wipes the data first (all topics are lost).
#
# Environment: KAFKA_PORT (client port, default 9092: `KAFKA_PORT=9094 make kafka-up` when 9092
# is taken, then LINEWATCH_KAFKA__BOOTSTRAP=127.0.0.1:9094), KAFKA_CONTROLLER_PORT (default
# KAFKA_PORT + 1), KAFKA_HEAP_OPTS (default "-Xms128m -Xmx512m"), KAFKA_START_TIMEOUT (s,
# default 120), KAFKA_STOP_TIMEOUT (s, default 30), MVN (default mvn), JAVA (default java on PATH).
# A taken port stops `up` with the process holding it (as far as `ss`/`lsof` can tell).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB_DIR="$HERE/target/lib"
LIB_STAMP="$HERE/target/lib.complete"
HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65535)) \
    || { printf 'kafka-local: error: KAFKA_PORT=%s is not a port (1-65534)\n' "$PORT" >&2; exit 2; }
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
[[ "$CONTROLLER_PORT" =~ ^[0-9]+$ && "$CONTROLLER_PORT" != "$PORT" ]] \
    || { printf 'kafka-local: error: KAFKA_CONTROLLER_PORT=%s must be a port other than %s\n' "$CONTROLLER_PORT" "$PORT" >&2; exit 2; }
if [[ "$PORT" == 9092 && "$CONTROLLER_PORT" == 9093 ]]; then
    RUN_DIR="$HERE/run"
else
    RUN_DIR="$HERE/run-$PORT"
fi
DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
PID_FILE="$RUN_DIR/kafka.pid"
CONFIG="$RUN_DIR/server.properties"

JAVA="${JAVA:-java}"
MVN="${MVN:-mvn}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

say() { printf 'kafka-local: %s\n' "$*"; }
die() { printf 'kafka-local: error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Who listens on TCP port $1: "java (pid 123)" from ss or lsof, or why that cannot be told.
port_holder() {
    local port="$1" found=""
    if command -v ss >/dev/null; then
        found="$(ss -H -ltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' \
            | sed -E 's/users:\(\("([^"]*)",pid=([0-9]+).*/\1 (pid \2)/' | sort -u | paste -sd, -)"
    fi
    if [[ -z "$found" ]] && command -v lsof >/dev/null; then
        found="$(lsof -nP -iTCP:"$port" -sTCP:LISTEN -Fcp 2>/dev/null \
            | awk '/^p/ {pid=substr($0,2)} /^c/ {print substr($0,2) " (pid " pid ")"}' | sort -u | paste -sd, -)"
    fi
    if [[ -n "$found" ]]; then
        printf '%s' "$found"
    else
        printf "a process this user cannot see (try: sudo ss -ltnp 'sport = :%s')" "$port"
    fi
}

# The pid of our broker, if the pid file names a live process running kafka.Kafka.
broker_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(<"$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
    printf '%s\n' "$pid"
}

need_tools() {
    command -v "$JAVA" >/dev/null || die "java not found: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
    local major
    major="$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    [[ "${major%%.*}" -ge 17 ]] 2>/dev/null || die "Kafka 4 needs Java 17+, found '$major' ($JAVA)"
}

build_lib() {
    if [[ -f "$LIB_STAMP" && "$LIB_STAMP" -nt "$HERE/pom.xml" ]]; then
        return 0
    fi
    command -v "$MVN" >/dev/null || die "maven not found: install it (apt-get install maven) to assemble the broker jars"
    say "assembling broker jars into $LIB_DIR (first run only; jars are cached in ~/.m2)"
    rm -rf "$LIB_DIR" "$LIB_STAMP"
    local mvn_args=(-B -f "$HERE/pom.xml" dependency:copy-dependencies)
    # Offline first: a warm ~/.m2 needs no network. Fall back to Maven Central with progress lines.
    if ! "$MVN" -o -q "${mvn_args[@]}" >/dev/null 2>&1; then
        "$MVN" "${mvn_args[@]}" | grep -E 'Download(ed|ing) from|BUILD|ERROR' \
            || die "maven could not assemble the broker jars (see the messages above)"
    fi
    compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null || die "maven ran but $LIB_DIR has no kafka_2.13 jar"
    touch "$LIB_STAMP"
    say "$(find "$LIB_DIR" -name '*.jar' | wc -l) jars ready"
}

write_config() {
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    sed -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
        "$HERE/server.properties" >"$CONFIG"
}

# The JVM command line, as the array JAVA_CMD, for main class and arguments "$@".
java_cmd_array() {
    # shellcheck disable=SC2206 # HEAP_OPTS is a list of JVM flags
    local heap=($HEAP_OPTS)
    JAVA_CMD=("$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true
        -Dkafka.logs.dir="$LOG_DIR"
        -Dlog4j2.configurationFile="$HERE/log4j2.properties"
        -cp "$LIB_DIR/*" "$@")
}

java_cmd() {
    java_cmd_array "$@"
    "${JAVA_CMD[@]}"
}

format_storage() {
    if [[ -f "$DATA_DIR/meta.properties" ]]; then
        return 0
    fi
    local cluster_id
    cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid | tail -n 1)"
    say "formatting storage in $DATA_DIR (cluster id $cluster_id)"
    java_cmd kafka.tools.StorageTool format --standalone --cluster-id "$cluster_id" \
        --config "$CONFIG" >"$LOG_DIR/format.log" 2>&1 \
        || { cat "$LOG_DIR/format.log" >&2; die "storage format failed (log: $LOG_DIR/format.log)"; }
}

cmd_up() {
    local fresh=0
    for arg in "$@"; do
        case "$arg" in
            --fresh) fresh=1 ;;
            *) die "unknown option '$arg' (usage: kafka.sh up [--fresh])" ;;
        esac
    done
    if ((fresh)); then
        cmd_down
        say "--fresh: wiping $DATA_DIR"
        rm -rf "$DATA_DIR"
    fi
    local pid
    if pid="$(broker_pid)"; then
        if port_open "$HOST" "$PORT"; then
            say "already up (pid $pid) on $HOST:$PORT"
            return 0
        fi
        say "broker process $pid exists but $HOST:$PORT does not answer yet; waiting"
        wait_ready "$pid"
        return 0
    fi
    local port
    for port in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$HOST" "$port"; then
            die "$HOST:$port is taken by $(port_holder "$port"), not by this script's broker; stop it (e.g. 'docker compose down'), or start on other ports: KAFKA_PORT=$((PORT + 2)) make kafka-up (then LINEWATCH_KAFKA__BOOTSTRAP=$HOST:$((PORT + 2)))"
        fi
    done
    need_tools
    build_lib
    write_config
    format_storage
    say "starting broker (heap: $HEAP_OPTS); log: $LOG_DIR/server.log"
    : >"$LOG_DIR/kafka.out"
    # setsid + nohup: the broker survives the calling shell (make, CI step) and its signals.
    # Both exec in place, so $! is the JVM's pid.
    java_cmd_array kafka.Kafka "$CONFIG"
    setsid nohup "${JAVA_CMD[@]}" >>"$LOG_DIR/kafka.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_ready "$pid"
}

wait_ready() {
    local pid="$1" started=$SECONDS
    while ((SECONDS - started < START_TIMEOUT)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail -n 30 "$LOG_DIR/kafka.out" "$LOG_DIR/server.log" >&2 2>/dev/null || true
            die "the broker exited during start-up; logs: $LOG_DIR/server.log and $LOG_DIR/kafka.out"
        fi
        if port_open "$HOST" "$PORT" && grep -q 'Kafka Server started' "$LOG_DIR/server.log" 2>/dev/null; then
            say "up (pid $pid) on $HOST:$PORT after $((SECONDS - started)) s"
            [[ "$PORT" == 9092 ]] || say "point linewatch at it: export LINEWATCH_KAFKA__BOOTSTRAP=$HOST:$PORT"
            return 0
        fi
        sleep 0.5
    done
    die "the broker did not accept connections on $HOST:$PORT within ${START_TIMEOUT}s; it is still running (pid $pid). See $LOG_DIR/server.log, or stop it with 'kafka.sh down'"
}

cmd_down() {
    local pid
    if ! pid="$(broker_pid)"; then
        rm -f "$PID_FILE"
        say "not running"
        return 0
    fi
    say "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local started=$SECONDS
    while kill -0 "$pid" 2>/dev/null && ((SECONDS - started < STOP_TIMEOUT)); do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still running after ${STOP_TIMEOUT}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$PID_FILE"
    say "stopped"
}

cmd_status() {
    local pid
    if pid="$(broker_pid)"; then
        if port_open "$HOST" "$PORT"; then
            say "up (pid $pid) on $HOST:$PORT; data: $DATA_DIR; log: $LOG_DIR/server.log"
            return 0
        fi
        say "starting or unhealthy (pid $pid): $HOST:$PORT does not answer; log: $LOG_DIR/server.log"
        return 1
    fi
    say "down"
    return 3
}

cmd_logs() {
    local log="$LOG_DIR/server.log"
    [[ -f "$log" ]] || die "no log yet at $log (run 'kafka.sh up' first)"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 50 -F "$log"
    fi
    tail -n 200 "$log"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    lib) need_tools; build_lib >&2; printf '%s\n' "$LIB_DIR" ;;
    *) printf 'usage: %s up [--fresh] | down | status | logs [-f] | lib\n' "$0" >&2; exit 2 ;;
esac
