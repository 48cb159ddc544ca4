#!/usr/bin/env bash
# Provision the external services Furrow's distributed mode and its integration tests talk to.
#
#   scripts/dev-services.sh start  [all|kafka|postgres|nats|pubsub]   (default: all)
#   scripts/dev-services.sh stop   [all|kafka|pubsub]
#   scripts/dev-services.sh status
#   npm run dev-services -- start
#
# Kafka: the Apache Kafka broker (org.apache.kafka:kafka_2.13) and its runtime dependencies are fetched
# with Maven from Maven Central into a cache, then run as a single KRaft node (broker + controller) that
# listens on 127.0.0.1 only, with Java 17. Nothing is downloaded from anywhere but Maven Central.
# PostgreSQL and NATS are expected to run already (this machine kind starts them); `start` checks them and
# tries the machine's own start command once when they are down. The Google Pub/Sub emulator is started
# when gcloud and its emulator component are present.
#
# Environment (all optional):
#   FURROW_CACHE                 cache root (default ~/.cache/furrow); Kafka lives under $FURROW_CACHE/kafka
#   FURROW_KAFKA_VERSION         default 4.4.0
#   FURROW_KAFKA_PORT            client listener port (default 9092); the controller uses port+1
#   FURROW_KAFKA_STATE           data/log/pid dir of this broker instance (default $FURROW_CACHE/kafka/node-<port>)
#   FURROW_KAFKA_HEAP            JVM heap (default 512m)
#   FURROW_KAFKA_JVM_OPTS        extra JVM flags (default G1; tests use fast-start flags)
#   FURROW_KAFKA_START_TIMEOUT   seconds to wait for the port (default 90)
#   FURROW_PUBSUB_PORT           emulator port (default 8085)
#   JAVA_HOME                    Java 17+ (default: the java on PATH)
#
# Idempotent: a second `start` finds the running broker and leaves it alone. Exit status is non-zero with
# a message naming the service when a required service cannot be provided.
set -euo pipefail

CACHE_ROOT="${FURROW_CACHE:-$HOME/.cache/furrow}"
KAFKA_VERSION="${FURROW_KAFKA_VERSION:-4.4.0}"
KAFKA_PORT="${FURROW_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))"
KAFKA_DIR="$CACHE_ROOT/kafka"
KAFKA_DIST="$KAFKA_DIR/dist-$KAFKA_VERSION"
KAFKA_STATE="${FURROW_KAFKA_STATE:-$KAFKA_DIR/node-$KAFKA_PORT}"
KAFKA_HEAP="${FURROW_KAFKA_HEAP:-512m}"
KAFKA_JVM_OPTS="${FURROW_KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20}"
KAFKA_START_TIMEOUT="${FURROW_KAFKA_START_TIMEOUT:-90}"
PUBSUB_PORT="${FURROW_PUBSUB_PORT:-8085}"
PUBSUB_STATE="$CACHE_ROOT/pubsub"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

if [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="$(command -v java || true)"; fi

say() { printf '%-9s %s\n' "$1:" "$2"; }
die() {
  say "$1" "$2" >&2
  exit 1
}

# tcp_open HOST PORT: true when something accepts a TCP connection (bash's /dev/tcp, 1 s bound)
tcp_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------- Kafka

kafka_fetch() {
  if [[ -f "$KAFKA_DIST/.complete" ]]; then return 0; fi
  command -v mvn >/dev/null || die kafka "mvn (Apache Maven) is not installed; it fetches the broker from Maven Central"
  [[ -x "$JAVA" ]] || die kafka "java not found (set JAVA_HOME to a Java 17+ JDK)"
  mkdir -p "$KAFKA_DIST"
  say kafka "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies from Maven Central into $KAFKA_DIST (first run only)"
  # The broker's Maven runtime closure plus a log4j2 binding (the binary tarball ships one; the pom does not).
  cat >"$KAFKA_DIST/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>furrow.dev</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$KAFKA_DIST/libs"
  if ! (cd "$KAFKA_DIST" && mvn -B -q -f pom.xml "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory=libs >"$KAFKA_DIST/mvn.log" 2>&1); then
    tail -20 "$KAFKA_DIST/mvn.log" >&2 || true
    die kafka "Maven could not fetch kafka_2.13:$KAFKA_VERSION (log: $KAFKA_DIST/mvn.log); try FURROW_KAFKA_VERSION=<another served version>"
  fi
  ls "$KAFKA_DIST/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || die kafka "Maven finished but no kafka_2.13 jar is in $KAFKA_DIST/libs"
  cat >"$KAFKA_DIST/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
EOF
  touch "$KAFKA_DIST/.complete"
  say kafka "fetched $(ls "$KAFKA_DIST/libs" | wc -l) jars ($(du -sh "$KAFKA_DIST/libs" | cut -f1))"
}

kafka_java() {
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a list of flags
  "$JAVA" -Xms128m "-Xmx$KAFKA_HEAP" $KAFKA_JVM_OPTS -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$KAFKA_DIST/log4j2.properties" -cp "$KAFKA_DIST/libs/*" "$@"
}

kafka_configure() {
  mkdir -p "$KAFKA_STATE/data"
  cat >"$KAFKA_STATE/server.properties" <<EOF
# Generated by scripts/dev-services.sh: a single-node KRaft Kafka for development and tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_STATE/data
auto.create.topics.enable=true
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# a restarted node is fenced and back quickly after an unclean stop
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=1000
group.consumer.min.heartbeat.interval.ms=500
group.consumer.session.timeout.ms=10000
group.consumer.min.session.timeout.ms=5000
group.min.session.timeout.ms=1000
log.retention.hours=24
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
EOF
}

kafka_pidfile() { echo "$KAFKA_STATE/kafka.pid"; }

kafka_start() {
  local pidfile
  pidfile="$(kafka_pidfile)"
  if pid_alive "$pidfile" && tcp_open 127.0.0.1 "$KAFKA_PORT"; then
    say kafka "already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pidfile"))"
    return 0
  fi
  if tcp_open 127.0.0.1 "$KAFKA_PORT"; then
    say kafka "127.0.0.1:$KAFKA_PORT already answers (not started by this script); using it"
    return 0
  fi
  "$JAVA" -version >/dev/null 2>&1 || die kafka "java not found (set JAVA_HOME to a Java 17+ JDK)"
  kafka_fetch
  kafka_configure
  if [[ ! -f "$KAFKA_STATE/data/meta.properties" ]]; then
    local cluster_id
    # a KRaft cluster id is 16 random bytes in unpadded base64url
    cluster_id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    if ! kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_STATE/server.properties" \
      >"$KAFKA_STATE/format.log" 2>&1; then
      cat "$KAFKA_STATE/format.log" >&2
      die kafka "formatting the KRaft storage in $KAFKA_STATE/data failed"
    fi
  fi
  say kafka "starting broker $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (state: $KAFKA_STATE)"
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a list of flags
  nohup "$JAVA" -Xms128m "-Xmx$KAFKA_HEAP" $KAFKA_JVM_OPTS -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$KAFKA_DIST/log4j2.properties" -cp "$KAFKA_DIST/libs/*" \
    kafka.Kafka "$KAFKA_STATE/server.properties" >>"$KAFKA_STATE/kafka.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until tcp_open 127.0.0.1 "$KAFKA_PORT"; do
    if ! pid_alive "$pidfile"; then
      tail -30 "$KAFKA_STATE/kafka.log" >&2 || true
      rm -f "$pidfile"
      die kafka "the broker exited during start (log: $KAFKA_STATE/kafka.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -30 "$KAFKA_STATE/kafka.log" >&2 || true
      die kafka "127.0.0.1:$KAFKA_PORT did not answer within ${KAFKA_START_TIMEOUT}s (log: $KAFKA_STATE/kafka.log)"
    fi
    sleep 0.3
  done
  say kafka "up on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pidfile"), log $KAFKA_STATE/kafka.log)"
}

kafka_stop() {
  local pidfile pid
  pidfile="$(kafka_pidfile)"
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    say kafka "not running (no live pid in $pidfile)"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say kafka "pid $pid ignored SIGTERM for 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  say kafka "stopped (pid $pid)"
}

kafka_status() {
  if tcp_open 127.0.0.1 "$KAFKA_PORT"; then
    local who="not started by this script"
    pid_alive "$(kafka_pidfile)" && who="pid $(cat "$(kafka_pidfile)")"
    say kafka "up on 127.0.0.1:$KAFKA_PORT ($who)"
  else
    say kafka "down (127.0.0.1:$KAFKA_PORT does not answer)"
    return 1
  fi
}

# ----------------------------------------------------------------------------------- PostgreSQL, NATS

postgres_status() {
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 -t 2; then
    say postgres "up on 127.0.0.1:5432"
  elif tcp_open 127.0.0.1 5432; then
    say postgres "up on 127.0.0.1:5432 (TCP only; pg_isready not installed)"
  else
    say postgres "down (127.0.0.1:5432 does not answer)"
    return 1
  fi
}

postgres_start() {
  postgres_status >/dev/null 2>&1 && {
    postgres_status
    return 0
  }
  if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    local v
    for v in /etc/postgresql/*; do pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start 2>/dev/null || true; done
    sleep 1
  fi
  postgres_status || die postgres "PostgreSQL does not answer on 127.0.0.1:5432 and could not be started"
}

nats_status() {
  if tcp_open 127.0.0.1 4222; then
    say nats "up on 127.0.0.1:4222"
  else
    say nats "down (127.0.0.1:4222 does not answer)"
    return 1
  fi
}

nats_start() {
  nats_status >/dev/null 2>&1 && {
    nats_status
    return 0
  }
  if command -v nats-server >/dev/null && command -v start-stop-daemon >/dev/null; then
    start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
    sleep 1
  fi
  nats_status || die nats "NATS does not answer on 127.0.0.1:4222 and could not be started"
}

# -------------------------------------------------------------------------------------- Pub/Sub emulator

pubsub_status() {
  if tcp_open 127.0.0.1 "$PUBSUB_PORT"; then
    say pubsub "emulator up on 127.0.0.1:$PUBSUB_PORT (PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT)"
  else
    say pubsub "down (127.0.0.1:$PUBSUB_PORT does not answer)"
    return 1
  fi
}

pubsub_start() {
  if tcp_open 127.0.0.1 "$PUBSUB_PORT"; then
    pubsub_status
    return 0
  fi
  if ! command -v gcloud >/dev/null; then
    say pubsub "skipped: gcloud is not installed (Pub/Sub tests will skip)"
    return 0
  fi
  mkdir -p "$PUBSUB_STATE/data"
  nohup gcloud beta emulators pubsub start "--host-port=127.0.0.1:$PUBSUB_PORT" \
    "--data-dir=$PUBSUB_STATE/data" >>"$PUBSUB_STATE/emulator.log" 2>&1 </dev/null &
  echo $! >"$PUBSUB_STATE/emulator.pid"
  local deadline=$((SECONDS + 60))
  until tcp_open 127.0.0.1 "$PUBSUB_PORT"; do
    if ! pid_alive "$PUBSUB_STATE/emulator.pid" || ((SECONDS >= deadline)); then
      tail -5 "$PUBSUB_STATE/emulator.log" >&2 || true
      say pubsub "skipped: the emulator did not start (log: $PUBSUB_STATE/emulator.log; the emulator component may be missing)"
      return 0
    fi
    sleep 0.5
  done
  pubsub_status
}

pubsub_stop() {
  local pidfile="$PUBSUB_STATE/emulator.pid"
  if pid_alive "$pidfile"; then
    local pid
    pid="$(cat "$pidfile")"
    # gcloud runs the emulator (a JVM) as a child: stop the whole process group it leads, then gcloud itself.
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    say pubsub "stopped (pid $pid)"
  else
    say pubsub "not running (not started by this script)"
  fi
}

# ------------------------------------------------------------------------------------------------ main

cmd="${1:-status}"
what="${2:-all}"
case "$cmd" in
start)
  case "$what" in
  kafka) kafka_start ;;
  postgres) postgres_start ;;
  nats) nats_start ;;
  pubsub) pubsub_start ;;
  all)
    failed=0
    (kafka_start) || failed=1
    (postgres_start) || failed=1
    (nats_start) || failed=1
    (pubsub_start) || true
    if ((failed)); then
      echo "dev-services: some services could not be provided (see above)" >&2
      exit 1
    fi
    ;;
  *) die dev-services "unknown service '$what' (kafka|postgres|nats|pubsub|all)" ;;
  esac
  ;;
stop)
  case "$what" in
  kafka) kafka_stop ;;
  pubsub) pubsub_stop ;;
  all)
    kafka_stop
    pubsub_stop
    ;;
  *) die dev-services "only kafka and pubsub are started by this script; unknown '$what'" ;;
  esac
  ;;
status)
  rc=0
  kafka_status || rc=1
  postgres_status || rc=1
  nats_status || rc=1
  pubsub_status || true
  exit "$rc"
  ;;
fetch) kafka_fetch ;;
*)
  echo "usage: $0 start|stop|status|fetch [all|kafka|postgres|nats|pubsub]" >&2
  exit 2
  ;;
esac
